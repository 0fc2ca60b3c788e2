//! The set-up screen: who rides (this device's racer, or how to get one), a search to look
//! racers up, in which class, and the Start button.

use alleycat_domain::api::{ClassInfo, RacerInfo};
use leptos::{html, prelude::*};

use super::{
    avatar::Avatar, countdown::ticking_now, racer_search::RacerSearch, records::ClassRecords,
    your_racer::YourRacer,
};
use crate::{hooks::Session, logic::format, logic::ride::JOIN_WINDOW_MS, storage, time::Clock};

/// Who rides and in which class, then start.
#[component]
pub fn Setup(
    /// The six classes.
    classes: Vec<ClassInfo>,
    /// The server's race clock.
    clock: Clock,
    /// The device's session: who rides.
    session: Session,
    /// Called with the racer and class when the rider presses Start.
    on_start: Callback<(RacerInfo, ClassInfo)>,
) -> impl IntoView {
    let racer = Memo::new(move |_| session.racer());
    let start_button = NodeRef::<html::Button>::new();
    // A racer just made (or signed in): the class and Start are next.
    // (Once the page has redrawn: until then the button is still disabled.)
    let signed_in = Callback::new(move |()| {
        request_animation_frame(move || {
            if let Some(button) = start_button.get_untracked() {
                let _ = button.focus();
            }
        });
    });
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
                <div class="setup-side">
                    <YourRacer session=session on_signed_in=signed_in/>
                    <RacerSearch/>
                </div>
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
                        <strong>{move || racer.get().map_or("Create your racer first".to_owned(), |r| r.name)}</strong>
                        <span class="muted">{move || format!(" in {}", class().name)}</span>
                        <br/>
                        <span class="muted small" aria-live="polite">{move || if joins_now() {
                            format!("Joins the race now running ({} in).", format::countdown(since_start()))
                        } else {
                            format!("Waits for the next race, in {}.", format::countdown(clock.race.ms_until_next_start(now_ms.get())))
                        }}</span>
                    </p>
                </div>
                <button class="button primary big" node_ref=start_button on:click=start disabled=move || racer.get().is_none()>
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
