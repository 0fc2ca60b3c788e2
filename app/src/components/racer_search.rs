//! "Find a racer" on the set-up screen: people and simulated racers by name or id, each result
//! a link to the racer's page with the marks that say which is which (`RacerMarks`). It looks
//! racers up; it does not choose who rides (that is the device's racer, `YourRacer`).

use std::time::Duration;

use alleycat_domain::api::RacerInfo;
use leptos::{prelude::*, task::spawn_local};

use super::{avatar::Avatar, racer_marks::RacerMarks};
use crate::{api, logic::format, logic::route::Route};

/// The search's example: racer 1,042 of the default roster (seed 2026) is Kenji Q. Underhill,
/// so both find the same racer; every roster of more than a few hundred racers has Kenjis (the
/// roster's names come from `server/src/roster.rs`).
const SEARCH_PLACEHOLDER: &str = "e.g. Kenji or 1042";

/// How long typing must pause before the search asks the server.
const TYPING_PAUSE: Duration = Duration::from_millis(180);

/// How many matches to show.
const MAX_RESULTS: usize = 8;

/// A search box whose matches link to the racers' pages.
#[component]
pub fn RacerSearch() -> impl IntoView {
    let query = RwSignal::new(String::new());
    let results = RwSignal::new(Vec::<RacerInfo>::new());
    let message = RwSignal::new(None::<String>);
    let generation = StoredValue::new(0u32);
    let search = move |text: String| {
        query.set(text.clone());
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        if text.trim().is_empty() {
            results.set(Vec::new());
            message.set(None);
            return;
        }
        spawn_local(async move {
            // Wait for a pause in typing; only the latest query's answer is shown.
            gloo_timers::future::sleep(TYPING_PAUSE).await;
            if generation.get_value() != mine {
                return;
            }
            let answer = api::search_racers(text.trim()).await;
            if generation.get_value() != mine {
                return;
            }
            match answer {
                Ok(found) if found.racers.is_empty() => {
                    results.set(Vec::new());
                    message.set(Some(format!("No racer matches “{}”.", text.trim())));
                }
                Ok(found) => {
                    results.set(found.racers.into_iter().take(MAX_RESULTS).collect());
                    message.set(None);
                }
                Err(e) => {
                    results.set(Vec::new());
                    message.set(Some(e));
                }
            }
        });
    };
    view! {
        <section class="panel racer-search" aria-labelledby="racer-search-title">
            <h2 class="panel-title" id="racer-search-title">"Find a racer"</h2>
            <label class="field-label" for="racer-search">"Find a racer by name or id"</label>
            <input id="racer-search" class="text-input" type="search" autocomplete="off"
                placeholder=SEARCH_PLACEHOLDER
                prop:value=move || query.get()
                on:input=move |ev| search(event_target_value(&ev))/>
            <p class="muted small" role="status">{move || message.get()}</p>
            <ul class="racer-results" aria-label="Matching racers">
                <For each=move || results.get() key=|r| r.id let:r>
                    <li>
                        <a class="racer-result" href=Route::Racer(r.id).path()>
                            <Avatar racer_id=r.id name=r.name.clone()/>
                            <span class="racer-result-name">{r.name.clone()}<RacerMarks racer_id=r.id/></span>
                            <span class="muted small">{format::racer_number(r.id)}</span>
                        </a>
                    </li>
                </For>
            </ul>
        </section>
    }
}
