//! The disk engine's settings, their defaults in one place, and the clock it reads.

use std::time::Duration;

/// The clock the engines read for arrival timestamps, retention and throttling: its one home is
/// `alleycat_domain::clock`, re-exported here so stream users need no second import.
pub use alleycat_domain::clock::{Clock, ManualClock, SystemClock};

pub use super::{DEFAULT_RETENTION, DEFAULT_SHARDS};

/// The default size at which a shard starts a new segment file: 64 MiB. Retention deletes whole
/// segments, so this is also the granularity of expiry.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// The default sync policy: every acknowledged record is on disk.
pub const DEFAULT_SYNC_POLICY: SyncPolicy = SyncPolicy::Always;
/// Per-shard write limits are off by default.
pub const DEFAULT_THROTTLE: bool = false;
/// The most bytes one commit cycle writes, all shards together, before its fsyncs: 8 MiB (at
/// ~300 MB/s, ~27 ms).
pub const MAX_GROUP_BYTES: usize = 8 * 1024 * 1024;
/// The default commit window: how long a commit cycle with few records waits for more puts to
/// join it before its fsyncs, 20 ms. Browsers' events arrive one at a time, spread over each
/// second (1,000 racers: one a millisecond, each on any of the shards); without a window each
/// would be its own cycle, with its own fsync and thread hand-offs. Every cycle syncs each
/// shard it touches, so the window sets the fsyncs a second at a low rate of events: 20 ms
/// (about 45 cycles a second, each shard syncing once for twenty events) rather than 10 (twice
/// the fsyncs; BENCHMARKS.md, "Racers on their own connections"). A busy stream does not wait it out ([`COMMIT_WINDOW_RECORDS`]), nor does a
/// lone writer ([`COMMIT_IDLE_GAP`]).
pub const DEFAULT_COMMIT_WINDOW: Duration = Duration::from_millis(20);
/// A group holding this many records commits at once: the window ends when the put that brings
/// it there arrives. 10,000 racers' events make it in about 10 ms, so their acknowledgements
/// wait no longer than with a 10 ms window; producers' batches and saturation fill their cycles
/// at once.
pub const COMMIT_WINDOW_RECORDS: usize = 100;
/// A window also ends when no put arrived for this long: the puts trickling in from many
/// clients keep it open, but a lone writer (a Kinesis client sending one put at a time) is
/// answered after this gap rather than after the whole window.
pub const COMMIT_IDLE_GAP: Duration = Duration::from_millis(4);
/// How often each shard checks retention when it is otherwise idle.
pub const RETENTION_CHECK_INTERVAL: Duration = Duration::from_secs(10);
/// How often a shard whose last write failed is probed ([`crate::stream::Stream::health`]), so
/// that it reports it can store again without waiting for a put.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// When a write is acknowledged relative to `fsync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// The default. A `put_records` success is returned only after the record's segment was
    /// `fdatasync`ed; concurrent writers share each fsync (group commit). Risk: none short of
    /// the disk lying about fsync.
    Always,
    /// Acknowledge once the record is written to the OS page cache, and fsync every shard with
    /// unsynced writes at most this long after the oldest of them. Risk: a process crash loses nothing, but
    /// a power cut or kernel crash loses up to this interval of *acknowledged* records (the
    /// tail is still recovered cleanly, in order, without gaps). A failed background fsync is
    /// logged and cannot be reported to the writers it concerns.
    Interval(Duration),
}

/// The disk engine's configuration; [`Default`] gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamConfig {
    /// How many shards the stream has (default [`DEFAULT_SHARDS`], 4). Fixed when the stream is
    /// first created: opening it again with another count fails.
    pub shards: u32,
    /// How long records are kept (default [`DEFAULT_RETENTION`], 24 h). A segment is deleted
    /// once its newest record is older than this.
    pub retention: Duration,
    /// The size at which a shard starts a new segment (default [`DEFAULT_SEGMENT_BYTES`]). A
    /// segment may pass it by one group of writes.
    pub segment_bytes: u64,
    /// When writes are acknowledged (default [`DEFAULT_SYNC_POLICY`], durable).
    pub sync: SyncPolicy,
    /// How long a cycle of fewer than [`COMMIT_WINDOW_RECORDS`] records waits for more puts
    /// (default [`DEFAULT_COMMIT_WINDOW`]; zero commits what is queued at once).
    pub commit_window: Duration,
    /// Whether the Kinesis per-shard write limits apply (default [`DEFAULT_THROTTLE`], off):
    /// [`super::SHARD_BYTES_PER_SECOND`] and [`super::SHARD_RECORDS_PER_SECOND`].
    pub throttle: bool,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            shards: DEFAULT_SHARDS,
            retention: DEFAULT_RETENTION,
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            sync: DEFAULT_SYNC_POLICY,
            commit_window: DEFAULT_COMMIT_WINDOW,
            throttle: DEFAULT_THROTTLE,
        }
    }
}
