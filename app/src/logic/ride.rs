//! The ride's state machine: which race to join, where in it the rider is, and the bike.

use alleycat_domain::{output, ClassId, EventKind, RaceClock, RaceId, RacerEvent, Source};

/// "Start" joins the race now running if it began less than this long ago.
pub const JOIN_WINDOW_MS: u64 = 10_000;
/// Slider range for cadence, rpm.
pub const CADENCE_MAX: f64 = 160.0;
/// Slider range for resistance, percent.
pub const RESISTANCE_MAX: f64 = 100.0;
/// One key press changes cadence by this much, rpm.
pub const CADENCE_STEP: f64 = 5.0;
/// One key press changes resistance by this much, percent.
pub const RESISTANCE_STEP: f64 = 5.0;

/// The race "Start" joins at `now_ms`: the running one if it began less than
/// [`JOIN_WINDOW_MS`] ago, otherwise the next.
pub fn race_to_join(clock: RaceClock, now_ms: u64) -> RaceId {
    let running = clock.race_at(now_ms);
    if clock.ms_since_start(now_ms) < JOIN_WINDOW_MS {
        running
    } else {
        running + 1
    }
}

/// Whether a ride of race `race`, left at a reload, is taken up again at `now_ms`: while the
/// race runs, and after its end while the server still takes its late events (`late_seconds`)
/// and some wait to be sent (`waiting`).
pub fn can_resume(
    clock: RaceClock,
    race: RaceId,
    now_ms: u64,
    late_seconds: u32,
    waiting: usize,
) -> bool {
    now_ms < clock.end_ms(race)
        || (waiting > 0 && still_sendable(clock, race, now_ms, late_seconds))
}

/// Whether events of race `race` may still be taken at `now_ms` (within `late_seconds` of its
/// end): an outbox of an older race has nothing left to send.
pub fn still_sendable(clock: RaceClock, race: RaceId, now_ms: u64, late_seconds: u32) -> bool {
    now_ms < clock.end_ms(race) + u64::from(late_seconds) * 1000
}

/// Where the rider is relative to their race.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before the start.
    Waiting {
        /// Time until the start, ms.
        starts_in_ms: u64,
    },
    /// During the race.
    Riding {
        /// The second of the race, 1 to `race_seconds`.
        second: u32,
    },
    /// After the end.
    Finished,
}

/// The phase of race `race` at `now_ms`.
pub fn phase(clock: RaceClock, race: RaceId, now_ms: u64) -> Phase {
    let start = clock.start_ms(race);
    if now_ms < start {
        Phase::Waiting { starts_in_ms: start - now_ms }
    } else if now_ms < clock.end_ms(race) {
        Phase::Riding { second: clock.second_at(now_ms) }
    } else {
        Phase::Finished
    }
}

/// The event kind of `second`: the race's last second is `final`.
pub fn kind(second: u32, race_seconds: u32) -> EventKind {
    if second >= race_seconds {
        EventKind::Final
    } else {
        EventKind::Update
    }
}

/// Who rides which race: what every event of the ride carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rider {
    /// The racer.
    pub racer_id: u64,
    /// Their class.
    pub class_id: ClassId,
    /// Their race.
    pub race_id: RaceId,
    /// The race length.
    pub race_seconds: u32,
}

impl Rider {
    /// The event of `second`, ridden on `bike`, sent at `device_timestamp` (epoch ms) with id
    /// `uuid`; the race's last second is `final`.
    pub fn event(
        &self,
        uuid: uuid::Uuid,
        device_timestamp: u64,
        second: u32,
        bike: Bike,
        measured: &Measured,
    ) -> RacerEvent {
        RacerEvent {
            uuid,
            event: kind(second, self.race_seconds),
            device_timestamp,
            second,
            race_id: self.race_id,
            racer_id: self.racer_id,
            class_id: self.class_id,
            cadence: measured.cadence.unwrap_or(bike.cadence).clamp(0.0, 250.0),
            resistance: bike.resistance,
            source: measured.source,
            power: measured.power,
            heart_rate: measured.heart_rate,
        }
    }
}

/// What connected devices measured for one second (with none: the simulated bike, all `None`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Measured {
    /// The simulated bike, or the power source connected.
    pub source: Source,
    /// Measured power, watts (0 while the power source is silent).
    pub power: Option<f64>,
    /// Measured cadence, rpm.
    pub cadence: Option<f64>,
    /// Measured heart rate, bpm.
    pub heart_rate: Option<f64>,
}

impl Measured {
    /// What the second is worth: the measured power, else the simulated bike's output.
    pub fn output(&self, bike: Bike) -> f64 {
        self.power.unwrap_or_else(|| bike.output())
    }
}

/// The bike's two controls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bike {
    /// Cadence, rpm.
    pub cadence: f64,
    /// Resistance, percent.
    pub resistance: f64,
}

impl Default for Bike {
    fn default() -> Self {
        Self { cadence: 75.0, resistance: 50.0 }
    }
}

impl Bike {
    /// This bike set to `cadence` and `resistance`, each clamped to its slider.
    pub fn set(cadence: f64, resistance: f64) -> Self {
        let clamp = |v: f64, max: f64| if v.is_finite() { v.clamp(0.0, max).round() } else { 0.0 };
        Self { cadence: clamp(cadence, CADENCE_MAX), resistance: clamp(resistance, RESISTANCE_MAX) }
    }

    /// One key press: `cadence_steps` and `resistance_steps` steps up (positive) or down.
    pub fn nudge(self, cadence_steps: i32, resistance_steps: i32) -> Self {
        Self::set(
            self.cadence + f64::from(cadence_steps) * CADENCE_STEP,
            self.resistance + f64::from(resistance_steps) * RESISTANCE_STEP,
        )
    }

    /// The output now, by the shared formula.
    pub fn output(&self) -> f64 {
        output(self.cadence, self.resistance)
    }
}

/// The rider's outputs, second by second (index 0 is second 1).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outputs {
    seconds: Vec<Option<f64>>,
}

impl Outputs {
    /// Room for a race of `race_seconds`.
    pub fn new(race_seconds: u32) -> Self {
        Self { seconds: vec![None; race_seconds as usize] }
    }

    /// Records `value` at `second`; returns false outside the race.
    pub fn record(&mut self, second: u32, value: f64) -> bool {
        match second.checked_sub(1).and_then(|i| self.seconds.get_mut(i as usize)) {
            Some(slot) => {
                *slot = Some(value);
                true
            }
            None => false,
        }
    }

    /// The race total so far.
    pub fn total(&self) -> f64 {
        self.seconds.iter().flatten().sum()
    }

    /// Each second's output, `None` where the rider did not ride.
    pub fn as_slice(&self) -> &[Option<f64>] {
        &self.seconds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOCK: RaceClock = RaceClock { race_seconds: 20 };

    #[test]
    fn start_joins_the_running_race_in_its_first_ten_seconds_only() {
        let start = CLOCK.start_ms(100);
        assert_eq!(race_to_join(CLOCK, start), 100);
        assert_eq!(race_to_join(CLOCK, start + 9_999), 100);
        assert_eq!(race_to_join(CLOCK, start + 10_000), 101);
        assert_eq!(race_to_join(CLOCK, start + 19_999), 101);
    }

    #[test]
    fn a_ride_is_taken_up_again_while_its_race_runs_or_while_its_late_events_may_still_go() {
        let end = CLOCK.end_ms(100);
        assert!(can_resume(CLOCK, 100, end - 1, 60, 0));
        assert!(!can_resume(CLOCK, 100, end, 60, 0), "finished, nothing waiting");
        assert!(can_resume(CLOCK, 100, end + 59_999, 60, 3), "finished, seconds to send");
        assert!(!can_resume(CLOCK, 100, end + 60_000, 60, 3), "too late for them");
        assert!(!can_resume(CLOCK, 100, end, 0, 3), "a server that takes no late events");
        assert!(still_sendable(CLOCK, 100, end + 59_999, 60));
        assert!(!still_sendable(CLOCK, 99, end, 10));
    }

    #[test]
    fn the_phase_goes_waiting_riding_finished() {
        let start = CLOCK.start_ms(101);
        assert_eq!(phase(CLOCK, 101, start - 2_500), Phase::Waiting { starts_in_ms: 2_500 });
        assert_eq!(phase(CLOCK, 101, start), Phase::Riding { second: 1 });
        assert_eq!(phase(CLOCK, 101, start + 19_999), Phase::Riding { second: 20 });
        assert_eq!(phase(CLOCK, 101, start + 20_000), Phase::Finished);
    }

    #[test]
    fn only_the_last_second_is_final() {
        assert_eq!(kind(19, 20), EventKind::Update);
        assert_eq!(kind(20, 20), EventKind::Final);
    }

    #[test]
    fn the_bike_clamps_and_steps() {
        let bike = Bike::set(80.0, 50.0);
        assert_eq!(bike.nudge(1, -1), Bike { cadence: 85.0, resistance: 45.0 });
        assert_eq!(Bike::set(500.0, -3.0), Bike { cadence: CADENCE_MAX, resistance: 0.0 });
        assert_eq!(Bike::set(f64::NAN, 10.0).cadence, 0.0);
        assert_eq!(bike.output(), output(80.0, 50.0));
    }

    #[test]
    fn outputs_add_up_and_ignore_seconds_outside_the_race() {
        let mut o = Outputs::new(3);
        assert!(o.record(1, 100.0) && o.record(3, 50.5));
        assert!(!o.record(0, 1.0) && !o.record(4, 1.0));
        assert_eq!(o.total(), 150.5);
        assert_eq!(o.as_slice(), [Some(100.0), None, Some(50.5)]);
    }

    #[test]
    fn the_riders_event_carries_the_race_the_bike_and_is_final_on_the_last_second() {
        let rider = Rider { racer_id: 1042, class_id: 3, race_id: 77, race_seconds: 20 };
        let bike = Bike::set(90.0, 40.0);
        let e = rider.event(uuid::Uuid::nil(), 1_234, 5, bike, &Measured::default());
        assert_eq!((e.racer_id, e.class_id, e.race_id, e.second), (1042, 3, 77, 5));
        assert_eq!((e.cadence, e.resistance, e.device_timestamp), (90.0, 40.0, 1_234));
        assert_eq!(e.event, EventKind::Update);
        let last = rider.event(uuid::Uuid::nil(), 1_234, 20, bike, &Measured::default());
        assert_eq!(last.event, EventKind::Final);
        let trainer = Measured {
            source: Source::Trainer,
            power: Some(250.0),
            cadence: Some(88.0),
            heart_rate: Some(140.0),
        };
        let measured = rider.event(uuid::Uuid::nil(), 1_234, 6, bike, &trainer);
        assert_eq!(
            (measured.source, measured.power, measured.cadence),
            (Source::Trainer, Some(250.0), 88.0)
        );
        assert_eq!(trainer.output(bike), 250.0, "a measured power is the output");
    }
}
