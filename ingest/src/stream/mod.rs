//! The stream: a Kinesis-like sharded, durable, replayable log.
//!
//! This module defines the contract every stream engine keeps — the embedded disk engine in this
//! crate and the NATS JetStream one — as the [`Stream`] trait and its types. The rules follow
//! Amazon Kinesis Data Streams wherever Kinesis has one:
//!
//! - A stream has N shards; each owns a contiguous range of the 128-bit hash-key space. A record
//!   goes to the shard whose range holds the MD5 of its partition key (read as a big-endian
//!   `u128`), or its explicit hash key when one is given ([`route`]).
//! - Every record gets a [`SequenceNumber`] that strictly increases within its shard, survives
//!   restarts and sorts as a decimal string.
//! - [`Stream::put_records`] takes up to [`MAX_RECORDS_PER_PUT`] records; each succeeds or fails
//!   on its own and order is kept within a shard. A success is acknowledged only once durable
//!   (under the engine's sync policy).
//! - Readers ask for a [`ShardIterator`] of one of the five Kinesis kinds ([`StartingPosition`]),
//!   then page with [`Stream::get_records`]; a reader at the tip can wait for new records.
//! - Shards can be split and merged ([`Stream::reshard`], rules in [`map`]): a parent shard
//!   closes (it takes no more records and has an ending sequence number) and children open with
//!   the next ids. A reader at the end of a closed shard gets its children
//!   ([`GetRecordsOutput::child_shards`]) and reads each child once all its parents are read to
//!   their end, so the records of one partition key stay in order ([`lineage`]).
//! - Named consumers keep durable per-shard checkpoints ([`Stream::checkpoint`]), so independent
//!   consumers each read the whole stream at their own pace and resume after a restart:
//!   at-least-once delivery.
//!
//! The distributed engine is [`JetStreamStream`] (module [`jetstream`]: the stream on a NATS
//! JetStream cluster, shared by several servers).
//!
//! The embedded engine is [`DiskStream`] (module [`disk`], whose docs give the on-disk format,
//! its invariants and recovery), configured by [`StreamConfig`], on a filesystem behind [`Fs`]
//! ([`RealFs`], or [`MemFs`] for tests that crash or inject faults) and a [`Clock`].

use std::{collections::BTreeMap, fmt, str::FromStr, time::Duration};

pub mod checkpoint;
mod commit;
pub mod config;
pub mod disk;
pub mod fs;
pub mod jetstream;
mod jetstream_health;
pub mod lineage;
pub mod location;
pub mod map;
pub mod segment;
mod shard;

pub use config::{
    Clock, ManualClock, StreamConfig, SyncPolicy, SystemClock, DEFAULT_SEGMENT_BYTES,
    DEFAULT_SYNC_POLICY, DEFAULT_THROTTLE,
};
pub use disk::DiskStream;
pub use fs::{FileHandle, Fs, FsOp, Injected, MemFs, RealFs};
pub use jetstream::{JetStreamConfig, JetStreamError, JetStreamStream};
pub use location::{open, LocationError, OpenError, StreamLocation, StreamSettings};
pub use map::{MapShard, Reshard, ShardMap};

use async_trait::async_trait;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The most records one `put_records` call takes (Kinesis: 500).
pub const MAX_RECORDS_PER_PUT: usize = 500;
/// The largest record, partition key plus data, in bytes (Kinesis: 1 MiB).
pub const MAX_RECORD_BYTES: usize = 1024 * 1024;
/// The largest `put_records` call, all partition keys plus data, in bytes (Kinesis: 5 MiB).
pub const MAX_PUT_BYTES: usize = 5 * 1024 * 1024;
/// Partition keys are 1 to 256 characters (Kinesis).
pub const MAX_PARTITION_KEY_CHARS: usize = 256;
/// The most records one `get_records` call returns (Kinesis: 10,000).
pub const MAX_RECORDS_PER_GET: usize = 10_000;
/// Per-shard write limit in bytes per second, when throttling is on (Kinesis: 1 MiB/s).
pub const SHARD_BYTES_PER_SECOND: usize = 1024 * 1024;
/// Per-shard write limit in records per second, when throttling is on (Kinesis: 1,000/s).
pub const SHARD_RECORDS_PER_SECOND: usize = 1000;
/// The default number of shards.
pub const DEFAULT_SHARDS: u32 = 4;
/// The default retention: 24 hours, as Kinesis.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);

/// A shard's id: its index in the stream, shown as Kinesis shows it (`shardId-000000000003`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ShardId(pub u32);

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shardId-{:012}", self.0)
    }
}

impl FromStr for ShardId {
    type Err = StreamError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.strip_prefix("shardId-")
            .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse().ok())
            .map(ShardId)
            .ok_or_else(|| StreamError::InvalidArgument(format!("{s:?} is not a shard id")))
    }
}

/// A record's position in its shard.
///
/// Strictly increasing within a shard, durable across restarts, and shown as a fixed-width
/// (39-digit) decimal string, so that string order equals numeric order as with Kinesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SequenceNumber(pub u128);

impl fmt::Display for SequenceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:039}", self.0)
    }
}

impl FromStr for SequenceNumber {
    type Err = StreamError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() || s.len() > 39 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(StreamError::InvalidArgument(format!("{s:?} is not a sequence number")));
        }
        s.parse()
            .map(SequenceNumber)
            .map_err(|_| StreamError::InvalidArgument(format!("{s:?} is not a sequence number")))
    }
}

/// A shard's place in the stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardDescription {
    /// The shard.
    pub shard_id: ShardId,
    /// The lowest hash key the shard owns.
    pub starting_hash_key: u128,
    /// The highest hash key the shard owns (inclusive).
    pub ending_hash_key: u128,
    /// The first sequence number the shard ever gave (or would give).
    pub starting_sequence_number: SequenceNumber,
    /// The sequence number of its last record once it is closed (its starting sequence number
    /// when it closed empty); `None` while it is open.
    pub ending_sequence_number: Option<SequenceNumber>,
    /// The shard it was split from, or the first of the two it was merged from.
    pub parent_shard_id: Option<ShardId>,
    /// The second shard it was merged from.
    pub adjacent_parent_shard_id: Option<ShardId>,
    /// When it opened, epoch ms (0 when not known: a stream's first shards made before shard
    /// maps were kept).
    pub opened_ms: u64,
    /// When it closed, epoch ms; `None` while it is open.
    pub closed_ms: Option<u64>,
}

impl ShardDescription {
    /// Whether it still takes records.
    pub fn is_open(&self) -> bool {
        self.closed_ms.is_none()
    }
}

/// The width of each shard's hash-key range: `floor(2^128 / shards)`, as Kinesis splits a new
/// stream evenly; the last shard also takes the remainder.
fn range_width(shards: u32) -> u128 {
    let n = u128::from(shards.max(1));
    if n == 1 {
        return u128::MAX; // 2^128 itself does not fit; one shard takes everything anyway
    }
    // u128::MAX is 2^128 - 1: add one back when the division by n is exact.
    u128::MAX / n + u128::from(u128::MAX % n == n - 1)
}

/// The hash-key ranges `(start, end)`, inclusive, of a stream of `shards` shards, in shard order:
/// contiguous, disjoint, and covering the whole 128-bit space.
pub fn hash_ranges(shards: u32) -> Vec<(u128, u128)> {
    let shards = shards.max(1);
    let width = range_width(shards);
    (0..u128::from(shards))
        .map(|i| {
            let start = i.wrapping_mul(width);
            let end = if i + 1 == u128::from(shards) { u128::MAX } else { start + width - 1 };
            (start, end)
        })
        .collect()
}

/// The shard whose range holds `hash_key` in a stream of `shards` shards.
pub fn route(hash_key: u128, shards: u32) -> ShardId {
    let shards = shards.max(1);
    let index = (hash_key / range_width(shards)).min(u128::from(shards - 1));
    ShardId(index as u32)
}

/// The hash key of a partition key: its MD5 digest read as a big-endian 128-bit integer.
pub fn hash_key(partition_key: &str) -> u128 {
    use md5::{Digest, Md5};
    u128::from_be_bytes(Md5::digest(partition_key.as_bytes()).into())
}

/// Checks a whole `put_records` call: 1 to [`MAX_RECORDS_PER_PUT`] records, at most
/// [`MAX_PUT_BYTES`] of partition keys and data in all. Every engine refuses the same calls.
pub(crate) fn check_put(records: &[PutRecord]) -> Result<(), StreamError> {
    if records.is_empty() || records.len() > MAX_RECORDS_PER_PUT {
        return Err(StreamError::InvalidArgument(format!(
            "a put takes 1 to {MAX_RECORDS_PER_PUT} records, not {}",
            records.len()
        )));
    }
    let total: usize = records.iter().map(|r| r.partition_key.len() + r.data.len()).sum();
    if total > MAX_PUT_BYTES {
        return Err(StreamError::InvalidArgument(format!(
            "a put is {total} bytes; the limit is {MAX_PUT_BYTES}"
        )));
    }
    Ok(())
}

/// Why one record is invalid on its own, if it is (partition key length, record size).
pub(crate) fn invalid_record(record: &PutRecord) -> Option<String> {
    let chars = record.partition_key.chars().count();
    if !(1..=MAX_PARTITION_KEY_CHARS).contains(&chars) {
        return Some(format!(
            "partition key has {chars} characters; it must have 1 to {MAX_PARTITION_KEY_CHARS}"
        ));
    }
    let size = record.partition_key.len() + record.data.len();
    if size > MAX_RECORD_BYTES {
        return Some(format!(
            "record is {size} bytes (partition key + data); the limit is {MAX_RECORD_BYTES}"
        ));
    }
    None
}

/// A failed record of a put.
pub(crate) fn record_error(
    code: RecordErrorCode,
    message: String,
) -> Result<PutRecordOk, RecordError> {
    Err(RecordError { code, message })
}

/// Checks a `get_records` limit: 1 to [`MAX_RECORDS_PER_GET`].
pub(crate) fn check_get_limit(limit: usize) -> Result<(), StreamError> {
    if (1..=MAX_RECORDS_PER_GET).contains(&limit) {
        Ok(())
    } else {
        Err(StreamError::InvalidArgument(format!(
            "limit {limit} must be 1 to {MAX_RECORDS_PER_GET}"
        )))
    }
}

/// The shards of `map`, each with the first sequence number `first` says and, when closed,
/// the ending sequence number `ending` says.
pub(crate) fn describe_map(
    map: &ShardMap,
    first: impl Fn(u32) -> SequenceNumber,
    ending: impl Fn(u32) -> SequenceNumber,
) -> Vec<ShardDescription> {
    map.shards()
        .iter()
        .enumerate()
        .map(|(i, shard)| ShardDescription {
            shard_id: ShardId(i as u32),
            starting_hash_key: shard.starting_hash_key,
            ending_hash_key: shard.ending_hash_key,
            starting_sequence_number: first(i as u32),
            ending_sequence_number: shard.closed_ms.map(|_| ending(i as u32)),
            parent_shard_id: shard.parent,
            adjacent_parent_shard_id: shard.adjacent_parent,
            opened_ms: shard.opened_ms,
            closed_ms: shard.closed_ms,
        })
        .collect()
}

/// One record to put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutRecord {
    /// Routes the record to a shard (by its MD5) unless `explicit_hash_key` is set; 1 to 256
    /// characters.
    pub partition_key: String,
    /// A hash key that overrides the partition key's MD5 for routing.
    pub explicit_hash_key: Option<u128>,
    /// The payload.
    pub data: Bytes,
}

/// Where a put record landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PutRecordOk {
    /// The shard that holds it.
    pub shard_id: ShardId,
    /// Its sequence number in that shard.
    pub sequence_number: SequenceNumber,
}

/// Why one record of a `put_records` call failed; the rest of the call is unaffected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct RecordError {
    /// The Kinesis error code, e.g. `ProvisionedThroughputExceededException`.
    pub code: RecordErrorCode,
    /// A human sentence.
    pub message: String,
}

/// The error codes a single record can fail with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordErrorCode {
    /// The shard's write limit was reached; retry later (retryable).
    ProvisionedThroughputExceeded,
    /// The record itself is invalid: empty or too long a partition key, or too large (not
    /// retryable).
    InvalidArgument,
    /// The engine failed to store it, e.g. the disk is full (retryable once the cause is fixed).
    InternalFailure,
}

impl RecordErrorCode {
    /// The code as Kinesis spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ProvisionedThroughputExceeded => "ProvisionedThroughputExceededException",
            Self::InvalidArgument => "InvalidArgumentException",
            Self::InternalFailure => "InternalFailure",
        }
    }

    /// Whether sending the same record again may succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, Self::InvalidArgument)
    }
}

impl fmt::Display for RecordErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The answer to `put_records`: one result per record, in the order given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PutRecordsOutput {
    /// How many records failed.
    pub failed_record_count: usize,
    /// Each record's fate, in request order.
    pub records: Vec<Result<PutRecordOk, RecordError>>,
}

/// Where a shard iterator starts: the five Kinesis iterator types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    /// The oldest record still retained.
    TrimHorizon,
    /// Just after the newest record: only records put from now on.
    Latest,
    /// At this sequence number (or the next record after it if it was trimmed).
    AtSequenceNumber(SequenceNumber),
    /// Just after this sequence number.
    AfterSequenceNumber(SequenceNumber),
    /// The first record that arrived at or after this time, in epoch milliseconds.
    AtTimestamp(u64),
}

/// A position in one shard, from which `get_records` reads. Opaque to callers; the engine that
/// made it interprets `position`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ShardIterator {
    /// The shard read.
    pub shard_id: ShardId,
    /// The engine's position: the sequence number of the next record to return (which may not
    /// exist yet).
    pub position: u128,
}

/// One stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its shard.
    pub shard_id: ShardId,
    /// Its sequence number.
    pub sequence_number: SequenceNumber,
    /// The partition key it was put with.
    pub partition_key: String,
    /// The payload.
    pub data: Bytes,
    /// When the stream accepted it, in epoch milliseconds (Kinesis' approximate arrival time).
    pub arrival_ms: u64,
}

/// The answer to `get_records`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetRecordsOutput {
    /// The records, in sequence order; possibly none.
    pub records: Vec<Record>,
    /// Where to read next.
    pub next_iterator: ShardIterator,
    /// How far the reader is behind the newest record of the shard, in milliseconds (0 at the
    /// tip).
    pub millis_behind_latest: u64,
    /// `Some` once the shard is closed and these records reach its end: its children (the
    /// shards it was split or merged into). The shard has nothing more; `next_iterator` reads
    /// nothing.
    pub child_shards: Option<Vec<ShardDescription>>,
}

/// Why a whole stream call failed. Each variant says when it happens.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// A call argument is invalid: too many records in a put, a call over 5 MiB, an unknown
    /// shard, a malformed sequence number, a sequence number from another shard, a consumer name
    /// that is empty or too long.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The iterator's position is no longer retained (its segment expired), or it points past
    /// the shard's end.
    #[error("expired iterator: {0}")]
    ExpiredIterator(String),
    /// A stored checkpoint could not be read back (corrupt or torn), with the consumer's name.
    #[error("checkpoint of consumer {consumer:?} is corrupt: {reason}")]
    CorruptCheckpoint {
        /// The consumer.
        consumer: String,
        /// What was wrong.
        reason: String,
    },
    /// The engine failed to read or write its files.
    #[error("storage failure: {0}")]
    Io(#[from] std::io::Error),
    /// The stream was closed (shut down).
    #[error("the stream is closed")]
    Closed,
    /// The engine cannot do this (e.g. resharding on an engine that does not support it).
    #[error("not supported: {0}")]
    Unsupported(String),
}

/// The stream contract. See the module docs for the rules every engine keeps.
#[async_trait]
pub trait Stream: Send + Sync + 'static {
    /// The shards, in id order.
    fn shards(&self) -> Vec<ShardDescription>;

    /// Appends records, each routed to its shard; returns when every success is durable.
    ///
    /// Whole-call errors: more than [`MAX_RECORDS_PER_PUT`] records, or more than
    /// [`MAX_PUT_BYTES`] in all ([`StreamError::InvalidArgument`]). Per-record errors (bad
    /// partition key, record too large, throttled, storage failure) are in the output.
    async fn put_records(&self, records: Vec<PutRecord>) -> Result<PutRecordsOutput, StreamError>;

    /// An iterator into `shard` at `start`.
    async fn shard_iterator(
        &self,
        shard: ShardId,
        start: StartingPosition,
    ) -> Result<ShardIterator, StreamError>;

    /// Up to `limit` (at most [`MAX_RECORDS_PER_GET`]) records from `iterator`. When there are
    /// none yet, waits up to `wait` for the first new one (without polling), then returns what
    /// it has, possibly nothing.
    async fn get_records(
        &self,
        iterator: &ShardIterator,
        limit: usize,
        wait: Duration,
    ) -> Result<GetRecordsOutput, StreamError>;

    /// Durably records that `consumer` has processed `shard` up to and including `sequence`.
    async fn checkpoint(
        &self,
        consumer: &str,
        shard: ShardId,
        sequence: SequenceNumber,
    ) -> Result<(), StreamError>;

    /// `consumer`'s checkpoints, by shard; a shard it never checkpointed is absent.
    async fn checkpoints(
        &self,
        consumer: &str,
    ) -> Result<BTreeMap<ShardId, SequenceNumber>, StreamError>;

    /// Changes the shard map ([`Reshard`]; rules in [`map`]): closes parents once every put
    /// routed to them is stored, opens their children, and routes later puts to the children.
    /// Durable once it returns. Engines that cannot reshard answer
    /// [`StreamError::Unsupported`].
    async fn reshard(&self, change: Reshard) -> Result<(), StreamError> {
        Err(StreamError::Unsupported(format!("this stream engine cannot reshard ({change:?})")))
    }

    /// Whether the engine can store puts now, for readiness checks. Cheap: no I/O.
    fn health(&self) -> StreamHealth {
        StreamHealth::Untracked
    }
}

/// Whether a stream engine can store puts ([`Stream::health`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StreamHealth {
    /// Every shard's last write (or probe) succeeded, or none was made yet.
    Writing {
        /// When a write last succeeded (engine clock, ms since the epoch), if ever.
        last_ok_ms: Option<u64>,
    },
    /// Some shard's writes fail; its puts are answered with `InternalFailure`. The engine
    /// probes the shard every [`config::PROBE_INTERVAL`] and returns to `Writing` on its own
    /// once a write works again (JetStream: a record's publish or PubAck failed; the next
    /// acknowledged put, or a probe the stream's leader answers, clears it).
    Failing {
        /// The shard failing longest.
        shard: ShardId,
        /// Since when (engine clock, ms since the epoch).
        since_ms: u64,
        /// The latest error.
        error: String,
    },
    /// The engine's writer has stopped: nothing can be stored until the process restarts.
    Stopped,
    /// The stream's servers are reached but its leader does not answer (JetStream: quorum
    /// lost, an election, or the node connected to paused); puts fail retryably meanwhile.
    /// Probed every [`config::PROBE_INTERVAL`]; back to `Writing` on its own.
    NoLeader {
        /// Since when (engine clock, ms since the epoch).
        since_ms: u64,
        /// The latest error.
        error: String,
    },
    /// None of the stream's servers can be reached (JetStream: not connected to any node).
    /// Probed every [`config::PROBE_INTERVAL`]; back to `Writing` on its own.
    Unreachable {
        /// Since when (engine clock, ms since the epoch).
        since_ms: u64,
        /// The latest error.
        error: String,
    },
    /// The engine does not track its writes (each put reports its own outcome).
    Untracked,
}

impl StreamHealth {
    /// Whether puts can be stored.
    pub fn can_store(&self) -> bool {
        matches!(self, Self::Writing { .. } | Self::Untracked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_shards_split_the_hash_space_like_kinesis() {
        let ranges = hash_ranges(4);
        assert_eq!(ranges[0], (0, (1u128 << 126) - 1));
        assert_eq!(ranges[1].0, 1u128 << 126);
        assert_eq!(ranges[3].1, u128::MAX);
    }

    #[test]
    fn ranges_are_contiguous_and_route_agrees_with_them() {
        for shards in [1, 2, 3, 4, 7, 16, 1000] {
            let ranges = hash_ranges(shards);
            assert_eq!(ranges.len(), shards as usize);
            assert_eq!(ranges[0].0, 0);
            assert_eq!(ranges.last().unwrap().1, u128::MAX);
            for (i, pair) in ranges.windows(2).enumerate() {
                assert_eq!(pair[0].1 + 1, pair[1].0);
                assert_eq!(route(pair[0].1, shards), ShardId(i as u32));
                assert_eq!(route(pair[1].0, shards), ShardId(i as u32 + 1));
            }
        }
    }

    #[test]
    fn partition_keys_hash_by_md5_big_endian() {
        // md5("") = d41d8cd98f00b204e9800998ecf8427e
        assert_eq!(hash_key(""), 0xd41d8cd98f00b204e9800998ecf8427e);
        assert_eq!(route(hash_key(""), 4), ShardId(3));
    }

    #[test]
    fn ids_and_sequence_numbers_print_and_parse() {
        assert_eq!(ShardId(3).to_string(), "shardId-000000000003");
        assert_eq!("shardId-000000000003".parse::<ShardId>().unwrap(), ShardId(3));
        assert!("shard-3".parse::<ShardId>().is_err());
        let seq = SequenceNumber(42);
        assert_eq!(seq.to_string().len(), 39);
        assert_eq!(seq.to_string().parse::<SequenceNumber>().unwrap(), seq);
        assert!(SequenceNumber(9).to_string() < SequenceNumber(10).to_string());
        assert!("12a".parse::<SequenceNumber>().is_err());
        assert!("".parse::<SequenceNumber>().is_err());
    }
}
