//! The writer: [`ClassBests`], the merge's working model of one class's bests, which it folds
//! records into and encodes as a history file; and the import and export of the original
//! Alleycat format.

use std::collections::BTreeMap;

use bit_vec::BitVec;

use super::{
    digits::{push_number, zigzag},
    gzip::{gunzip, gzip, is_gzip},
    parse_json,
    real_bike::RunsWriter,
    FileOut, HistoryError, FORMAT, MAX_DECODED_BYTES, MAX_RACE_SECONDS, NO_BEST, VERSION,
};
use crate::{output::to_centi, ClassId};

/// The gzip level of history files. With the zlib-rs backend the merge uses, level 2 comes
/// within 1 % of the smallest output (level 6) in half the time, and the merge re-encodes a
/// changed class on every commit.
pub const GZIP_LEVEL: u32 = 2;

/// One class's personal bests: for each racer, the best output (hundredths) at each second, and
/// whether that best was ridden on a real bike.
///
/// This is the merge's working model and the encoder's input. Improving is a max (and, on a
/// tie, an "or" of the real-bike marks), so folding records in any order, any number of times,
/// gives the same bests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassBests {
    pub(super) class_id: ClassId,
    pub(super) race_seconds: u32,
    /// Racer id → their bests.
    pub(super) racers: BTreeMap<u64, Row>,
}

/// One racer's bests, second 1 first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Row {
    /// The best at each second, [`NO_BEST`] where none.
    pub(super) centi: Vec<u32>,
    /// The best at each second was ridden on a real bike (never set where there is no best).
    pub(super) real_bike: BitVec,
}

impl Row {
    fn new(seconds: usize) -> Self {
        Self { centi: vec![NO_BEST; seconds], real_bike: BitVec::from_elem(seconds, false) }
    }
}

impl ClassBests {
    /// No bests yet for `class_id`, races of `race_seconds` (clamped into
    /// `1..=MAX_RACE_SECONDS`).
    pub fn new(class_id: ClassId, race_seconds: u32) -> Self {
        Self {
            class_id,
            race_seconds: race_seconds.clamp(1, MAX_RACE_SECONDS),
            racers: BTreeMap::new(),
        }
    }

    /// The class.
    pub fn class_id(&self) -> ClassId {
        self.class_id
    }

    /// The race length.
    pub fn race_seconds(&self) -> u32 {
        self.race_seconds
    }

    /// How many racers have at least one best.
    pub fn racer_count(&self) -> usize {
        self.racers.len()
    }

    /// Racer ids and their per-second bests (index 0 is second 1; [`NO_BEST`] where none), in id
    /// order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[u32])> {
        self.racers.iter().map(|(id, row)| (*id, row.centi.as_slice()))
    }

    /// The best of `racer` at `second` in hundredths, if any.
    pub fn get(&self, racer: u64, second: u32) -> Option<u32> {
        let row = self.racers.get(&racer)?;
        let centi = *row.centi.get(usize::try_from(second).ok()?.checked_sub(1)?)?;
        (centi != NO_BEST).then_some(centi)
    }

    /// Whether `racer`'s best at `second` was ridden on a real bike.
    pub fn real_bike(&self, racer: u64, second: u32) -> bool {
        let row = self.racers.get(&racer);
        let s = usize::try_from(second).ok().and_then(|s| s.checked_sub(1));
        row.zip(s).and_then(|(row, s)| row.real_bike.get(s)).unwrap_or(false)
    }

    /// Records `centi` for `racer` at `second` if it beats the racer's best there, ridden on the
    /// simulated bike; returns whether anything changed (see [`ClassBests::improve_ridden`]).
    pub fn improve(&mut self, racer: u64, second: u32, centi: u32) -> bool {
        self.improve_ridden(racer, second, centi, false)
    }

    /// Records `centi` for `racer` at `second` if it beats the racer's best there, marked as
    /// ridden on a real bike when `real_bike`: the mark goes with the best, so a better second
    /// on the simulated bike clears it. On a tie the real bike's mark wins, so the order rides
    /// are folded in does not matter. Returns whether anything changed. Racer 0, seconds
    /// outside the race and [`NO_BEST`] change nothing.
    pub fn improve_ridden(&mut self, racer: u64, second: u32, centi: u32, real_bike: bool) -> bool {
        if racer == 0 || second == 0 || second > self.race_seconds || centi == NO_BEST {
            return false;
        }
        let seconds = self.race_seconds as usize;
        let row = self.racers.entry(racer).or_insert_with(|| Row::new(seconds));
        let s = second as usize - 1;
        let slot = &mut row.centi[s];
        let marked = row.real_bike[s];
        if centi > *slot {
            *slot = centi;
            row.real_bike.set(s, real_bike);
            true
        } else if centi == *slot && real_bike && !marked {
            row.real_bike.set(s, true);
            true
        } else {
            false
        }
    }

    /// Folds every best of `other` (same class or not: its seconds beyond this race are ignored)
    /// into these, with their real-bike marks; returns whether anything changed.
    pub fn merge(&mut self, other: &ClassBests) -> bool {
        let mut changed = false;
        for (&racer, row) in &other.racers {
            for (i, (&centi, real_bike)) in row.centi.iter().zip(&row.real_bike).enumerate() {
                changed |= self.improve_ridden(racer, i as u32 + 1, centi, real_bike);
            }
        }
        changed
    }

    /// The version-3 JSON (not gzipped), deterministic.
    pub fn to_json(&self) -> Vec<u8> {
        let seconds = self.race_seconds as usize;
        let mut racers = Vec::with_capacity(self.racers.len());
        let mut values = String::with_capacity(self.racers.len() * 64);
        let mut bests = String::with_capacity(self.racers.len() * seconds);
        let (mut prev_id, mut prev_first) = (0u64, 0i64);
        let mut palette: Vec<u32> = Vec::with_capacity(seconds);
        let mut real_bike = RunsWriter::default();
        for (position, (&id, row)) in self.racers.iter().enumerate() {
            racers.push(id - prev_id);
            prev_id = id;
            real_bike.push(position, &row.real_bike);
            let row = &row.centi;
            palette.clear();
            palette.extend_from_slice(row);
            palette.sort_unstable();
            palette.dedup();
            push_number(&mut values, palette.len() as u64);
            push_number(&mut values, zigzag(i64::from(palette[0]) - prev_first));
            prev_first = i64::from(palette[0]);
            for pair in palette.windows(2) {
                push_number(&mut values, u64::from(pair[1] - pair[0]));
            }
            let mut prev = 0i64;
            for centi in row {
                let index = palette.binary_search(centi).expect("in the palette") as i64;
                push_number(&mut bests, zigzag(index - prev));
                prev = index;
            }
        }
        let file = FileOut {
            format: FORMAT,
            version: VERSION,
            class_id: self.class_id,
            race_seconds: self.race_seconds,
            racers,
            values: &values,
            bests: &bests,
            real_bike: &real_bike.finish(),
        };
        serde_json::to_vec(&file).expect("serialising integers and strings cannot fail")
    }

    /// Reads version-2 or 3 JSON (not gzipped), checking every bound.
    pub fn from_json(json: &[u8]) -> Result<Self, HistoryError> {
        let flat = parse_json(json)?;
        let seconds = flat.race_seconds as usize;
        let mut marks = flat.real_bike.iter();
        let racers = flat
            .racers
            .iter()
            .enumerate()
            .map(|(i, &id)| {
                let centi = flat.bests[i * seconds..(i + 1) * seconds].to_vec();
                (id, Row { centi, real_bike: marks.by_ref().take(seconds).collect() })
            })
            .collect();
        Ok(Self { class_id: flat.class_id, race_seconds: flat.race_seconds, racers })
    }

    /// The gzipped version-3 file, deterministic.
    pub fn encode(&self) -> Vec<u8> {
        gzip(&self.to_json(), GZIP_LEVEL)
    }

    /// Reads a gzipped version-2 or 3 file (what [`ClassBests::encode`] wrote, now or before
    /// version 3), checking every bound.
    pub fn decode(gz: &[u8]) -> Result<Self, HistoryError> {
        Self::from_json(&gunzip(gz, MAX_DECODED_BYTES)?)
    }

    /// Reads a history file in the original Alleycat format, `{"<second>": {"<racerId>":
    /// output}}`, gzipped or not, as bests of `class_id`. Seconds outside `1..=race_seconds`,
    /// non-numeric keys, non-positive racer ids and non-numeric or non-positive outputs are
    /// refused with [`HistoryError::Invalid`].
    pub fn from_original_json(
        class_id: ClassId,
        race_seconds: u32,
        bytes: &[u8],
    ) -> Result<Self, HistoryError> {
        let inflated;
        let json = if is_gzip(bytes) {
            inflated = gunzip(bytes, MAX_DECODED_BYTES)?;
            &inflated[..]
        } else {
            bytes
        };
        let original: BTreeMap<String, BTreeMap<String, f64>> =
            serde_json::from_slice(json).map_err(|e| HistoryError::Json(e.to_string()))?;
        let mut bests = Self::new(class_id, race_seconds);
        for (second_key, row) in original {
            let second: u32 = second_key
                .parse()
                .ok()
                .filter(|s| (1..=bests.race_seconds).contains(s))
                .ok_or_else(|| HistoryError::Invalid(format!("second {second_key:?}")))?;
            for (racer_key, output) in row {
                let racer: u64 = racer_key
                    .parse()
                    .ok()
                    .filter(|&r| r > 0)
                    .ok_or_else(|| HistoryError::Invalid(format!("racer {racer_key:?}")))?;
                if !output.is_finite() || output <= 0.0 {
                    return Err(HistoryError::Invalid(format!(
                        "output {output} of racer {racer} at second {second}"
                    )));
                }
                bests.improve(racer, second, to_centi(output));
            }
        }
        Ok(bests)
    }

    /// These bests in the original Alleycat format (not gzipped), outputs with at most two
    /// decimals as JavaScript prints them, seconds and racers in numeric order. The original
    /// format has no real-bike marks: they are left out.
    pub fn to_original_json(&self) -> Vec<u8> {
        use std::fmt::Write;
        let mut out = String::with_capacity(self.racers.len() * self.race_seconds as usize * 16);
        out.push('{');
        for second in 1..=self.race_seconds {
            if second > 1 {
                out.push(',');
            }
            let _ = write!(out, "\"{second}\":{{");
            let mut first = true;
            for (racer, row) in &self.racers {
                let centi = row.centi[second as usize - 1];
                if centi == NO_BEST {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                let (whole, frac) = (centi / 100, centi % 100);
                let _ = match frac {
                    0 => write!(out, "\"{racer}\":{whole}"),
                    f if f % 10 == 0 => write!(out, "\"{racer}\":{whole}.{}", f / 10),
                    f => write!(out, "\"{racer}\":{whole}.{f:02}"),
                };
            }
            out.push('}');
        }
        out.push('}');
        out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::tests::{gz, sample};

    #[test]
    fn the_json_is_encoded_as_documented() {
        let json = String::from_utf8(sample().to_json()).unwrap();
        assert!(json.starts_with(
            r#"{"format":"alleycat-history","version":3,"classId":3,"raceSeconds":5,"racers":[7,35,958],"values":"&#"#
        ));
        // Racer 7 rides [140.00, -, -, -, 90.00]: palette [0, 9000, 14000], indices 2 0 0 0 1,
        // steps +2 -2 0 0 +1, zigzag 4 3 0 0 2.
        assert!(json.contains(r#""bests":"'&##%"#), "{json}");
        // No best on a real bike: no `realBike` field.
        assert!(!json.contains("realBike"), "{json}");
    }

    #[test]
    fn the_real_bike_mark_follows_the_best_of_each_second() {
        let mut b = ClassBests::new(1, 3);
        assert!(b.improve_ridden(5, 1, 200, true));
        assert!(b.real_bike(5, 1));
        // A lower simulated second leaves the best and its mark; a higher one takes both.
        assert!(!b.improve(5, 1, 150));
        assert!(b.real_bike(5, 1));
        assert!(b.improve(5, 1, 250));
        assert!(!b.real_bike(5, 1));
        // A real bike's equal best marks it; a simulated equal one does not unmark it.
        assert!(b.improve_ridden(5, 1, 250, true));
        assert!(!b.improve(5, 1, 250));
        assert!(!b.improve_ridden(5, 1, 250, true));
        assert!(b.real_bike(5, 1));
        // Another second and another racer are their own.
        assert!(!b.real_bike(5, 2) && !b.real_bike(6, 1) && !b.real_bike(5, 0));
        assert!(!b.real_bike(5, 4));
    }

    proptest::proptest! {
        #[test]
        fn folding_rides_in_any_order_gives_the_same_bests_and_marks(
            seconds in proptest::collection::vec((1u64..4, 1u32..4, 1u32..5, proptest::bool::ANY), 0..40),
            shuffle in proptest::sample::select(vec![0usize, 1, 2]),
        ) {
            let fold = |order: &[(u64, u32, u32, bool)]| {
                let mut b = ClassBests::new(2, 3);
                for &(racer, second, centi, real_bike) in order {
                    b.improve_ridden(racer, second, centi, real_bike);
                }
                b
            };
            let forward = fold(&seconds);
            let mut other = seconds.clone();
            match shuffle {
                0 => other.reverse(),
                1 => other.sort_by_key(|&(r, s, c, real)| (c, real, r, s)),
                _ => other.sort_by_key(|&(r, s, c, real)| (std::cmp::Reverse((c, real)), r, s)),
            }
            proptest::prop_assert_eq!(&fold(&other), &forward);
            // Each mark is that of a ride that set the best: a real-bike ride of that output.
            for &(racer, second, _, _) in &seconds {
                let best = forward.get(racer, second).unwrap();
                let any_real = seconds.iter().any(|&(r, s, c, real)| {
                    (r, s, c) == (racer, second, best) && real
                });
                proptest::prop_assert_eq!(forward.real_bike(racer, second), any_real);
            }
            // Merging one into another keeps the marks too.
            let (half_a, half_b) = seconds.split_at(seconds.len() / 2);
            let mut merged = fold(half_a);
            merged.merge(&fold(half_b));
            proptest::prop_assert_eq!(&merged, &forward);
        }
    }

    #[test]
    fn improving_is_a_max_and_ignores_what_is_outside_the_race() {
        let mut b = ClassBests::new(1, 10);
        assert!(b.improve(1, 1, 100));
        assert!(!b.improve(1, 1, 99));
        assert!(!b.improve(1, 1, 100));
        assert!(b.improve(1, 1, 101));
        assert!(!b.improve(1, 0, 500));
        assert!(!b.improve(1, 11, 500));
        assert!(!b.improve(0, 1, 500));
        assert!(!b.improve(2, 1, NO_BEST));
        assert_eq!(b.get(1, 1), Some(101));
    }

    #[test]
    fn the_original_format_round_trips_through_import() {
        let b = sample();
        let original = b.to_original_json();
        let text = String::from_utf8(original.clone()).unwrap();
        assert!(text.starts_with(r#"{"1":{"7":140,"42":132.25,"1000":132.25},"2":{"42":130}"#));
        assert_eq!(ClassBests::from_original_json(3, 5, &original).unwrap(), b);
        assert_eq!(ClassBests::from_original_json(3, 5, &gz(&original)).unwrap(), b);
        assert!(matches!(
            ClassBests::from_original_json(3, 5, br#"{"6":{"1":10}}"#),
            Err(HistoryError::Invalid(_))
        ));
        assert!(matches!(
            ClassBests::from_original_json(3, 5, br#"{"1":{"x":10}}"#),
            Err(HistoryError::Invalid(_))
        ));
        assert!(matches!(
            ClassBests::from_original_json(3, 5, br#"{"1":{"1":-10}}"#),
            Err(HistoryError::Invalid(_))
        ));
    }
}
