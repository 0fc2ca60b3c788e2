//! Reading delivered objects: gzip NDJSON lines, one transformed racer event each.
//!
//! Only the fields the merge needs are read (`raceId`, `classId`, `racerId`, `second`, `output`);
//! the others are skipped, so a line written by a later delivery version with more fields still
//! merges.

use alleycat_domain::{history::to_centi, Class, ClassId, RaceId};
use serde::Deserialize;

/// The part of a delivered line the merge folds in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeRecord {
    /// The race.
    pub race_id: RaceId,
    /// The class.
    pub class_id: ClassId,
    /// The racer.
    pub racer_id: u64,
    /// The second of the race, 1-based.
    pub second: u32,
    /// The output, hundredths.
    pub centi: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    race_id: RaceId,
    class_id: ClassId,
    racer_id: u64,
    second: u32,
    output: f64,
}

/// What reading one object gave.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The good records, in object order.
    pub records: Vec<MergeRecord>,
    /// Lines that were not a delivered event or were out of bounds (skipped, counted).
    pub skipped: usize,
}

/// Parses the (already gunzipped) NDJSON of a delivered object. A line that does not parse or is
/// out of bounds for `race_seconds` is skipped and counted, never fatal: one bad line must not
/// hold back the rest of the pipeline.
pub fn parse_lines(ndjson: &[u8], race_seconds: u32) -> Parsed {
    let mut parsed = Parsed { records: Vec::with_capacity(ndjson.len() / 180), skipped: 0 };
    for line in ndjson.split(|&b| b == b'\n') {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Line>(line) {
            Ok(l)
                if Class::is_valid_id(i64::from(l.class_id))
                    && (1..=race_seconds).contains(&l.second)
                    && l.racer_id > 0
                    && l.racer_id <= i64::MAX as u64
                    && l.race_id <= i64::MAX as u64
                    && l.output.is_finite()
                    && l.output > 0.0 =>
            {
                parsed.records.push(MergeRecord {
                    race_id: l.race_id,
                    class_id: l.class_id,
                    racer_id: l.racer_id,
                    second: l.second,
                    centi: to_centi(l.output),
                })
            }
            _ => parsed.skipped += 1,
        }
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_lines_are_skipped_and_counted_and_good_ones_kept() {
        let ndjson = br#"{"uuid":"x","raceId":5,"classId":3,"racerId":42,"second":2,"output":132.25,"cadence":80}
not json
{"raceId":5,"classId":9,"racerId":42,"second":2,"output":132.25}
{"raceId":5,"classId":3,"racerId":42,"second":301,"output":132.25}

"#;
        let parsed = parse_lines(ndjson, 300);
        assert_eq!(parsed.skipped, 3);
        assert_eq!(
            parsed.records,
            vec![MergeRecord { race_id: 5, class_id: 3, racer_id: 42, second: 2, centi: 13225 }]
        );
    }
}
