//! The simulated field: which racers ride which class, and the event each sends in each second.
//!
//! Racer `i` of the field (0-based) is roster id `first_racer + i` and rides
//! [`ClassChoice::class_of`]`(i)`. Their readings come from the shared ride model
//! ([`alleycat_domain::ride`]), seeded by `(seed, racer id)`, so the same seed gives the same rides
//! on every run and anyone (a test, a benchmark) can recompute what a racer sent. Event ids are
//! derived from `(seed, race, racer, second)` too, so a retried event keeps its uuid.

use alleycat_domain::{
    hash::splitmix64,
    ride::{Reading, RiderProfile},
    ClassId, EventKind, RaceId, RacerEvent,
};

use crate::config::ClassChoice;

/// The cadence a deliberately invalid event carries: beyond the plausible 0 to 250 rpm.
pub const INVALID_CADENCE: f64 = 300.0;

/// The racers of one simulation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field {
    /// Seed of the riders.
    pub seed: u64,
    /// Roster id of racer 0.
    pub first_racer: u64,
    /// How many racers.
    pub racers: u32,
    /// Their classes.
    pub class: ClassChoice,
    /// Percent of events made invalid on purpose.
    pub invalid_percent: f64,
}

/// One event of the field, with whether it was made invalid on purpose.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedEvent {
    /// The event as sent.
    pub event: RacerEvent,
    /// Made invalid on purpose: the server must refuse it.
    pub deliberately_invalid: bool,
}

impl Field {
    /// The roster id of racer `index`.
    pub fn racer_id(&self, index: u32) -> u64 {
        self.first_racer + u64::from(index)
    }

    /// The class racer `index` rides.
    pub fn class_of(&self, index: u32) -> ClassId {
        self.class.class_of(index)
    }

    /// What racer `index`'s bike reads at `second` of `race`.
    pub fn reading(&self, index: u32, race: RaceId, race_seconds: u32, second: u32) -> Reading {
        RiderProfile::new(self.seed, self.racer_id(index)).race(race, race_seconds).at(second)
    }

    /// Whether racer `index`'s event for `second` of `race` is made invalid on purpose.
    pub fn is_deliberately_invalid(&self, index: u32, race: RaceId, second: u32) -> bool {
        if self.invalid_percent <= 0.0 {
            return false;
        }
        let h = [self.racer_id(index), race, u64::from(second)]
            .iter()
            .fold(splitmix64(self.seed ^ 0x1BAD), |acc, &p| splitmix64(acc ^ p));
        ((h % 10_000) as f64) < self.invalid_percent * 100.0
    }

    /// Racer `index`'s event for `second` of `race`, stamped `device_timestamp`.
    pub fn event(
        &self,
        index: u32,
        race: RaceId,
        race_seconds: u32,
        second: u32,
        device_timestamp: u64,
    ) -> PlannedEvent {
        let racer_id = self.racer_id(index);
        let reading = self.reading(index, race, race_seconds, second);
        let deliberately_invalid = self.is_deliberately_invalid(index, race, second);
        let id = [race, racer_id, u64::from(second)]
            .iter()
            .fold(splitmix64(self.seed ^ 0xD1CE), |acc, &p| splitmix64(acc ^ p));
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&id.to_le_bytes());
        bytes[8..].copy_from_slice(&splitmix64(id).to_le_bytes());
        PlannedEvent {
            event: RacerEvent {
                uuid: uuid::Builder::from_random_bytes(bytes).into_uuid(),
                event: if second >= race_seconds { EventKind::Final } else { EventKind::Update },
                device_timestamp,
                second,
                race_id: race,
                racer_id,
                class_id: self.class_of(index),
                cadence: if deliberately_invalid {
                    INVALID_CADENCE
                } else {
                    f64::from(reading.cadence)
                },
                resistance: f64::from(reading.resistance),
                source: alleycat_domain::Source::Sim,
                power: None,
                heart_rate: None,
            },
            deliberately_invalid,
        }
    }

    /// The batches of racer indices one second is sent in: `0..batch_size`, then on.
    pub fn batches(&self, batch_size: usize) -> impl Iterator<Item = std::ops::Range<u32>> + '_ {
        let size = batch_size.max(1) as u32;
        (0..self.racers.div_ceil(size)).map(move |b| b * size..((b + 1) * size).min(self.racers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(class: ClassChoice) -> Field {
        Field { seed: 9, first_racer: 101, racers: 1000, class, invalid_percent: 0.0 }
    }

    #[test]
    fn racers_map_onto_roster_ids_from_the_first_racer() {
        let f = field(ClassChoice::One(1));
        assert_eq!(f.racer_id(0), 101);
        assert_eq!(f.racer_id(999), 1100);
        let e = f.event(5, 77, 20, 3, 1234).event;
        assert_eq!((e.racer_id, e.race_id, e.second, e.class_id), (106, 77, 3, 1));
        assert_eq!(e.device_timestamp, 1234);
    }

    #[test]
    fn the_last_second_is_final_and_events_are_valid() {
        let f = field(ClassChoice::All);
        for second in 1..=20 {
            let planned = f.event(3, 77, 20, second, 0);
            assert!(!planned.deliberately_invalid);
            planned.event.validate(20).unwrap();
            let final_expected = second == 20;
            assert_eq!(planned.event.event == EventKind::Final, final_expected);
        }
        assert_eq!(f.event(3, 77, 20, 1, 0).event.class_id, 4);
    }

    #[test]
    fn events_are_deterministic_with_stable_ids() {
        let f = field(ClassChoice::One(2));
        assert_eq!(f.event(1, 5, 300, 7, 0).event.uuid, f.event(1, 5, 300, 7, 99).event.uuid);
        assert_ne!(f.event(1, 5, 300, 7, 0).event.uuid, f.event(1, 5, 300, 8, 0).event.uuid);
        assert_ne!(f.event(1, 5, 300, 7, 0).event.uuid, f.event(2, 5, 300, 7, 0).event.uuid);
        assert_eq!(f.event(1, 5, 300, 7, 0).event.uuid.get_version_num(), 4);
    }

    #[test]
    fn about_the_asked_share_of_events_is_deliberately_invalid() {
        let f = Field { invalid_percent: 5.0, ..field(ClassChoice::One(1)) };
        let mut invalid = 0;
        for index in 0..200 {
            for second in 1..=50 {
                let planned = f.event(index, 3, 50, second, 0);
                if planned.deliberately_invalid {
                    invalid += 1;
                    assert_eq!(planned.event.validate(50).unwrap_err().code(), "CadenceOutOfRange");
                }
            }
        }
        assert!((400..=600).contains(&invalid), "{invalid} of 10,000 invalid, wanted about 500");
        let none = Field { invalid_percent: 0.0, ..f };
        assert!((0..100).all(|i| !none.is_deliberately_invalid(i, 3, 1)));
        let all = Field { invalid_percent: 100.0, ..f };
        assert!((0..100).all(|i| all.is_deliberately_invalid(i, 3, 1)));
    }

    #[test]
    fn batches_cover_every_racer_once() {
        let f = Field { racers: 1201, ..field(ClassChoice::All) };
        let batches: Vec<_> = f.batches(500).collect();
        assert_eq!(batches, [0..500, 500..1000, 1000..1201]);
    }
}
