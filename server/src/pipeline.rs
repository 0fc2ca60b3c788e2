//! Opening the data directory's parts and running the background stages: the here-now readers
//! and ticker on every server; delivery and merge on the one server that holds the pipeline
//! [`lease`] (always this one with the embedded SQLite database; one of several sharing a
//! PostgreSQL database otherwise).
//!
//! The leader loop: wait for the lease (asking about every second); start delivery and merge;
//! check the lease every second; when it is lost, abort both at once (nothing buffered is
//! flushed, no checkpoint is written) and wait for the lease again. On shutdown the holder flushes
//! delivery and the merge as before, then gives the lease up.

use std::{sync::Arc, time::Duration};

use alleycat_domain::RaceClock;
use alleycat_ingest::{
    delivery::DeliveryConfig,
    lease::{self, Lease},
    merge::{Database, MergeConfig},
    pipeline::{self, Pipeline, PipelineConfig},
    stream::{
        DiskStream, JetStreamConfig, JetStreamStream, ShardIterator, Stream, StreamConfig,
        StreamLocation,
    },
};
use anyhow::Context;
use object_store::ObjectStore;
use tokio::{sync::oneshot, task::JoinHandle};

use crate::{
    admission::Admission,
    auth::{ApiKeySource, Keys},
    data_dir,
    live::{self, LiveBoard},
    roster::Roster,
    AppState, ServeConfig,
};

/// Everything opened from the data directory.
pub struct Parts {
    pub keys: Keys,
    pub stream: Arc<dyn Stream>,
    pub store: Arc<dyn ObjectStore>,
    pub db: Database,
    pub roster: Arc<Roster>,
    pub board: Arc<LiveBoard>,
    pub admission: Admission,
    pub iterators: Vec<ShardIterator>,
}

/// The stream settings of `config`.
pub fn stream_config(config: &ServeConfig) -> StreamConfig {
    StreamConfig {
        shards: config.shards,
        retention: Duration::from_secs(config.retention_hours * 3600),
        throttle: config.throttle,
        ..StreamConfig::default()
    }
}

/// The JetStream settings of `config`, on `servers`.
pub fn jetstream_config(config: &ServeConfig, servers: &[String]) -> JetStreamConfig {
    let stream = stream_config(config);
    JetStreamConfig {
        stream_name: config.jetstream_stream.clone(),
        shards: stream.shards,
        retention: stream.retention,
        throttle: stream.throttle,
        replicas: config.jetstream_replicas.map(usize::from),
        ..JetStreamConfig::new(servers.to_vec())
    }
}

/// Opens the keys, stream, object store, database and roster, and replays the current race
/// into the here-now board and the duplicate check.
pub async fn open(config: &ServeConfig) -> anyhow::Result<Parts> {
    let dir = &config.data_dir;
    let (store, db) =
        pipeline::open(dir, &config.store.store_config(dir), &config.database.database_config())
            .await
            .context("cannot open the object store and results database")?;
    let keys = if db.is_shared() {
        let (keys, source) = Keys::load_shared(&db, config.api_key.clone())
            .await
            .context("cannot load the shared keys")?;
        match source {
            ApiKeySource::Generated => tracing::info!(
                api_key = keys.api_key(),
                "Generated the API key for producers (the load generator) into the database."
            ),
            ApiKeySource::Stored => {
                tracing::info!("Producers' API key is in the database (table shared_keys).")
            }
            ApiKeySource::Configured => {}
        }
        keys
    } else {
        let (keys, source) =
            Keys::load(dir, config.api_key.clone()).context("cannot load the keys")?;
        match source {
            ApiKeySource::Generated => tracing::info!(
                api_key = keys.api_key(),
                file = %dir.join(crate::auth::API_KEY_FILE).display(),
                "Generated the API key for producers (the load generator)."
            ),
            ApiKeySource::Stored => tracing::info!(
                file = %dir.join(crate::auth::API_KEY_FILE).display(),
                "Producers' API key is in this file."
            ),
            ApiKeySource::Configured => {}
        }
        keys
    };
    let stream_config = stream_config(config);
    let stream: Arc<dyn Stream> = match &config.stream {
        StreamLocation::Embedded => {
            // Locked to this process, as the data directory is.
            let stream_dir = dir.join(data_dir::STREAM_DIR);
            Arc::new(
                tokio::task::spawn_blocking(move || DiskStream::open(stream_dir, stream_config))
                    .await?
                    .context("cannot open the event stream")?,
            )
        }
        // Shared by every server that names it, by design.
        StreamLocation::Nats { servers } => {
            if !db.is_shared() {
                tracing::warn!(
                    "The stream is on NATS but the results are in this server's SQLite file: \
                     run one server so, or give every server the same --database-url, whose \
                     lease lets one of them at a time run delivery and merge."
                );
            }
            Arc::new(
                JetStreamStream::open(jetstream_config(config, servers))
                    .await
                    .context("cannot open the event stream on NATS JetStream")?,
            )
        }
    };
    let roster = Arc::new(
        Roster::load_or_create(&db, config.roster_size, config.roster_seed)
            .await
            .context("cannot load the roster")?,
    );
    let clock = RaceClock::new(config.race_seconds);
    let board = Arc::new(LiveBoard::new(clock, roster.clone()));
    let admission =
        Admission::new(clock, config.clock_grace_seconds, config.racer_events_per_second);
    let grace_ms = u64::from(config.clock_grace_seconds) * 1000;
    let iterators = live::catch_up(&*stream, &board, &admission, grace_ms, crate::now_ms()).await?;
    Ok(Parts { keys, stream, store, db, roster, board, admission, iterators })
}

/// The background stages, running.
pub struct Running {
    leader: JoinHandle<()>,
    stop_leader: oneshot::Sender<()>,
    live: Vec<JoinHandle<()>>,
}

/// Starts the here-now readers and ticker, and the leader loop that runs delivery and merge
/// while this server holds the database's pipeline lease.
pub fn start(state: &AppState, iterators: Vec<ShardIterator>) -> Running {
    let board = state.inner.board.clone();
    let live =
        vec![tokio::spawn(live::follow(state.clone(), iterators)), tokio::spawn(live::tick(board))];
    let (stop_leader, stopped) = oneshot::channel();
    let leader = tokio::spawn(lead(state.clone(), state.db().lease(), stopped));
    Running { leader, stop_leader, live }
}

fn pipeline_config(config: &ServeConfig) -> PipelineConfig {
    PipelineConfig {
        delivery: DeliveryConfig {
            buffer_bytes: config.delivery_buffer_bytes,
            interval: Duration::from_millis(config.delivery_interval_ms),
            race_seconds: config.race_seconds,
            ..DeliveryConfig::default()
        },
        merge: MergeConfig { race_seconds: config.race_seconds, ..MergeConfig::default() },
    }
}

/// Waits for the lease, runs the pipeline while it is held, and again, until `stop`.
async fn lead(state: AppState, lease: Arc<dyn Lease>, mut stop: oneshot::Receiver<()>) {
    loop {
        let mut held = tokio::select! {
            held = lease::acquire(lease.as_ref(), lease::RETRY_INTERVAL) => held,
            _ = &mut stop => return,
        };
        tracing::info!(lease = ?lease, "This server holds the pipeline lease: starting delivery and merge.");
        let pipeline = Pipeline::start(
            state.stream().clone(),
            state.store().clone(),
            state.db().clone(),
            pipeline_config(state.config()),
            Arc::new(alleycat_ingest::stream::SystemClock),
        );
        state.metrics().watch_delivery(pipeline.delivery_progress());
        state.metrics().watch_merge(pipeline.merge_progress());
        state.metrics().set_pipeline_leader(true);
        let lost = tokio::select! {
            error = lease::until_lost(held.as_mut(), lease::CHECK_INTERVAL) => Some(error),
            _ = &mut stop => None,
        };
        match lost {
            Some(error) => {
                tracing::error!(%error, "Lost the pipeline lease: stopping delivery and merge now.");
                pipeline.abort().await;
                state.metrics().set_pipeline_leader(false);
                state.metrics().lost_pipeline_lease();
                drop(held);
                tracing::info!("Delivery and merge stopped; waiting for the pipeline lease again.");
            }
            None => {
                if let Err(error) = pipeline.shutdown().await {
                    tracing::error!(%error, "The pipeline stopped with an error.");
                }
                state.metrics().set_pipeline_leader(false);
                held.release().await;
                tracing::info!("Gave up the pipeline lease.");
                return;
            }
        }
    }
}

impl Running {
    /// Flushes delivery, waits for the merge to fold what it delivered (when this server holds
    /// the lease), gives the lease up, stops the readers.
    pub async fn stop(self) {
        let _ = self.stop_leader.send(());
        if let Err(error) = self.leader.await {
            tracing::error!(%error, "The pipeline's leader task ended abnormally.");
        }
        for task in self.live {
            task.abort();
        }
    }
}
