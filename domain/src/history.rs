//! The history file: every racer's personal best at each second of the race, for one class.
//!
//! The merge writes one file per class (`history/class-<id>.gz`) and the browser downloads it,
//! gunzips it with [`gunzip`] (miniz_oxide underneath, so it runs in wasm32) and decodes it into a
//! [`History`] that ranks one second against every racer in a binary search.
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
//!   decimals); 0 means "no best at this second".
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

use std::{collections::BTreeMap, sync::OnceLock};

use serde::{Deserialize, Serialize};

use crate::{class::Class, ClassId};

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

/// An output as hundredths (two decimals), the unit of every value in a history file. Negative,
/// non-finite or absurdly large outputs are clamped into `1..=u32::MAX` so that a real output never
/// reads as [`NO_BEST`].
pub fn to_centi(output: f64) -> u32 {
    if !output.is_finite() {
        return 1;
    }
    (output * 100.0).round().clamp(1.0, f64::from(u32::MAX)) as u32
}

/// Hundredths back to an output.
pub fn from_centi(centi: u32) -> f64 {
    f64::from(centi) / 100.0
}

/// Why a history file (or a gzip stream) could not be read. Each variant says what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistoryError {
    /// The bytes end before a complete gzip header and trailer (at least 18 bytes).
    #[error("gzip data is truncated ({len} bytes)")]
    Truncated {
        /// How many bytes there were.
        len: usize,
    },
    /// The first two bytes are not gzip's magic `1f 8b`.
    #[error("not gzip data (magic {found:02x?})")]
    NotGzip {
        /// The first bytes found.
        found: [u8; 2],
    },
    /// The compression method is not deflate (8).
    #[error("unsupported gzip compression method {0}")]
    UnsupportedMethod(u8),
    /// Reserved gzip flag bits are set, or an optional header field runs past the data.
    #[error("malformed gzip header: {0}")]
    BadHeader(&'static str),
    /// The header CRC16 (FHCRC) does not match.
    #[error("gzip header checksum mismatch")]
    HeaderChecksum,
    /// The uncompressed size would exceed the limit.
    #[error("uncompressed size {size} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The size announced by the trailer, or reached while inflating.
        size: u64,
        /// The limit.
        limit: usize,
    },
    /// The deflate stream is corrupt.
    #[error("corrupt deflate data: {0}")]
    Inflate(String),
    /// The trailer's CRC32 does not match the inflated data.
    #[error("gzip CRC32 mismatch: trailer {expected:08x}, data {actual:08x}")]
    Crc {
        /// The trailer's CRC32.
        expected: u32,
        /// The inflated data's CRC32.
        actual: u32,
    },
    /// The trailer's ISIZE does not match the inflated length.
    #[error("gzip ISIZE mismatch: trailer {expected}, data {actual}")]
    Size {
        /// The trailer's ISIZE.
        expected: u32,
        /// The inflated length modulo 2^32.
        actual: u32,
    },
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

// ---------------------------------------------------------------------------------------------
// gunzip

const FTEXT_IGNORED: u8 = 0x01;
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const FRESERVED: u8 = !(FTEXT_IGNORED | FHCRC | FEXTRA | FNAME | FCOMMENT);

/// Whether `bytes` start with gzip's magic number.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Inflates a single-member gzip file (RFC 1952), checking the header, the trailer's CRC32 and
/// ISIZE, and refusing to produce more than `limit` bytes. Never panics on any input.
pub fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>, HistoryError> {
    const TRAILER: usize = 8;
    if data.len() < 10 + TRAILER {
        return Err(HistoryError::Truncated { len: data.len() });
    }
    if !is_gzip(data) {
        return Err(HistoryError::NotGzip { found: [data[0], data[1]] });
    }
    if data[2] != 8 {
        return Err(HistoryError::UnsupportedMethod(data[2]));
    }
    let flags = data[3];
    if flags & FRESERVED != 0 {
        return Err(HistoryError::BadHeader("reserved flag bits set"));
    }
    let body_end = data.len() - TRAILER;
    let mut pos = 10;
    if flags & FEXTRA != 0 {
        let xlen = data
            .get(pos..pos + 2)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
            .ok_or(HistoryError::BadHeader("FEXTRA length missing"))?;
        pos += 2 + xlen;
        if pos > body_end {
            return Err(HistoryError::BadHeader("FEXTRA runs past the data"));
        }
    }
    for (flag, what) in [(FNAME, "FNAME"), (FCOMMENT, "FCOMMENT")] {
        if flags & flag != 0 {
            let end = data[pos..body_end].iter().position(|&b| b == 0).ok_or(
                HistoryError::BadHeader(if what == "FNAME" {
                    "FNAME is not terminated"
                } else {
                    "FCOMMENT is not terminated"
                }),
            )?;
            pos += end + 1;
        }
    }
    if flags & FHCRC != 0 {
        let stored = data
            .get(pos..pos + 2)
            .filter(|_| pos + 2 <= body_end)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .ok_or(HistoryError::BadHeader("FHCRC missing"))?;
        if crc32fast::hash(&data[..pos]) as u16 != stored {
            return Err(HistoryError::HeaderChecksum);
        }
        pos += 2;
    }
    let trailer = &data[body_end..];
    let expected_crc = u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]);
    let expected_size = u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]);
    if expected_size as usize > limit {
        return Err(HistoryError::TooLarge { size: u64::from(expected_size), limit });
    }
    let out = miniz_oxide::inflate::decompress_to_vec_with_limit(&data[pos..body_end], limit)
        .map_err(|e| match e.status {
            miniz_oxide::inflate::TINFLStatus::HasMoreOutput => {
                HistoryError::TooLarge { size: limit as u64 + 1, limit }
            }
            status => HistoryError::Inflate(format!("{status:?}")),
        })?;
    let actual_size = out.len() as u32;
    if actual_size != expected_size {
        return Err(HistoryError::Size { expected: expected_size, actual: actual_size });
    }
    let actual_crc = crc32fast::hash(&out);
    if actual_crc != expected_crc {
        return Err(HistoryError::Crc { expected: expected_crc, actual: actual_crc });
    }
    Ok(out)
}

/// A gzip download inflated while it arrives, so that decompression overlaps the network: push
/// each chunk as it comes, then [`GunzipStream::finish`] checks the trailer (CRC32 and ISIZE)
/// and returns the data, exactly as [`gunzip`] would have for the whole file.
///
/// The fast path is the header every history file has: the 10 fixed bytes with no optional
/// fields. A file with optional header fields (written by another gzip) is kept whole and given
/// to [`gunzip`] at the end, so every file `gunzip` reads is read, with the same checks.
pub struct GunzipStream {
    limit: usize,
    /// Bytes received before inflating starts (the header), or all of them on the slow path.
    pending: Vec<u8>,
    /// Inflating: its state (`None` before the header, and on the slow path).
    inflate: Option<Box<miniz_oxide::inflate::stream::InflateState>>,
    slow_path: bool,
    out: Vec<u8>,
    crc: crc32fast::Hasher,
    /// The bytes after the end of the deflate data: the trailer.
    trailer: Vec<u8>,
    ended: bool,
    received: usize,
}

impl std::fmt::Debug for GunzipStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GunzipStream")
            .field("received", &self.received)
            .field("inflated", &self.out.len())
            .field("ended", &self.ended)
            .field("slow_path", &self.slow_path)
            .finish_non_exhaustive()
    }
}

impl GunzipStream {
    /// A stream producing at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            limit,
            pending: Vec::new(),
            inflate: None,
            slow_path: false,
            out: Vec::new(),
            crc: crc32fast::Hasher::new(),
            trailer: Vec::new(),
            ended: false,
            received: 0,
        }
    }

    /// Takes the next chunk of the file.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), HistoryError> {
        self.received += chunk.len();
        if self.ended {
            self.trailer.extend_from_slice(chunk);
            return Ok(());
        }
        if self.inflate.is_none() {
            self.pending.extend_from_slice(chunk);
            if self.slow_path || self.pending.len() < 10 {
                return Ok(());
            }
            if !is_gzip(&self.pending) || self.pending[2] != 8 || self.pending[3] != 0 {
                // Not the fast path's header: gunzip reads (or refuses) the whole file.
                self.slow_path = true;
                return Ok(());
            }
            self.inflate = Some(miniz_oxide::inflate::stream::InflateState::new_boxed(
                miniz_oxide::DataFormat::Raw,
            ));
            let body = self.pending.split_off(10);
            return self.inflate_some(&body);
        }
        self.inflate_some(chunk)
    }

    /// Inflates `input` into the output, as far as it goes; the state keeps what it needs of
    /// a block cut off at the chunk's end.
    fn inflate_some(&mut self, mut input: &[u8]) -> Result<(), HistoryError> {
        use miniz_oxide::{inflate::stream::inflate, MZError, MZFlush, MZStatus};
        const ROOM: usize = 64 * 1024;
        let Some(state) = self.inflate.as_mut() else { return Ok(()) };
        // Until the input is used up and the output was not filled (a full output may leave
        // more inflated data waiting in the state).
        let mut output_was_full = false;
        while !input.is_empty() || output_was_full {
            let filled = self.out.len();
            if filled > self.limit {
                return Err(HistoryError::TooLarge { size: filled as u64, limit: self.limit });
            }
            let room = ROOM.min(self.limit + 1 - filled);
            self.out.resize(filled + room, 0);
            let result = inflate(state, input, &mut self.out[filled..], MZFlush::None);
            self.out.truncate(filled + result.bytes_written);
            self.crc.update(&self.out[filled..]);
            input = &input[result.bytes_consumed..];
            output_was_full = result.bytes_written == room;
            match result.status {
                Ok(MZStatus::StreamEnd) => {
                    self.ended = true;
                    self.trailer.extend_from_slice(input);
                    return Ok(());
                }
                // Buf: no progress possible until more input arrives.
                Ok(_) | Err(MZError::Buf) => {
                    if result.bytes_consumed == 0 && result.bytes_written == 0 {
                        return Ok(());
                    }
                }
                Err(error) => return Err(HistoryError::Inflate(format!("{error:?}"))),
            }
        }
        if self.out.len() > self.limit {
            return Err(HistoryError::TooLarge { size: self.out.len() as u64, limit: self.limit });
        }
        Ok(())
    }

    /// The whole file has arrived: checks the trailer and returns the inflated data.
    pub fn finish(self) -> Result<Vec<u8>, HistoryError> {
        if self.inflate.is_none() {
            return gunzip(&self.pending, self.limit);
        }
        if self.received < 18 {
            return Err(HistoryError::Truncated { len: self.received });
        }
        if !self.ended {
            return Err(HistoryError::Inflate("the deflate data ends early".into()));
        }
        let [c0, c1, c2, c3, s0, s1, s2, s3] = self.trailer[..] else {
            return Err(HistoryError::Inflate(format!(
                "{} bytes after the deflate data, not the 8 of the trailer",
                self.trailer.len()
            )));
        };
        let (expected_crc, expected_size) =
            (u32::from_le_bytes([c0, c1, c2, c3]), u32::from_le_bytes([s0, s1, s2, s3]));
        let actual_size = self.out.len() as u32;
        if actual_size != expected_size {
            return Err(HistoryError::Size { expected: expected_size, actual: actual_size });
        }
        let actual_crc = self.crc.finalize();
        if actual_crc != expected_crc {
            return Err(HistoryError::Crc { expected: expected_crc, actual: actual_crc });
        }
        Ok(self.out)
    }
}

/// Gzips `data` deterministically (no name, mtime 0), as every history file is written.
#[cfg(feature = "encode")]
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::with_capacity(data.len() / 4), flate2::Compression::new(GZIP_LEVEL));
    // Writing to a Vec cannot fail.
    encoder.write_all(data).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// The gzip level of history files. With the zlib-rs backend the merge uses, level 2 comes
/// within 1 % of the smallest output (level 6) in half the time, and the merge re-encodes a
/// changed class on every commit.
#[cfg(feature = "encode")]
pub const GZIP_LEVEL: u32 = 2;

// ---------------------------------------------------------------------------------------------
// The bests themselves

/// One class's personal bests: for each racer, the best output (hundredths) at each second.
///
/// This is the merge's working model and the encoder's input. Improving is a max, so folding
/// records in any order, any number of times, gives the same bests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassBests {
    class_id: ClassId,
    race_seconds: u32,
    racers: BTreeMap<u64, Vec<u32>>,
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

/// The digit code's alphabet: `#` to `~` without `\\` (see the module docs).
const DIGITS: usize = 91;
/// Numbers below this are one digit.
const ONE_DIGIT: u64 = 81;

fn digit_char(d: usize) -> char {
    let b = 0x23 + d as u8;
    (if b >= b'\\' { b + 1 } else { b }) as char
}

fn digit_value(c: u8) -> Option<u64> {
    match c {
        0x23..=0x5b => Some(u64::from(c - 0x23)),
        0x5d..=0x7e => Some(u64::from(c - 0x24)),
        _ => None,
    }
}

fn push_number(out: &mut String, z: u64) {
    if z < ONE_DIGIT {
        out.push(digit_char(z as usize));
        return;
    }
    let mut rest = z - ONE_DIGIT;
    let mut digits = [0usize; 10];
    let mut k = 0;
    loop {
        digits[k] = (rest % DIGITS as u64) as usize;
        rest /= DIGITS as u64;
        k += 1;
        if rest == 0 {
            break;
        }
    }
    out.push(digit_char(80 + k));
    for &d in digits[..k].iter().rev() {
        out.push(digit_char(d));
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// Reads numbers in the digit code, checking every character and overflow.
struct Numbers<'a> {
    bytes: &'a [u8],
    pos: usize,
    field: &'static str,
}

impl<'a> Numbers<'a> {
    fn new(s: &'a str, field: &'static str) -> Self {
        Self { bytes: s.as_bytes(), pos: 0, field }
    }

    fn invalid(&self, what: &str) -> HistoryError {
        HistoryError::Invalid(format!("{} at character {}: {what}", self.field, self.pos))
    }

    fn next(&mut self) -> Result<u64, HistoryError> {
        let first = *self.bytes.get(self.pos).ok_or_else(|| self.invalid("ends too soon"))?;
        let d = digit_value(first).ok_or_else(|| self.invalid("not a digit"))?;
        self.pos += 1;
        if d < ONE_DIGIT {
            return Ok(d);
        }
        let k = (d - 80) as usize;
        let mut z: u64 = 0;
        for _ in 0..k {
            let c = *self.bytes.get(self.pos).ok_or_else(|| self.invalid("ends too soon"))?;
            let d = digit_value(c).ok_or_else(|| self.invalid("not a digit"))?;
            z = z
                .checked_mul(DIGITS as u64)
                .and_then(|z| z.checked_add(d))
                .ok_or_else(|| self.invalid("number too large"))?;
            self.pos += 1;
        }
        z.checked_add(ONE_DIGIT).ok_or_else(|| self.invalid("number too large"))
    }

    fn done(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

/// Only the header fields, read first so that a wrong format or version is reported as such.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Header {
    format: String,
    version: u32,
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
        self.racers.iter().map(|(id, row)| (*id, row.as_slice()))
    }

    /// The best of `racer` at `second` in hundredths, if any.
    pub fn get(&self, racer: u64, second: u32) -> Option<u32> {
        let row = self.racers.get(&racer)?;
        let centi = *row.get(usize::try_from(second).ok()?.checked_sub(1)?)?;
        (centi != NO_BEST).then_some(centi)
    }

    /// Records `centi` for `racer` at `second` if it beats the racer's best there; returns whether
    /// anything changed. Racer 0, seconds outside the race and [`NO_BEST`] change nothing.
    pub fn improve(&mut self, racer: u64, second: u32, centi: u32) -> bool {
        if racer == 0 || second == 0 || second > self.race_seconds || centi == NO_BEST {
            return false;
        }
        let seconds = self.race_seconds as usize;
        let row = self.racers.entry(racer).or_insert_with(|| vec![NO_BEST; seconds]);
        let slot = &mut row[second as usize - 1];
        if centi > *slot {
            *slot = centi;
            true
        } else {
            false
        }
    }

    /// Folds every best of `other` (same class or not: its seconds beyond this race are ignored)
    /// into these; returns whether anything changed.
    pub fn merge(&mut self, other: &ClassBests) -> bool {
        let mut changed = false;
        for (racer, row) in other.iter() {
            for (i, &centi) in row.iter().enumerate() {
                changed |= self.improve(racer, i as u32 + 1, centi);
            }
        }
        changed
    }

    /// The version-2 JSON (not gzipped), deterministic.
    pub fn to_json(&self) -> Vec<u8> {
        let seconds = self.race_seconds as usize;
        let mut racers = Vec::with_capacity(self.racers.len());
        let mut values = String::with_capacity(self.racers.len() * 64);
        let mut bests = String::with_capacity(self.racers.len() * seconds);
        let (mut prev_id, mut prev_first) = (0u64, 0i64);
        let mut palette: Vec<u32> = Vec::with_capacity(seconds);
        for (&id, row) in &self.racers {
            racers.push(id - prev_id);
            prev_id = id;
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
        };
        serde_json::to_vec(&file).expect("serialising integers and strings cannot fail")
    }

    /// Reads version-2 JSON (not gzipped), checking every bound.
    pub fn from_json(json: &[u8]) -> Result<Self, HistoryError> {
        let flat = parse_json(json)?;
        let seconds = flat.race_seconds as usize;
        let racers = flat
            .racers
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, flat.bests[i * seconds..(i + 1) * seconds].to_vec()))
            .collect();
        Ok(Self { class_id: flat.class_id, race_seconds: flat.race_seconds, racers })
    }

    /// The gzipped version-2 file, deterministic.
    #[cfg(feature = "encode")]
    pub fn encode(&self) -> Vec<u8> {
        gzip(&self.to_json())
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
    /// decimals as JavaScript prints them, seconds and racers in numeric order.
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
                let centi = row[second as usize - 1];
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

/// A version-2 file read into flat rows (racers with at least one best only).
struct Flat {
    class_id: ClassId,
    race_seconds: u32,
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

// ---------------------------------------------------------------------------------------------
// The decoded, indexed history the browser ranks against

/// A decoded history file, indexed for ranking: per second, every racer with a best there,
/// ordered from the highest best to the lowest, so that the rank of any output is a binary
/// search.
///
/// Each second's order is built the first time that second is asked for (one radix sort of its
/// column, well under a millisecond for thousands of racers), or ahead of time with
/// [`History::prepare`]: a racer needs one second at a time, so a history is ready to rank as soon
/// as it is parsed, instead of after sorting every second of the race up front.
///
/// Memory: two `u32` per racer and second once every second is indexed (the bests, and the
/// per-second order), about 16 MB for 6,667 racers × 300 seconds.
#[derive(Debug, Clone)]
pub struct History {
    class_id: ClassId,
    race_seconds: u32,
    /// Racer ids, increasing.
    racers: Vec<u64>,
    /// Row-major bests: `racers.len() × race_seconds`, [`NO_BEST`] where none.
    bests: Vec<u32>,
    /// For second `s` (1-based), once built, `orders[s-1]` holds the indices (into `racers`) of
    /// the racers with a best at `s`, highest best first (ties by racer id).
    orders: Vec<OnceLock<Vec<u32>>>,
}

/// Two histories are equal when they hold the same bests, whichever seconds each has indexed.
impl PartialEq for History {
    fn eq(&self, other: &Self) -> bool {
        (self.class_id, self.race_seconds, &self.racers, &self.bests)
            == (other.class_id, other.race_seconds, &other.racers, &other.bests)
    }
}

impl Eq for History {}

/// One row of a per-second ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RankedBest {
    /// 1-based place (ties share the racer-id order).
    pub place: usize,
    /// The racer.
    pub racer_id: u64,
    /// Their best at that second, hundredths.
    pub centi: u32,
}

/// Gunzips and parses a history file: what the browser does with the download. Each second is
/// indexed when first ranked (see [`History`]).
pub fn decode(gz: &[u8]) -> Result<History, HistoryError> {
    decode_json(&gunzip(gz, MAX_DECODED_BYTES)?)
}

/// Parses a history file already gunzipped (by a [`GunzipStream`]).
pub fn decode_json(json: &[u8]) -> Result<History, HistoryError> {
    Ok(History::index(parse_json(json)?))
}

/// Sorts `keys` by their high 32 bits, stably (LSD radix, 11-bit digits; a pass where every key
/// has the same digit is skipped).
fn radix_sort_high32(keys: &mut Vec<u64>, spare: &mut Vec<u64>) {
    spare.clear();
    spare.resize(keys.len(), 0);
    for shift in [32u32, 43, 54] {
        let mut counts = [0usize; 2048];
        for &k in keys.iter() {
            counts[((k >> shift) & 2047) as usize] += 1;
        }
        if counts.contains(&keys.len()) {
            continue;
        }
        let mut sum = 0;
        for c in counts.iter_mut() {
            let here = *c;
            *c = sum;
            sum += here;
        }
        for &k in keys.iter() {
            let digit = ((k >> shift) & 2047) as usize;
            spare[counts[digit]] = k;
            counts[digit] += 1;
        }
        std::mem::swap(keys, spare);
    }
}

impl History {
    /// Indexes `bests` for ranking.
    pub fn from_bests(bests: &ClassBests) -> Self {
        let mut flat = Flat {
            class_id: bests.class_id,
            race_seconds: bests.race_seconds,
            racers: Vec::with_capacity(bests.racers.len()),
            bests: Vec::with_capacity(bests.racers.len() * bests.race_seconds as usize),
        };
        for (&id, row) in &bests.racers {
            flat.racers.push(id);
            flat.bests.extend_from_slice(row);
        }
        Self::index(flat)
    }

    fn index(flat: Flat) -> Self {
        Self {
            class_id: flat.class_id,
            race_seconds: flat.race_seconds,
            racers: flat.racers,
            bests: flat.bests,
            orders: (0..flat.race_seconds).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Indexes `second` now if it is not yet, so that ranking it later costs only the binary
    /// search (the app prepares the next second after each step).
    pub fn prepare(&self, second: u32) {
        let _ = self.column(second);
    }

    /// Second `s`'s (0-based) racers, highest best first: a stable sort on `!best` keeps racer
    /// order among ties.
    fn sort_column(&self, s: usize) -> Vec<u32> {
        let seconds = self.race_seconds as usize;
        let mut keys: Vec<u64> = self
            .bests
            .iter()
            .skip(s)
            .step_by(seconds)
            .enumerate()
            .filter(|&(_, &centi)| centi != NO_BEST)
            .map(|(i, &centi)| (u64::from(!centi) << 32) | i as u64)
            .collect();
        let mut spare = Vec::new();
        radix_sort_high32(&mut keys, &mut spare);
        keys.into_iter().map(|key| key as u32).collect()
    }

    /// The class.
    pub fn class_id(&self) -> ClassId {
        self.class_id
    }

    /// The race length.
    pub fn race_seconds(&self) -> u32 {
        self.race_seconds
    }

    /// How many racers the history knows.
    pub fn racer_count(&self) -> usize {
        self.racers.len()
    }

    /// Second `second`'s (1-based) index and its order, built on first use; `None` outside
    /// the race.
    fn column(&self, second: u32) -> Option<(usize, &[u32])> {
        let s = usize::try_from(second).ok()?.checked_sub(1)?;
        let order = self.orders.get(s)?.get_or_init(|| self.sort_column(s));
        Some((s, order))
    }

    fn best_at(&self, index: u32, s: usize) -> u32 {
        self.bests[index as usize * self.race_seconds as usize + s]
    }

    /// `racer`'s best at `second`, hundredths.
    pub fn best(&self, racer: u64, second: u32) -> Option<u32> {
        let i = self.racers.binary_search(&racer).ok()?;
        let s = usize::try_from(second).ok()?.checked_sub(1)?;
        if s >= self.race_seconds as usize {
            return None;
        }
        let centi = self.best_at(i as u32, s);
        (centi != NO_BEST).then_some(centi)
    }

    /// `racer`'s bests, second 1 first, in hundredths ([`NO_BEST`] where none): the chart of
    /// their personal bests.
    pub fn row(&self, racer: u64) -> Option<&[u32]> {
        let i = self.racers.binary_search(&racer).ok()?;
        let seconds = self.race_seconds as usize;
        Some(&self.bests[i * seconds..(i + 1) * seconds])
    }

    /// How many racers have a best at `second`.
    pub fn field(&self, second: u32) -> usize {
        self.column(second).map_or(0, |(_, order)| order.len())
    }

    /// The place an output of `centi` hundredths takes at `second` among every best there:
    /// 1 + the number of bests strictly higher. A binary search.
    pub fn rank(&self, second: u32, centi: u32) -> usize {
        match self.column(second) {
            Some((s, order)) => order.partition_point(|&i| self.best_at(i, s) > centi) + 1,
            None => 1,
        }
    }

    /// The bests at `second` at places `places` (1-based, clamped to the field), highest first.
    pub fn ranked(
        &self,
        second: u32,
        places: std::ops::Range<usize>,
    ) -> impl Iterator<Item = RankedBest> + '_ {
        let (s, order) = self.column(second).unwrap_or((0, &[]));
        let len = order.len();
        let from = places.start.max(1).min(len + 1) - 1;
        let to = places.end.max(1).min(len + 1) - 1;
        (from..to.max(from)).map(move |k| {
            let i = order[k];
            RankedBest {
                place: k + 1,
                racer_id: self.racers[i as usize],
                centi: self.best_at(i, s),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn gz(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn encoded(bests: &ClassBests) -> Vec<u8> {
        gz(&bests.to_json())
    }

    fn sample() -> ClassBests {
        let mut b = ClassBests::new(3, 5);
        b.improve(42, 1, 13225);
        b.improve(42, 2, 13000);
        b.improve(7, 1, 14000);
        b.improve(7, 5, 9000);
        b.improve(1000, 1, 13225);
        b
    }

    #[test]
    fn a_small_history_round_trips_and_ranks() {
        let h = decode(&encoded(&sample())).unwrap();
        assert_eq!(h.class_id(), 3);
        assert_eq!(h.racer_count(), 3);
        assert_eq!(h.best(42, 1), Some(13225));
        assert_eq!(h.best(42, 3), None);
        assert_eq!(h.best(5, 1), None);
        assert_eq!(h.row(42), Some(&[13225, 13000, 0, 0, 0][..]));
        assert_eq!(h.row(5), None);
        assert_eq!(h.field(1), 3);
        assert_eq!(h.rank(1, 15000), 1);
        assert_eq!(h.rank(1, 14000), 1);
        assert_eq!(h.rank(1, 13999), 2);
        assert_eq!(h.rank(1, 13225), 2);
        assert_eq!(h.rank(1, 100), 4);
        let top: Vec<_> = h.ranked(1, 1..10).map(|r| (r.place, r.racer_id, r.centi)).collect();
        assert_eq!(top, vec![(1, 7, 14000), (2, 42, 13225), (3, 1000, 13225)]);
        assert_eq!(h.ranked(1, 2..3).count(), 1);
        assert_eq!(h.rank(0, 1), 1);
        assert_eq!(h.rank(6, 1), 1);
    }

    #[test]
    fn the_json_is_encoded_as_documented() {
        let json = String::from_utf8(sample().to_json()).unwrap();
        assert!(json.starts_with(
            r#"{"format":"alleycat-history","version":2,"classId":3,"raceSeconds":5,"racers":[7,35,958],"values":"&#"#
        ));
        // Racer 7 rides [140.00, -, -, -, 90.00]: palette [0, 9000, 14000], indices 2 0 0 0 1,
        // steps +2 -2 0 0 +1, zigzag 4 3 0 0 2.
        assert!(json.contains(r#""bests":"'&##%"#), "{json}");
    }

    #[test]
    fn the_digit_code_uses_the_documented_alphabet_and_round_trips() {
        let mut s = String::new();
        for z in [0, 56, 57, 80, 81, 81 + 90, 81 + 91, u64::MAX] {
            s.clear();
            push_number(&mut s, z);
            assert!(s.bytes().all(|b| (0x23..=0x7e).contains(&b) && b != b'\\'), "{s}");
            let mut numbers = Numbers::new(&s, "test");
            assert_eq!(numbers.next().unwrap(), z);
            assert!(numbers.done());
        }
        let code = |z| {
            let mut s = String::new();
            push_number(&mut s, z);
            s
        };
        assert_eq!(code(0), "#");
        assert_eq!(code(56), "[");
        assert_eq!(code(57), "]");
        assert_eq!(code(80), "t");
        assert_eq!(code(81), "u#");
        assert_eq!(code(81 + 91), "v$#");
        for v in [0i64, 1, -1, 12345, -12345, i64::MAX, i64::MIN] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert_eq!((zigzag(0), zigzag(-1), zigzag(1), zigzag(-2)), (0, 1, 2, 3));
        assert!(Numbers::new("\\", "test").next().is_err());
        assert!(Numbers::new("v", "test").next().is_err());
        assert!(Numbers::new("~~~~~~~~~~~~", "test").next().is_err());
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
    fn outputs_become_hundredths() {
        assert_eq!(to_centi(63.7), 6370);
        assert_eq!(to_centi(132.25), 13225);
        assert_eq!(to_centi(0.0), 1);
        assert_eq!(to_centi(f64::NAN), 1);
        assert_eq!(from_centi(13225), 132.25);
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

    #[test]
    fn gunzip_reads_every_optional_header_field_and_checks_the_header_crc() {
        let body = b"hello history";
        let plain = gz(body);
        // Rebuild the member with FEXTRA, FNAME, FCOMMENT and FHCRC set.
        let mut header = vec![0x1f, 0x8b, 8, FEXTRA | FNAME | FCOMMENT | FHCRC, 0, 0, 0, 0, 0, 255];
        header.extend_from_slice(&[3, 0, b'a', b'b', b'c']);
        header.extend_from_slice(b"name.json\0comment\0");
        let crc = crc32fast::hash(&header) as u16;
        let mut full = header.clone();
        full.extend_from_slice(&crc.to_le_bytes());
        full.extend_from_slice(&plain[10..]);
        assert_eq!(gunzip(&full, 1 << 20).unwrap(), body);

        let mut bad = full.clone();
        let at = header.len();
        bad[at] ^= 0xff;
        assert_eq!(gunzip(&bad, 1 << 20), Err(HistoryError::HeaderChecksum));
    }

    #[test]
    fn gunzip_refuses_corrupt_trailers_and_oversized_output() {
        let data = gz(&vec![b'x'; 10_000]);
        let mut crc = data.clone();
        let n = crc.len();
        crc[n - 8] ^= 1;
        assert!(matches!(gunzip(&crc, 1 << 20), Err(HistoryError::Crc { .. })));
        let mut size = data.clone();
        size[n - 4] ^= 1;
        assert!(matches!(gunzip(&size, 1 << 20), Err(HistoryError::Size { .. })));
        assert!(matches!(gunzip(&data, 100), Err(HistoryError::TooLarge { .. })));
        // A lying ISIZE does not let the inflater exceed the limit either.
        let mut lying = data.clone();
        lying[n - 4..].copy_from_slice(&50u32.to_le_bytes());
        assert!(matches!(gunzip(&lying, 100), Err(HistoryError::TooLarge { .. })));
        assert!(matches!(gunzip(b"{}", 100), Err(HistoryError::Truncated { .. })));
        assert!(matches!(
            gunzip(&[b'{'; 40], 100),
            Err(HistoryError::NotGzip { found: [b'{', b'{'] })
        ));
        let mut method = data.clone();
        method[2] = 7;
        assert_eq!(gunzip(&method, 1 << 20), Err(HistoryError::UnsupportedMethod(7)));
        let mut truncated = data.clone();
        truncated.truncate(n - 30);
        assert!(gunzip(&truncated, 1 << 20).is_err());
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

    fn arb_bests() -> impl Strategy<Value = ClassBests> {
        (1u8..=6, 1u32..20, prop::collection::vec((1u64..500, 1u32..20, 1u32..60_000), 0..200))
            .prop_map(|(class, seconds, entries)| {
                let mut b = ClassBests::new(class, seconds);
                for (racer, second, centi) in entries {
                    b.improve(racer, second, centi);
                }
                b
            })
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
        fn the_stream_reads_any_chunking_exactly_as_gunzip(
            bests in arb_bests(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
            limit in prop::sample::select(vec![64usize, 4096, 1 << 20]),
        ) {
            let mut file = gz(&bests.to_json());
            for (at, byte) in flips {
                let i = at.index(file.len());
                file[i] = byte;
            }
            let mut at: Vec<usize> = cuts.iter().map(|c| c.index(file.len() + 1)).collect();
            at.sort_unstable();
            let mut stream = GunzipStream::new(limit);
            let mut pushed = Ok(());
            let mut from = 0;
            for cut in at.into_iter().chain([file.len()]) {
                pushed = pushed.and_then(|()| stream.push(&file[from..cut]));
                from = cut;
            }
            let streamed = pushed.and_then(|()| stream.finish());
            let whole = gunzip(&file, limit);
            // The same data, or both refuse (the stream may name an error found earlier).
            prop_assert_eq!(streamed.is_ok(), whole.is_ok(), "{:?} vs {:?}", streamed, whole);
            if let (Ok(a), Ok(b)) = (&streamed, &whole) {
                prop_assert_eq!(a, b);
            }
        }

        #[test]
        fn gunzip_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = gunzip(&bytes, 1 << 16);
            let _ = decode(&bytes);
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
