//! Test doubles for the delivery and merge tests: an in-memory stream that keeps the stream
//! contract's rules (per-shard order, checkpoints, waiting at the tip) and an object store that
//! fails on demand.
#![allow(dead_code)]

use std::{
    collections::BTreeMap,
    fmt,
    ops::Range,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use alleycat_domain::{ride::RiderProfile, EventKind, RacerEvent};
use alleycat_ingest::stream::*;
use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::{
    path::Path, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

#[allow(unused_imports)] // not every test file that shares this module waits
pub use alleycat_testkit::within;

/// The longest a test waits for delivery or the merge to get somewhere (on tokio's clock, so a
/// paused test fails at once instead of after a minute).
pub const WAIT: Duration = Duration::from_secs(60);

/// A Kinesis-like stream in memory.
pub struct MemStream {
    shards: u32,
    state: Mutex<State>,
    appended: tokio::sync::Notify,
    /// While set, checkpoints fail (a crash before the checkpoint, as seen by the stream).
    pub fail_checkpoints: AtomicBool,
    /// The arrival time given to the next records, epoch milliseconds.
    pub clock_ms: AtomicU64,
}

#[derive(Default)]
struct State {
    logs: Vec<Vec<Record>>,
    checkpoints: BTreeMap<String, BTreeMap<ShardId, SequenceNumber>>,
}

impl MemStream {
    pub fn new(shards: u32) -> Arc<Self> {
        Arc::new(Self {
            shards,
            state: Mutex::new(State {
                logs: vec![Vec::new(); shards as usize],
                ..Default::default()
            }),
            appended: tokio::sync::Notify::new(),
            fail_checkpoints: AtomicBool::new(false),
            clock_ms: AtomicU64::new(1_764_093_600_000),
        })
    }

    /// Puts `data` records (partition key: the index), all succeeding.
    pub async fn put_all(&self, data: impl IntoIterator<Item = (String, Vec<u8>)>) {
        let records: Vec<_> = data
            .into_iter()
            .map(|(key, data)| PutRecord {
                partition_key: key,
                explicit_hash_key: None,
                data: Bytes::from(data),
            })
            .collect();
        for chunk in records.chunks(MAX_RECORDS_PER_PUT) {
            let out = self.put_records(chunk.to_vec()).await.unwrap();
            assert_eq!(out.failed_record_count, 0);
        }
    }

    pub fn total_records(&self) -> usize {
        self.state.lock().unwrap().logs.iter().map(Vec::len).sum()
    }
}

#[async_trait]
impl Stream for MemStream {
    fn shards(&self) -> Vec<ShardDescription> {
        hash_ranges(self.shards)
            .into_iter()
            .enumerate()
            .map(|(i, (start, end))| ShardDescription {
                shard_id: ShardId(i as u32),
                starting_hash_key: start,
                ending_hash_key: end,
                starting_sequence_number: SequenceNumber(1),
                ending_sequence_number: None,
                parent_shard_id: None,
                adjacent_parent_shard_id: None,
                opened_ms: 0,
                closed_ms: None,
            })
            .collect()
    }

    async fn put_records(&self, records: Vec<PutRecord>) -> Result<PutRecordsOutput, StreamError> {
        let mut state = self.state.lock().unwrap();
        let arrival_ms = self.clock_ms.load(Ordering::SeqCst);
        let mut out = PutRecordsOutput::default();
        for r in records {
            let shard = route(
                r.explicit_hash_key.unwrap_or_else(|| hash_key(&r.partition_key)),
                self.shards,
            );
            let log = &mut state.logs[shard.0 as usize];
            let sequence_number = SequenceNumber(log.len() as u128 + 1);
            log.push(Record {
                shard_id: shard,
                sequence_number,
                partition_key: r.partition_key,
                data: r.data,
                arrival_ms,
            });
            out.records.push(Ok(PutRecordOk { shard_id: shard, sequence_number }));
        }
        drop(state);
        self.appended.notify_waiters();
        Ok(out)
    }

    async fn shard_iterator(
        &self,
        shard: ShardId,
        start: StartingPosition,
    ) -> Result<ShardIterator, StreamError> {
        let state = self.state.lock().unwrap();
        let log = state
            .logs
            .get(shard.0 as usize)
            .ok_or_else(|| StreamError::InvalidArgument("shard".into()))?;
        let position = match start {
            StartingPosition::TrimHorizon => 1,
            StartingPosition::Latest => log.len() as u128 + 1,
            StartingPosition::AtSequenceNumber(s) => s.0,
            StartingPosition::AfterSequenceNumber(s) => s.0 + 1,
            StartingPosition::AtTimestamp(t) => log
                .iter()
                .find(|r| r.arrival_ms >= t)
                .map_or(log.len() as u128 + 1, |r| r.sequence_number.0),
        };
        Ok(ShardIterator { shard_id: shard, position })
    }

    async fn get_records(
        &self,
        iterator: &ShardIterator,
        limit: usize,
        wait: Duration,
    ) -> Result<GetRecordsOutput, StreamError> {
        let read = || {
            let state = self.state.lock().unwrap();
            let log = &state.logs[iterator.shard_id.0 as usize];
            let from = (iterator.position as usize - 1).min(log.len());
            let to = (from + limit).min(log.len());
            log[from..to].to_vec()
        };
        let notified = self.appended.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let mut records = read();
        if records.is_empty() && !wait.is_zero() {
            let _ = tokio::time::timeout(wait, notified).await;
            records = read();
        }
        let next = iterator.position + records.len() as u128;
        Ok(GetRecordsOutput {
            records,
            next_iterator: ShardIterator { shard_id: iterator.shard_id, position: next },
            millis_behind_latest: 0,
            child_shards: None,
        })
    }

    async fn checkpoint(
        &self,
        consumer: &str,
        shard: ShardId,
        sequence: SequenceNumber,
    ) -> Result<(), StreamError> {
        if self.fail_checkpoints.load(Ordering::SeqCst) {
            return Err(StreamError::Io(std::io::Error::other("checkpoint disk unavailable")));
        }
        self.state
            .lock()
            .unwrap()
            .checkpoints
            .entry(consumer.to_string())
            .or_default()
            .insert(shard, sequence);
        Ok(())
    }

    async fn checkpoints(
        &self,
        consumer: &str,
    ) -> Result<BTreeMap<ShardId, SequenceNumber>, StreamError> {
        Ok(self.state.lock().unwrap().checkpoints.get(consumer).cloned().unwrap_or_default())
    }
}

/// An object store that fails the next `fail_puts` puts, then heals.
#[derive(Debug)]
pub struct FailingStore {
    pub inner: Arc<dyn ObjectStore>,
    pub fail_puts: AtomicUsize,
    pub failed: AtomicUsize,
}

impl FailingStore {
    pub fn new(inner: Arc<dyn ObjectStore>, fail_puts: usize) -> Arc<Self> {
        Arc::new(Self {
            inner,
            fail_puts: AtomicUsize::new(fail_puts),
            failed: AtomicUsize::new(0),
        })
    }
}

impl fmt::Display for FailingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FailingStore({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for FailingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        if self
            .fail_puts
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            self.failed.fetch_add(1, Ordering::SeqCst);
            return Err(object_store::Error::Generic {
                store: "FailingStore",
                source: "the disk is unavailable".into(),
            });
        }
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }
    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }
    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }
    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: object_store::CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// A valid event of `racer` at `second` of `race` in `class`, from the ride model.
pub fn event(racer: u64, race: u64, class: u8, second: u32) -> RacerEvent {
    let reading = RiderProfile::new(7, racer).race(race, 300).at(second);
    RacerEvent {
        uuid: uuid::Uuid::from_u128(
            u128::from(racer) << 64 | u128::from(race) << 16 | u128::from(second),
        ),
        event: if second == 300 { EventKind::Final } else { EventKind::Update },
        device_timestamp: 1_764_093_600_000 + u64::from(second) * 1000,
        second,
        race_id: race,
        racer_id: racer,
        class_id: class,
        cadence: f64::from(reading.cadence),
        resistance: f64::from(reading.resistance),
        source: alleycat_domain::Source::Sim,
        power: None,
        heart_rate: None,
    }
}

/// `(partition key, JSON)` for stream puts.
pub fn put_of(event: &RacerEvent) -> (String, Vec<u8>) {
    (event.racer_id.to_string(), serde_json::to_vec(event).unwrap())
}

/// One delivered object's bytes (gzip NDJSON) holding `events`, as delivery writes them.
pub fn delivered_object(events: &[RacerEvent]) -> Vec<u8> {
    let mut lines = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let record = Record {
            shard_id: ShardId(0),
            sequence_number: SequenceNumber(i as u128 + 1),
            partition_key: e.racer_id.to_string(),
            data: Bytes::from(serde_json::to_vec(e).unwrap()),
            arrival_ms: 1_764_093_600_000,
        };
        alleycat_ingest::delivery::transform::transform(&record, 300, 0, &mut lines).unwrap();
    }
    alleycat_domain::gzip::gzip(&lines, alleycat_ingest::delivery::DEFAULT_GZIP_LEVEL)
}

/// CPU time (user + system) this process has used, in seconds (Linux `/proc/self/stat`).
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// The 1-minute load average (how busy the shared machine was).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .next()
        .unwrap_or("?")
        .to_string()
}
