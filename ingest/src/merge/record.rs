//! Reading delivered objects: gzip NDJSON lines, one transformed racer event each.
//!
//! Only the fields the merge needs are read (`raceId`, `classId`, `racerId`, `second`, `output`,
//! and, kept for the ride's FIT file, `cadence` and `heartRate` when present, and whether `power`
//! is there: a second measured on a real bike); the others are skipped, so a line written by a
//! later delivery version with more fields still merges.

use alleycat_domain::{output::to_centi, Class, ClassId, RaceId};
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
    /// The second's cadence and heart rate, as the ride keeps them.
    pub detail: Detail,
    /// The second was measured by a trainer or a power meter: the line carries `power`, which
    /// delivery's validation lets through only from a source that measures it.
    pub measured: bool,
}

/// What a ride keeps of a second besides its output, for the ride's FIT file: cadence (whole
/// rpm) and heart rate (bpm). Stored as two bytes, cadence + 1 and heart rate, 0 meaning
/// unknown, so that the larger of two details is the better informed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Detail([u8; 2]);

impl Detail {
    /// Nothing known.
    pub const UNKNOWN: Self = Self([0, 0]);

    /// A detail from a line's cadence (rpm) and heart rate (bpm), each rounded and clamped to
    /// its plausible range; non-finite values are unknown.
    pub fn new(cadence: Option<f64>, heart_rate: Option<f64>) -> Self {
        let byte = |v: Option<f64>, max: f64| {
            v.filter(|v| v.is_finite()).map(|v| v.round().clamp(0.0, max) as u8)
        };
        let cadence = byte(cadence, 250.0).map_or(0, |c| c + 1);
        let heart_rate = byte(heart_rate, 250.0).filter(|&h| h > 0).unwrap_or(0);
        Self([cadence, heart_rate])
    }

    /// The stored bytes.
    pub fn to_bytes(self) -> [u8; 2] {
        self.0
    }

    /// From the stored bytes.
    pub fn from_bytes(bytes: [u8; 2]) -> Self {
        Self(bytes)
    }

    /// Cadence, whole rpm, when known.
    pub fn cadence(self) -> Option<u8> {
        self.0[0].checked_sub(1)
    }

    /// Heart rate, bpm, when known.
    pub fn heart_rate(self) -> Option<u8> {
        (self.0[1] > 0).then_some(self.0[1])
    }
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    race_id: RaceId,
    class_id: ClassId,
    racer_id: u64,
    second: u32,
    output: f64,
    #[serde(default)]
    cadence: Option<f64>,
    #[serde(default)]
    heart_rate: Option<f64>,
    #[serde(default)]
    power: Option<f64>,
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
        let line_fields = fast_line(line).or_else(|| serde_json::from_slice::<Line>(line).ok());
        match line_fields {
            Some(l)
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
                    detail: Detail::new(l.cadence, l.heart_rate),
                    measured: l.power.is_some(),
                })
            }
            _ => parsed.skipped += 1,
        }
    }
    parsed
}

/// Reads a flat JSON object whose values are numbers or strings without escapes (what delivery
/// writes), several times faster than serde. Anything else (escapes, nested values, a repeated
/// or missing field, a malformed number) gives `None`, and the line goes to serde instead, so
/// both paths accept and refuse the same lines.
fn fast_line(line: &[u8]) -> Option<Line> {
    let ws = |mut i: usize| {
        while line.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        i
    };
    let mut i = ws(0);
    if line.get(i) != Some(&b'{') {
        return None;
    }
    let (mut race, mut class, mut racer, mut second, mut output) = (None, None, None, None, None);
    let (mut cadence, mut heart_rate, mut power) = (None, None, None);
    i = ws(i + 1);
    if line.get(i) == Some(&b'}') {
        return None;
    }
    loop {
        if line.get(i) != Some(&b'"') {
            return None;
        }
        let key_start = i + 1;
        let key_end =
            key_start + line[key_start..].iter().position(|&b| b == b'"' || b == b'\\')?;
        if line[key_end] != b'"' {
            return None;
        }
        let key = &line[key_start..key_end];
        i = ws(key_end + 1);
        if line.get(i) != Some(&b':') {
            return None;
        }
        i = ws(i + 1);
        let value_start = i;
        let number = match line.get(i)? {
            b'"' => {
                let end = i + 1 + line[i + 1..].iter().position(|&b| b == b'"' || b == b'\\')?;
                if line[end] != b'"' {
                    return None;
                }
                i = end + 1;
                None
            }
            b'-' | b'0'..=b'9' => {
                while line
                    .get(i)
                    .is_some_and(|b| matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
                {
                    i += 1;
                }
                Some(std::str::from_utf8(&line[value_start..i]).ok()?)
            }
            _ => return None,
        };
        fn set<T: std::str::FromStr>(slot: &mut Option<T>, number: Option<&str>) -> Option<()> {
            if slot.is_some() {
                return None;
            }
            *slot = Some(number?.parse().ok()?);
            Some(())
        }
        match key {
            b"raceId" => set(&mut race, number)?,
            b"classId" => set(&mut class, number)?,
            b"racerId" => set(&mut racer, number)?,
            b"second" => set(&mut second, number)?,
            b"output" => set::<f64>(&mut output, number)?,
            b"cadence" => set::<f64>(&mut cadence, number)?,
            b"heartRate" => set::<f64>(&mut heart_rate, number)?,
            b"power" => set::<f64>(&mut power, number)?,
            _ => {}
        }
        i = ws(i);
        match line.get(i)? {
            b',' => i = ws(i + 1),
            b'}' => break,
            _ => return None,
        }
    }
    if ws(i + 1) != line.len() {
        return None;
    }
    Some(Line {
        race_id: race?,
        class_id: class?,
        racer_id: racer?,
        second: second?,
        output: output?,
        cadence,
        heart_rate,
        power,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fast_reader_agrees_with_serde_or_steps_aside() {
        let lines = [
            r#"{"uuid":"8d6f0000-0000-4000-8000-000000000001","event":"update","second":12,"raceId":5,"racerId":42,"classId":3,"cadence":82.5,"resistance":55,"output":141.00}"#,
            r#" { "raceId" : 5 , "classId":3,"racerId":42,"second":2,"output":1.5e2 } "#,
            r#"{"raceId":5,"classId":3,"racerId":42,"second":2,"output":132.25,"x":{"nested":1}}"#,
            r#"{"raceId":5,"classId":3,"racerId":42,"second":2,"output":"132.25"}"#,
            r#"{"raceId":5,"raceId":6,"classId":3,"racerId":42,"second":2,"output":1}"#,
            r#"{"raceId":5,"classId":3,"racerId":42,"second":2}"#,
            r#"{"raceId":-5,"classId":3,"racerId":42,"second":2,"output":1}"#,
            r#"{"raceId":5,"classId":3,"racerId":42,"second":2,"output":1,}"#,
            r#"{"raceId":5,"classId":3,"racerId":42,"second":2,"output":1} x"#,
            r#"{"raceId":5,"classId":3,"racerId":42,"second":2,"output":1}"#,
            "{}",
            "",
            "{",
        ];
        for line in lines {
            let fast = fast_line(line.as_bytes());
            let serde = serde_json::from_slice::<Line>(line.as_bytes()).ok();
            if let Some(fast) = &fast {
                assert_eq!(Some(fast), serde.as_ref(), "{line}");
            }
            let both = fast.or(serde);
            let expected_ok = !line.contains("\"132.25\"")
                && !line.contains("\"raceId\":6")
                && !line.contains("-5")
                && !line.contains(",}")
                && !line.contains("} x")
                && line.contains("output");
            assert_eq!(both.is_some(), expected_ok, "{line}");
        }
    }

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
            vec![MergeRecord {
                race_id: 5,
                class_id: 3,
                racer_id: 42,
                second: 2,
                centi: 13225,
                detail: Detail::new(Some(80.0), None),
                measured: false,
            }]
        );
    }

    #[test]
    fn cadence_and_heart_rate_are_kept_rounded_and_unknown_when_absent() {
        let ndjson = br#"{"raceId":5,"classId":3,"racerId":42,"second":2,"cadence":88.6,"source":"trainer","power":212,"heartRate":141,"output":212.00}
{"raceId":5,"classId":3,"racerId":43,"second":2,"output":100}
"#;
        let parsed = parse_lines(ndjson, 300);
        let detail = parsed.records[0].detail;
        assert_eq!((detail.cadence(), detail.heart_rate()), (Some(89), Some(141)));
        assert_eq!(parsed.records[0].centi, 21200);
        assert!(parsed.records[0].measured && !parsed.records[1].measured);
        assert_eq!(parsed.records[1].detail, Detail::UNKNOWN);
        assert_eq!((Detail::UNKNOWN.cadence(), Detail::UNKNOWN.heart_rate()), (None, None));
        assert_eq!(Detail::new(Some(0.0), Some(f64::NAN)).cadence(), Some(0));
        assert!(Detail::new(Some(0.0), None) > Detail::UNKNOWN);
    }

    use proptest::prelude::*;

    proptest! {
        #[test]
        fn the_fast_reader_never_disagrees_with_serde(
            junk in "[ {}\":,0-9a-zA-Z.eE+-]{0,60}",
            fields in proptest::sample::subsequence(
                vec!["\"raceId\":7", "\"classId\":2", "\"racerId\":9", "\"second\":3",
                     "\"output\":12.5", "\"uuid\":\"x\"", "\"cadence\":-1e2", "\"raceId\":8",
                     "\"heartRate\":140", "\"cadence\":\"x\"", "\"power\":212"],
                0..8,
            ).prop_shuffle(),
        ) {
            let object = format!("{{{}}}", fields.join(","));
            for line in [junk.as_str(), object.as_str()] {
                if let Some(fast) = fast_line(line.as_bytes()) {
                    let serde = serde_json::from_slice::<Line>(line.as_bytes()).ok();
                    prop_assert_eq!(Some(fast), serde, "{}", line);
                }
            }
        }
    }
}
