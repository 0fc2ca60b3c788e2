//! Helpers shared by the stream tests: a stream directory on the real disk or in memory, a
//! manual clock, and record builders.
#![allow(dead_code)]

use std::{path::PathBuf, sync::Arc, time::Duration};

use alleycat_ingest::stream::{
    DiskStream, Fs, GetRecordsOutput, ManualClock, MemFs, PutRecord, RealFs, Record, ShardId,
    StartingPosition, Stream, StreamConfig,
};
use bytes::Bytes;

/// Where a test's stream lives.
pub struct Env {
    pub fs: Arc<dyn Fs>,
    pub mem: Option<MemFs>,
    pub dir: PathBuf,
    pub clock: ManualClock,
    _tmp: Option<tempfile::TempDir>,
}

/// The clock's starting time in tests: 2026-01-01T00:00:00Z.
pub const T0: u64 = 1_767_225_600_000;

impl Env {
    pub fn mem() -> Self {
        let mem = MemFs::new();
        Self {
            fs: Arc::new(mem.clone()),
            mem: Some(mem),
            dir: PathBuf::from("/stream"),
            clock: ManualClock::new(T0),
            _tmp: None,
        }
    }

    pub fn disk() -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        Self {
            fs: Arc::new(RealFs),
            mem: None,
            dir: tmp.path().join("stream"),
            clock: ManualClock::new(T0),
            _tmp: Some(tmp),
        }
    }

    /// Both kinds, for tests that must hold on each.
    pub fn both() -> [Self; 2] {
        [Self::mem(), Self::disk()]
    }

    pub fn open(&self, config: StreamConfig) -> DiskStream {
        self.try_open(config).expect("open stream")
    }

    pub fn try_open(
        &self,
        config: StreamConfig,
    ) -> Result<DiskStream, alleycat_ingest::stream::StreamError> {
        DiskStream::open_with(
            Arc::clone(&self.fs),
            Arc::new(self.clock.clone()),
            self.dir.clone(),
            config,
        )
    }

    pub fn kind(&self) -> &'static str {
        if self.mem.is_some() {
            "memory"
        } else {
            "disk"
        }
    }
}

/// Small segments, so tests cross segment boundaries.
pub fn small_config(shards: u32) -> StreamConfig {
    StreamConfig { shards, segment_bytes: 4096, ..StreamConfig::default() }
}

pub fn rec(key: &str, data: &str) -> PutRecord {
    PutRecord {
        partition_key: key.to_owned(),
        explicit_hash_key: None,
        data: Bytes::copy_from_slice(data.as_bytes()),
    }
}

/// Every record of `shard` from TRIM_HORIZON to the tip.
pub async fn read_all(stream: &DiskStream, shard: ShardId) -> Vec<Record> {
    let mut iterator = stream.shard_iterator(shard, StartingPosition::TrimHorizon).await.unwrap();
    let mut out = Vec::new();
    loop {
        let GetRecordsOutput { records, next_iterator, .. } =
            stream.get_records(&iterator, 10_000, Duration::ZERO).await.unwrap();
        if records.is_empty() {
            return out;
        }
        out.extend(records);
        iterator = next_iterator;
    }
}

/// Every record of every shard, by shard.
pub async fn read_everything(stream: &DiskStream) -> Vec<Vec<Record>> {
    let mut out = Vec::new();
    for shard in stream.shards() {
        out.push(read_all(stream, shard.shard_id).await);
    }
    out
}
