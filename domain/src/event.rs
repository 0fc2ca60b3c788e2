//! The racer event: what a bike sends once a second during a race.
//!
//! On the wire it is JSON in camelCase:
//!
//! ```json
//! {"uuid":"8d6f…","event":"update","deviceTimestamp":1764093600123,"second":12,
//!  "raceId":5880312,"racerId":42,"classId":3,"cadence":82.5,"resistance":55}
//! ```

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{class::Class, output::output, ClassId, RaceId};

/// Plausible cadence in revolutions per minute; anything outside is rejected as a bad reading.
pub const CADENCE_RANGE: std::ops::RangeInclusive<f64> = 0.0..=250.0;
/// Plausible resistance in percent of the bike's range.
pub const RESISTANCE_RANGE: std::ops::RangeInclusive<f64> = 0.0..=100.0;

/// Whether an event is an ordinary update or the racer's last second of the race.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// Any second but the last.
    Update,
    /// The last second the racer rode.
    Final,
}

/// One second of one racer's ride.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RacerEvent {
    /// A unique id chosen by the device, so that retries can be recognised.
    pub uuid: Uuid,
    /// `update` or `final`.
    pub event: EventKind,
    /// The device's clock when the second was recorded, in epoch milliseconds.
    pub device_timestamp: u64,
    /// The second of the race, 1 to `race_seconds`.
    pub second: u32,
    /// The race (see [`crate::RaceClock`]).
    pub race_id: RaceId,
    /// The racer, a positive id.
    pub racer_id: u64,
    /// The class raced in, 1 to 6.
    pub class_id: ClassId,
    /// Pedalling cadence, rpm.
    pub cadence: f64,
    /// Bike resistance, percent.
    pub resistance: f64,
}

/// Why an event is not acceptable. Each variant carries what was wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EventError {
    /// The bytes are not a JSON racer event (missing field, wrong type, unknown field, not JSON).
    #[error("not a racer event: {0}")]
    Malformed(String),
    /// `classId` is not one of the six classes.
    #[error("classId {0} is not a class (1 to 6)")]
    UnknownClass(ClassId),
    /// `second` is outside the race.
    #[error("second {second} is outside the race (1 to {race_seconds})")]
    SecondOutOfRange {
        /// The second sent.
        second: u32,
        /// The race length in force.
        race_seconds: u32,
    },
    /// `racerId` is zero.
    #[error("racerId must be positive")]
    InvalidRacer,
    /// Cadence is not a finite number within [`CADENCE_RANGE`].
    #[error("cadence {0} is outside 0 to 250 rpm")]
    CadenceOutOfRange(f64),
    /// Resistance is not a finite number within [`RESISTANCE_RANGE`].
    #[error("resistance {0} is outside 0 to 100 %")]
    ResistanceOutOfRange(f64),
}

impl EventError {
    /// A stable machine-readable code for this kind of error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "MalformedEvent",
            Self::UnknownClass(_) => "InvalidClass",
            Self::SecondOutOfRange { .. } => "SecondOutOfRange",
            Self::InvalidRacer => "InvalidRacer",
            Self::CadenceOutOfRange(_) => "CadenceOutOfRange",
            Self::ResistanceOutOfRange(_) => "ResistanceOutOfRange",
        }
    }
}

impl RacerEvent {
    /// Parses and validates an event from JSON bytes.
    pub fn from_json(bytes: &[u8], race_seconds: u32) -> Result<Self, EventError> {
        let event: Self =
            serde_json::from_slice(bytes).map_err(|e| EventError::Malformed(e.to_string()))?;
        event.validate(race_seconds)?;
        Ok(event)
    }

    /// Checks every field against its bounds.
    pub fn validate(&self, race_seconds: u32) -> Result<(), EventError> {
        if !Class::is_valid_id(i64::from(self.class_id)) {
            return Err(EventError::UnknownClass(self.class_id));
        }
        if self.second == 0 || self.second > race_seconds {
            return Err(EventError::SecondOutOfRange { second: self.second, race_seconds });
        }
        if self.racer_id == 0 {
            return Err(EventError::InvalidRacer);
        }
        if !CADENCE_RANGE.contains(&self.cadence) {
            return Err(EventError::CadenceOutOfRange(self.cadence));
        }
        if !RESISTANCE_RANGE.contains(&self.resistance) {
            return Err(EventError::ResistanceOutOfRange(self.resistance));
        }
        Ok(())
    }

    /// This second's output, by the shared formula.
    pub fn output(&self) -> f64 {
        output(self.cadence, self.resistance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RacerEvent {
        RacerEvent {
            uuid: Uuid::from_u128(0x8d6f_0000_0000_4000_8000_0000_0000_0001),
            event: EventKind::Update,
            device_timestamp: 1_764_093_600_123,
            second: 12,
            race_id: 5_880_312,
            racer_id: 42,
            class_id: 3,
            cadence: 82.5,
            resistance: 55.0,
        }
    }

    #[test]
    fn json_is_camel_case_and_round_trips() {
        let json = serde_json::to_string(&sample()).unwrap();
        for key in [
            "\"deviceTimestamp\"",
            "\"raceId\"",
            "\"racerId\"",
            "\"classId\"",
            "\"event\":\"update\"",
        ] {
            assert!(json.contains(key), "{json} lacks {key}");
        }
        assert_eq!(RacerEvent::from_json(json.as_bytes(), 300).unwrap(), sample());
    }

    #[test]
    fn final_event_kind_is_lowercase() {
        let event = RacerEvent { event: EventKind::Final, ..sample() };
        assert!(serde_json::to_string(&event).unwrap().contains("\"event\":\"final\""));
    }

    #[test]
    fn missing_field_wrong_type_and_non_json_are_malformed() {
        let cases = [
            r#"{"uuid":"8d6f0000-0000-4000-8000-000000000001","event":"update"}"#.to_string(),
            serde_json::to_string(&sample()).unwrap().replace("\"second\":12", "\"second\":\"12\""),
            "not json".to_string(),
            serde_json::to_string(&sample()).unwrap().replace("update", "sprint"),
        ];
        for case in cases {
            let err = RacerEvent::from_json(case.as_bytes(), 300).unwrap_err();
            assert_eq!(err.code(), "MalformedEvent", "{case}");
        }
    }

    #[test]
    fn out_of_bounds_fields_are_rejected_with_their_own_error() {
        let check = |event: RacerEvent, code: &str| {
            assert_eq!(event.validate(300).unwrap_err().code(), code);
        };
        check(RacerEvent { class_id: 7, ..sample() }, "InvalidClass");
        check(RacerEvent { class_id: 0, ..sample() }, "InvalidClass");
        check(RacerEvent { second: 0, ..sample() }, "SecondOutOfRange");
        check(RacerEvent { second: 301, ..sample() }, "SecondOutOfRange");
        check(RacerEvent { racer_id: 0, ..sample() }, "InvalidRacer");
        check(RacerEvent { cadence: f64::NAN, ..sample() }, "CadenceOutOfRange");
        check(RacerEvent { cadence: -1.0, ..sample() }, "CadenceOutOfRange");
        check(RacerEvent { resistance: 100.5, ..sample() }, "ResistanceOutOfRange");
        check(RacerEvent { resistance: f64::INFINITY, ..sample() }, "ResistanceOutOfRange");
    }

    #[test]
    fn bounds_are_inclusive() {
        let edge = RacerEvent { second: 300, cadence: 250.0, resistance: 100.0, ..sample() };
        assert!(edge.validate(300).is_ok());
        assert!(RacerEvent { second: 1, cadence: 0.0, resistance: 0.0, ..sample() }
            .validate(300)
            .is_ok());
    }

    #[test]
    fn event_output_uses_the_shared_formula() {
        assert_eq!(sample().output(), output(82.5, 55.0));
    }
}
