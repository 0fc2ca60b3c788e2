//! The ride screen: the race clock, the bike, sending each second, the boards, the chart and the
//! messages log; the finish when the race ends.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use alleycat_domain::{
    api::{ClassInfo, LiveRanking, RacerInfo},
    output::from_centi,
    ride::RiderProfile,
    History, RaceId, RacerEvent,
};
use leptos::{ev, prelude::*, task::spawn_local};

use super::{
    avatar::TrophyIcon,
    bike::BikePanel,
    board::Board,
    chart::OutputChart,
    finish::Finish,
    message_log::{Fate, LogEntry, MessageLog},
};
use crate::{
    api,
    history_load::{self, LoadError, LoadStats},
    live::{self, LiveStatus},
    logic::{
        alltime,
        board::{with_me, BoardRow},
        format,
        ride::{kind, phase, Bike, Outputs, Phase},
    },
    time::Clock,
};

/// How many here-now racers the server sends (the rider's own entry comes on top).
const LIVE_LIMIT: u32 = 100;
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

/// The state of the all-time history.
#[derive(Debug, Clone)]
pub enum HistoryState {
    /// Downloading: bytes received and expected.
    Downloading(u64, Option<u64>),
    /// Ready to rank.
    Ready(Arc<History>, LoadStats),
    /// No history for this class yet.
    Missing,
    /// Could not be loaded.
    Failed(String),
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
    let now_ms = RwSignal::new(clock.now_ms());
    let phase_now = Memo::new(move |_| phase(clock.race, race_id, now_ms.get()));
    let second = Memo::new(move |_| match phase_now.get() {
        Phase::Waiting { .. } => 0,
        Phase::Riding { second } => second,
        Phase::Finished => race_seconds,
    });
    let bike = RwSignal::new(Bike::default());
    let autopilot = RwSignal::new(false);
    let outputs = RwSignal::new(Outputs::new(race_seconds));
    let log = RwSignal::new(Vec::<LogEntry>::new());
    let token = RwSignal::new(None::<Result<String, String>>);
    let history = RwSignal::new(HistoryState::Downloading(0, None));
    let live_ranking = RwSignal::new(None::<LiveRanking>);
    let live_status = RwSignal::new(LiveStatus::Connecting);
    let last_place = RwSignal::new(None::<(u32, u32)>);
    let mode = RwSignal::new(Mode::HereNow);
    let names = RwSignal::new(HashMap::<u64, String>::new());
    let alive = Arc::new(AtomicBool::new(true));
    let ride_model = RiderProfile::new(AUTOPILOT_SEED, me).race(race_id, race_seconds);

    // The session token, then the live board (which wants the token to include the rider).
    {
        let alive = alive.clone();
        spawn_local(async move {
            let answer = api::session(me).await.map(|s| s.token);
            let bearer = answer.as_ref().ok().cloned();
            token.set(Some(answer));
            live::follow(
                class_id,
                bearer,
                LIVE_LIMIT,
                alive,
                move |ranking| {
                    names.update(|n| {
                        for e in ranking.entries.iter().chain(ranking.me.iter()) {
                            n.entry(e.racer_id).or_insert_with(|| e.name.clone());
                        }
                    });
                    // Before the start the board shows the race now running; once the rider's
                    // race has begun it shows that race only, and keeps its last state after.
                    let mine = ranking.race_id == race_id;
                    let before_start = ranking.race_id < race_id;
                    if mine
                        || (before_start
                            && live_ranking.with_untracked(|l| {
                                l.as_ref().is_none_or(|l| l.race_id != race_id)
                            }))
                    {
                        if mine {
                            if let Some(m) = &ranking.me {
                                last_place.set(Some((m.rank, ranking.racer_count)));
                            }
                        }
                        live_ranking.set(Some(ranking));
                    }
                },
                move |status| live_status.set(status),
            )
            .await;
        });
    }
    // The all-time history, before the race.
    spawn_local(async move {
        let answer = history_load::load(class_id, move |got, expected| {
            history.set(HistoryState::Downloading(got, expected));
        })
        .await;
        history.set(match answer {
            Ok((h, stats)) => {
                if crate::history_load::bench_requested() {
                    crate::history_load::bench_steps(&h, me);
                }
                HistoryState::Ready(h, stats)
            }
            Err(LoadError::Missing) => HistoryState::Missing,
            Err(LoadError::Failed(message)) => HistoryState::Failed(message),
        });
    });

    // The heartbeat: the clock, the autopilot and one event per second.
    let last_sent = StoredValue::new(0u32);
    let tick = move || {
        let now = clock.now_ms();
        now_ms.set(now);
        let Phase::Riding { second } = phase(clock.race, race_id, now) else {
            if autopilot.get_untracked() {
                let r = ride_model.at(1);
                bike.set(Bike::set(f64::from(r.cadence), f64::from(r.resistance)));
            }
            return;
        };
        if second <= last_sent.get_value() {
            return;
        }
        last_sent.set_value(second);
        if autopilot.get_untracked() {
            let r = ride_model.at(second);
            bike.set(Bike::set(f64::from(r.cadence), f64::from(r.resistance)));
        }
        let b = bike.get_untracked();
        let value = b.output();
        outputs.update(|o| {
            o.record(second, value);
        });
        let event = RacerEvent {
            uuid: random_uuid(),
            event: kind(second, race_seconds),
            device_timestamp: now,
            second,
            race_id,
            racer_id: me,
            class_id,
            cadence: b.cadence,
            resistance: b.resistance,
        };
        let last = second >= race_seconds;
        log.update(|l| l.insert(0, LogEntry { second, last, output: value, fate: Fate::Sent }));
        let settle = move |fate: Fate| {
            log.update(|l| {
                if let Some(entry) = l.iter_mut().find(|e| e.second == second) {
                    entry.fate = fate;
                }
            })
        };
        spawn_local(async move {
            // The session may still be on its way when the first second comes: wait briefly.
            for _ in 0..30 {
                if token.get_untracked().is_some() {
                    break;
                }
                gloo_timers::future::sleep(Duration::from_millis(100)).await;
            }
            let bearer = match token.get_untracked() {
                Some(Ok(bearer)) => bearer,
                Some(Err(e)) => return settle(Fate::Failed(format!("no racer session ({e})"))),
                None => return settle(Fate::Failed("no racer session yet".into())),
            };
            let fate = match api::post_events(&bearer, vec![event]).await {
                Ok(answer) => match answer.records.into_iter().next() {
                    Some(r) if r.error_code.is_none() => Fate::Acknowledged {
                        shard: r.shard_id.unwrap_or_default(),
                        sequence: r.sequence_number.unwrap_or_default(),
                    },
                    Some(r) => Fate::Rejected {
                        code: r.error_code.unwrap_or_default(),
                        message: r.error_message.unwrap_or_default(),
                    },
                    None => Fate::Failed("the server answered without a result".into()),
                },
                Err(message) => Fate::Failed(message),
            };
            settle(fate);
        });
    };
    tick();
    if let Ok(handle) = set_interval_with_handle(tick, Duration::from_millis(100)) {
        on_cleanup(move || handle.clear());
    }
    {
        let alive = alive.clone();
        on_cleanup(move || alive.store(false, Ordering::Relaxed));
    }

    // The keyboard: arrows ride, A toggles the autopilot; not while typing in a field.
    let keys = window_event_listener(ev::keydown, move |e| {
        let typing = e
            .target()
            .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok())
            .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "SELECT" | "TEXTAREA"));
        if typing || e.alt_key() || e.ctrl_key() || e.meta_key() {
            return;
        }
        let (c, r) = match e.key().as_str() {
            "ArrowUp" => (1, 0),
            "ArrowDown" => (-1, 0),
            "ArrowRight" => (0, 1),
            "ArrowLeft" => (0, -1),
            "a" | "A" => {
                autopilot.update(|a| *a = !*a);
                return;
            }
            _ => return,
        };
        e.prevent_default();
        autopilot.set(false);
        bike.update(|b| *b = b.nudge(c, r));
    });
    on_cleanup(move || keys.remove());

    let my_name = racer.name.clone();
    let racer_name = {
        let my_name = my_name.clone();
        move |_: u64| my_name.clone()
    };
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
        let name = racer_name(me);
        let step = names.with(|n| {
            alltime::step(&h, s, me, &name, output, window_slots.get(), |id| {
                n.get(&id).cloned().unwrap_or_else(|| format!("Racer #{}", format::thousands(id)))
            })
        });
        // Index the next second now, so that its first step is only a binary search.
        h.prepare(s + 1);
        Some(step)
    });
    // Names for the all-time rows on screen, fetched once each.
    let asked = StoredValue::new(std::collections::HashSet::<u64>::new());
    Effect::new(move |_| {
        if mode.get() != Mode::AllTime {
            return;
        }
        let Some(s) = step.get() else { return };
        for row in s.rows {
            let id = row.racer_id;
            if names.with_untracked(|n| n.contains_key(&id))
                || asked.with_value(|a| a.contains(&id))
            {
                continue;
            }
            asked.update_value(|a| {
                a.insert(id);
            });
            spawn_local(async move {
                if let Ok(info) = api::racer(id).await {
                    names.update(|n| {
                        n.insert(id, info.name);
                    });
                }
            });
        }
    });
    let live_rows = Memo::new(move |_| {
        live_ranking.with(|l| {
            let Some(l) = l else { return Vec::new() };
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
        Mode::HereNow => live_ranking.with(|l| {
            match l.as_ref().and_then(|l| l.me.as_ref().map(|m| (m.rank, l.racer_count))) {
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
    let acknowledged = Signal::derive(move || {
        log.with(|l| {
            l.iter().filter(|e| matches!(e.fate, Fate::Acknowledged { .. })).count() as u32
        })
    });

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
        match live_status.get() {
        LiveStatus::Connected => None,
        LiveStatus::Connecting => Some(view! { <p class="note muted small" role="status">"Connecting to the live board…"</p> }.into_any()),
        LiveStatus::Disconnected { retry_in_ms, attempt } => Some(view! {
            <p class="note warn" role="status" data-testid="live-disconnected">
                <span class="dot bad" aria-hidden="true"></span>
                <span class="note-text">{format!("Live board disconnected. Reconnecting in {} s (attempt {attempt})…", retry_in_ms.div_ceil(1000))}</span>
            </p>
        }.into_any()),
    }
    };
    let session_note = move || match token.get() {
        Some(Err(message)) => Some(view! {
            <p class="note warn" role="alert">{format!("Could not open a racer session: {message} You can still ride; your seconds will not count.")}</p>
        }),
        _ => None,
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
            <Show when=move || phase_now.get() == Phase::Finished>
                <Finish racer=racer.clone() class=class.clone() race_id=race_id total=total live_place=last_place acknowledged=acknowledged on_again=on_leave/>
            </Show>
            <div class="ride-grid">
                <BikePanel bike=bike autopilot=autopilot total=total second=second race_seconds=race_seconds personal_best=personal_best/>
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
                <MessageLog entries=log/>
            </div>
        </section>
    }
}

/// A fresh random version-4 UUID for an event.
fn random_uuid() -> uuid::Uuid {
    let mut bytes = [0u8; 16];
    for chunk in bytes.chunks_mut(4) {
        let word = (js_sys::Math::random() * 4_294_967_296.0) as u32;
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}
