//! The race clock: races run back to back, each `race_seconds` long, aligned to the Unix epoch.
//!
//! Race `n` runs from `n * race_seconds` to `(n + 1) * race_seconds` seconds after the epoch, so
//! every server and browser agrees on which race is running from the wall clock alone, with no
//! coordination. Second 1 of a race is its first second: `[start, start + 1 s)`.
//!
//! The wall clock itself is read through [`Clock`], injected wherever the time matters (the
//! server's handlers, admission and boards, delivery, the merge, the stream engines), so a test
//! can set it: [`SystemClock`] in production, [`ManualClock`] in tests, in every crate.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use serde::{Deserialize, Serialize};

/// Where the time is read: milliseconds since the Unix epoch.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
}

/// The system's wall clock. Native targets only: in a browser `SystemTime::now` panics (the
/// app reads `Date.now()` and follows the server's clock instead).
#[cfg(not(target_arch = "wasm32"))]
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[cfg(not(target_arch = "wasm32"))]
impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
}

/// A clock that moves only when told to, for deterministic tests. Clones share the time, so a
/// test keeps one and hands another to the code under test.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock showing `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        Self(Arc::new(AtomicU64::new(now_ms)))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }

    /// Sets the clock to `now_ms`.
    pub fn set(&self, now_ms: u64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The default length of a race in seconds (five minutes).
pub const DEFAULT_RACE_SECONDS: u32 = 300;

/// A race id: `floor(epoch_ms / (race_seconds * 1000))`.
pub type RaceId = u64;

/// The race clock for one race length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RaceClock {
    /// How long each race lasts, in seconds (at least 1).
    pub race_seconds: u32,
}

impl Default for RaceClock {
    fn default() -> Self {
        Self::new(DEFAULT_RACE_SECONDS)
    }
}

impl RaceClock {
    /// A clock for races of `race_seconds` seconds; a zero length is raised to one second.
    pub fn new(race_seconds: u32) -> Self {
        Self { race_seconds: race_seconds.max(1) }
    }

    /// How long each race lasts, in milliseconds.
    pub fn race_ms(&self) -> u64 {
        u64::from(self.race_seconds) * 1000
    }

    /// The race running at `epoch_ms`.
    pub fn race_at(&self, epoch_ms: u64) -> RaceId {
        epoch_ms / self.race_ms()
    }

    /// When race `race` starts, in epoch milliseconds.
    pub fn start_ms(&self, race: RaceId) -> u64 {
        race.saturating_mul(self.race_ms())
    }

    /// When race `race` ends (the next one's start), in epoch milliseconds.
    pub fn end_ms(&self, race: RaceId) -> u64 {
        self.start_ms(race.saturating_add(1))
    }

    /// The second of the running race at `epoch_ms`, from 1 to `race_seconds`.
    pub fn second_at(&self, epoch_ms: u64) -> u32 {
        let elapsed = epoch_ms - self.start_ms(self.race_at(epoch_ms));
        (elapsed / 1000) as u32 + 1
    }

    /// Milliseconds from `epoch_ms` until the next race starts (never zero: at an exact start,
    /// the next race is a whole race away).
    pub fn ms_until_next_start(&self, epoch_ms: u64) -> u64 {
        self.end_ms(self.race_at(epoch_ms)) - epoch_ms
    }

    /// Milliseconds since the running race started.
    pub fn ms_since_start(&self, epoch_ms: u64) -> u64 {
        epoch_ms - self.start_ms(self.race_at(epoch_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn race_id_is_epoch_millis_divided_by_race_length() {
        let clock = RaceClock::default();
        assert_eq!(clock.race_at(0), 0);
        assert_eq!(clock.race_at(299_999), 0);
        assert_eq!(clock.race_at(300_000), 1);
        assert_eq!(clock.race_at(1_764_000_000_000), 1_764_000_000_000 / 300_000);
    }

    #[test]
    fn races_run_back_to_back() {
        let clock = RaceClock::new(20);
        for race in [0, 1, 88_200_000] {
            assert_eq!(clock.end_ms(race), clock.start_ms(race + 1));
            assert_eq!(clock.race_at(clock.start_ms(race)), race);
            assert_eq!(clock.race_at(clock.end_ms(race) - 1), race);
        }
    }

    #[test]
    fn seconds_count_from_one_to_race_seconds() {
        let clock = RaceClock::new(300);
        let start = clock.start_ms(5);
        assert_eq!(clock.second_at(start), 1);
        assert_eq!(clock.second_at(start + 999), 1);
        assert_eq!(clock.second_at(start + 1000), 2);
        assert_eq!(clock.second_at(clock.end_ms(5) - 1), 300);
    }

    #[test]
    fn countdown_reaches_the_next_start() {
        let clock = RaceClock::new(300);
        let start = clock.start_ms(7);
        assert_eq!(clock.ms_until_next_start(start), 300_000);
        assert_eq!(clock.ms_until_next_start(start + 299_999), 1);
        assert_eq!(clock.ms_since_start(start + 1234), 1234);
    }

    #[test]
    fn a_manual_clock_moves_only_when_told_and_its_clones_share_the_time() {
        let clock = ManualClock::new(1_000);
        let shared = clock.clone();
        assert_eq!(shared.now_ms(), 1_000);
        clock.advance(Duration::from_millis(2_500));
        assert_eq!(shared.now_ms(), 3_500);
        shared.set(42);
        assert_eq!(clock.now_ms(), 42);
    }

    #[test]
    fn the_system_clock_reads_the_wall_clock() {
        let before =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
                as u64;
        let now = SystemClock.now_ms();
        assert!(now >= before && now - before < 60_000, "{now} vs {before}");
    }

    #[test]
    fn zero_length_races_are_raised_to_one_second() {
        assert_eq!(RaceClock::new(0).race_seconds, 1);
    }
}
