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
//! - [`index`]: [`History`], the decoded file indexed for ranking, and [`decode`].
//!
//! # Format (version 2)
//!
//! A single-member gzip file (RFC 1952, header mtime 0, no name) holding one JSON object:
//!
//! ```json
//! {"format":"alleycat-history","version":2,"classId":3,"raceSeconds":300,
//!  "racers":[7,35,958],"values":"$@Q3…","bests":"#$$%…"}
//! ```
//!
//! - `format` is always `"alleycat-history"`; `version` is 2. A decoder refuses other versions
//!   ([`HistoryError::UnsupportedVersion`]).
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
//! - Zigzag: `v ≥ 0` is `2v`, `v < 0` is `-2v - 1`.
//! - Digit code: the 91 characters `#` (0x23) to `~` (0x7e) except `\` are digits 0 to 90, in
//!   that order (none needs escaping in JSON). A number below 81 is one digit. A larger number
//!   `z` is the marker digit `80 + k` followed by the `k` base-91 digits (most significant first)
//!   of `z - 81`, for the smallest `k` in 1 to 10.
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

use serde::{Deserialize, Serialize};

use crate::{class::Class, ClassId};
use digits::{unzigzag, Numbers};

pub use bests::ClassBests;
pub use gzip::{gunzip, is_gzip, GunzipStream, GzipError};
pub use index::{decode, decode_json, History, RankedBest};

/// The `format` field of every history file.
pub const FORMAT: &str = "alleycat-history";
/// The format version this module writes and reads.
pub const VERSION: u32 = 2;
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
    #[error("unsupported history version {0} (this decoder reads {VERSION})")]
    UnsupportedVersion(u32),
    /// A field is out of its bounds or inconsistent with another.
    #[error("invalid history: {0}")]
    Invalid(String),
}

/// The JSON object of a version-2 file (see the module docs), as written.
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
}

/// The JSON object of a version-2 file, as read (strings borrowed when they need no unescaping).
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
}

/// Only the header fields, read first so that a wrong format or version is reported as such.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    format: String,
    version: u32,
}

/// A version-2 file read into flat rows (racers with at least one best only).
struct Flat {
    class_id: ClassId,
    race_seconds: u32,
    /// Racer ids, increasing.
    racers: Vec<u64>,
    /// Row-major: `racers.len() × race_seconds`.
    bests: Vec<u32>,
}

/// Reads version-2 JSON (not gzipped) into flat rows, checking every bound.
fn parse_json(json: &[u8]) -> Result<Flat, HistoryError> {
    let header: Header =
        serde_json::from_slice(json).map_err(|e| HistoryError::Json(e.to_string()))?;
    if header.format != FORMAT {
        return Err(HistoryError::WrongFormat(header.format));
    }
    if header.version != VERSION {
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
            racers.push(id);
        } else {
            rows.truncate(row_start);
        }
    }
    if !values.done() || !bests.done() {
        return invalid("values or bests run past the last racer".to_string());
    }
    Ok(Flat { class_id: file.class_id, race_seconds: file.race_seconds, racers, bests: rows })
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

    /// Any bests of up to 500 racers and 19 seconds.
    pub(in crate::history) fn arb_bests() -> impl Strategy<Value = ClassBests> {
        (1u8..=6, 1u32..20, prop::collection::vec((1u64..500, 1u32..20, 1u32..60_000), 0..200))
            .prop_map(|(class, seconds, entries)| {
                let mut b = ClassBests::new(class, seconds);
                for (racer, second, centi) in entries {
                    b.improve(racer, second, centi);
                }
                b
            })
    }

    #[test]
    fn a_wrong_format_or_version_is_reported_as_such() {
        let json = String::from_utf8(sample().to_json()).unwrap();
        let v3 = json.replace("\"version\":2", "\"version\":3");
        assert_eq!(decode(&gz(v3.as_bytes())), Err(HistoryError::UnsupportedVersion(3)));
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
            for (racer, row) in bests.iter() {
                for (i, &centi) in row.iter().enumerate() {
                    let second = i as u32 + 1;
                    prop_assert_eq!(h.best(racer, second), (centi != NO_BEST).then_some(centi));
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
            seconds in any::<u32>(),
        ) {
            let json = serde_json::json!({"format": FORMAT, "version": VERSION, "classId": 1,
                "raceSeconds": seconds, "racers": racers, "values": values, "bests": bests});
            let _ = ClassBests::from_json(json.to_string().as_bytes());
        }
    }
}
