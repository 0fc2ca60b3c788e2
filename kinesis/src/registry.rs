//! The streams the Kinesis API serves, by name.
//!
//! - [`PIPELINE_STREAM`] (`alleycat`) is the racing pipeline's own stream: the very
//!   `Arc<dyn Stream>` the server's `/api/events` writes to, so records put through Kinesis are
//!   delivered and merged like any racer event. It cannot be deleted, and its retention is the
//!   server's `--retention-hours`.
//! - Every other stream is made by CreateStream as its own [`DiskStream`] and survives restarts.
//!
//! # On disk (under the directory given to [`Registry::open`], `<data-dir>/kinesis/`)
//!
//! ```text
//! pipeline.json                the alleycat stream's metadata (creation time, tags, settings)
//! account.json                 account-wide settings (UpdateAccountSettings)
//! stream-<name>/meta.json      a created stream's metadata
//! stream-<name>/stream/        its DiskStream (format in alleycat_ingest::stream::disk)
//! .deleted-<ms>-<name>/        a deleted stream's folder, being removed
//! ```
//!
//! `meta.json` is JSON: `{"version":1,"shards":N,"retentionHours":H,"createdMs":T,
//! "onDemand":false,"tags":{...},"enhancedMetrics":[...],"encryptionKey":null,
//! "warmThroughputMibps":null,"policy":null,"consumers":{"<name>":{"createdMs":T,"tags":{...},
//! "policy":null}},"scalingsMs":[T,...]}` (`shards` is the open shard count, kept up to date by
//! resharding; the shard map itself is the engine's, in its `stream.meta`) (the fields after `tags` came later and default to empty when absent, so
//! older files read unchanged; see [`StreamMeta`]). It, like `account.json`, is replaced
//! atomically (temporary file, fsync, rename, directory fsync). A stream exists once its `meta.json` does: CreateStream writes it last, so
//! a folder without one is an interrupted creation, removed on the next open, as are leftover
//! `.deleted-*` folders. The `stream-` prefix keeps every name (`.` and `..` are valid stream
//! names) a plain child folder.
//!
//! Calls on a stream hold a read lock on its engine for their duration; deleting a stream or
//! changing its retention (which reopens the engine with the new setting) takes the write lock,
//! so it waits for calls in flight and later calls see the new state.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs, io,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};

use alleycat_ingest::stream::{
    Clock, DiskStream, RealFs, Reshard, Stream, StreamConfig, StreamError, SyncPolicy,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use tokio::sync::RwLockReadGuard;

use crate::error::KinesisError;

/// The name under which the racing pipeline's stream is served.
pub const PIPELINE_STREAM: &str = "alleycat";
/// The most shards a created stream may have.
pub const MAX_SHARDS_PER_STREAM: u32 = 1024;
/// The most tags a stream may carry (Kinesis: 50).
pub const MAX_TAGS_PER_STREAM: usize = 50;

/// UpdateShardCount's limit counts the scalings of a rolling day.
pub const SCALING_WINDOW_MS: u64 = 24 * 60 * 60 * 1000;
const META_VERSION: u32 = 1;
const PIPELINE_META: &str = "pipeline.json";
const ACCOUNT_META: &str = "account.json";
const STREAM_PREFIX: &str = "stream-";
const DELETED_PREFIX: &str = ".deleted-";

/// What Kinesis reports about a stream beyond its shards.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StreamMeta {
    /// The format version, 1.
    pub version: u32,
    /// Its shard count, fixed at creation.
    pub shards: u32,
    /// How long it keeps records, hours.
    pub retention_hours: u32,
    /// When it was created, epoch ms.
    pub created_ms: u64,
    /// Whether it was created in ON_DEMAND mode (it is served the same way).
    pub on_demand: bool,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// The shard-level metrics turned on by EnableEnhancedMonitoring (reported, not emitted).
    #[serde(default)]
    pub enhanced_metrics: BTreeSet<String>,
    /// The KMS key given to StartStreamEncryption while encryption is on (reported; records
    /// are not encrypted at rest here).
    #[serde(default)]
    pub encryption_key: Option<String>,
    /// The warm throughput asked for by UpdateStreamWarmThroughput, MiB/s.
    #[serde(default)]
    pub warm_throughput_mibps: Option<u32>,
    /// Its resource policy (PutResourcePolicy), as given.
    #[serde(default)]
    pub policy: Option<String>,
    /// Its registered consumers (enhanced fan-out), by name.
    #[serde(default)]
    pub consumers: BTreeMap<String, ConsumerMeta>,
    /// When UpdateShardCount scaled it within the last rolling day, epoch ms.
    #[serde(default)]
    pub scalings_ms: Vec<u64>,
}

impl StreamMeta {
    /// A new stream's metadata: no tags, settings or consumers.
    pub fn new(shards: u32, retention_hours: u32, created_ms: u64, on_demand: bool) -> Self {
        Self {
            version: META_VERSION,
            shards,
            retention_hours,
            created_ms,
            on_demand,
            tags: BTreeMap::new(),
            enhanced_metrics: BTreeSet::new(),
            encryption_key: None,
            warm_throughput_mibps: None,
            policy: None,
            consumers: BTreeMap::new(),
            scalings_ms: Vec::new(),
        }
    }
}

/// A consumer registered with RegisterStreamConsumer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsumerMeta {
    /// When it was registered, epoch ms (its ARN carries the second).
    pub created_ms: u64,
    /// Its tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Its resource policy, as given.
    #[serde(default)]
    pub policy: Option<String>,
}

/// Account-wide settings (UpdateAccountSettings), in `account.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AccountMeta {
    /// When the minimum throughput billing commitment was last turned on, epoch ms.
    #[serde(default)]
    pub commitment_started_ms: Option<u64>,
    /// When it ends or ended, epoch ms, once it was turned off.
    #[serde(default)]
    pub commitment_ends_ms: Option<u64>,
}

/// How streams made by CreateStream are run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CreatedStreams {
    /// Whether Kinesis' per-shard write limits apply.
    pub throttle: bool,
    /// When their writes are acknowledged.
    pub sync: SyncPolicy,
}

/// The racing pipeline's stream, as the server opened it.
#[derive(Clone)]
pub struct PipelineStream {
    /// The stream `/api/events` writes to.
    pub stream: Arc<dyn Stream>,
    /// Its retention, hours (`--retention-hours`).
    pub retention_hours: u32,
}

enum Engine {
    Shared(Arc<dyn Stream>),
    Own(Box<DiskStream>),
}

impl Engine {
    fn stream(&self) -> &dyn Stream {
        match self {
            Self::Shared(stream) => &**stream,
            Self::Own(stream) => &**stream,
        }
    }
}

/// One served stream.
pub struct Entry {
    name: String,
    /// Its folder; `None` for the pipeline's stream.
    dir: Option<PathBuf>,
    meta: Mutex<StreamMeta>,
    engine: tokio::sync::RwLock<Option<Engine>>,
    /// Set while a reshard runs (the stream is UPDATING).
    updating: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry").field("name", &self.name).finish_non_exhaustive()
    }
}

impl Entry {
    fn created(name: &str, dir: PathBuf, meta: StreamMeta, engine: DiskStream) -> Arc<Self> {
        Arc::new(Self {
            name: name.to_owned(),
            dir: Some(dir),
            meta: Mutex::new(meta),
            engine: tokio::sync::RwLock::new(Some(Engine::Own(Box::new(engine)))),
            updating: Default::default(),
        })
    }

    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether it is the racing pipeline's stream.
    pub fn is_pipeline(&self) -> bool {
        self.dir.is_none()
    }

    /// Its metadata now.
    pub fn meta(&self) -> StreamMeta {
        self.meta.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// `UPDATING` while a reshard runs, else `ACTIVE`.
    pub fn status(&self) -> &'static str {
        if self.updating.load(std::sync::atomic::Ordering::Acquire) {
            "UPDATING"
        } else {
            "ACTIVE"
        }
    }

    /// Whether consumer `name`, registered at `created_ms`, is still registered.
    pub fn has_consumer(&self, name: &str, created_ms: u64) -> bool {
        let meta = self.meta.lock().unwrap_or_else(|p| p.into_inner());
        meta.consumers.get(name).is_some_and(|c| c.created_ms == created_ms)
    }

    /// The stream, held for one call; `ResourceNotFound` once it has been deleted.
    pub async fn stream(&self) -> Result<RwLockReadGuard<'_, dyn Stream>, KinesisError> {
        RwLockReadGuard::try_map(self.engine.read().await, |engine| {
            engine.as_ref().map(Engine::stream)
        })
        .map_err(|_| KinesisError::stream_not_found(&self.name))
    }
}

/// The streams by name. See the module docs.
pub struct Registry {
    dir: PathBuf,
    created: CreatedStreams,
    clock: Arc<dyn Clock>,
    streams: RwLock<BTreeMap<String, Arc<Entry>>>,
    account: Mutex<AccountMeta>,
    /// Serializes create, delete and metadata changes.
    admin: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl Registry {
    /// Opens the registry in `dir` (created if missing): the pipeline's stream and every
    /// stream created before. Blocks on file I/O (each stream's recovery).
    pub fn open(
        dir: impl Into<PathBuf>,
        pipeline: PipelineStream,
        created: CreatedStreams,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StreamError> {
        let dir = dir.into();
        fs::create_dir_all(&dir)?;
        let mut streams = BTreeMap::new();
        let pipeline_meta_path = dir.join(PIPELINE_META);
        let open_shards = pipeline.stream.shards().iter().filter(|s| s.is_open()).count() as u32;
        let mut pipeline_meta = match read_meta(&pipeline_meta_path)? {
            Some(meta) => meta,
            None => StreamMeta::new(open_shards, pipeline.retention_hours, clock.now_ms(), false),
        };
        pipeline_meta.shards = open_shards;
        pipeline_meta.retention_hours = pipeline.retention_hours;
        write_meta(&pipeline_meta_path, &pipeline_meta)?;
        streams.insert(
            PIPELINE_STREAM.to_owned(),
            Arc::new(Entry {
                name: PIPELINE_STREAM.to_owned(),
                dir: None,
                meta: Mutex::new(pipeline_meta),
                engine: tokio::sync::RwLock::new(Some(Engine::Shared(pipeline.stream))),
                updating: Default::default(),
            }),
        );
        for item in fs::read_dir(&dir)? {
            let item = item?;
            let file_name = item.file_name().to_string_lossy().into_owned();
            let path = item.path();
            if file_name.starts_with(DELETED_PREFIX) {
                fs::remove_dir_all(&path)?;
                continue;
            }
            let Some(name) = file_name.strip_prefix(STREAM_PREFIX) else { continue };
            let Some(meta) = read_meta(&path.join("meta.json"))? else {
                tracing::warn!(stream = name, dir = %path.display(), "Removing a stream whose creation was interrupted.");
                fs::remove_dir_all(&path)?;
                continue;
            };
            let engine = open_engine(&path, &meta, created, &clock)?;
            tracing::info!(stream = name, shards = meta.shards, "Opened a Kinesis stream.");
            streams.insert(name.to_owned(), Entry::created(name, path, meta, engine));
        }
        let account = read_json(&dir.join(ACCOUNT_META))?.unwrap_or_default();
        Ok(Self {
            dir,
            created,
            clock,
            streams: RwLock::new(streams),
            account: Mutex::new(account),
            admin: Default::default(),
        })
    }

    /// The stream named `name`.
    pub fn get(&self, name: &str) -> Result<Arc<Entry>, KinesisError> {
        self.streams
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
            .ok_or_else(|| KinesisError::stream_not_found(name))
    }

    /// Every stream, in name order.
    pub fn list(&self) -> Vec<Arc<Entry>> {
        self.streams.read().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }

    /// Creates stream `name` with `shards` shards, the default retention (24 h) and `tags`.
    pub async fn create(
        &self,
        name: &str,
        shards: u32,
        on_demand: bool,
        tags: BTreeMap<String, String>,
    ) -> Result<(), KinesisError> {
        let _admin = self.admin.lock().await;
        if self.get(name).is_ok() {
            return Err(KinesisError::ResourceInUse(format!(
                "Stream {name} under account {} already exists.",
                crate::ACCOUNT_ID
            )));
        }
        let retention_hours = (alleycat_ingest::stream::DEFAULT_RETENTION.as_secs() / 3600) as u32;
        let mut meta = StreamMeta::new(shards, retention_hours, self.clock.now_ms(), on_demand);
        meta.tags = tags;
        let path = self.dir.join(format!("{STREAM_PREFIX}{name}"));
        let (created, clock, task_meta, task_path) =
            (self.created, self.clock.clone(), meta.clone(), path.clone());
        let engine = tokio::task::spawn_blocking(move || {
            let opened = fs::create_dir_all(&task_path)
                .map_err(StreamError::from)
                .and_then(|()| open_engine(&task_path, &task_meta, created, &clock))
                .and_then(|engine| {
                    write_meta(&task_path.join("meta.json"), &task_meta)?;
                    Ok(engine)
                });
            if opened.is_err() {
                let _ = fs::remove_dir_all(&task_path);
            }
            opened
        })
        .await
        .map_err(|_| KinesisError::InternalFailure)??;
        tracing::info!(stream = name, shards, "Created a Kinesis stream.");
        self.streams
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), Entry::created(name, path, meta, engine));
        Ok(())
    }

    /// Deletes stream `name`, its records and its consumers. The pipeline's stream is refused,
    /// and so is a stream with registered consumers unless `with_consumers`.
    pub async fn delete(&self, name: &str, with_consumers: bool) -> Result<(), KinesisError> {
        let _admin = self.admin.lock().await;
        let entry = self.get(name)?;
        let Some(dir) = entry.dir.clone() else {
            return Err(KinesisError::ResourceInUse(format!(
                "Stream {name} under account {} is the racing pipeline's stream and cannot be deleted.",
                crate::ACCOUNT_ID
            )));
        };
        let consumers = entry.meta().consumers.len();
        if consumers > 0 && !with_consumers {
            return Err(KinesisError::ResourceInUse(format!(
                "Stream {name} under account {} has {consumers} registered consumer(s); set EnforceConsumerDeletion to delete them with it.",
                crate::ACCOUNT_ID
            )));
        }
        self.streams.write().unwrap_or_else(|p| p.into_inner()).remove(name);
        // Waits for the calls in flight on it; later ones find it gone.
        let engine = entry.engine.write().await.take();
        if let Some(Engine::Own(stream)) = engine {
            (*stream).close().await;
        }
        let trash = self.dir.join(format!("{DELETED_PREFIX}{}-{name}", self.clock.now_ms()));
        tokio::task::spawn_blocking(move || {
            fs::rename(&dir, &trash)?;
            fs::remove_dir_all(&trash)
        })
        .await
        .map_err(|_| KinesisError::InternalFailure)?
        .map_err(|error| {
            tracing::error!(%error, stream = name, "Could not remove a deleted stream's files.");
            KinesisError::InternalFailure
        })?;
        tracing::info!(stream = name, "Deleted a Kinesis stream.");
        Ok(())
    }

    /// Changes `entry`'s metadata with `change` (which may refuse), stores it, and, when the
    /// retention changed, reopens the stream's engine with the new retention.
    pub async fn update(
        &self,
        entry: &Entry,
        change: impl FnOnce(&mut StreamMeta) -> Result<(), KinesisError>,
    ) -> Result<(), KinesisError> {
        let _admin = self.admin.lock().await;
        let before = entry.meta();
        let mut meta = before.clone();
        change(&mut meta)?;
        if meta == before {
            return Ok(());
        }
        let file = match &entry.dir {
            Some(dir) => dir.join("meta.json"),
            None => self.dir.join(PIPELINE_META),
        };
        let stored = meta.clone();
        tokio::task::spawn_blocking(move || write_meta(&file, &stored))
            .await
            .map_err(|_| KinesisError::InternalFailure)?
            .map_err(StreamError::from)?;
        if meta.retention_hours != before.retention_hours {
            if let Some(dir) = &entry.dir {
                let mut engine = entry.engine.write().await;
                if let Some(Engine::Own(old)) = engine.take() {
                    (*old).close().await;
                }
                let (dir, reopened, created, clock) =
                    (dir.clone(), meta.clone(), self.created, self.clock.clone());
                let opened = tokio::task::spawn_blocking(move || {
                    open_engine(&dir, &reopened, created, &clock)
                })
                .await
                .map_err(|_| KinesisError::InternalFailure)??;
                *engine = Some(Engine::Own(Box::new(opened)));
            }
        }
        *entry.meta.lock().unwrap_or_else(|p| p.into_inner()) = meta;
        Ok(())
    }

    /// Reshards `entry` ([`alleycat_ingest::stream::map`]): the stream is UPDATING meanwhile
    /// (a second reshard is refused with ResourceInUse), and its metadata records the new open
    /// shard count and, for `scaling`, when (UpdateShardCount's rolling-day limit).
    pub async fn reshard(
        &self,
        entry: &Entry,
        change: Reshard,
        scaling: bool,
    ) -> Result<(), KinesisError> {
        use std::sync::atomic::Ordering;
        if entry.updating.swap(true, Ordering::AcqRel) {
            return Err(KinesisError::ResourceInUse(format!(
                "Stream {} under account {} not ACTIVE, instead in state UPDATING",
                entry.name(),
                crate::ACCOUNT_ID
            )));
        }
        let result = async {
            let stream = entry.stream().await?;
            stream.reshard(change).await?;
            let open = stream.shards().iter().filter(|s| s.is_open()).count() as u32;
            drop(stream);
            let now = self.clock.now_ms();
            self.update(entry, |meta| {
                meta.shards = open;
                if scaling {
                    meta.scalings_ms.retain(|&ms| ms + SCALING_WINDOW_MS > now);
                    meta.scalings_ms.push(now);
                }
                Ok(())
            })
            .await
        }
        .await;
        entry.updating.store(false, Ordering::Release);
        result
    }

    /// The account-wide settings now.
    pub fn account(&self) -> AccountMeta {
        self.account.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Changes the account-wide settings with `change` and stores them.
    pub async fn update_account(
        &self,
        change: impl FnOnce(&mut AccountMeta),
    ) -> Result<AccountMeta, KinesisError> {
        let _admin = self.admin.lock().await;
        let mut account = self.account();
        change(&mut account);
        let (file, stored) = (self.dir.join(ACCOUNT_META), account.clone());
        tokio::task::spawn_blocking(move || write_meta(&file, &stored))
            .await
            .map_err(|_| KinesisError::InternalFailure)?
            .map_err(StreamError::from)?;
        *self.account.lock().unwrap_or_else(|p| p.into_inner()) = account.clone();
        Ok(account)
    }

    /// Stops the engines of the created streams (their writers finish what is queued).
    pub async fn close(&self) {
        for entry in self.list() {
            if let Some(Engine::Own(stream)) = entry.engine.write().await.take() {
                (*stream).close().await;
            }
        }
    }
}

fn open_engine(
    dir: &Path,
    meta: &StreamMeta,
    created: CreatedStreams,
    clock: &Arc<dyn Clock>,
) -> Result<DiskStream, StreamError> {
    let config = StreamConfig {
        shards: meta.shards,
        retention: Duration::from_secs(u64::from(meta.retention_hours) * 3600),
        throttle: created.throttle,
        sync: created.sync,
        ..StreamConfig::default()
    };
    DiskStream::open_with(Arc::new(RealFs), clock.clone(), dir.join("stream"), config)
}

/// Reads a JSON file; `None` when it does not exist.
fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Option<T>, StreamError> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        io::Error::new(io::ErrorKind::InvalidData, format!("{} is corrupt: {e}", path.display()))
            .into()
    })
}

fn read_meta(path: &Path) -> Result<Option<StreamMeta>, StreamError> {
    let Some(meta) = read_json::<StreamMeta>(path)? else { return Ok(None) };
    if meta.version != META_VERSION {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} has unknown version {}", path.display(), meta.version),
        )
        .into());
    }
    Ok(Some(meta))
}

/// Replaces `path` atomically: temporary file, fsync, rename, directory fsync.
fn write_meta(path: &Path, meta: &impl Serialize) -> io::Result<()> {
    use std::io::Write;
    let temp = path.with_extension("json.tmp");
    {
        let mut file = fs::File::create(&temp)?;
        file.write_all(&serde_json::to_vec_pretty(meta).map_err(io::Error::other)?)?;
        file.sync_all()?;
    }
    fs::rename(&temp, path)?;
    if let Some(parent) = path.parent() {
        fs::File::open(parent)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use alleycat_ingest::stream::{ManualClock, PutRecord, SystemClock};

    use super::*;

    fn pipeline(dir: &Path) -> PipelineStream {
        let stream = DiskStream::open(
            dir.join("pipeline"),
            StreamConfig { shards: 2, ..Default::default() },
        )
        .unwrap();
        PipelineStream { stream: Arc::new(stream), retention_hours: 24 }
    }

    fn open(dir: &Path) -> Registry {
        Registry::open(dir.join("k"), pipeline(dir), CREATED, Arc::new(SystemClock)).unwrap()
    }

    const CREATED: CreatedStreams = CreatedStreams { throttle: false, sync: SyncPolicy::Always };

    #[tokio::test]
    async fn created_streams_and_their_tags_survive_a_reopen_and_deleted_ones_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(1_000));
        let pipe = pipeline(dir.path());
        let registry =
            Registry::open(dir.path().join("kinesis"), pipe.clone(), CREATED, clock.clone())
                .unwrap();
        registry.create("..", 3, false, BTreeMap::new()).await.unwrap();
        registry.create("gone", 1, false, BTreeMap::new()).await.unwrap();
        let entry = registry.get("..").unwrap();
        registry
            .update(&entry, |meta| {
                meta.tags.insert("team".into(), "red".into());
                meta.retention_hours = 48;
                Ok(())
            })
            .await
            .unwrap();
        let put =
            PutRecord { partition_key: "k".into(), explicit_hash_key: None, data: "x".into() };
        assert_eq!(
            entry.stream().await.unwrap().put_records(vec![put]).await.unwrap().failed_record_count,
            0
        );
        registry.delete("gone", false).await.unwrap();
        assert!(registry.get("gone").is_err());
        registry.close().await;
        drop((registry, entry));

        let registry = Registry::open(dir.path().join("kinesis"), pipe, CREATED, clock).unwrap();
        let names: Vec<_> = registry.list().iter().map(|e| e.name().to_owned()).collect();
        assert_eq!(names, ["..", "alleycat"]);
        let meta = registry.get("..").unwrap().meta();
        assert_eq!((meta.shards, meta.retention_hours, meta.created_ms), (3, 48, 1_000));
        assert_eq!(meta.tags["team"], "red");
        assert_eq!(registry.get("..").unwrap().stream().await.unwrap().shards().len(), 3);
        registry.close().await;
    }

    #[tokio::test]
    async fn the_pipeline_stream_cannot_be_created_again_or_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let registry = open(dir.path());
        assert!(matches!(
            registry.create(PIPELINE_STREAM, 1, false, BTreeMap::new()).await,
            Err(KinesisError::ResourceInUse(_))
        ));
        assert!(matches!(
            registry.delete(PIPELINE_STREAM, true).await,
            Err(KinesisError::ResourceInUse(_))
        ));
        assert!(registry.get(PIPELINE_STREAM).unwrap().is_pipeline());
    }

    #[test]
    fn an_interrupted_creation_is_removed_on_open() {
        let dir = tempfile::tempdir().unwrap();
        let half = dir.path().join("k").join("stream-half");
        fs::create_dir_all(half.join("stream")).unwrap();
        let registry = open(dir.path());
        assert!(registry.get("half").is_err());
        assert!(!half.exists());
    }
}
