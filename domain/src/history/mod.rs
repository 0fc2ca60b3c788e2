//! The history file: every racer's personal best at each second of the race, for one class.
//!
//! The merge writes one file per class (`history/class-<id>.gz`) and the browser downloads it,
//! gunzips it with [`gzip::gunzip`] or, while it arrives, a [`gzip::GunzipStream`], and decodes
//! it into a [`History`] that ranks one second against every racer in a binary search.
//!
//! The rooms of this module, one job each:
//! - this file: the format (below), its JSON shape and the checked parse every reader shares;
//! - [`gzip`]: the gzip container, whole or streamed (the project's one gzip home);
//! - [`digits`]: the digit code the `values` and `bests` strings are written in;
//! - [`bests`]: [`ClassBests`], the merge's working model and the file's writer, and the import
//!   of the original Alleycat format;
//! - [`real_bike`]: the `realBike` field's runs, written and read;
//! - [`index`]: [`History`], the decoded file indexed for ranking, and [`decode`].
//!
//! # Format (version 3)
//!
//! A single-member gzip file (RFC 1952, header mtime 0, no name) holding one JSON object:
//!
//! ```json
//! {"format":"alleycat-history","version":3,"classId":3,"raceSeconds":300,
//!  "racers":[7,35,958],"values":"$@Q3…","bests":"#$$%…","realBike":"%$#(…"}
//! ```
//!
//! - `format` is always `"alleycat-history"`; `version` is 3 (this module writes 3 and reads 2
//!   and 3). A decoder refuses other versions ([`HistoryError::UnsupportedVersion`]).
//! - `classId` is the class (1 to 6) and `raceSeconds` the race length the bests are for.
//! - `racers` lists the racer ids in strictly increasing order, delta-encoded: the first number is
//!   the first id, each next one the difference to the previous id (so always positive).
//! - Every value is an output in **hundredths** (output 132.25 is 13225; outputs keep two
//!   decimals; [`crate::output::to_centi`]); 0 means "no best at this second".
//! - `values` and `bests` are strings of unsigned integers in the **digit code** below.
//!   `values` holds, racer by racer (in the order of `racers`), the racer's *palette*: how many
//!   distinct values their row has (`n`, 1 to `raceSeconds`), then those values in increasing
//!   order: the first as a zigzag-encoded difference from the previous racer's first value (from
//!   0 for the first racer), each next as its (positive) difference from the one before.
//! - `bests` holds, racer by racer, `raceSeconds` palette indices (second 1 to `raceSeconds`),
//!   each as the zigzag-encoded difference from the previous index of the same racer (the first
//!   from 0). The racer's best at second `s` is `palette[index]`.
//! - `realBike` (new in version 3; left out when empty) marks the bests ridden on a **real
//!   bike** (a trainer or a power meter measured the output), as runs of seconds, in the digit
//!   code. Only racers with at least one such best appear, in the order of `racers`; each is:
//!   its position in `racers` (0-based) as the difference from the position after the previous
//!   racer listed (from 0 for the first), the number of runs `k` (at least 1), then `k` pairs:
//!   the seconds between the end of the previous run (or second 1, for the first run) and the
//!   run's first second (above 0 except for the first run: runs never touch), and the run's
//!   length (at least 1). Runs end within the race and cover only seconds with a best. A racer
//!   who rode every best on a trainer costs about six characters; racers on the simulated bike
//!   cost nothing. A version-2 file has no `realBike`: no best in it was on a real bike.
//! - Zigzag: `v ≥ 0` is `2v`, `v < 0` is `-2v - 1`.
//! - Digit code: the 91 characters `#` (0x23) to `~` (0x7e) except `\` are digits 0 to 90, in
//!   that order (none needs escaping in JSON). A number below 81 is one digit. A larger number
//!   `z` is the marker digit `80 + k` followed by the `k` base-91 digits (most significant first)
//!   of `z - 81`, for the smallest `k` in 1 to 10.
//!
//! The mark belongs to the best, not to the racer: it is kept with whichever ride set the best
//! at that second (on a tie between a real-bike ride and a simulated one, the real bike's), so
//! folding rides in any order gives the same marks ([`ClassBests::improve_ridden`]).
//!
//! Why this shape: a racer rides at a few dozen distinct outputs, and from one second to the next
//! moves only a few steps among them, so most palette steps are one character from a small
//! alphabet that gzip's Huffman stage packs into a few bits; the racer ids are written once
//! instead of once per second. On 6,667 racers × 300 seconds this is under a fifth of the
//! original format's gzipped size (see BENCHMARKS.md). The per-second rankings are built in the
//! browser by sorting each second's column once ([`History`]).
//!
//! The encoder is deterministic: the same bests always give the same bytes (sorted racers, fixed
//! gzip header), so a rebuild reproduces the live pipeline's files byte for byte.
//!
//! The original Alleycat format, `{"<second>": {"<racerId>": output}}` (gzipped or not), can be
//! read with [`ClassBests::from_original_json`] and written with
//! [`ClassBests::to_original_json`] (for imports and comparisons).

pub mod bests;
pub mod digits;
pub mod gzip;
pub mod index;
pub mod real_bike;

use bit_vec::BitVec;
use serde::{Deserialize, Serialize};

use crate::{class::Class, ClassId};
use digits::{unzigzag, Numbers};
use real_bike::read_runs;

pub use bests::ClassBests;
pub use gzip::{gunzip, is_gzip, GunzipStream, GzipError};
pub use index::{decode, decode_json, History, RankedBest};

/// The `format` field of every history file.
pub const FORMAT: &str = "alleycat-history";
/// The format version this module writes (and the newest it reads).
pub const VERSION: u32 = 3;
/// The oldest format version this module reads: version 2, which has no `realBike` field.
pub const OLDEST_VERSION: u32 = 2;
/// The longest race a history file may describe, in seconds (a day).
pub const MAX_RACE_SECONDS: u32 = 86_400;
/// The most bytes [`decode`] inflates: a larger file is refused rather than exhausting memory.
pub const MAX_DECODED_BYTES: usize = 256 * 1024 * 1024;
/// The logical value meaning "no best at this second".
pub const NO_BEST: u32 = 0;

/// Why a history file could not be read. Each variant says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// The file is not readable gzip.
    #[error(transparent)]
    Gzip(#[from] gzip::GzipError),
    /// The content is not the JSON this module expects.
    #[error("malformed history JSON: {0}")]
    Json(String),
    /// The `format` field is not [`FORMAT`].
    #[error("not an Alleycat history file (format {0:?})")]
    WrongFormat(String),
    /// The `version` field is one this decoder does not know.
    #[error("unsupported history version {0} (this decoder reads {OLDEST_VERSION} to {VERSION})")]
    UnsupportedVersion(u32),
    /// A field is out of its bounds or inconsistent with another.
    #[error("invalid history: {0}")]
    Invalid(String),
}

/// The JSON object of a version-3 file (see the module docs), as written.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FileOut<'a> {
    format: &'a str,
    version: u32,
    class_id: ClassId,
    race_seconds: u32,
    racers: Vec<u64>,
    values: &'a str,
    bests: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    real_bike: &'a str,
}

/// The JSON object of a version-2 or 3 file, as read (strings borrowed when they need no
/// unescaping).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FileIn<'a> {
    class_id: ClassId,
    race_seconds: u32,
    racers: Vec<u64>,
    #[serde(borrow)]
    values: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    bests: std::borrow::Cow<'a, str>,
    /// Version 3 only; absent when empty.
    #[serde(borrow, default)]
    real_bike: std::borrow::Cow<'a, str>,
}

/// Only the header fields, read first so that a wrong format or version is reported as such.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    format: String,
    version: u32,
}

/// A file read into flat rows (racers with at least one best only).
struct Flat {
    class_id: ClassId,
    race_seconds: u32,
    /// Racer ids, increasing.
    racers: Vec<u64>,
    /// Row-major: `racers.len() × race_seconds`.
    bests: Vec<u32>,
    /// Row-major like `bests`: the best was ridden on a real bike.
    real_bike: BitVec,
}

/// Reads version-2 or 3 JSON (not gzipped) into flat rows, checking every bound.
fn parse_json(json: &[u8]) -> Result<Flat, HistoryError> {
    let header: Header =
        serde_json::from_slice(json).map_err(|e| HistoryError::Json(e.to_string()))?;
    if header.format != FORMAT {
        return Err(HistoryError::WrongFormat(header.format));
    }
    if !(OLDEST_VERSION..=VERSION).contains(&header.version) {
        return Err(HistoryError::UnsupportedVersion(header.version));
    }
    let file: FileIn<'_> =
        serde_json::from_slice(json).map_err(|e| HistoryError::Json(e.to_string()))?;
    let invalid = |what: String| Err(HistoryError::Invalid(what));
    if !Class::is_valid_id(i64::from(file.class_id)) {
        return invalid(format!("classId {} is not a class", file.class_id));
    }
    if file.race_seconds == 0 || file.race_seconds > MAX_RACE_SECONDS {
        return invalid(format!("raceSeconds {} is out of range", file.race_seconds));
    }
    let seconds = file.race_seconds as usize;
    // Every racer needs at least one character per second in `bests`: checked before allocating
    // so that a small file cannot ask for a huge table.
    if file.racers.len().checked_mul(seconds).is_none_or(|cells| cells > file.bests.len()) {
        return invalid(format!(
            "{} racers of {seconds} seconds need more than {} characters of bests",
            file.racers.len(),
            file.bests.len()
        ));
    }
    let mut values = Numbers::new(&file.values, "values");
    let mut bests = Numbers::new(&file.bests, "bests");
    let mut racers = Vec::with_capacity(file.racers.len());
    // The row of each racer of the file, `None` for those left out (no best at all).
    let mut row_of: Vec<Option<usize>> = Vec::with_capacity(file.racers.len());
    let mut rows: Vec<u32> = Vec::with_capacity(file.racers.len() * seconds);
    let (mut id, mut prev_first) = (0u64, 0i64);
    let mut palette: Vec<u32> = Vec::with_capacity(seconds);
    for (i, &delta) in file.racers.iter().enumerate() {
        if delta == 0 {
            return invalid(format!("racer #{i} is not after the previous one"));
        }
        id = id
            .checked_add(delta)
            .ok_or_else(|| HistoryError::Invalid(format!("racer #{i} overflows")))?;
        let n = values.next()?;
        if n == 0 || n > seconds as u64 {
            return invalid(format!("racer {id} has a palette of {n} values"));
        }
        palette.clear();
        let first = prev_first.saturating_add(unzigzag(values.next()?));
        if !(0..=i64::from(u32::MAX)).contains(&first) {
            return invalid(format!("racer {id} has a value of {first} hundredths"));
        }
        prev_first = first;
        palette.push(first as u32);
        let mut value = first;
        for _ in 1..n {
            let gap = values.next()?;
            value = value.saturating_add(i64::try_from(gap).unwrap_or(i64::MAX));
            if gap == 0 || value > i64::from(u32::MAX) {
                return invalid(format!("racer {id}'s palette is not increasing"));
            }
            palette.push(value as u32);
        }
        let row_start = rows.len();
        let mut index = 0i64;
        for _ in 0..seconds {
            index = index.saturating_add(unzigzag(bests.next()?));
            let centi =
                usize::try_from(index).ok().and_then(|i| palette.get(i)).ok_or_else(|| {
                    HistoryError::Invalid(format!("racer {id} has palette index {index}"))
                })?;
            rows.push(*centi);
        }
        if rows[row_start..].iter().any(|&v| v != NO_BEST) {
            row_of.push(Some(racers.len()));
            racers.push(id);
        } else {
            row_of.push(None);
            rows.truncate(row_start);
        }
    }
    if !values.done() || !bests.done() {
        return invalid("values or bests run past the last racer".to_string());
    }
    let mut real_bike = BitVec::from_elem(rows.len(), false);
    if header.version >= 3 {
        read_runs(&file.real_bike, row_of.len(), seconds, |position, run| {
            let first = row_of[position].map(|row| row * seconds);
            match first.filter(|&first| {
                rows[first + run.start..first + run.end].iter().all(|&v| v != NO_BEST)
            }) {
                Some(first) => {
                    run.for_each(|s| real_bike.set(first + s, true));
                    Ok(())
                }
                None => Err(HistoryError::Invalid(format!(
                    "realBike marks a second of racer #{position} with no best"
                ))),
            }
        })?;
    }
    Ok(Flat {
        class_id: file.class_id,
        race_seconds: file.race_seconds,
        racers,
        bests: rows,
        real_bike,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Gzips with another encoder than ours (flate2's defaults), as a foreign file would be.
    pub(in crate::history) fn gz(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// Five seconds of three racers of class 3, with a tie at second 1.
    pub(in crate::history) fn sample() -> ClassBests {
        let mut b = ClassBests::new(3, 5);
        b.improve(42, 1, 13225);
        b.improve(42, 2, 13000);
        b.improve(7, 1, 14000);
        b.improve(7, 5, 9000);
        b.improve(1000, 1, 13225);
        b
    }

    /// Any bests of up to 500 racers and 19 seconds, some ridden on a real bike (outputs from a
    /// small range, so that ties between the two kinds of ride happen).
    pub(in crate::history) fn arb_bests() -> impl Strategy<Value = ClassBests> {
        let entry = (1u64..500, 1u32..20, prop_oneof![1u32..60_000, 1u32..4], any::<bool>());
        (1u8..=6, 1u32..20, prop::collection::vec(entry, 0..200)).prop_map(
            |(class, seconds, entries)| {
                let mut b = ClassBests::new(class, seconds);
                for (racer, second, centi, real_bike) in entries {
                    b.improve_ridden(racer, second, centi, real_bike);
                }
                b
            },
        )
    }

    /// [`sample`] as version 2 wrote it (before real-bike marks), byte for byte.
    const SAMPLE_V2: &str = r#"{"format":"alleycat-history","version":2,"classId":3,"raceSeconds":5,"racers":[7,35,958],"values":"&#w$*$vY(&#w$U|v$X%#w$XK","bests":"'&##%'$$##%$###"}"#;

    #[test]
    fn a_version_2_file_still_reads_with_no_real_bike_marks() {
        let b = ClassBests::decode(&gz(SAMPLE_V2.as_bytes())).unwrap();
        assert_eq!(b, sample());
        let h = decode(&gz(SAMPLE_V2.as_bytes())).unwrap();
        assert_eq!(h, History::from_bests(&sample()));
        assert_eq!(h.best(42, 1), Some(13225));
        assert!(!h.real_bike(42, 1));
        // A `realBike` field in a version-2 file is not version 2's: it is not read.
        let stray = SAMPLE_V2.replace("}", r#","realBike":"$$$$"}"#);
        assert!(!decode(&gz(stray.as_bytes())).unwrap().real_bike(42, 2));
    }

    #[test]
    fn a_real_bike_mark_on_a_second_without_a_best_is_refused() {
        // Racer 42 (position 1) has no best at second 3.
        let mut b = sample();
        b.improve_ridden(42, 2, 13000, true);
        let json = String::from_utf8(b.to_json()).unwrap();
        assert!(json.ends_with(r#""realBike":"$$$$"}"#), "{json}");
        let ok = decode(&gz(json.as_bytes())).unwrap();
        assert!(ok.real_bike(42, 2) && !ok.real_bike(42, 1) && !ok.real_bike(7, 2));
        let at_second_3 = json.replace(r#""realBike":"$$$$""#, r#""realBike":"$$%$""#);
        assert!(matches!(decode(&gz(at_second_3.as_bytes())), Err(HistoryError::Invalid(_))));
        let past_the_end = json.replace(r#""realBike":"$$$$""#, r#""realBike":"$$$(""#);
        assert!(matches!(decode(&gz(past_the_end.as_bytes())), Err(HistoryError::Invalid(_))));
    }

    #[test]
    fn a_wrong_format_or_version_is_reported_as_such() {
        let json = String::from_utf8(sample().to_json()).unwrap();
        let v4 = json.replace("\"version\":3", "\"version\":4");
        assert_eq!(decode(&gz(v4.as_bytes())), Err(HistoryError::UnsupportedVersion(4)));
        let v1 = json.replace("\"version\":3", "\"version\":1");
        assert_eq!(decode(&gz(v1.as_bytes())), Err(HistoryError::UnsupportedVersion(1)));
        let other = json.replace("alleycat-history", "other");
        assert!(matches!(decode(&gz(other.as_bytes())), Err(HistoryError::WrongFormat(_))));
        let short = json.replace("[7,35,958]", "[7,35]");
        assert!(matches!(decode(&gz(short.as_bytes())), Err(HistoryError::Invalid(_))));
        let huge = json.replace("\"raceSeconds\":5", "\"raceSeconds\":86400");
        assert!(matches!(decode(&gz(huge.as_bytes())), Err(HistoryError::Invalid(_))));
        let long = json.replace("[7,35,958]", "[7,35,958,1]");
        assert!(matches!(decode(&gz(long.as_bytes())), Err(HistoryError::Invalid(_))));
        let unsorted = json.replace("[7,35,958]", "[7,0,958]");
        assert!(matches!(decode(&gz(unsorted.as_bytes())), Err(HistoryError::Invalid(_))));
        let out_of_palette = json.replace("\"bests\":\"'", "\"bests\":\"(");
        assert!(matches!(decode(&gz(out_of_palette.as_bytes())), Err(HistoryError::Invalid(_))));
        let not_a_digit = json.replace("\"bests\":\"'", "\"bests\":\" ");
        assert!(matches!(decode(&gz(not_a_digit.as_bytes())), Err(HistoryError::Invalid(_))));
    }

    proptest! {
        #[test]
        fn encode_then_decode_round_trips(bests in arb_bests()) {
            let json = bests.to_json();
            let back = ClassBests::from_json(&gunzip(&gz(&json), MAX_DECODED_BYTES).unwrap()).unwrap();
            prop_assert_eq!(&back, &bests);
            let h = decode(&gz(&json)).unwrap();
            prop_assert_eq!(&h, &History::from_bests(&bests));
            for (racer, row) in bests.iter() {
                for (i, &centi) in row.iter().enumerate() {
                    let second = i as u32 + 1;
                    prop_assert_eq!(h.best(racer, second), (centi != NO_BEST).then_some(centi));
                    prop_assert_eq!(h.real_bike(racer, second), bests.real_bike(racer, second));
                    prop_assert!(centi != NO_BEST || !bests.real_bike(racer, second));
                    if centi != NO_BEST {
                        // The racer's own best ranks at or above its own place.
                        let place = h.rank(second, centi);
                        let higher = bests.iter().filter(|(_, r)| r[i] > centi).count();
                        prop_assert_eq!(place, higher + 1);
                    }
                }
            }
        }

        #[test]
        fn decode_never_panics_on_corrupted_files(
            bests in arb_bests(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        ) {
            let mut file = gz(&bests.to_json());
            for (at, byte) in flips {
                let i = at.index(file.len());
                file[i] = byte;
            }
            let _ = decode(&file);
        }

        #[test]
        fn from_json_never_panics_on_arbitrary_fields(
            racers in prop::collection::vec(any::<u64>(), 0..5),
            values in "[#-~]{0,40}",
            bests in "[#-~]{0,80}",
            real_bike in "[#-~]{0,20}",
            seconds in any::<u32>(),
        ) {
            let json = serde_json::json!({"format": FORMAT, "version": VERSION, "classId": 1,
                "raceSeconds": seconds, "racers": racers, "values": values, "bests": bests,
                "realBike": real_bike});
            let _ = ClassBests::from_json(json.to_string().as_bytes());
        }
    }
}
