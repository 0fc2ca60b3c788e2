//! Consumers' checkpoints: one small checksummed file per consumer and shard, replaced
//! atomically (write a temporary file, fsync it, rename it over the old one, fsync the
//! directory), so a reader sees the old checkpoint or the new one, never half of either.

use std::{
    collections::BTreeMap,
    io,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};

use super::{fs::Fs, SequenceNumber, ShardId, StreamError};

/// The first 8 bytes of a checkpoint file.
pub const CHECKPOINT_MAGIC: &[u8; 8] = b"ALLEYCKP";
/// The checkpoint format version.
pub const CHECKPOINT_VERSION: u32 = 1;
/// A checkpoint file's size: magic, version, shard, sequence number, CRC32C.
pub const CHECKPOINT_LEN: usize = 8 + 4 + 4 + 16 + 4;
/// The longest consumer name.
pub const MAX_CONSUMER_NAME: usize = 128;

/// Rejects consumer names that are empty, too long, or not safe as a file name
/// (`[A-Za-z0-9_.-]`, not starting with a dot).
pub fn check_consumer_name(name: &str) -> Result<(), StreamError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_CONSUMER_NAME
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(StreamError::InvalidArgument(format!(
            "consumer name {name:?} must be 1 to {MAX_CONSUMER_NAME} characters of \
             [A-Za-z0-9_.-], not starting with a dot"
        )))
    }
}

fn file_name(shard: ShardId) -> String {
    format!("shard-{:06}.ckpt", shard.0)
}

fn parse_file_name(name: &str) -> Option<ShardId> {
    let digits = name.strip_prefix("shard-")?.strip_suffix(".ckpt")?;
    (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok().map(ShardId))
        .flatten()
}

/// The bytes of a checkpoint file.
pub fn encode(shard: ShardId, sequence: SequenceNumber) -> [u8; CHECKPOINT_LEN] {
    let mut out = [0u8; CHECKPOINT_LEN];
    out[0..8].copy_from_slice(CHECKPOINT_MAGIC);
    out[8..12].copy_from_slice(&CHECKPOINT_VERSION.to_le_bytes());
    out[12..16].copy_from_slice(&shard.0.to_le_bytes());
    out[16..32].copy_from_slice(&sequence.0.to_le_bytes());
    let crc = crc32c::crc32c(&out[0..32]);
    out[32..36].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Reads a checkpoint file's bytes back; the error says what is wrong.
pub fn decode(bytes: &[u8], shard: ShardId) -> Result<SequenceNumber, String> {
    if bytes.len() != CHECKPOINT_LEN {
        return Err(format!("{} bytes where {CHECKPOINT_LEN} were expected", bytes.len()));
    }
    if &bytes[0..8] != CHECKPOINT_MAGIC {
        return Err("bad magic".into());
    }
    let crc = u32::from_le_bytes(bytes[32..36].try_into().unwrap_or_default());
    if crc32c::crc32c(&bytes[0..32]) != crc {
        return Err("checksum mismatch".into());
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default());
    if version != CHECKPOINT_VERSION {
        return Err(format!("unsupported version {version}"));
    }
    let found = u32::from_le_bytes(bytes[12..16].try_into().unwrap_or_default());
    if found != shard.0 {
        return Err(format!("file of {shard} holds a checkpoint of shard {found}"));
    }
    Ok(SequenceNumber(u128::from_le_bytes(bytes[16..32].try_into().unwrap_or_default())))
}

/// The checkpoint files under one stream directory.
#[derive(Debug)]
pub struct Checkpoints {
    /// `<stream>/consumers`.
    pub dir: PathBuf,
    /// Makes temporary names unique, so concurrent checkpoints never share one.
    temp_counter: AtomicU64,
}

impl Checkpoints {
    /// The checkpoints kept in `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir, temp_counter: AtomicU64::new(0) }
    }

    /// Durably replaces `consumer`'s checkpoint of `shard`.
    pub fn store(
        &self,
        fs: &dyn Fs,
        consumer: &str,
        shard: ShardId,
        sequence: SequenceNumber,
    ) -> io::Result<()> {
        let consumer_dir = self.dir.join(consumer);
        if !fs.exists(&consumer_dir)? {
            fs.create_dir_all(&consumer_dir)?;
            fs.sync_dir(&self.dir)?;
        }
        let target = consumer_dir.join(file_name(shard));
        let n = self.temp_counter.fetch_add(1, Ordering::Relaxed);
        let temp = consumer_dir.join(format!("{}.{n}.tmp", file_name(shard)));
        let result = (|| {
            let file = fs.open(&temp, true, true)?;
            file.write_all_at(&encode(shard, sequence), 0)?;
            file.sync_data()?;
            fs.rename(&temp, &target)?;
            fs.sync_dir(&consumer_dir)
        })();
        if result.is_err() {
            let _ = fs.remove_file(&temp);
        }
        result
    }

    /// All of `consumer`'s checkpoints of shards below `shards`.
    pub fn load(
        &self,
        fs: &dyn Fs,
        consumer: &str,
        shards: u32,
    ) -> Result<BTreeMap<ShardId, SequenceNumber>, StreamError> {
        let consumer_dir = self.dir.join(consumer);
        let mut out = BTreeMap::new();
        if !fs.exists(&consumer_dir)? {
            return Ok(out);
        }
        for name in fs.list_files(&consumer_dir)? {
            // Leftover temporaries of interrupted checkpoints are not checkpoints.
            let Some(shard) = parse_file_name(&name) else { continue };
            if shard.0 >= shards {
                continue;
            }
            let bytes = fs.read_file(&consumer_dir.join(&name))?;
            let sequence =
                decode(&bytes, shard).map_err(|reason| StreamError::CorruptCheckpoint {
                    consumer: consumer.to_owned(),
                    reason: format!("{}: {reason}", Path::new(&name).display()),
                })?;
            out.insert(shard, sequence);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consumer_names_must_be_safe_file_names() {
        assert!(check_consumer_name("leaderboard").is_ok());
        assert!(check_consumer_name("delivery-v2.1_a").is_ok());
        for bad in ["", ".hidden", "a/b", "..", "name with space", &"x".repeat(129)] {
            assert!(check_consumer_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn a_checkpoint_round_trips_and_damage_is_reported() {
        let bytes = encode(ShardId(2), SequenceNumber(99));
        assert_eq!(decode(&bytes, ShardId(2)), Ok(SequenceNumber(99)));
        assert!(decode(&bytes, ShardId(1)).is_err());
        assert!(decode(&bytes[..20], ShardId(2)).is_err());
        let mut bad = bytes;
        bad[20] ^= 1;
        assert_eq!(decode(&bad, ShardId(2)), Err("checksum mismatch".into()));
    }
}
