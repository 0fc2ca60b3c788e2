//! Segment files: the header, the record frame, and the scan that recovery and reads share.
//!
//! The layout is described in [`super::disk`]'s module docs; this module is its only encoder and
//! decoder. All integers are little-endian.

use std::{io, ops::Range, path::Path};

use super::{fs::FileHandle, MAX_RECORD_BYTES};

/// The first 8 bytes of every segment file.
pub const SEGMENT_MAGIC: &[u8; 8] = b"ALLEYSEG";
/// The segment format version this code writes and reads.
pub const SEGMENT_VERSION: u32 = 1;
/// The segment header's size in bytes.
pub const HEADER_LEN: u64 = 32;
/// A frame's length and checksum fields.
pub const FRAME_PREFIX: usize = 8;
/// A frame body's fixed fields: counter, arrival time, partition key length.
pub const BODY_FIXED: usize = 8 + 8 + 2;
/// The largest body a valid frame can have.
pub const MAX_BODY: usize = BODY_FIXED + MAX_RECORD_BYTES;
/// The sparse index keeps the offset and arrival time of every this-many-th record.
pub const INDEX_EVERY: u64 = 64;
/// The file-name suffix of version-1 segments.
pub const SEGMENT_SUFFIX: &str = ".v1.seg";

/// The file name of the segment whose first record has counter `base`: zero-padded so that
/// names sort like their bases.
pub fn segment_name(base: u64) -> String {
    format!("{base:020}{SEGMENT_SUFFIX}")
}

/// The base counter in a segment file name, if it is one.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The 32-byte header of a segment of `shard` starting at counter `base`.
pub fn encode_header(shard: u32, base: u64) -> [u8; HEADER_LEN as usize] {
    let mut header = [0u8; HEADER_LEN as usize];
    header[0..8].copy_from_slice(SEGMENT_MAGIC);
    header[8..12].copy_from_slice(&SEGMENT_VERSION.to_le_bytes());
    header[12..16].copy_from_slice(&shard.to_le_bytes());
    header[16..24].copy_from_slice(&base.to_le_bytes());
    let crc = crc32c::crc32c(&header[0..28]);
    header[28..32].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Checks a segment header; returns the reason it is unusable.
pub fn check_header(header: &[u8], shard: u32, base: u64) -> Result<(), String> {
    if header.len() < HEADER_LEN as usize {
        return Err(format!("header is {} bytes, shorter than {HEADER_LEN}", header.len()));
    }
    if &header[0..8] != SEGMENT_MAGIC {
        return Err("bad magic".into());
    }
    let crc = u32::from_le_bytes(header[28..32].try_into().unwrap_or_default());
    if crc32c::crc32c(&header[0..28]) != crc {
        return Err("header checksum mismatch".into());
    }
    let version = u32::from_le_bytes(header[8..12].try_into().unwrap_or_default());
    if version != SEGMENT_VERSION {
        return Err(format!("unsupported segment version {version}"));
    }
    let found_shard = u32::from_le_bytes(header[12..16].try_into().unwrap_or_default());
    let found_base = u64::from_le_bytes(header[16..24].try_into().unwrap_or_default());
    if found_shard != shard || found_base != base {
        return Err(format!(
            "header says shard {found_shard} base {found_base}, expected shard {shard} base {base}"
        ));
    }
    Ok(())
}

/// The encoded size of a record with this partition key and data.
pub fn frame_len(partition_key: &[u8], data: &[u8]) -> usize {
    FRAME_PREFIX + BODY_FIXED + partition_key.len() + data.len()
}

/// Appends one framed record to `buf`, without allocating beyond `buf`'s growth.
pub fn encode_frame(buf: &mut Vec<u8>, counter: u64, arrival_ms: u64, key: &[u8], data: &[u8]) {
    let start = buf.len();
    let body_len = (BODY_FIXED + key.len() + data.len()) as u32;
    // The fixed fields in one copy; the CRC is patched in below.
    let mut head = [0u8; FRAME_PREFIX + BODY_FIXED];
    head[0..4].copy_from_slice(&body_len.to_le_bytes());
    head[8..16].copy_from_slice(&counter.to_le_bytes());
    head[16..24].copy_from_slice(&arrival_ms.to_le_bytes());
    head[24..26].copy_from_slice(&(key.len() as u16).to_le_bytes());
    buf.reserve(head.len() + key.len() + data.len());
    buf.extend_from_slice(&head);
    buf.extend_from_slice(key);
    buf.extend_from_slice(data);
    let crc = crc32c::crc32c_append(crc32c::crc32c(&buf[start..start + 4]), &buf[start + 8..]);
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// One decoded frame, as ranges into the buffer it was decoded from.
#[derive(Debug, Clone)]
pub struct Frame {
    /// The record's counter (its sequence number's low 64 bits).
    pub counter: u64,
    /// When it arrived, epoch ms.
    pub arrival_ms: u64,
    /// Where the partition key is.
    pub key: Range<usize>,
    /// Where the data is.
    pub data: Range<usize>,
    /// Where the next frame starts.
    pub next: usize,
}

/// The outcome of decoding at one offset.
#[derive(Debug)]
pub enum Decoded {
    /// A whole, valid frame.
    Frame(Frame),
    /// The buffer ends inside the frame; `needed` bytes from the frame's start would hold it.
    Incomplete {
        /// Bytes the whole frame needs, counted from its start (at least the prefix).
        needed: usize,
    },
    /// The bytes there are not a valid frame.
    Corrupt(String),
}

/// Decodes the frame at `at` in `buf`.
pub fn decode_frame(buf: &[u8], at: usize) -> Decoded {
    let rest = &buf[at.min(buf.len())..];
    if rest.len() < FRAME_PREFIX {
        return Decoded::Incomplete { needed: FRAME_PREFIX };
    }
    let body_len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
    if !(BODY_FIXED..=MAX_BODY).contains(&body_len) {
        return Decoded::Corrupt(format!("frame length {body_len} is out of range"));
    }
    let needed = FRAME_PREFIX + body_len;
    if rest.len() < needed {
        return Decoded::Incomplete { needed };
    }
    let stored_crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
    let body = &rest[FRAME_PREFIX..needed];
    if crc32c::crc32c_append(crc32c::crc32c(&rest[0..4]), body) != stored_crc {
        return Decoded::Corrupt("frame checksum mismatch".into());
    }
    let counter = u64::from_le_bytes(body[0..8].try_into().unwrap_or_default());
    let arrival_ms = u64::from_le_bytes(body[8..16].try_into().unwrap_or_default());
    let key_len = u16::from_le_bytes([body[16], body[17]]) as usize;
    if BODY_FIXED + key_len > body_len {
        return Decoded::Corrupt(format!("partition key length {key_len} exceeds the frame"));
    }
    let key_start = at + FRAME_PREFIX + BODY_FIXED;
    Decoded::Frame(Frame {
        counter,
        arrival_ms,
        key: key_start..key_start + key_len,
        data: key_start + key_len..at + needed,
        next: at + needed,
    })
}

/// What a full scan of one segment found.
#[derive(Debug, Default)]
pub struct Scan {
    /// Bytes from the start of the file up to the end of the last valid frame.
    pub valid_len: u64,
    /// How many valid records, with consecutive counters from the base.
    pub count: u64,
    /// `(offset, arrival_ms)` of records base, base + [`INDEX_EVERY`], ...
    pub sparse: Vec<(u64, u64)>,
    /// Arrival time of the first and last valid records (0 when empty).
    pub first_arrival: u64,
    /// See `first_arrival`.
    pub last_arrival: u64,
    /// Why the scan stopped before the file's end: offset and reason.
    pub stopped: Option<(u64, String)>,
}

/// Reads a whole segment (header already checked), verifying every frame, in large chunks.
pub fn scan(file: &dyn FileHandle, file_len: u64, base: u64) -> io::Result<Scan> {
    const CHUNK: usize = 8 * 1024 * 1024;
    let mut scan = Scan { valid_len: HEADER_LEN, ..Scan::default() };
    let mut offset = HEADER_LEN;
    let mut buf = Vec::new();
    while offset < file_len {
        let want = (file_len - offset).min(CHUNK.max(buf.capacity()) as u64) as usize;
        buf.resize(want, 0);
        file.read_exact_at(&mut buf, offset)?;
        let mut at = 0;
        loop {
            match decode_frame(&buf, at) {
                Decoded::Frame(frame) => {
                    let expected = base + scan.count;
                    if frame.counter != expected {
                        scan.stopped = Some((
                            offset + at as u64,
                            format!("record counter {} where {expected} was due", frame.counter),
                        ));
                        return Ok(scan);
                    }
                    if scan.count.is_multiple_of(INDEX_EVERY) {
                        scan.sparse.push((offset + at as u64, frame.arrival_ms));
                    }
                    if scan.count == 0 {
                        scan.first_arrival = frame.arrival_ms;
                    }
                    scan.last_arrival = frame.arrival_ms;
                    scan.count += 1;
                    at = frame.next;
                    scan.valid_len = offset + at as u64;
                }
                Decoded::Incomplete { .. } if offset + at as u64 == file_len => break,
                Decoded::Incomplete { needed } => {
                    if offset + at as u64 + needed as u64 > file_len {
                        scan.stopped = Some((
                            offset + at as u64,
                            format!(
                                "torn record: needs {needed} bytes, {} left in the file",
                                file_len - offset - at as u64
                            ),
                        ));
                        return Ok(scan);
                    }
                    // The frame continues in the next chunk; make sure the chunk can hold it.
                    if needed > CHUNK {
                        buf.reserve(needed);
                    }
                    break;
                }
                Decoded::Corrupt(reason) => {
                    scan.stopped = Some((offset + at as u64, reason));
                    return Ok(scan);
                }
            }
        }
        offset += at as u64;
    }
    Ok(scan)
}

/// Reads the header of the segment at `path` and checks it.
pub fn read_header(
    file: &dyn FileHandle,
    path: &Path,
    shard: u32,
    base: u64,
) -> io::Result<Result<(), String>> {
    let len = file.len()?;
    if len < HEADER_LEN {
        return Ok(Err(format!("{} is {len} bytes, shorter than a header", path.display())));
    }
    let mut header = [0u8; HEADER_LEN as usize];
    file.read_exact_at(&mut header, 0)?;
    Ok(check_header(&header, shard, base))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_round_trips_and_any_flipped_bit_is_caught() {
        let mut buf = Vec::new();
        encode_frame(&mut buf, 7, 1234, b"racer-1", b"{\"watts\":250}");
        let Decoded::Frame(frame) = decode_frame(&buf, 0) else { panic!("not a frame") };
        assert_eq!(frame.counter, 7);
        assert_eq!(frame.arrival_ms, 1234);
        assert_eq!(&buf[frame.key], b"racer-1");
        assert_eq!(&buf[frame.data], b"{\"watts\":250}");
        assert_eq!(frame.next, buf.len());
        for bit in 0..buf.len() * 8 {
            let mut bad = buf.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(!matches!(decode_frame(&bad, 0), Decoded::Frame(_)), "bit {bit} unnoticed");
        }
        assert!(matches!(decode_frame(&buf[..buf.len() - 1], 0), Decoded::Incomplete { .. }));
    }

    #[test]
    fn a_scan_of_whole_records_stops_cleanly_at_the_end() {
        let file = crate::stream::MemFs::new();
        let fs: &dyn crate::stream::Fs = &file;
        fs.create_dir_all(Path::new("/d")).unwrap();
        let handle = fs.open(Path::new("/d/s"), true, true).unwrap();
        let mut buf = encode_header(0, 5).to_vec();
        for counter in 5..10 {
            encode_frame(&mut buf, counter, 1, b"k", b"data");
        }
        handle.write_all_at(&buf, 0).unwrap();
        let scan = scan(&*handle, buf.len() as u64, 5).unwrap();
        assert_eq!((scan.count, scan.valid_len, scan.stopped), (5, buf.len() as u64, None));
        handle
            .write_all_at(&buf[HEADER_LEN as usize..HEADER_LEN as usize + 3], buf.len() as u64)
            .unwrap();
        let torn = super::scan(&*handle, buf.len() as u64 + 3, 5).unwrap();
        assert_eq!((torn.count, torn.valid_len), (5, buf.len() as u64));
        assert!(torn.stopped.unwrap().1.contains("torn"));
    }

    #[test]
    fn segment_names_sort_by_base_and_parse_back() {
        assert_eq!(segment_name(42), "00000000000000000042.v1.seg");
        assert!(segment_name(9) < segment_name(10));
        assert_eq!(parse_segment_name(&segment_name(u64::MAX)), Some(u64::MAX));
        assert_eq!(parse_segment_name("42.v1.seg"), None);
        assert_eq!(parse_segment_name("00000000000000000042.v2.seg"), None);
    }

    #[test]
    fn a_header_from_another_shard_or_version_is_refused() {
        let header = encode_header(3, 100);
        assert_eq!(check_header(&header, 3, 100), Ok(()));
        assert!(check_header(&header, 2, 100).is_err());
        assert!(check_header(&header, 3, 101).is_err());
        let mut bad = header;
        bad[8] = 2;
        assert!(check_header(&bad, 3, 100).is_err());
    }
}
