//! Helpers shared by the stream tests: a stream directory on the real disk or in memory, a
//! manual clock, and record builders; and [`Engine`], the same tests on every engine (memory,
//! disk, and a JetStream stream on a real three-node NATS cluster).
#![allow(dead_code)]

use std::{
    ops::Deref,
    path::PathBuf,
    sync::{Arc, Weak},
    time::Duration,
};

use alleycat_ingest::stream::{
    Clock, DiskStream, Fs, GetRecordsOutput, JetStreamConfig, JetStreamStream, ManualClock, MemFs,
    PutRecord, RealFs, Record, ShardId, StartingPosition, Stream, StreamConfig, StreamError,
    SystemClock,
};
use alleycat_testkit::nats::NatsCluster;
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
pub async fn read_all(stream: &dyn Stream, shard: ShardId) -> Vec<Record> {
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

/// Every record of `shard` from TRIM_HORIZON and, once it is read to its end (closed), its
/// children's ids.
pub async fn read_to_end(
    stream: &dyn Stream,
    shard: ShardId,
) -> (Vec<String>, Option<Vec<ShardId>>) {
    let mut iterator = stream.shard_iterator(shard, StartingPosition::TrimHorizon).await.unwrap();
    let mut data = Vec::new();
    loop {
        let out = stream.get_records(&iterator, 3, Duration::ZERO).await.unwrap();
        data.extend(out.records.iter().map(|r| String::from_utf8_lossy(&r.data).into_owned()));
        if let Some(children) = out.child_shards {
            assert!(
                stream
                    .get_records(&out.next_iterator, 3, Duration::ZERO)
                    .await
                    .unwrap()
                    .records
                    .is_empty(),
                "nothing after a closed shard's end"
            );
            return (data, Some(children.iter().map(|c| c.shard_id).collect()));
        }
        if out.records.is_empty() {
            return (data, None);
        }
        iterator = out.next_iterator;
    }
}

/// Every record of every shard, by shard.
pub async fn read_everything(stream: &dyn Stream) -> Vec<Vec<Record>> {
    let mut out = Vec::new();
    for shard in stream.shards() {
        out.push(read_all(stream, shard.shard_id).await);
    }
    out
}

/// The NATS cluster the JetStream variants of a test binary share while any test holds it
/// (each test has its own stream on it); started on first use, killed when the last holder
/// drops it.
static CLUSTER: tokio::sync::Mutex<Weak<NatsCluster>> = tokio::sync::Mutex::const_new(Weak::new());

/// The shared three-node cluster.
pub async fn shared_cluster() -> Arc<NatsCluster> {
    let mut slot = CLUSTER.lock().await;
    if let Some(cluster) = slot.upgrade() {
        return cluster;
    }
    let cluster = Arc::new(NatsCluster::start().await);
    *slot = Arc::downgrade(&cluster);
    cluster
}

/// A fresh JetStream stream name.
pub fn unique_stream_name() -> String {
    format!("test_{}", uuid::Uuid::new_v4().simple())
}

/// The JetStream settings of a test stream on `cluster`, from the disk engine's `config`: the
/// same shards, retention and throttle, three replicas.
pub fn jetstream_config(
    cluster: &NatsCluster,
    name: &str,
    config: &StreamConfig,
) -> JetStreamConfig {
    JetStreamConfig {
        stream_name: name.to_owned(),
        shards: config.shards,
        retention: config.retention,
        throttle: config.throttle,
        replicas: Some(3),
        ..JetStreamConfig::new(cluster.servers())
    }
}

/// Which engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The disk engine on [`MemFs`].
    Memory,
    /// The disk engine on the real disk.
    Disk,
    /// A JetStream stream on a three-node cluster.
    JetStream,
}

/// One engine for a test: where its stream lives, and the manual clock (the embedded engines'
/// clock for everything; the JetStream engine's for the throttle only, arrival times being
/// JetStream's).
pub struct Engine {
    pub kind: Kind,
    pub clock: ManualClock,
    env: Option<Env>,
    nats: Option<(Arc<NatsCluster>, String)>,
}

/// A stream of any engine, used as `dyn Stream`.
pub enum TestStream {
    Disk(Box<DiskStream>),
    JetStream(Box<JetStreamStream>),
}

impl Deref for TestStream {
    type Target = dyn Stream;

    fn deref(&self) -> &Self::Target {
        match self {
            Self::Disk(s) => &**s,
            Self::JetStream(s) => &**s,
        }
    }
}

impl TestStream {
    pub async fn close(self) {
        match self {
            Self::Disk(s) => (*s).close().await,
            Self::JetStream(s) => (*s).close().await,
        }
    }

    /// The stream as the pipeline holds it.
    pub fn into_arc(self) -> Arc<dyn Stream> {
        match self {
            Self::Disk(s) => Arc::new(*s),
            Self::JetStream(s) => Arc::new(*s),
        }
    }

    /// The disk engine, for what only it has.
    pub fn disk(&self) -> &DiskStream {
        match self {
            Self::Disk(s) => s,
            Self::JetStream(_) => panic!("not the disk engine"),
        }
    }
}

impl Engine {
    pub fn memory() -> Self {
        let env = Env::mem();
        Self { kind: Kind::Memory, clock: env.clock.clone(), env: Some(env), nats: None }
    }

    pub fn disk() -> Self {
        let env = Env::disk();
        Self { kind: Kind::Disk, clock: env.clock.clone(), env: Some(env), nats: None }
    }

    /// A new stream on the shared cluster. Its clock (the throttle's and the lag's) starts at
    /// the wall time, since the servers stamp arrivals on theirs.
    pub async fn jetstream() -> Self {
        let cluster = shared_cluster().await;
        Self {
            kind: Kind::JetStream,
            clock: ManualClock::new(SystemClock.now_ms()),
            env: None,
            nats: Some((cluster, unique_stream_name())),
        }
    }

    /// The embedded engines.
    pub fn embedded() -> Vec<Self> {
        vec![Self::memory(), Self::disk()]
    }

    /// Every engine.
    pub async fn all() -> Vec<Self> {
        vec![Self::memory(), Self::disk(), Self::jetstream().await]
    }

    pub async fn open(&self, config: StreamConfig) -> TestStream {
        match self.try_open(config).await {
            Ok(stream) => stream,
            Err(error) => panic!("{}: cannot open the stream: {error}", self.kind()),
        }
    }

    pub async fn try_open(&self, config: StreamConfig) -> Result<TestStream, StreamError> {
        match (&self.env, &self.nats) {
            (Some(env), _) => env.try_open(config).map(|s| TestStream::Disk(Box::new(s))),
            (None, Some((cluster, name))) => {
                let config = jetstream_config(cluster, name, &config);
                JetStreamStream::open_with_clock(Arc::new(self.clock.clone()), config)
                    .await
                    .map(|s| TestStream::JetStream(Box::new(s)))
            }
            (None, None) => unreachable!("an engine has a place"),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self.kind {
            Kind::Memory => "memory",
            Kind::Disk => "disk",
            Kind::JetStream => "jetstream",
        }
    }

    /// The time arrival times are taken from: the manual clock, or the wall clock for
    /// JetStream (whose servers stamp messages).
    pub fn now_ms(&self) -> u64 {
        match self.kind {
            Kind::JetStream => SystemClock.now_ms(),
            _ => self.clock.now_ms(),
        }
    }
}
