//! The gzip container (RFC 1952): [`gunzip`] for a whole file, [`GunzipStream`] for a download
//! inflated while it arrives, and [`gzip`] for writing. miniz_oxide underneath, so it runs in
//! wasm32.

use super::HistoryError;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::decode;
    use crate::history::tests::{arb_bests, gz};
    use proptest::prelude::*;

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

    proptest! {
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
    }
}
