//! The heartbeat: ticks the race clock several times a second and beats once per second of the
//! race (`logic::heartbeat`), for whoever rides and sends.

use std::{cell::Cell, time::Duration};

use alleycat_domain::RaceId;
use leptos::prelude::*;

use crate::{
    logic::{
        heartbeat::{Beat, Heartbeat},
        ride::{phase, Phase},
    },
    time::Clock,
};

/// How often the clock ticks: the countdown and a new second show within a tenth of a second.
const TICK: Duration = Duration::from_millis(100);

/// The race's time on screen.
#[derive(Clone, Copy)]
pub struct RaceTime {
    /// Where the rider is in their race.
    pub phase: Memo<Phase>,
    /// The second of the race: 0 before the start, the race length after the end.
    pub second: Memo<u32>,
}

/// Ticks `clock` for race `race_id` until the component is dropped, calling `on_beat` with each
/// tick's [`Beat`] and the server time it was taken at (epoch ms); the first tick is immediate.
pub fn use_heartbeat(
    clock: Clock,
    race_id: RaceId,
    on_beat: impl Fn(Beat, u64) + 'static,
) -> RaceTime {
    let race_seconds = clock.race.race_seconds;
    let now_ms = RwSignal::new(clock.now_ms());
    let phase_now = Memo::new(move |_| phase(clock.race, race_id, now_ms.get()));
    let second = Memo::new(move |_| match phase_now.get() {
        Phase::Waiting { .. } => 0,
        Phase::Riding { second } => second,
        Phase::Finished => race_seconds,
    });
    let heart = Cell::new(Heartbeat::default());
    let tick = move || {
        let now = clock.now_ms();
        now_ms.set(now);
        let mut h = heart.get();
        let beat = h.beat(phase(clock.race, race_id, now));
        heart.set(h);
        on_beat(beat, now);
    };
    tick();
    if let Ok(handle) = set_interval_with_handle(tick, TICK) {
        on_cleanup(move || handle.clear());
    }
    RaceTime { phase: phase_now, second }
}
