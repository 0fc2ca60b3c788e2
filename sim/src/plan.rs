//! Which races a run rides, from its settings and the server's clock.
//!
//! - On the clock (the default): `--races` races from the one running now, if it started at most
//!   `--join-within` seconds ago (its elapsed seconds are sent at once), else from the next one;
//!   or from `--race`, which must not be over.
//! - `--fast`: the `--races` races that finished last, or those from `--race` on, which must all
//!   be over (the server refuses seconds that have not happened yet).
//! - `--backfill N`: first the N races just before the first race ridden (and before the one
//!   running now, which is not over).

use alleycat_domain::{RaceClock, RaceId};

use crate::SimConfig;

/// Why the races asked for cannot be ridden.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// `--fast` was asked for races that are not over yet.
    #[error("--fast rides finished races, but race {last} is not over (race {current} is running); ride it on the clock without --fast")]
    NotOver {
        /// The last race asked for.
        last: RaceId,
        /// The race running now.
        current: RaceId,
    },
    /// A race to ride on the clock is already over.
    #[error("race {race} is over (race {current} is running); ride past races with --fast or --backfill")]
    Over {
        /// The race asked for.
        race: RaceId,
        /// The race running now.
        current: RaceId,
    },
    /// More past races were asked for than there have been.
    #[error("there are only {available} races before race {first}")]
    TooFarBack {
        /// The first race ridden.
        first: RaceId,
        /// How many races precede it.
        available: RaceId,
    },
}

/// The races of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Past races ridden first at full speed, oldest first.
    pub backfill: Vec<RaceId>,
    /// The first race ridden after the backfill.
    pub first: RaceId,
    /// How many races from `first` (`None`: until stopped).
    pub count: Option<u32>,
}

impl Plan {
    /// The plan for `config` when the server's clock reads `now_ms`.
    pub fn new(config: &SimConfig, clock: RaceClock, now_ms: u64) -> Result<Self, PlanError> {
        let current = clock.race_at(now_ms);
        let count = (!config.forever).then_some(config.races);
        let first = if config.fast {
            let first = match config.race {
                Some(race) => race,
                None => current
                    .checked_sub(u64::from(config.races))
                    .ok_or(PlanError::TooFarBack { first: current, available: current })?,
            };
            let last = first + u64::from(count.unwrap_or(u32::MAX).max(1)) - 1;
            if last >= current {
                return Err(PlanError::NotOver { last, current });
            }
            first
        } else {
            match config.race {
                Some(race) if race < current => return Err(PlanError::Over { race, current }),
                Some(race) => race,
                None if clock.second_at(now_ms) <= config.join_within.max(1) => current,
                None => current + 1,
            }
        };
        // The backfill ends before the first race ridden, and before the running one, which is
        // not over.
        let end = first.min(current);
        let back = u64::from(config.backfill);
        if back > end {
            return Err(PlanError::TooFarBack { first: end, available: end });
        }
        Ok(Self { backfill: (end - back..end).collect(), first, count })
    }

    /// The races ridden after the backfill, in order.
    pub fn races(&self) -> impl Iterator<Item = RaceId> {
        let end = self.count.map_or(RaceId::MAX, |n| self.first + u64::from(n));
        self.first..end
    }

    /// How many events the run sends in all (`None` when it rides until stopped).
    pub fn event_count(&self, race_seconds: u32, racers: u32) -> Option<u64> {
        let races = self.backfill.len() as u64 + u64::from(self.count?);
        Some(races * u64::from(race_seconds) * u64::from(racers))
    }

    /// A short description for the logs.
    pub fn describe(&self) -> String {
        match self.count {
            None => format!("from {} on", self.first),
            Some(0) => "none".into(),
            Some(n) => format!("{}..={}", self.first, self.first + u64::from(n) - 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOCK: RaceClock = RaceClock { race_seconds: 20 };
    /// Race 100, `second` seconds in (1-based).
    fn at(second: u32) -> u64 {
        CLOCK.start_ms(100) + u64::from(second - 1) * 1000 + 300
    }

    fn plan(config: SimConfig, now: u64) -> Result<Plan, PlanError> {
        Plan::new(&config, CLOCK, now)
    }

    #[test]
    fn rides_the_running_race_when_it_just_started_else_the_next() {
        let config = SimConfig::default();
        assert_eq!(plan(config.clone(), at(1)).unwrap().first, 100);
        assert_eq!(plan(config.clone(), at(2)).unwrap().first, 100);
        assert_eq!(plan(config.clone(), at(3)).unwrap().first, 101);
        let later = SimConfig { join_within: 10, ..config };
        assert_eq!(plan(later, at(10)).unwrap().first, 100);
    }

    #[test]
    fn a_given_race_must_not_be_over_on_the_clock() {
        let config = SimConfig { race: Some(99), ..SimConfig::default() };
        assert_eq!(plan(config, at(5)), Err(PlanError::Over { race: 99, current: 100 }));
        let config = SimConfig { race: Some(100), ..SimConfig::default() };
        assert_eq!(plan(config, at(15)).unwrap().first, 100);
    }

    #[test]
    fn fast_rides_the_races_that_finished_last() {
        let config = SimConfig { fast: true, races: 3, ..SimConfig::default() };
        let p = plan(config.clone(), at(5)).unwrap();
        assert_eq!(p.races().collect::<Vec<_>>(), [97, 98, 99]);
        let running = SimConfig { race: Some(99), ..config };
        assert_eq!(plan(running, at(5)), Err(PlanError::NotOver { last: 101, current: 100 }));
    }

    #[test]
    fn backfill_rides_the_races_before_the_first() {
        let config = SimConfig { backfill: 3, races: 2, ..SimConfig::default() };
        let p = plan(config, at(1)).unwrap();
        assert_eq!(p.backfill, [97, 98, 99]);
        assert_eq!(p.races().collect::<Vec<_>>(), [100, 101]);
        assert_eq!(p.event_count(20, 10), Some(5 * 20 * 10));
        let only = SimConfig { backfill: 2, races: 0, ..SimConfig::default() };
        let p = plan(only, at(8)).unwrap();
        assert_eq!((p.backfill.as_slice(), p.races().count()), ([98, 99].as_slice(), 0));
    }

    #[test]
    fn forever_has_no_end() {
        let config = SimConfig { forever: true, ..SimConfig::default() };
        let p = plan(config, at(1)).unwrap();
        assert_eq!(p.count, None);
        assert_eq!(p.event_count(20, 10), None);
        assert_eq!(p.races().take(3).collect::<Vec<_>>(), [100, 101, 102]);
    }
}
