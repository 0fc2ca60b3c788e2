//! A racer's own page (`/racers/<id>`): who they are, their personal best in each class, and
//! their past races, newest first, each with its total, place, a chart of its output against
//! the personal best at each second, and the ride as a FIT file.

use alleycat_domain::{
    api::{ClassInfo, PersonalBest, RacerRace},
    ClassId, RaceId,
};
use leptos::{prelude::*, task::spawn_local};

use super::{avatar::Avatar, chart::OutputChart, racer_marks::RacerMarks};
use crate::{api, logic::format};

/// Racer `racer_id`'s page.
#[component]
pub fn RacerPage(
    /// The racer.
    racer_id: u64,
    /// The six classes (for their names).
    classes: Vec<ClassInfo>,
    /// The race length.
    race_seconds: u32,
) -> impl IntoView {
    let racer = LocalResource::new(move || api::racer(racer_id));
    let bests = LocalResource::new(move || api::racer_bests(racer_id));
    let classes = StoredValue::new(classes);
    let class_name = move |id: ClassId| {
        classes.with_value(|c| {
            c.iter().find(|c| c.id == id).map_or_else(|| format!("Class {id}"), |c| c.name.clone())
        })
    };
    // The races shown so far, and where the next (older) page starts.
    let races = RwSignal::new(Vec::<RacerRace>::new());
    let next_before = RwSignal::new(None::<RaceId>);
    let loading = RwSignal::new(true);
    let error = RwSignal::new(None::<String>);
    let load = move |before: Option<RaceId>| {
        loading.set(true);
        spawn_local(async move {
            match api::racer_races(racer_id, before).await {
                Ok(page) => {
                    races.update(|r| r.extend(page.races));
                    next_before.set(page.next_before);
                    error.set(None);
                }
                Err(message) => error.set(Some(message)),
            }
            loading.set(false);
        });
    };
    load(None);
    // Each class's best at each second, for the charts (empty until the bests arrive).
    let best_of = move |class: ClassId| -> Vec<Option<f64>> {
        bests
            .get()
            .and_then(|b| b.ok())
            .and_then(|b| b.bests.into_iter().find(|b| b.class_id == class))
            .map_or_else(|| vec![None; race_seconds as usize], |b| b.seconds)
    };

    let heading = move || {
        match racer.get() {
        None => view! { <p class="muted" role="status">"Loading the racer…"</p> }.into_any(),
        Some(Ok(r)) => view! {
            <div class="racer-head">
                <Avatar racer_id=r.id name=r.name.clone() size=64/>
                <div>
                    <h1 class="hero-title racer-name">{r.name.clone()}<RacerMarks racer_id=r.id/></h1>
                    <p class="muted">{format::racer_number(r.id)}</p>
                </div>
            </div>
        }
        .into_any(),
        Some(Err(message)) => view! {
            <h1 class="hero-title">{format!("Racer #{racer_id}")}</h1>
            <p class="note warn" role="alert">{message}</p>
        }
        .into_any(),
    }
    };
    let bests_table = move || {
        match bests.get() {
        None => view! { <p class="muted" role="status">"Loading personal bests…"</p> }.into_any(),
        Some(Ok(b)) if b.bests.is_empty() => {
            view! { <p class="muted">"No races finished yet, so no personal bests."</p> }.into_any()
        }
        Some(Ok(b)) => view! {
            <table class="table" aria-label="Personal bests">
                <thead><tr>
                    <th scope="col">"Class"</th><th scope="col" class="num">"Best race total"</th>
                    <th scope="col" class="num hide-narrow">"Race"</th><th scope="col">"All-time place"</th>
                </tr></thead>
                <tbody>
                    {b.bests.into_iter().map(|b: PersonalBest| view! {
                        <tr>
                            <td>{class_name(b.class_id)}</td>
                            <td class="num">{format::total(b.total)}</td>
                            <td class="num hide-narrow">{b.race_id}</td>
                            <td>{format::place_of(b.place as usize, b.field as usize)}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        }
        .into_any(),
        Some(Err(message)) => view! {
            <p class="error" role="alert">{format!("Personal bests are unavailable: {message}")}</p>
        }
        .into_any(),
    }
    };
    let history = move || {
        let shown = races.get();
        if shown.is_empty() {
            return (!loading.get() && error.get().is_none())
                .then(|| view! { <p class="muted">"No races yet."</p> }.into_any());
        }
        Some(
            view! {
                <ol class="race-history">
                    {shown.into_iter().map(|race| {
                        let class = race.class_id;
                        let bests = Signal::derive(move || best_of(class));
                        view! { <RaceCard racer_id=racer_id race=race class_name=class_name(class) bests=bests race_seconds=race_seconds/> }
                    }).collect_view()}
                </ol>
            }
            .into_any(),
        )
    };
    view! {
        <section class="racer-page" aria-labelledby="racer-page-title">
            <p><a class="racer-link" href="/">"← Back to racing"</a></p>
            <div id="racer-page-title">{heading}</div>
            <section class="panel" aria-labelledby="bests-title">
                <h2 class="panel-title" id="bests-title">"Personal bests"</h2>
                {bests_table}
            </section>
            <section class="panel" aria-labelledby="history-title">
                <h2 class="panel-title" id="history-title">"Races"</h2>
                {history}
                {move || error.get().map(|message| view! {
                    <p class="error" role="alert">{format!("Past races are unavailable: {message}")}</p>
                })}
                {move || loading.get().then(|| view! { <p class="muted" role="status">"Loading races…"</p> })}
                {move || next_before.get().filter(|_| !loading.get()).map(|before| view! {
                    <button class="button ghost" on:click=move |_| load(Some(before))>"Older races"</button>
                })}
            </section>
        </section>
    }
}

/// One past race: its class and start, total and place, the chart, and its FIT file.
#[component]
fn RaceCard(
    /// Whose race.
    racer_id: u64,
    /// The race as the server summed it up.
    race: RacerRace,
    /// Its class's name.
    class_name: String,
    /// The racer's best at each second in the class.
    bests: Signal<Vec<Option<f64>>>,
    /// The race length.
    race_seconds: u32,
) -> impl IntoView {
    let title = format!("{class_name} · Race {}", race.race_id);
    let outputs = race.outputs.clone();
    view! {
        <li class="race-card" aria-label=title.clone()>
            <div class="race-card-head">
                <h3 class="race-card-title">{title.clone()}</h3>
                <span class="muted small">{when(race.started_at_ms)}</span>
                <RacerMarks racer_id=racer_id real_bike=race.real_bike simulated=false/>
            </div>
            <p class="race-card-figures">
                <span>"Total "<strong class="num">{format::total(race.total)}</strong></span>
                <span>"Place "<strong>{format::place_of(race.place as usize, race.field as usize)}</strong></span>
                <span class="muted">{format!("{} seconds ridden", race.seconds)}</span>
            </p>
            <OutputChart outputs=Signal::derive(move || outputs.clone()) bests=bests
                race_seconds=race_seconds mine_label="This race" best_label="Personal best"
                label=format!("{title}: output each second against the personal best")/>
            <a class="button ghost" download href=api::fit_file_url(racer_id, race.race_id, race.class_id)>"Download .fit"</a>
        </li>
    }
}

/// The date and time of an epoch time, in the browser's time zone.
fn when(epoch_ms: u64) -> String {
    let date = js_sys::Date::new(&(epoch_ms as f64).into());
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes()
    )
}
