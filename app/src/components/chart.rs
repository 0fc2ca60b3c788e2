//! The output chart: a ride's output second by second against the racer's personal best at
//! each second; live on the ride screen, and for each past race on the racer's page.

use leptos::prelude::*;

use crate::logic::chart::{area, line, x_of, y_max, y_of, Frame};

const FRAME: Frame = Frame { width: 600.0, height: 180.0 };

/// Output so far against the personal best at each second, drawn in SVG.
#[component]
pub fn OutputChart(
    /// The rider's output at each second (index 0 is second 1).
    #[prop(into)]
    outputs: Signal<Vec<Option<f64>>>,
    /// Their personal best at each second, where the history has one.
    #[prop(into)]
    bests: Signal<Vec<Option<f64>>>,
    /// The race length.
    race_seconds: u32,
    /// The current second, marked with a line (none for a finished race).
    #[prop(optional, into)]
    second: Option<Signal<u32>>,
    /// What the ride's line is called.
    #[prop(default = "You")]
    mine_label: &'static str,
    /// What the best's line is called.
    #[prop(default = "Your personal best")]
    best_label: &'static str,
    /// The chart's accessible name.
    #[prop(default = "Your output each second against your personal best".into(), into)]
    label: String,
) -> impl IntoView {
    let max = Memo::new(move |_| outputs.with(|o| bests.with(|b| y_max(&[o, b]))));
    let grid = move || {
        let m = max.get();
        (1..=4)
            .map(|i| {
                let v = m * f64::from(i) / 4.0;
                let y = y_of(FRAME, m, v);
                view! { <line x1="0" x2=FRAME.width y1=y y2=y class="chart-grid"/> }
            })
            .collect_view()
    };
    // Axis labels in HTML: the SVG stretches to its box, which would squash text drawn in it.
    let labels = move || {
        let m = max.get();
        (1..=4)
            .map(|i| {
                let v = m * f64::from(i) / 4.0;
                let top = y_of(FRAME, m, v) / FRAME.height * 100.0;
                view! { <span class="chart-label" aria-hidden="true" style:top=format!("{top:.1}%")>{format!("{v:.0}")}</span> }
            })
            .collect_view()
    };
    let summary = move || {
        let mine = outputs.with(|o| o.iter().flatten().count());
        let level = outputs.with(|o| {
            bests.with(|b| {
                o.iter()
                    .zip(b)
                    .filter(|(o, b)| matches!((o, b), (Some(o), Some(b)) if o >= b))
                    .count()
            })
        });
        if bests.with(|b| b.iter().all(Option::is_none)) {
            format!("{mine} seconds ridden. No personal best in this class yet: this race sets it.")
        } else {
            format!(
                "{mine} seconds ridden, {level} of them at or above {}.",
                best_label.to_lowercase()
            )
        }
    };
    view! {
        <figure class="chart">
            <div class="chart-plot">
            {labels}
            <svg viewBox=format!("0 0 {} {}", FRAME.width, FRAME.height) preserveAspectRatio="none"
                role="img" aria-label=label>
                {grid}
                <path class="chart-best" d=move || bests.with(|b| line(FRAME, race_seconds, max.get(), b))/>
                <path class="chart-area" d=move || outputs.with(|o| area(FRAME, race_seconds, max.get(), o))/>
                <path class="chart-mine" d=move || outputs.with(|o| line(FRAME, race_seconds, max.get(), o))/>
                {second.map(|second| view! {
                    <line class="chart-now" y1="0" y2=FRAME.height
                        x1=move || x_of(FRAME, race_seconds, second.get())
                        x2=move || x_of(FRAME, race_seconds, second.get())/>
                })}
            </svg>
            </div>
            <figcaption>
                <span class="legend mine">{mine_label}</span>
                <span class="legend best">{best_label}</span>
                <span class="muted small">{summary}</span>
            </figcaption>
        </figure>
    }
}
