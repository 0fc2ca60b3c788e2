//! The transform: a stream record in, one NDJSON line out (the racer event with its output), or a
//! Firehose processing-failed record.

use alleycat_domain::{
    output::{from_centi, to_centi},
    EventKind, RacerEvent,
};
use base64::Engine;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::stream::Record;

/// One delivered line: the racer event as sent (its own bytes when it was already on one line,
/// else re-printed on one line), plus `output` with two decimals.
///
/// ```json
/// {"uuid":"8d6f…","event":"update","deviceTimestamp":1764093600123,"second":12,
///  "raceId":5880312,"racerId":42,"classId":3,"cadence":82.5,"resistance":55,"output":141.00}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveredEvent {
    /// The device's id for the event.
    pub uuid: Uuid,
    /// `update` or `final`.
    pub event: EventKind,
    /// The device's clock, epoch milliseconds.
    pub device_timestamp: u64,
    /// The second of the race.
    pub second: u32,
    /// The race.
    pub race_id: u64,
    /// The racer.
    pub racer_id: u64,
    /// The class.
    pub class_id: u8,
    /// Cadence, rpm.
    pub cadence: f64,
    /// Resistance, percent.
    pub resistance: f64,
    /// `((cadence + 35) * (resistance + 65)) / 100`, rounded to two decimals.
    pub output: f64,
}

/// A record that failed the transform, as Firehose writes it under `processing-failed/`, plus
/// the shard and sequence number it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FailedRecord {
    /// Always 1: the transform is deterministic, so retrying cannot help.
    pub attempts_made: u32,
    /// When the stream accepted the record, epoch milliseconds.
    pub arrival_timestamp: u64,
    /// A stable code: `alleycat_domain::EventError::code`.
    pub error_code: String,
    /// A human sentence.
    pub error_message: String,
    /// When the transform gave up, epoch milliseconds.
    pub attempt_ending_timestamp: u64,
    /// The record's bytes, base64.
    pub raw_data: String,
    /// The shard, e.g. `shardId-000000000001`.
    pub shard_id: String,
    /// The record's sequence number (39 digits).
    pub sequence_number: String,
}

/// Transforms `record`: parse and validate (bounds in `alleycat_domain::event`: `classId` 1 to 6,
/// `second` 1 to `race_seconds`, `racerId` positive, cadence 0 to 250 rpm, resistance 0 to 100 %,
/// every field present, of its type and finite, nothing unknown) and append one line to `out`.
/// On failure nothing is appended and the processing-failed record is returned.
pub fn transform(
    record: &Record,
    race_seconds: u32,
    now_ms: u64,
    out: &mut Vec<u8>,
) -> Result<(), Box<FailedRecord>> {
    match RacerEvent::from_json(&record.data, race_seconds) {
        Ok(event) => {
            let centi = to_centi(event.output());
            let raw = record.data.trim_ascii();
            if raw.last() == Some(&b'}') && !raw.iter().any(|&b| b == b'\n' || b == b'\r') {
                // The event parsed as exactly one object with no unknown or repeated field, so
                // its own bytes plus the output are the line: no need to print it again.
                out.extend_from_slice(&raw[..raw.len() - 1]);
                write_output(out, centi);
            } else {
                let line = DeliveredEvent {
                    uuid: event.uuid,
                    event: event.event,
                    device_timestamp: event.device_timestamp,
                    second: event.second,
                    race_id: event.race_id,
                    racer_id: event.racer_id,
                    class_id: event.class_id,
                    cadence: event.cadence,
                    resistance: event.resistance,
                    output: from_centi(centi),
                };
                serde_json::to_writer(&mut *out, &line).expect("writing to memory");
                out.push(b'\n');
            }
            Ok(())
        }
        Err(error) => Err(Box::new(FailedRecord {
            attempts_made: 1,
            arrival_timestamp: record.arrival_ms,
            error_code: error.code().to_string(),
            error_message: error.to_string(),
            attempt_ending_timestamp: now_ms,
            raw_data: base64::engine::general_purpose::STANDARD.encode(&record.data),
            shard_id: record.shard_id.to_string(),
            sequence_number: record.sequence_number.to_string(),
        })),
    }
}

/// Appends `,"output":<whole>.<hundredths>}` and the newline.
fn write_output(out: &mut Vec<u8>, centi: u32) {
    use std::io::Write;
    writeln!(out, ",\"output\":{}.{:02}}}", centi / 100, centi % 100).expect("writing to memory");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::{SequenceNumber, ShardId};

    fn record(data: &str) -> Record {
        Record {
            shard_id: ShardId(2),
            sequence_number: SequenceNumber(77),
            partition_key: "42".into(),
            data: bytes::Bytes::from(data.to_string()),
            arrival_ms: 1_764_093_600_500,
        }
    }

    const VALID: &str = r#"{"uuid":"8d6f0000-0000-4000-8000-000000000001","event":"update","deviceTimestamp":1764093600123,"second":12,"raceId":5880312,"racerId":42,"classId":3,"cadence":82.5,"resistance":55}"#;

    #[test]
    fn a_valid_event_becomes_one_line_with_its_output() {
        let mut out = Vec::new();
        transform(&record(VALID), 300, 0, &mut out).unwrap();
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        assert_eq!(*out.last().unwrap(), b'\n');
        let line: DeliveredEvent = serde_json::from_slice(&out).unwrap();
        assert_eq!(line.output, 141.0);
        assert_eq!((line.racer_id, line.second, line.class_id), (42, 12, 3));
    }

    #[test]
    fn a_pretty_printed_event_is_delivered_on_one_line() {
        let pretty = VALID.replace(",", ",\n  ");
        let mut out = Vec::new();
        transform(&record(&pretty), 300, 0, &mut out).unwrap();
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        let line: DeliveredEvent = serde_json::from_slice(&out).unwrap();
        assert_eq!((line.output, line.cadence), (141.0, 82.5));
    }

    #[test]
    fn outputs_keep_two_decimals() {
        let mut out = Vec::new();
        let data = VALID.replace("82.5", "80.333");
        transform(&record(&data), 300, 0, &mut out).unwrap();
        let line: DeliveredEvent = serde_json::from_slice(&out).unwrap();
        assert_eq!(line.output, 138.4); // 115.333 * 120 / 100 = 138.3996
    }

    #[test]
    fn every_kind_of_invalid_record_fails_with_its_code_and_firehose_fields() {
        let cases = [
            ("not json".to_string(), "MalformedEvent"),
            (VALID.replace(r#""racerId":42,"#, ""), "MalformedEvent"),
            (VALID.replace(r#""second":12"#, r#""second":"12""#), "MalformedEvent"),
            (VALID.replace(r#""classId":3"#, r#""classId":7"#), "InvalidClass"),
            (VALID.replace(r#""second":12"#, r#""second":0"#), "SecondOutOfRange"),
            (VALID.replace(r#""second":12"#, r#""second":301"#), "SecondOutOfRange"),
            (VALID.replace(r#""racerId":42"#, r#""racerId":0"#), "InvalidRacer"),
            (VALID.replace(r#""cadence":82.5"#, r#""cadence":251"#), "CadenceOutOfRange"),
            (VALID.replace(r#""resistance":55"#, r#""resistance":-1"#), "ResistanceOutOfRange"),
            (VALID.replace(r#""resistance":55"#, r#""resistance":1e999"#), "MalformedEvent"),
        ];
        for (data, code) in cases {
            let mut out = Vec::new();
            let failed = transform(&record(&data), 300, 1_764_093_601_000, &mut out).unwrap_err();
            assert!(out.is_empty());
            assert_eq!(failed.error_code, code, "{data}");
            assert_eq!(failed.attempts_made, 1);
            assert_eq!(failed.arrival_timestamp, 1_764_093_600_500);
            assert_eq!(failed.attempt_ending_timestamp, 1_764_093_601_000);
            assert_eq!(failed.shard_id, "shardId-000000000002");
            assert_eq!(failed.sequence_number, SequenceNumber(77).to_string());
            let raw = base64::engine::general_purpose::STANDARD.decode(&failed.raw_data).unwrap();
            assert_eq!(raw, data.as_bytes());
            let json = serde_json::to_string(&failed).unwrap();
            for field in [
                "attemptsMade",
                "arrivalTimestamp",
                "errorCode",
                "errorMessage",
                "attemptEndingTimestamp",
                "rawData",
                "shardId",
                "sequenceNumber",
            ] {
                assert!(json.contains(field), "{json} lacks {field}");
            }
        }
    }
}
