//! Opening the data directory's parts and running the background stages: the here-now readers
//! and ticker, delivery, and merge.

use std::{sync::Arc, time::Duration};

use alleycat_domain::RaceClock;
use alleycat_ingest::{
    delivery::DeliveryConfig,
    merge::{Database, MergeConfig},
    pipeline::{self, Pipeline, PipelineConfig},
    stream::{
        DiskStream, JetStreamConfig, JetStreamStream, ShardIterator, Stream, StreamConfig,
        StreamLocation,
    },
};
use anyhow::Context;
use object_store::ObjectStore;
use tokio::task::JoinHandle;

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
    let (keys, source) = Keys::load(dir, config.api_key.clone()).context("cannot load the keys")?;
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
        StreamLocation::Nats { servers } => Arc::new(
            JetStreamStream::open(jetstream_config(config, servers))
                .await
                .context("cannot open the event stream on NATS JetStream")?,
        ),
    };
    let (store, db) = pipeline::open(dir, &config.store.store_config(dir))
        .await
        .context("cannot open the object store and results database")?;
    let roster = Arc::new(
        Roster::load_or_create(db.pool(), config.roster_size, config.roster_seed)
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
    pipeline: Pipeline,
    live: Vec<JoinHandle<()>>,
}

/// Starts the here-now readers and ticker, delivery and merge.
pub fn start(state: &AppState, iterators: Vec<ShardIterator>) -> Running {
    let config = state.config();
    let board = state.inner.board.clone();
    let live = vec![
        tokio::spawn(live::follow(state.stream().clone(), board.clone(), iterators)),
        tokio::spawn(live::tick(board)),
    ];
    let pipeline_config = PipelineConfig {
        delivery: DeliveryConfig {
            buffer_bytes: config.delivery_buffer_bytes,
            interval: Duration::from_millis(config.delivery_interval_ms),
            race_seconds: config.race_seconds,
            ..DeliveryConfig::default()
        },
        merge: MergeConfig { race_seconds: config.race_seconds, ..MergeConfig::default() },
    };
    let pipeline = Pipeline::start(
        state.stream().clone(),
        state.store().clone(),
        state.db().clone(),
        pipeline_config,
    );
    state.metrics().watch_delivery(pipeline.delivery_progress());
    state.metrics().watch_merge(pipeline.merge_progress());
    Running { pipeline, live }
}

impl Running {
    /// Flushes delivery, waits for the merge to fold what it delivered, stops the readers.
    pub async fn stop(self) {
        if let Err(error) = self.pipeline.shutdown().await {
            tracing::error!(%error, "The pipeline stopped with an error.");
        }
        for task in self.live {
            task.abort();
        }
    }
}
