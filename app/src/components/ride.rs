//! The ride screen: the race clock, the bike, sending each second, the boards, the chart and the
//! messages log; the finish when the race ends. The moving parts are hooks (`crate::hooks`):
//! this file puts them together and lays out the screen.

use alleycat_domain::{
    api::{ClassInfo, RacerInfo},
    output::from_centi,
    ride::RiderProfile,
    RaceId,
};
use leptos::prelude::*;

use super::{
    avatar::TrophyIcon,
    bike::BikePanel,
    board::Board,
    chart::OutputChart,
    devices::{Devices, DevicesPanel},
    finish::Finish,
    message_log::MessageLog,
    racer_link::OpenRacersInNewTab,
};
use crate::{
    hooks::{
        event_id, use_heartbeat, use_history, use_live, use_names, use_ride_keys, use_sender,
        use_session, HistoryState, RaceTime, Route,
    },
    live::LiveStatus,
    logic::{
        alltime,
        board::{with_me, BoardRow},
        format,
        heartbeat::Beat,
        ride::{Bike, Outputs, Phase, Rider},
    },
    time::Clock,
};

/// Seed of the autopilot's ride model.
const AUTOPILOT_SEED: u64 = 0xA11E_7CA7;

/// Which leaderboard shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The racers of this race, live.
    HereNow,
    /// Everyone's personal bests at this second.
    AllTime,
}

/// The whole ride of one race.
#[component]
pub fn Ride(
    /// Who rides.
    racer: RacerInfo,
    /// In which class.
    class: ClassInfo,
    /// Which race.
    race_id: RaceId,
    /// The server's race clock.
    clock: Clock,
    /// Back to the set-up screen.
    on_leave: Callback<()>,
) -> impl IntoView {
    let race_seconds = clock.race.race_seconds;
    let me = racer.id;
    let class_id = class.id;
    let rider = Rider { racer_id: me, class_id, race_id, race_seconds };
    // A racer's name on the boards opens their page in a new tab: the race goes on here.
    provide_context(OpenRacersInNewTab);

    let session = use_session(me);
    let names = use_names();
    let live = use_live(class_id, race_id, session, names);
    let history = use_history(class_id);
    let sender = use_sender(session, live.link(), me, race_id);

    // The bike, the autopilot and one event per second of the race.
    let bike = RwSignal::new(Bike::default());
    let autopilot = RwSignal::new(false);
    let devices = Devices::new();
    // After a reload the ride goes on from its saved outbox: the seconds ridden before count.
    let outputs = RwSignal::new(sender.outbox().with_untracked(|o| {
        let mut outputs = Outputs::new(race_seconds);
        for entry in o.entries() {
            outputs.record(entry.second, entry.output);
        }
        outputs
    }));
    let ride_model = RiderProfile::new(AUTOPILOT_SEED, me).race(race_id, race_seconds);
    let RaceTime { phase: phase_now, second } = use_heartbeat(clock, race_id, move |beat, now| {
        let second = match beat {
            Beat::AlreadySent => return,
            Beat::Idle => None,
            Beat::Second(second) => Some(second),
        };
        if autopilot.get_untracked() {
            // Before the start the autopilot warms up at its first second's pace.
            let r = ride_model.at(second.unwrap_or(1));
            bike.set(Bike::set(f64::from(r.cadence), f64::from(r.resistance)));
        }
        // A second ridden before a reload is not ridden again.
        let Some(second) = second.filter(|&s| !sender.has_second(s)) else { return };
        let ridden = bike.get_untracked();
        // With a power source the second is worth its measured power (see `Devices::measure`).
        let measured = devices.measure(js_sys::Date::now());
        let value = measured.output(ridden);
        outputs.update(|o| {
            o.record(second, value);
        });
        sender.send(rider.event(event_id(), now, second, ridden, &measured), value);
    });
    use_ride_keys(bike, autopilot);

    let mode = RwSignal::new(Mode::HereNow);
    let my_name = racer.name.clone();
    // The all-time step: rank this second's output against every personal best.
    let window_slots = RwSignal::new(0..20usize);
    let step = Memo::new(move |_| {
        let HistoryState::Ready(h, _) = history.get() else { return None };
        let s = second.get().max(1);
        let output = match phase_now.get() {
            Phase::Finished => {
                outputs.with(|o| o.as_slice().last().copied().flatten()).unwrap_or(0.0)
            }
            _ => bike.get().output(),
        };
        // Read each second (the memo follows `second`), like the event the ride sends.
        let real_bike = devices.source().measures_power();
        let rider = alltime::Rider { id: me, name: &my_name, output, real_bike };
        let step = names.with(|name_of| alltime::step(&h, s, &rider, window_slots.get(), name_of));
        // Index the next second now, so that its first step is only a binary search.
        h.prepare(s + 1);
        Some(step)
    });
    // Names for the all-time rows on screen.
    Effect::new(move |_| {
        if mode.get() == Mode::AllTime {
            step.with(|s| {
                names.look_up(s.iter().flat_map(|s| s.rows.iter().map(|row| row.racer_id)));
            });
        }
    });
    let live_rows = Memo::new(move |_| {
        live.board.with(|board| {
            let Some(l) = board.ranking() else { return Vec::new() };
            let to_row = |e: &alleycat_domain::api::LiveEntry| BoardRow {
                key: e.racer_id,
                slot: 0,
                place: e.rank as usize,
                racer_id: e.racer_id,
                name: e.name.clone(),
                output: e.output,
                total: Some(e.total),
                is_me: e.racer_id == me,
                is_my_best: false,
                real_bike: e.real_bike,
            };
            with_me(l.entries.iter().map(to_row).collect(), l.me.as_ref().map(to_row))
        })
    });
    let board_rows = Signal::derive(move || match mode.get() {
        Mode::HereNow => live_rows.get(),
        Mode::AllTime => step.get().map(|s| s.rows).unwrap_or_default(),
    });
    let board_total = Signal::derive(move || match mode.get() {
        Mode::HereNow => live_rows.with(|r| r.len()),
        Mode::AllTime => step.with(|s| s.as_ref().map_or(0, |s| s.field)),
    });
    let me_slot = Signal::derive(move || match mode.get() {
        Mode::HereNow => live_rows.with(|r| r.iter().find(|r| r.is_me).map(|r| r.slot)),
        Mode::AllTime => step.with(|s| s.as_ref().map(|s| s.place - 1)),
    });
    let follow = RwSignal::new(true);
    let my_rank = move || match mode.get() {
        Mode::HereNow => live.board.with(|board| {
            match board.ranking().and_then(|l| l.me.as_ref().map(|m| (m.rank, l.racer_count))) {
                Some((rank, field)) => format::place_of(rank as usize, field as usize),
                None => "Not ranked yet".to_owned(),
            }
        }),
        Mode::AllTime => step.with(|s| match s {
            Some(s) => format::place_of(s.place, s.field),
            None => "–".to_owned(),
        }),
    };
    let personal_best = Signal::derive(move || {
        matches!(phase_now.get(), Phase::Riding { .. })
            && step.with(|s| s.as_ref().is_some_and(|s| s.personal_best && s.my_best.is_some()))
    });
    let bests = Signal::derive(move || match history.get() {
        HistoryState::Ready(h, _) => {
            (1..=race_seconds).map(|s| h.best(me, s).map(from_centi)).collect()
        }
        _ => vec![None; race_seconds as usize],
    });
    let total = Signal::derive(move || outputs.with(|o| o.total()));
    let outbox = sender.outbox();
    let acknowledged = Signal::derive(move || outbox.with(|o| o.acknowledged()));
    let last_place = Signal::derive(move || live.board.with(|board| board.last_place()));

    let class_name = class.name.clone();
    let class_name_for_note = {
        let c = class_name.clone();
        move || c.clone()
    };
    let mode_button = move |which: Mode, label: &'static str| {
        view! {
            <button class="seg" aria-pressed=move || (mode.get() == which).to_string()
                on:click=move |_| mode.set(which)>{label}</button>
        }
    };
    let history_note = move || {
        match history.get() {
        HistoryState::Downloading(got, expected) => {
            let pct = expected.filter(|&e| e > 0).map(|e| (got as f64 / e as f64 * 100.0).min(100.0));
            view! {
                <div class="note" role="status">
                    <span>{format!("Downloading the all-time history… {}", format::bytes(got))}</span>
                    <progress max="100" value=pct.unwrap_or(0.0) aria-label="All-time history download"></progress>
                </div>
            }.into_any()
        }
        HistoryState::Ready(_, stats) => view! {
            <p class="note muted small" role="status" data-testid="history-ready">
                {format!("All-time history: {} racers, {} in {:.0} ms.", format::thousands(stats.racers as u64), format::bytes(stats.bytes), stats.total_ms)}
            </p>
        }.into_any(),
        HistoryState::Missing => view! {
            <p class="note warn" role="status">{format!("No all-time history for {} yet: it appears once races in this class have been merged. Here now works as usual.", class_name_for_note())}</p>
        }.into_any(),
        HistoryState::Failed(message) => view! {
            <p class="note warn" role="alert">{format!("The all-time board is unavailable: {message} The ride goes on.")}</p>
        }.into_any(),
    }
    };
    let live_note = move || {
        match live.status.get() {
        LiveStatus::Connected => None,
        LiveStatus::Connecting => Some(view! { <p class="note muted small" role="status">"Connecting to the live board…"</p> }.into_any()),
        LiveStatus::Offline => Some(view! {
            <p class="note warn" role="status" data-testid="live-disconnected">
                <span class="dot bad" aria-hidden="true"></span>
                <span class="note-text">"Offline: the live board comes back with the network."</span>
            </p>
        }.into_any()),
        LiveStatus::Disconnected { retry_in_ms, attempt } => Some(view! {
            <p class="note warn" role="status" data-testid="live-disconnected">
                <span class="dot bad" aria-hidden="true"></span>
                <span class="note-text">{format!("Live board disconnected. Reconnecting in {} s (attempt {attempt})…", retry_in_ms.div_ceil(1000))}</span>
            </p>
        }.into_any()),
    }
    };
    let route = sender.route();
    let waiting = Signal::derive(move || outbox.with(|o| o.waiting()));
    let connection_note = move || {
        let waiting = waiting.get();
        let count = format!("{} waiting to be sent", format::seconds(waiting));
        match route.get() {
            Route::Offline => view! {
                <p class="note warn" role="status" data-testid="connection">
                    <span class="dot bad" aria-hidden="true"></span>
                    <span class="note-text">{format!("Offline: {count}. Keep riding: they are sent as soon as the connection is back.")}</span>
                </p>
            }.into_any(),
            way => {
                let how = match way {
                    Route::Live => "Sending over the live connection",
                    Route::Http => "Sending over HTTP (the live connection cannot be opened)",
                    _ => "Connecting…",
                };
                let text = if waiting > 0 { format!("{how} · {count}") } else { how.to_owned() };
                view! { <p class="note muted small" role="status" data-testid="connection">{text}</p> }.into_any()
            }
        }
    };
    let session_note = move || {
        session.error().map(|message| view! {
        <p class="note warn" role="alert">{format!("Could not open a racer session: {message} You can still ride; your seconds will not count.")}</p>
    })
    };
    let status_line = move || {
        match phase_now.get() {
        Phase::Waiting { starts_in_ms } => view! {
            <div class="status waiting">
                <span class="eyebrow">"Get ready"</span>
                <span class="status-big num" role="timer" aria-label="Race starts in">{format::countdown(starts_in_ms)}</span>
                <span class="muted">"The race starts on the clock. Warm up: your controls are live."</span>
            </div>
        }.into_any(),
        Phase::Riding { second } => view! {
            <div class="status riding">
                <span class="live-dot" aria-hidden="true"></span>
                <span class="eyebrow">"Racing"</span>
                <span class="status-big num">{format::countdown(u64::from(race_seconds - second + 1) * 1000)}</span>
                <span class="muted">"left"</span>
            </div>
        }.into_any(),
        Phase::Finished => view! {
            <div class="status finished"><span class="eyebrow">"Finished"</span></div>
        }.into_any(),
    }
    };
    view! {
        <section class="ride" aria-label="Race">
            <div class="ride-head">
                <div class="ride-title">
                    <h1 class="ride-h1">{format!("{} · Race {}", class_name.clone(), race_id)}</h1>
                    {status_line}
                </div>
                <button class="button ghost" on:click=move |_| on_leave.run(())>"Leave race"</button>
            </div>
            {session_note}
            {connection_note}
            <Show when=move || phase_now.get() == Phase::Finished>
                <Finish racer=racer.clone() class=class.clone() race_id=race_id total=total live_place=last_place acknowledged=acknowledged on_again=on_leave/>
            </Show>
            <div class="ride-grid">
                <BikePanel bike=bike autopilot=autopilot total=total second=second race_seconds=race_seconds personal_best=personal_best/>
                <DevicesPanel devices=devices resistance=Signal::derive(move || bike.get().resistance)/>
                <section class="panel boards" class:alltime=move || mode.get() == Mode::AllTime aria-labelledby="boards-title">
                    <div class="panel-head">
                        <h2 class="panel-title" id="boards-title">"Leaderboard"</h2>
                        <div class="segmented" role="group" aria-label="Leaderboard to show">
                            {mode_button(Mode::HereNow, "Here now")}
                            {mode_button(Mode::AllTime, "All time")}
                        </div>
                    </div>
                    <div class="rank-bar">
                        <span class="rank-pill" data-testid="my-rank" aria-live="off">{my_rank}</span>
                        {move || (mode.get() == Mode::AllTime && personal_best.get()).then(|| view! {
                            <span class="trophy" role="img" aria-label="Personal best for this second" title="Personal best for this second"><TrophyIcon size=28/></span>
                        })}
                        <label class="follow">
                            <input type="checkbox" prop:checked=move || follow.get() on:change=move |ev| follow.set(event_target_checked(&ev))/>
                            "Keep me in view"
                        </label>
                    </div>
                    {move || (mode.get() == Mode::HereNow).then(live_note)}
                    {move || (mode.get() == Mode::AllTime).then(&history_note)}
                    <div class="board-head" aria-hidden="true">
                        <span>"#"</span><span></span><span>"Racer"</span>
                        <span class="num">{move || if mode.get() == Mode::HereNow { "Output" } else { "Best" }}</span>
                        <span class="num">{move || if mode.get() == Mode::HereNow { "Total" } else { "" }}</span>
                    </div>
                    {move || {
                        let here = mode.get() == Mode::HereNow;
                        view! {
                            <Board label=if here { "Here now: this race, ranked by total" } else { "All time: everyone's best at this second" }
                                rows=board_rows total=board_total window_slots=window_slots me_slot=me_slot follow=follow show_total=here/>
                        }
                    }}
                </section>
                <section class="panel chart-panel" aria-labelledby="chart-title">
                    <h2 class="panel-title" id="chart-title">"You vs your best"</h2>
                    <OutputChart outputs=Signal::derive(move || outputs.with(|o| o.as_slice().to_vec())) bests=bests race_seconds=race_seconds second=second/>
                </section>
                <MessageLog outbox=outbox/>
            </div>
        </section>
    }
}
