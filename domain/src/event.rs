//! The racer event: what a bike sends once a second during a race.
//!
//! On the wire it is JSON in camelCase:
//!
//! ```json
//! {"uuid":"8d6f…","event":"update","deviceTimestamp":1764093600123,"second":12,
//!  "raceId":5880312,"racerId":42,"classId":3,"cadence":82.5,"resistance":55}
//! ```
//!
//! A ride on a real bike adds where its numbers come from and what was measured:
//!
//! ```json
//! {…,"cadence":88,"resistance":40,"source":"trainer","power":212,"heartRate":141}
//! ```
//!
//! `source` is `"sim"` (the default, so clients that do not send it keep working), `"trainer"`
//! or `"powerMeter"`; a power source must send `power` (watts), which is then the second's
//! output instead of the formula's. `heartRate` (bpm) may come with any source.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{class::Class, output::output, ClassId, RaceId};

/// Plausible cadence in revolutions per minute; anything outside is rejected as a bad reading.
pub const CADENCE_RANGE: std::ops::RangeInclusive<f64> = 0.0..=250.0;
/// Plausible resistance in percent of the bike's range.
pub const RESISTANCE_RANGE: std::ops::RangeInclusive<f64> = 0.0..=100.0;
/// Plausible measured power in watts (a track sprinter peaks near 2,500 W).
pub const POWER_RANGE: std::ops::RangeInclusive<f64> = 0.0..=3_000.0;
/// Plausible heart rate in beats per minute.
pub const HEART_RATE_RANGE: std::ops::RangeInclusive<f64> = 30.0..=250.0;

/// Where a second's numbers come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// The app's simulated bike: cadence and resistance, output by the formula.
    #[default]
    Sim,
    /// A smart trainer or bike (Fitness Machine Service) that measures power.
    Trainer,
    /// A power meter (Cycling Power Service).
    PowerMeter,
}

impl Source {
    /// Whether this source measures power (so the event must carry it).
    pub fn measures_power(self) -> bool {
        !matches!(self, Self::Sim)
    }

    /// The name on the wire: `sim`, `trainer` or `powerMeter`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sim => "sim",
            Self::Trainer => "trainer",
            Self::PowerMeter => "powerMeter",
        }
    }

    /// Whether this is the simulated bike (the default, left out of the JSON).
    pub fn is_sim(&self) -> bool {
        matches!(self, Self::Sim)
    }
}

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
    /// Where the numbers come from (`sim` when absent).
    #[serde(default, skip_serializing_if = "Source::is_sim")]
    pub source: Source,
    /// Measured power, watts: present exactly when `source` measures power.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power: Option<f64>,
    /// Measured heart rate, bpm, when a heart-rate strap (or the trainer) gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heart_rate: Option<f64>,
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
    /// `power` is not a finite number within [`POWER_RANGE`].
    #[error("power {0} is outside 0 to 3000 W")]
    PowerOutOfRange(f64),
    /// `heartRate` is not a finite number within [`HEART_RATE_RANGE`].
    #[error("heartRate {0} is outside 30 to 250 bpm")]
    HeartRateOutOfRange(f64),
    /// `source` is a power source (`trainer`, `powerMeter`) but `power` is missing.
    #[error("source \"{}\" measures power, so the event must carry power", .0.as_str())]
    MissingPower(Source),
    /// `power` was sent with the simulated bike, which measures nothing.
    #[error("power was sent from the simulated bike (source \"sim\"); name the device's source")]
    PowerWithoutDevice,
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
            Self::PowerOutOfRange(_) => "PowerOutOfRange",
            Self::HeartRateOutOfRange(_) => "HeartRateOutOfRange",
            Self::MissingPower(_) => "MissingPower",
            Self::PowerWithoutDevice => "PowerWithoutDevice",
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
        match (self.source.measures_power(), self.power) {
            (true, None) => return Err(EventError::MissingPower(self.source)),
            (false, Some(_)) => return Err(EventError::PowerWithoutDevice),
            (_, Some(power)) if !POWER_RANGE.contains(&power) => {
                return Err(EventError::PowerOutOfRange(power))
            }
            _ => {}
        }
        if let Some(bpm) = self.heart_rate.filter(|bpm| !HEART_RATE_RANGE.contains(bpm)) {
            return Err(EventError::HeartRateOutOfRange(bpm));
        }
        Ok(())
    }

    /// This second's output: the measured power in watts when a power source sent it, else
    /// the shared formula of cadence and resistance. Every stage that needs an output (the
    /// here-now board, delivery) asks here, so a measured second counts the same everywhere.
    pub fn output(&self) -> f64 {
        self.power.unwrap_or_else(|| output(self.cadence, self.resistance))
    }

    /// Whether this second was ridden on a real bike (a measured power source).
    pub fn is_measured(&self) -> bool {
        self.source.measures_power()
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
            source: Source::Sim,
            power: None,
            heart_rate: None,
        }
    }

    fn trainer() -> RacerEvent {
        RacerEvent {
            source: Source::Trainer,
            power: Some(212.0),
            heart_rate: Some(141.0),
            ..sample()
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

    #[test]
    fn an_event_without_a_source_is_the_simulated_bike_and_keeps_its_json() {
        let json = serde_json::to_string(&sample()).unwrap();
        assert!(!json.contains("source") && !json.contains("power") && !json.contains("heartRate"));
        let event = RacerEvent::from_json(json.as_bytes(), 300).unwrap();
        assert_eq!((event.source, event.power, event.heart_rate), (Source::Sim, None, None));
    }

    #[test]
    fn a_trainer_event_carries_source_power_and_heart_rate_in_camel_case() {
        let json = serde_json::to_string(&trainer()).unwrap();
        for key in ["\"source\":\"trainer\"", "\"power\":212", "\"heartRate\":141"] {
            assert!(json.contains(key), "{json} lacks {key}");
        }
        assert_eq!(RacerEvent::from_json(json.as_bytes(), 300).unwrap(), trainer());
        let meter = json.replace("\"trainer\"", "\"powerMeter\"");
        assert_eq!(
            RacerEvent::from_json(meter.as_bytes(), 300).unwrap().source,
            Source::PowerMeter
        );
        let bad = json.replace("\"trainer\"", "\"treadmill\"");
        assert_eq!(
            RacerEvent::from_json(bad.as_bytes(), 300).unwrap_err().code(),
            "MalformedEvent"
        );
    }

    #[test]
    fn a_measured_power_is_the_output_instead_of_the_formula() {
        assert_eq!(trainer().output(), 212.0);
        assert_eq!(RacerEvent { power: Some(0.0), ..trainer() }.output(), 0.0);
        assert!(trainer().is_measured() && !sample().is_measured());
    }

    #[test]
    fn measured_values_are_validated_with_their_own_error() {
        let check = |event: RacerEvent, code: &str| {
            assert_eq!(event.validate(300).unwrap_err().code(), code);
        };
        check(RacerEvent { power: Some(3_000.5), ..trainer() }, "PowerOutOfRange");
        check(RacerEvent { power: Some(-1.0), ..trainer() }, "PowerOutOfRange");
        check(RacerEvent { power: Some(f64::NAN), ..trainer() }, "PowerOutOfRange");
        check(RacerEvent { power: None, ..trainer() }, "MissingPower");
        check(RacerEvent { power: Some(200.0), ..sample() }, "PowerWithoutDevice");
        check(RacerEvent { heart_rate: Some(29.0), ..trainer() }, "HeartRateOutOfRange");
        check(RacerEvent { heart_rate: Some(251.0), ..sample() }, "HeartRateOutOfRange");
        let err = RacerEvent { power: None, source: Source::PowerMeter, ..trainer() }.validate(300);
        assert_eq!(
            err.unwrap_err().to_string(),
            "source \"powerMeter\" measures power, so the event must carry power"
        );
        for edge in [
            RacerEvent { power: Some(0.0), heart_rate: Some(30.0), ..trainer() },
            RacerEvent { power: Some(3_000.0), heart_rate: Some(250.0), ..trainer() },
            RacerEvent { heart_rate: Some(60.0), ..sample() },
        ] {
            assert!(edge.validate(300).is_ok(), "{edge:?}");
        }
    }
}
