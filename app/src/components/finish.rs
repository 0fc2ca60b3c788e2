//! The end of the race: confetti, the rider's place and the race's results.

use std::time::Duration;

use alleycat_domain::{
    api::{ClassInfo, RaceResultRow, RacerInfo},
    RaceId,
};
use leptos::{prelude::*, task::spawn_local};

use super::records::{ClassRecords, ResultsTable};
use crate::{api, logic::format, storage};

/// How long to keep asking for the results while the merge catches up.
const RESULT_ATTEMPTS: u32 = 30;

/// The finish: confetti (unless reduced motion), the place and the results.
#[component]
pub fn Finish(
    /// Who rode.
    racer: RacerInfo,
    /// The class.
    class: ClassInfo,
    /// The race.
    race_id: RaceId,
    /// The rider's total as the app counted it.
    #[prop(into)]
    total: Signal<f64>,
    /// The rider's last here-now place and field, if the live board knew it.
    #[prop(into)]
    live_place: Signal<Option<(u32, u32)>>,
    /// How many of the rider's seconds the server acknowledged: the results are complete once
    /// they count as many.
    #[prop(into)]
    acknowledged: Signal<u32>,
    /// Ride again.
    on_again: Callback<()>,
) -> impl IntoView {
    let me = racer.id;
    let class_id = class.id;
    let results = RwSignal::new(None::<Result<Vec<RaceResultRow>, String>>);
    let refresh = RwSignal::new(0u32);
    spawn_local(async move {
        for attempt in 0..RESULT_ATTEMPTS {
            // Ask for the results once the race is listed: until the merge has written a result
            // the results call answers 404, which the browser would log as an error.
            let answer = match api::races(class.id).await {
                Ok(listed) if listed.races.iter().any(|r| r.race_id == race_id) => {
                    api::race_results(race_id, class.id).await.map(Some)
                }
                Ok(_) => Ok(None),
                Err(e) => Err(e),
            };
            match answer {
                Ok(Some(r))
                    if r.results.iter().any(|row| {
                        row.racer_id == me && row.seconds >= acknowledged.get_untracked()
                    }) =>
                {
                    results.set(Some(Ok(r.results)));
                    refresh.update(|n| *n += 1);
                    return;
                }
                Ok(_) => {}
                Err(e) if attempt + 1 == RESULT_ATTEMPTS => results.set(Some(Err(e))),
                Err(_) => {}
            }
            gloo_timers::future::sleep(Duration::from_secs(1)).await;
        }
        if results.get_untracked().is_none() {
            results.set(Some(Err("your result has not come through yet".into())));
            // Keep the place from the live board, which the headline already shows.
        }
    });
    let place = move || {
        let official = results.with(|r| {
            r.as_ref().and_then(|r| r.as_ref().ok()).and_then(|rows| {
                rows.iter().find(|x| x.racer_id == me).map(|x| (x.place, rows.len() as u32))
            })
        });
        official.or_else(|| live_place.get())
    };
    let headline = move || match place() {
        Some((p, field)) => format!(
            "You finished {} of {}",
            format::ordinal(u64::from(p)),
            format::thousands(u64::from(field))
        ),
        None => "You finished!".to_owned(),
    };
    let confetti = (!storage::prefers_reduced_motion()).then(|| {
        let colours = ["#ff5a36", "#ffc233", "#4cd08a", "#5ab0ff", "#c77dff", "#ffffff"];
        view! {
            <div class="confetti" aria-hidden="true">
                {(0..90u32).map(|i| {
                    let x = (i * 37 % 100) as f64 + ((i * 13) % 7) as f64 / 7.0;
                    let delay = (i * 53 % 1200) as f64 / 1000.0;
                    let duration = 2.6 + f64::from(i * 17 % 10) / 10.0;
                    view! {
                        <i class=format!("confetti-piece fall-{}", i % 3)
                            style:left=format!("{x:.1}%")
                            style:background=colours[(i as usize) % colours.len()]
                            style:animation-delay=format!("{delay:.2}s")
                            style:animation-duration=format!("{duration:.1}s")></i>
                    }
                }).collect_view()}
            </div>
        }
    });
    // Take keyboard and screen-reader focus to the result, once it is on screen.
    request_animation_frame(|| {
        let heading = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id("finish-title"))
            .and_then(|e| wasm_bindgen::JsCast::dyn_into::<web_sys::HtmlElement>(e).ok());
        if let Some(heading) = heading {
            let _ = heading.focus();
        }
    });
    view! {
        {confetti}
        <section class="panel finish" aria-labelledby="finish-title">
            <div class="finish-head">
                <div>
                    <p class="eyebrow">"Race over"</p>
                    <h2 class="finish-title" id="finish-title" tabindex="-1">{headline}</h2>
                    <p class="muted">{move || format!("Your total: {}", format::total(total.get()))}</p>
                </div>
                <button class="button primary" on:click=move |_| on_again.run(())>"Ride another race"</button>
            </div>
            {move || match results.get() {
                None => view! { <p class="muted" role="status">"Tallying the results…"</p> }.into_any(),
                Some(Ok(rows)) => view! {
                    <ResultsTable rows=rows highlight=Some(me)/>
                    // The ride as a FIT file (server/src/http/rides.rs), once the results have it.
                    <a class="button ghost" download href=api::fit_file_url(me, race_id, class_id)>"Download .fit"</a>
                }.into_any(),
                Some(Err(message)) => view! { <p class="note warn" role="alert">{format!("The official results are not available: {}", sentence(&message))}</p> }.into_any(),
            }}
        </section>
        <ClassRecords class=class.clone() highlight=Some(me) refresh=Signal::from(refresh) race=race_id/>
    }
}

/// `text` ending with a full stop.
fn sentence(text: &str) -> String {
    let text = text.trim();
    if text.ends_with(['.', '!', '?']) {
        text.to_owned()
    } else {
        format!("{text}.")
    }
}
