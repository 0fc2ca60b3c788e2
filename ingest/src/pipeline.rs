//! Delivery and merge wired together, for `alleycat serve`, `alleycat rebuild` and
//! `alleycat history import`.
//!
//! The data goes one way: the stream → [`Delivery`] → objects (+ a channel carrying each new
//! object's path) → [`Merger`] → history files and the results [`Database`]. Shutdown stops
//! delivery first (it flushes what it buffered and checkpoints), then lets the merge finish
//! the objects delivery announced, then stops it.

use std::{path::Path, sync::Arc};

use alleycat_domain::ClassId;
use object_store::ObjectStore;
use tokio::{
    sync::{mpsc, oneshot, watch},
    task::JoinHandle,
};

use crate::{
    db::{Database, DatabaseConfig, DbError},
    delivery::{Delivery, DeliveryConfig, DeliveryError, DeliveryProgress},
    merge::{self, MergeConfig, MergeError, MergeHealth, MergeProgress, Merger, RebuildStats},
    objects::{self, StoreConfig, StoreError},
    stream::{Clock, Stream},
};

/// How the pipeline runs: each stage's settings (see their defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipelineConfig {
    /// Delivery's buffering hints, names and retries.
    pub delivery: DeliveryConfig,
    /// The merge's race length and batching.
    pub merge: MergeConfig,
}

/// Why the pipeline stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Delivery gave up (storage or checkpoints failing past their limits).
    #[error(transparent)]
    Delivery(#[from] DeliveryError),
    /// The merge failed.
    #[error(transparent)]
    Merge(#[from] MergeError),
    /// A stage's task panicked or was cancelled.
    #[error("the {stage} task ended abnormally: {reason}")]
    Task {
        /// `delivery` or `merge`.
        stage: &'static str,
        /// The join error.
        reason: String,
    },
}

/// The running delivery and merge stages.
pub struct Pipeline {
    delivery_progress: watch::Receiver<DeliveryProgress>,
    merge_progress: watch::Receiver<MergeProgress>,
    merge_health: watch::Receiver<MergeHealth>,
    stop: oneshot::Sender<()>,
    delivery: JoinHandle<Result<(), DeliveryError>>,
    merge: JoinHandle<Result<(), MergeError>>,
}

/// Why a data directory's object store and results database could not be opened or worked on.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The object store could not be opened (see [`StoreError`] for each setting's error).
    #[error("cannot open the object store: {0}")]
    Store(#[from] StoreError),
    /// The database could not be opened.
    #[error("cannot open the database: {0}")]
    Database(#[from] DbError),
    /// The merge (rebuild, import) failed.
    #[error(transparent)]
    Merge(#[from] MergeError),
}

/// The object store `store` names and the results database `database` names (by default
/// `data_dir/results.sqlite`), migrated.
pub async fn open(
    data_dir: &Path,
    store: &StoreConfig,
    database: &DatabaseConfig,
) -> Result<(Arc<dyn ObjectStore>, Database), DataError> {
    let store = objects::open_store(store).await?;
    let database = Database::connect(database, data_dir).await?;
    Ok((store, database))
}

/// [`open`] with the defaults: the local filesystem under `data_dir`, fsynced, and the SQLite
/// file there.
pub async fn open_local(data_dir: &Path) -> Result<(Arc<dyn ObjectStore>, Database), DataError> {
    open(data_dir, &StoreConfig::Local { root: data_dir.to_owned() }, &DatabaseConfig::DataDir)
        .await
}

impl Pipeline {
    /// Starts delivery from `stream` into `store` and the merge into `store` and `database`,
    /// both reading the wall time from `clock`. The merge first catches up with every object
    /// not yet merged.
    pub fn start(
        stream: Arc<dyn Stream>,
        store: Arc<dyn ObjectStore>,
        database: Database,
        config: PipelineConfig,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let (notify, notifications) = mpsc::unbounded_channel();
        let merger = Merger::new(store.clone(), database, config.merge).clock(clock.clone());
        let merge_progress = merger.progress();
        let merge_health = merger.health();
        // The merge stops when delivery drops its end of the channel, after the last object.
        let merge = tokio::spawn(merge::run(merger, notifications, std::future::pending()));
        let delivery =
            Delivery::new(stream, store.clone(), config.delivery).notify(notify).clock(clock);
        let delivery_progress = delivery.progress();
        let (stop, stopped) = oneshot::channel::<()>();
        let delivery = tokio::spawn(delivery.run(async {
            let _ = stopped.await;
        }));
        Self { delivery_progress, merge_progress, merge_health, stop, delivery, merge }
    }

    /// Delivery's counters (for `/metrics`).
    pub fn delivery_progress(&self) -> watch::Receiver<DeliveryProgress> {
        self.delivery_progress.clone()
    }

    /// The merge's counters (for `/metrics`, and to wait until something is merged).
    pub fn merge_progress(&self) -> watch::Receiver<MergeProgress> {
        self.merge_progress.clone()
    }

    /// Whether the merge's attempts succeed (for `/readyz`).
    pub fn merge_health(&self) -> watch::Receiver<MergeHealth> {
        self.merge_health.clone()
    }

    /// Whether delivery or the merge has ended by itself (an error it gave up on, or a panic);
    /// [`Pipeline::shutdown`] then says why. Both run until stopped otherwise.
    pub fn has_stopped(&self) -> bool {
        self.delivery.is_finished() || self.merge.is_finished()
    }

    /// Stops delivery (flushing and checkpointing what it holds), lets the merge fold what was
    /// delivered, and waits for both.
    pub async fn shutdown(self) -> Result<(), PipelineError> {
        let _ = self.stop.send(());
        let delivered = self.delivery.await;
        let merged = self.merge.await;
        delivered
            .map_err(|e| PipelineError::Task { stage: "delivery", reason: e.to_string() })??;
        merged.map_err(|e| PipelineError::Task { stage: "merge", reason: e.to_string() })??;
        Ok(())
    }

    /// Stops both stages at once, without flushing: for a holder that lost the
    /// [`lease`](crate::lease). What delivery buffered is neither stored nor checkpointed (the
    /// next holder delivers it from the checkpoint), and a merge commit not yet made is rolled
    /// back. A store or checkpoint write already handed to a blocking thread may still finish.
    pub async fn abort(self) {
        self.delivery.abort();
        self.merge.abort();
        let _ = self.delivery.await;
        let _ = self.merge.await;
    }
}

/// `alleycat rebuild`: recomputes the history files and the results database (`database`) of
/// `data_dir` from every delivered and imported object in `store` (run with the server stopped).
pub async fn rebuild(
    data_dir: &Path,
    store: &StoreConfig,
    database: &DatabaseConfig,
    config: MergeConfig,
) -> Result<RebuildStats, DataError> {
    let (store, database) = open(data_dir, store, database).await?;
    let stats = merge::rebuild(store, database.clone(), config).await?;
    database.close().await;
    Ok(stats)
}

/// [`rebuild`] with the default store (the local filesystem under `data_dir`).
pub async fn rebuild_local(
    data_dir: &Path,
    config: MergeConfig,
) -> Result<RebuildStats, DataError> {
    let store = StoreConfig::Local { root: data_dir.to_owned() };
    rebuild(data_dir, &store, &DatabaseConfig::DataDir, config).await
}

/// `alleycat history import --class N FILE`: merges `bytes`, a history in the original Alleycat
/// format (gzipped or not), into class `class`'s history in `store` and `data_dir`'s database
/// (run with the server stopped). Returns how many racers it held.
pub async fn import(
    data_dir: &Path,
    store: &StoreConfig,
    database: &DatabaseConfig,
    class: ClassId,
    bytes: &[u8],
    config: MergeConfig,
) -> Result<usize, DataError> {
    let (store, database) = open(data_dir, store, database).await?;
    let mut merger = Merger::new(store, database.clone(), config);
    let racers = merge::import_original(&mut merger, class, bytes).await?;
    database.close().await;
    Ok(racers)
}

/// [`import`] with the default store (the local filesystem under `data_dir`).
pub async fn import_local(
    data_dir: &Path,
    class: ClassId,
    bytes: &[u8],
    config: MergeConfig,
) -> Result<usize, DataError> {
    let store = StoreConfig::Local { root: data_dir.to_owned() };
    import(data_dir, &store, &DatabaseConfig::DataDir, class, bytes, config).await
}
