//! The set-up screen: who rides, in which class, and the Start button.

use std::time::Duration;

use alleycat_domain::api::{ClassInfo, RacerInfo};
use leptos::{prelude::*, task::spawn_local};

use super::{
    avatar::Avatar, countdown::ticking_now, racer_marks::RacerMarks, records::ClassRecords,
};
use crate::{
    api,
    logic::{format, ride::JOIN_WINDOW_MS, route::Route},
    storage,
    time::Clock,
};

/// The racer search's example: racer 1,042 of the default roster (seed 2026) is Kenji Q.
/// Underhill, so both find the same racer; every roster of more than a few hundred racers has
/// Kenjis (the roster's names come from `server/src/roster.rs`). `lobby.spec.ts` searches for
/// each.
const SEARCH_PLACEHOLDER: &str = "e.g. Kenji or 1042";

/// Choose a racer and a class, then start.
#[component]
pub fn Setup(
    /// The six classes.
    classes: Vec<ClassInfo>,
    /// The server's race clock.
    clock: Clock,
    /// Called with the racer and class when the rider presses Start.
    on_start: Callback<(RacerInfo, ClassInfo)>,
) -> impl IntoView {
    let racer = RwSignal::new(storage::racer());
    let remembered = storage::class().and_then(|id| classes.iter().position(|c| c.id == id));
    let class_index = RwSignal::new(remembered.unwrap_or(0));
    let classes = StoredValue::new(classes);
    let class = move || classes.with_value(|c| c[class_index.get()].clone());
    let now_ms = ticking_now(clock);
    let since_start = move || clock.race.ms_since_start(now_ms.get());
    let joins_now = move || since_start() < JOIN_WINDOW_MS;
    let start = move |_| {
        if let Some(racer) = racer.get_untracked() {
            on_start.run((racer, classes.with_value(|c| c[class_index.get_untracked()].clone())));
        }
    };
    view! {
        <section class="setup" aria-labelledby="setup-title">
            <div class="setup-hero">
                <div>
                    <p class="eyebrow">"Five-minute races, every five minutes"</p>
                    <h1 id="setup-title" class="hero-title">"Ride against everyone, live and all-time."</h1>
                </div>
                <super::countdown::Countdown clock=clock/>
            </div>
            <div class="setup-grid">
                <RacerPicker racer=racer/>
                <fieldset class="panel class-picker">
                    <legend class="panel-title">"2. Pick your class"</legend>
                    <ul class="class-grid">
                        {move || classes.with_value(|all| all.iter().enumerate().map(|(i, c)| {
                            let id = format!("class-{}", c.id);
                            view! {
                                <li class="class-card" class:chosen=move || class_index.get() == i>
                                    <input type="radio" name="class" id=id.clone() value=c.id
                                        prop:checked=move || class_index.get() == i
                                        on:change=move |_| class_index.set(i)
                                        aria-describedby=format!("{id}-tagline")/>
                                    <label for=id.clone()>
                                        <span class="class-badge" aria-hidden="true">{c.id}</span>
                                        <span class="class-name">{c.name.clone()}</span>
                                        <span class="muted small" id=format!("{id}-tagline")>{c.tagline.clone()}</span>
                                    </label>
                                </li>
                            }
                        }).collect_view())}
                    </ul>
                </fieldset>
            </div>
            <div class="start-bar panel">
                <div class="start-summary">
                    {move || racer.get().map(|r| view! {
                        <Avatar racer_id=r.id name=r.name.clone() size=40/>
                    })}
                    <p>
                        <strong>{move || racer.get().map_or("Choose a racer first".to_owned(), |r| r.name)}</strong>
                        <span class="muted">{move || format!(" in {}", class().name)}</span>
                        <br/>
                        <span class="muted small" aria-live="polite">{move || if joins_now() {
                            format!("Joins the race now running ({} in).", format::countdown(since_start()))
                        } else {
                            format!("Waits for the next race, in {}.", format::countdown(clock.race.ms_until_next_start(now_ms.get())))
                        }}</span>
                    </p>
                </div>
                <button class="button primary big" on:click=start disabled=move || racer.get().is_none()>
                    "Start"
                </button>
            </div>
            {move || {
                let c = class();
                let me = racer.get().map(|r| r.id);
                view! { <ClassRecords class=c highlight=me/> }
            }}
        </section>
    }
}

/// Finds a racer among the 40,000 by name or id, and remembers the choice.
#[component]
fn RacerPicker(
    /// The chosen racer.
    racer: RwSignal<Option<RacerInfo>>,
) -> impl IntoView {
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
            gloo_timers::future::sleep(Duration::from_millis(180)).await;
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
                    results.set(found.racers.into_iter().take(8).collect());
                    message.set(None);
                }
                Err(e) => {
                    results.set(Vec::new());
                    message.set(Some(e));
                }
            }
        });
    };
    let choose = move |r: RacerInfo| {
        storage::set_racer(&r);
        racer.set(Some(r));
        query.set(String::new());
        results.set(Vec::new());
    };
    view! {
        <section class="panel racer-picker" aria-labelledby="racer-title">
            <h2 class="panel-title" id="racer-title">"1. Who's riding?"</h2>
            {move || racer.get().map(|r| view! {
                <div class="chosen-racer">
                    <Avatar racer_id=r.id name=r.name.clone() size=48/>
                    <div>
                        <strong class="chosen-name">{r.name.clone()}</strong>
                        <span class="muted small">{format::racer_number(r.id)}</span>
                        <a class="racer-link small" href=Route::Racer(r.id).path()>"Races and personal bests"</a>
                    </div>
                </div>
            })}
            <label class="field-label" for="racer-search">"Find a racer by name or id"</label>
            <input id="racer-search" class="text-input" type="search" autocomplete="off"
                placeholder=SEARCH_PLACEHOLDER
                prop:value=move || query.get()
                on:input=move |ev| search(event_target_value(&ev))/>
            <p class="muted small" role="status">{move || message.get()}</p>
            <ul class="racer-results" aria-label="Matching racers">
                <For each=move || results.get() key=|r| r.id let:r>
                    <li>
                        <button class="racer-result" on:click={
                            let r = r.clone();
                            move |_| choose(r.clone())
                        }>
                            <Avatar racer_id=r.id name=r.name.clone()/>
                            <span class="racer-result-name">{r.name.clone()}</span>
                            <RacerMarks racer_id=r.id/>
                            <span class="muted small">{format!("#{}", r.id)}</span>
                        </button>
                    </li>
                </For>
            </ul>
        </section>
    }
}
