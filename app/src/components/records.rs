//! A class's records: the all-time leaderboard (each racer's best race total) and the results
//! of a chosen past race.

use alleycat_domain::{
    api::{ClassInfo, RaceResultRow},
    RaceId,
};
use leptos::prelude::*;

use super::{avatar::Avatar, racer_link::RacerLink, racer_marks::RacerMarks};
use crate::{api, logic::format};

/// Which table the records show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    Leaderboard,
    PastRaces,
}

/// The class leaderboard and past race results, with a tab for each.
#[component]
pub fn ClassRecords(
    /// The class whose records to show.
    class: ClassInfo,
    /// The rider, highlighted wherever they appear.
    highlight: Option<u64>,
    /// Bumped to fetch the records again (after a race).
    #[prop(optional)]
    refresh: Option<Signal<u32>>,
    /// The race to open on the "Past races" tab (the one just ridden).
    #[prop(optional)]
    race: Option<RaceId>,
) -> impl IntoView {
    let tab = RwSignal::new(Tab::Leaderboard);
    let class_id = class.id;
    let refresh = move || refresh.map(|r| r.get()).unwrap_or(0);
    let board = LocalResource::new(move || {
        refresh();
        api::leaderboard(class_id)
    });
    let races = LocalResource::new(move || {
        refresh();
        api::races(class_id)
    });
    let chosen = RwSignal::new(race);
    let results = LocalResource::new(move || {
        refresh();
        let picked = chosen.get();
        async move {
            match picked {
                Some(race) => api::race_results(race, class_id).await.map(Some),
                None => Ok(None),
            }
        }
    });
    let tab_button = move |which: Tab, label: &'static str| {
        view! {
            <button class="seg" aria-pressed=move || (tab.get() == which).to_string()
                on:click=move |_| tab.set(which)>{label}</button>
        }
    };
    view! {
        <section class="panel records" aria-labelledby="records-title">
            <div class="panel-head">
                <h2 class="panel-title" id="records-title">{format!("{} records", class.name)}</h2>
                <div class="segmented" role="group" aria-label="Records to show">
                    {tab_button(Tab::Leaderboard, "Class leaderboard")}
                    {tab_button(Tab::PastRaces, "Past races")}
                </div>
            </div>
            <Show when=move || tab.get() == Tab::Leaderboard>
                <Suspense fallback=|| view! { <p class="muted" role="status">"Loading the leaderboard…"</p> }>
                    {move || board.get().map(|answer| match answer {
                        Ok(board) if board.entries.is_empty() => view! {
                            <p class="muted">"No races finished in this class yet. Be the first on the board."</p>
                        }.into_any(),
                        Ok(board) => view! {
                            <table class="table" aria-label="Class leaderboard">
                                <thead><tr><th scope="col">"Place"</th><th scope="col">"Racer"</th><th scope="col" class="num">"Best race total"</th></tr></thead>
                                <tbody>
                                    {board.entries.into_iter().take(100).map(|row| view! {
                                        <tr class:me=highlight == Some(row.racer_id)>
                                            <td class="num">{row.place}</td>
                                            <td><span class="who"><Avatar racer_id=row.racer_id name=row.name.clone() size=22/><RacerLink racer_id=row.racer_id name=row.name.clone()/><RacerMarks racer_id=row.racer_id/></span></td>
                                            <td class="num">{format::total(row.total)}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                        Err(message) => view! { <p class="error" role="alert">{format!("The leaderboard is unavailable: {message}")}</p> }.into_any(),
                    })}
                </Suspense>
            </Show>
            <Show when=move || tab.get() == Tab::PastRaces>
                <Suspense fallback=|| view! { <p class="muted" role="status">"Loading past races…"</p> }>
                    {move || races.get().map(|answer| match answer {
                        Ok(list) if list.races.is_empty() && chosen.get().is_none() => view! {
                            <p class="muted">"No past races in this class yet."</p>
                        }.into_any(),
                        Ok(list) => {
                            if chosen.get_untracked().is_none() {
                                if let Some(first) = list.races.first() {
                                    chosen.set(Some(first.race_id));
                                }
                            }
                            view! {
                                <label class="field-label" for="race-select">"Race"</label>
                                <select id="race-select" class="select" on:change=move |ev| {
                                    chosen.set(event_target_value(&ev).parse().ok());
                                }>
                                    {list.races.into_iter().map(|r| {
                                        let id = r.race_id;
                                        view! {
                                            <option value=id.to_string() selected=move || chosen.get() == Some(id)>
                                                {format!("Race {} · {} · {} racers", id, clock_time(r.started_at_ms), r.racers)}
                                            </option>
                                        }
                                    }).collect_view()}
                                </select>
                            }.into_any()
                        }
                        Err(message) => view! { <p class="error" role="alert">{format!("Past races are unavailable: {message}")}</p> }.into_any(),
                    })}
                    {move || results.get().map(|answer| match answer {
                        Ok(Some(results)) => view! { <ResultsTable rows=results.results highlight=highlight/> }.into_any(),
                        Ok(None) => ().into_any(),
                        Err(message) => view! { <p class="error" role="alert">{format!("The results are unavailable: {message}")}</p> }.into_any(),
                    })}
                </Suspense>
            </Show>
        </section>
    }
}

/// `HH:MM` of an epoch time, in the browser's time zone.
fn clock_time(epoch_ms: u64) -> String {
    let date = js_sys::Date::new(&(epoch_ms as f64).into());
    format!("{:02}:{:02}:{:02}", date.get_hours(), date.get_minutes(), date.get_seconds())
}

/// A race's results, ranked by total output.
#[component]
pub fn ResultsTable(
    /// The rows, best first.
    rows: Vec<RaceResultRow>,
    /// The rider, highlighted.
    highlight: Option<u64>,
) -> impl IntoView {
    if rows.is_empty() {
        return view! { <p class="muted">"Nobody finished this race."</p> }.into_any();
    }
    view! {
        <table class="table" aria-label="Race results">
            <thead><tr>
                <th scope="col">"Place"</th><th scope="col">"Racer"</th>
                <th scope="col" class="num">"Total"</th><th scope="col" class="num hide-narrow">"Best second"</th>
                <th scope="col" class="num hide-narrow">"Seconds"</th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|row| view! {
                    <tr class:me=highlight == Some(row.racer_id)>
                        <td class="num">{row.place}</td>
                        <td><span class="who"><Avatar racer_id=row.racer_id name=row.name.clone() size=22/><RacerLink racer_id=row.racer_id name=row.name.clone()/><RacerMarks racer_id=row.racer_id real_bike=row.real_bike/></span></td>
                        <td class="num">{format::total(row.total)}</td>
                        <td class="num hide-narrow">{format::output(row.best)}</td>
                        <td class="num hide-narrow">{row.seconds}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }.into_any()
}
