//! The bike: big live output, race total, second and progress, and the two controls.

use leptos::prelude::*;

use super::avatar::TrophyIcon;
use crate::logic::{
    format,
    ride::{Bike, CADENCE_MAX, RESISTANCE_MAX},
};

/// The bike's panel.
#[component]
pub fn BikePanel(
    /// Cadence and resistance.
    bike: RwSignal<Bike>,
    /// Whether the autopilot rides.
    autopilot: RwSignal<bool>,
    /// The race total so far.
    #[prop(into)]
    total: Signal<f64>,
    /// The race's second now (0 before the start).
    #[prop(into)]
    second: Signal<u32>,
    /// The race length.
    race_seconds: u32,
    /// Whether the rider beats their personal best this second.
    #[prop(into)]
    personal_best: Signal<bool>,
) -> impl IntoView {
    let output = move || bike.get().output();
    let progress =
        move || f64::from(second.get().min(race_seconds)) / f64::from(race_seconds) * 100.0;
    let set_cadence = move |v: f64| {
        autopilot.set(false);
        bike.update(|b| *b = Bike::set(v, b.resistance));
    };
    let set_resistance = move |v: f64| {
        autopilot.set(false);
        bike.update(|b| *b = Bike::set(b.cadence, v));
    };
    view! {
        <section class="panel bike" aria-labelledby="bike-title">
            <h2 class="visually-hidden" id="bike-title">"Your bike"</h2>
            <div class="output-hero">
                <p class="output-label" id="output-label">"Output"</p>
                <p class="output-value num" aria-labelledby="output-label" data-testid="output">{move || format::output(output())}</p>
                <p class="pb-flag" aria-live="polite">
                    {move || personal_best.get().then(|| view! { <TrophyIcon/> "Personal best for this second" })}
                </p>
            </div>
            <dl class="stats">
                <div><dt>"Race total"</dt><dd class="num" data-testid="race-total">{move || format::total(total.get())}</dd></div>
                <div><dt>"Second"</dt><dd class="num" data-testid="race-second">{move || format!("{} / {}", second.get(), race_seconds)}</dd></div>
            </dl>
            <div class="progress" role="progressbar" aria-label="Race progress"
                aria-valuemin="0" aria-valuemax=race_seconds aria-valuenow=move || second.get()>
                <div class="progress-fill" style:width=move || format!("{:.2}%", progress())></div>
            </div>
            <div class="controls">
                <div class="control">
                    <label for="cadence">"Cadence" <span class="num">{move || format!("{:.0} rpm", bike.get().cadence)}</span></label>
                    <input id="cadence" type="range" min="0" max=CADENCE_MAX step="1"
                        prop:value=move || bike.get().cadence.to_string()
                        on:input=move |ev| set_cadence(event_target_value(&ev).parse().unwrap_or(0.0))/>
                </div>
                <div class="control">
                    <label for="resistance">"Resistance" <span class="num">{move || format!("{:.0} %", bike.get().resistance)}</span></label>
                    <input id="resistance" type="range" min="0" max=RESISTANCE_MAX step="1"
                        prop:value=move || bike.get().resistance.to_string()
                        on:input=move |ev| set_resistance(event_target_value(&ev).parse().unwrap_or(0.0))/>
                </div>
                <div class="autopilot">
                    <button type="button" class="switch" role="switch" id="autopilot"
                        aria-checked=move || autopilot.get().to_string()
                        on:click=move |_| autopilot.update(|a| *a = !*a)>
                        <span class="switch-knob" aria-hidden="true"></span>
                        <span>"Autopilot"</span>
                    </button>
                    <p class="muted small keys">"Keys: ↑ ↓ cadence · ← → resistance · A autopilot"</p>
                </div>
            </div>
        </section>
    }
}
