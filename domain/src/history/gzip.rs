//! The gzip container (RFC 1952), the project's one home for it: [`gzip`] writes (history files,
//! delivered objects); [`gunzip`] reads a whole single-member file (a history file),
//! [`gunzip_members`] a file of one or more members as `gzip -d` does (delivered objects), and
//! [`GunzipStream`] inflates a download while it arrives, so that inflating overlaps the network.
//!
//! flate2 does the work, with its pure-Rust backend (miniz_oxide) so that all of it runs in
//! wasm32; a native build that also enables flate2's `zlib-rs` feature (the ingest crate does, for
//! speed) gets that backend here too. Every reader checks the header (and its CRC16 when one is
//! flagged), the trailer's CRC32 and ISIZE, refuses to produce more than a limit, and never panics
//! on any input.

use std::io::{self, Write};

/// Why gzip data could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GzipError {
    /// The data ends before a complete gzip header and trailer (at least 18 bytes).
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
    /// Inflating would produce more than the limit (whatever the trailer's ISIZE claims).
    #[error("uncompressed data exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// A malformed header or header CRC16, corrupt deflate data, a trailer whose CRC32 or ISIZE
    /// does not match the data, a member cut short, or bytes after the member; flate2's words.
    #[error("corrupt gzip data: {0}")]
    Corrupt(String),
}

/// Whether `bytes` start with gzip's magic number.
pub fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1f, 0x8b])
}

/// Gzips `data` at `level` (0 to 9; higher is taken as 9) with a fixed header (no name, mtime
/// 0), so that the same data always gives the same bytes.
pub fn gzip(data: &[u8], level: u32) -> Vec<u8> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::with_capacity(data.len() / 4), flate2::Compression::new(level.min(9)));
    // Writing to a Vec cannot fail.
    encoder.write_all(data).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// Inflates a single-member gzip file, producing at most `limit` bytes: [`GunzipStream`] given the
/// whole file at once.
pub fn gunzip(data: &[u8], limit: usize) -> Result<Vec<u8>, GzipError> {
    let mut stream = GunzipStream::new(limit);
    stream.push(data)?;
    stream.finish()
}

/// Inflates gzip data of one or more members, concatenated (as `gzip -d` does), producing at most
/// `limit` bytes.
pub fn gunzip_members(data: &[u8], limit: usize) -> Result<Vec<u8>, GzipError> {
    let mut decoder = flate2::write::MultiGzDecoder::new(Capped::new(limit));
    let written = decoder.write_all(data).and_then(|()| decoder.try_finish());
    if let Err(error) = written {
        return Err(why(error, decoder.get_ref()));
    }
    Ok(decoder.finish().map_err(|e| GzipError::Corrupt(e.to_string()))?.out)
}

/// A gzip download inflated while it arrives: push each chunk as it comes, then
/// [`GunzipStream::finish`] checks the trailer (CRC32 and ISIZE) and returns the data. Any
/// chunking gives the same result as [`gunzip`] of the whole file.
pub struct GunzipStream {
    decoder: flate2::write::GzDecoder<Capped>,
    /// The first two bytes, to name data that is not gzip at all.
    magic: [u8; 2],
    received: usize,
    /// The first error: the decoder is not written to after one.
    failed: Option<GzipError>,
}

impl std::fmt::Debug for GunzipStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GunzipStream")
            .field("received", &self.received)
            .field("inflated", &self.decoder.get_ref().out.len())
            .field("failed", &self.failed)
            .finish_non_exhaustive()
    }
}

impl GunzipStream {
    /// A stream producing at most `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            decoder: flate2::write::GzDecoder::new(Capped::new(limit)),
            magic: [0; 2],
            received: 0,
            failed: None,
        }
    }

    /// Takes the next chunk of the file.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), GzipError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let before = self.received;
        self.received += chunk.len();
        let result = if before < 2 && !self.magic_is_gzip(before, chunk) {
            Err(GzipError::NotGzip { found: self.magic })
        } else {
            self.decoder.write_all(chunk).map_err(|e| why(e, self.decoder.get_ref()))
        };
        if let Err(error) = &result {
            self.failed = Some(error.clone());
        }
        result
    }

    /// Keeps the first two bytes; false once both are there and are not gzip's magic.
    fn magic_is_gzip(&mut self, before: usize, chunk: &[u8]) -> bool {
        let take = (2 - before).min(chunk.len());
        self.magic[before..before + take].copy_from_slice(&chunk[..take]);
        self.received < 2 || is_gzip(&self.magic)
    }

    /// The whole file has arrived: checks the trailer and returns the inflated data.
    pub fn finish(mut self) -> Result<Vec<u8>, GzipError> {
        if let Some(error) = self.failed {
            return Err(error);
        }
        if self.received < 18 {
            return Err(GzipError::Truncated { len: self.received });
        }
        if let Err(error) = self.decoder.try_finish() {
            return Err(why(error, self.decoder.get_ref()));
        }
        Ok(self.decoder.finish().map_err(|e| GzipError::Corrupt(e.to_string()))?.out)
    }
}

/// The inflated data, refusing to grow past `limit`.
struct Capped {
    out: Vec<u8>,
    limit: usize,
    over: bool,
}

impl Capped {
    fn new(limit: usize) -> Self {
        Self { out: Vec::new(), limit, over: false }
    }
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() > self.limit - self.out.len() {
            self.over = true;
            return Err(io::Error::other("over the limit"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What a flate2 error while inflating into `capped` means.
fn why(error: io::Error, capped: &Capped) -> GzipError {
    if capped.over {
        GzipError::TooLarge { limit: capped.limit }
    } else if error.kind() == io::ErrorKind::WriteZero {
        // The decoder takes nothing more once the member and its trailer are complete.
        GzipError::Corrupt("bytes after the end of the gzip member".into())
    } else {
        GzipError::Corrupt(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::history::{
        decode,
        tests::{arb_bests, gz},
    };

    const FHCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;

    #[test]
    fn gunzip_reads_every_optional_header_field_and_checks_the_header_crc() {
        let body = b"hello history";
        let plain = gz(body);
        // Rebuild the member with FEXTRA, FNAME, FCOMMENT and FHCRC set.
        let mut header = vec![0x1f, 0x8b, 8, FEXTRA | FNAME | FCOMMENT | FHCRC, 0, 0, 0, 0, 0, 255];
        header.extend_from_slice(&[3, 0, b'a', b'b', b'c']);
        header.extend_from_slice(b"name.json\0comment\0");
        let mut crc = flate2::Crc::new();
        crc.update(&header);
        let mut full = header.clone();
        full.extend_from_slice(&(crc.sum() as u16).to_le_bytes());
        full.extend_from_slice(&plain[10..]);
        assert_eq!(gunzip(&full, 1 << 20).unwrap(), body);

        let mut bad = full.clone();
        let at = header.len();
        bad[at] ^= 0xff;
        assert!(matches!(gunzip(&bad, 1 << 20), Err(GzipError::Corrupt(_))));
    }

    #[test]
    fn gunzip_refuses_corrupt_trailers_and_oversized_output() {
        let data = gz(&vec![b'x'; 10_000]);
        assert_eq!(gunzip(&data, 1 << 20).unwrap(), vec![b'x'; 10_000]);
        let n = data.len();
        let corrupt = |at: usize| {
            let mut bad = data.clone();
            bad[at] ^= 1;
            gunzip(&bad, 1 << 20)
        };
        assert!(matches!(corrupt(n - 8), Err(GzipError::Corrupt(_))), "CRC32");
        assert!(matches!(corrupt(n - 4), Err(GzipError::Corrupt(_))), "ISIZE");
        assert!(matches!(corrupt(2), Err(GzipError::Corrupt(_))), "method");
        assert_eq!(gunzip(&data, 100), Err(GzipError::TooLarge { limit: 100 }));
        // A lying ISIZE does not let the inflater exceed the limit either.
        let mut lying = data.clone();
        lying[n - 4..].copy_from_slice(&50u32.to_le_bytes());
        assert_eq!(gunzip(&lying, 100), Err(GzipError::TooLarge { limit: 100 }));
        assert_eq!(gunzip(b"\x1f\x8b", 100), Err(GzipError::Truncated { len: 2 }));
        assert_eq!(gunzip(&[b'{'; 40], 100), Err(GzipError::NotGzip { found: [b'{', b'{'] }));
        assert!(gunzip(&data[..n - 30], 1 << 20).is_err(), "cut short");
        assert!(gunzip(&data[..n - 1], 1 << 20).is_err(), "trailer cut short");
        let mut trailing = data.clone();
        trailing.push(0);
        assert!(matches!(gunzip(&trailing, 1 << 20), Err(GzipError::Corrupt(_))), "trailing");
    }

    #[test]
    fn what_gzip_writes_is_deterministic_and_reads_back_whole_or_member_by_member() {
        let (a, b) = (b"first member\n".repeat(100), b"second member\n".repeat(100));
        let one = gzip(&a, 1);
        assert_eq!(one, gzip(&a, 1), "the same bytes every time");
        assert_eq!(&one[4..8], &[0; 4], "mtime 0");
        assert_eq!(gunzip(&one, 1 << 20).unwrap(), a);
        let mut two = one.clone();
        two.extend_from_slice(&gzip(&b, 9));
        assert_eq!(gunzip_members(&two, 1 << 20).unwrap(), [a.clone(), b].concat());
        assert!(gunzip(&two, 1 << 20).is_err(), "a history file is one member");
        assert_eq!(gunzip_members(&two, 100), Err(GzipError::TooLarge { limit: 100 }));
        assert!(gunzip_members(&one[..one.len() - 3], 1 << 20).is_err());
        assert!(gunzip_members(b"not gzip at all", 1 << 20).is_err());
    }

    proptest! {
        #[test]
        fn the_stream_reads_any_chunking_as_the_whole_file(
            bests in arb_bests(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
            limit in prop::sample::select(vec![64usize, 4096, 1 << 20]),
        ) {
            let json = bests.to_json();
            let mut file = gz(&json);
            let flipped = !flips.is_empty();
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
            if flipped {
                // A corrupt file fails both ways, but which fault is met first (the size limit
                // or the corruption) depends on how far each read got.
                prop_assert_eq!(streamed.is_ok(), whole.is_ok(), "{:?} vs {:?}", streamed, whole);
            } else {
                prop_assert_eq!(&streamed, &whole);
            }
            if !flipped {
                let expected = if json.len() <= limit {
                    Ok(json)
                } else {
                    Err(GzipError::TooLarge { limit })
                };
                prop_assert_eq!(streamed, expected);
            } else if let Ok(data) = streamed {
                // A flip that still passes the CRC32 is in the header's ignored fields.
                prop_assert_eq!(data, json);
            }
        }

        #[test]
        fn gunzip_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = gunzip(&bytes, 1 << 16);
            let _ = gunzip_members(&bytes, 1 << 16);
            let _ = decode(&bytes);
        }
    }
}
