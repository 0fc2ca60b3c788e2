//! Opening the data directory's parts and running the background stages: the here-now readers
//! and ticker, delivery, and merge.

use std::{sync::Arc, time::Duration};

use alleycat_domain::RaceClock;
use alleycat_ingest::{
    delivery::{Delivery, DeliveryConfig},
    merge::{self, Database, MergeConfig, Merger},
    objects,
    stream::{DiskStream, ShardIterator, Stream, StreamConfig},
};
use anyhow::Context;
use object_store::ObjectStore;
use tokio::{sync::watch, task::JoinHandle};

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
    let stream_dir = dir.join(data_dir::STREAM_DIR);
    let stream_config = stream_config(config);
    let stream: Arc<dyn Stream> = Arc::new(
        tokio::task::spawn_blocking(move || DiskStream::open(stream_dir, stream_config))
            .await?
            .context("cannot open the event stream")?,
    );
    let store = objects::local_store(&dir.join(data_dir::OBJECTS_DIR))
        .context("cannot open the object store")?;
    let db = Database::open(&dir.join(data_dir::DATABASE_FILE))
        .await
        .context("cannot open the results database")?;
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
    stop_delivery: watch::Sender<bool>,
    delivery: JoinHandle<()>,
    merge: JoinHandle<()>,
    live: Vec<JoinHandle<()>>,
    stream: Arc<dyn Stream>,
}

/// Starts the here-now readers and ticker, delivery and merge.
pub fn start(state: &AppState, iterators: Vec<ShardIterator>) -> Running {
    let config = state.config();
    let board = state.inner.board.clone();
    let live = vec![
        tokio::spawn(live::follow(state.stream().clone(), board.clone(), iterators)),
        tokio::spawn(live::tick(board)),
    ];
    let (to_merge, notifications) = tokio::sync::mpsc::unbounded_channel();
    let delivery_config = DeliveryConfig {
        buffer_bytes: config.delivery_buffer_bytes,
        interval: Duration::from_millis(config.delivery_interval_ms),
        race_seconds: config.race_seconds,
        ..DeliveryConfig::default()
    };
    let delivery = Delivery::new(state.stream().clone(), state.store().clone(), delivery_config)
        .notify(to_merge);
    state.metrics().watch_delivery(delivery.progress());
    let (stop_delivery, mut stopped) = watch::channel(false);
    let delivery = tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        };
        if let Err(error) = delivery.run(shutdown).await {
            tracing::error!(%error, "Delivery stopped with an error.");
        }
    });
    let merger = Merger::new(
        state.store().clone(),
        state.db().clone(),
        MergeConfig { race_seconds: config.race_seconds, ..MergeConfig::default() },
    );
    state.metrics().watch_merge(merger.progress());
    // The merge ends when delivery, its only notifier, has stopped and it has merged the rest.
    let merge = tokio::spawn(async move {
        if let Err(error) = merge::run(merger, notifications, std::future::pending()).await {
            tracing::error!(%error, "Merge stopped with an error.");
        }
    });
    Running { stop_delivery, delivery, merge, live, stream: state.stream().clone() }
}

impl Running {
    /// Flushes delivery, waits for the merge to fold what it delivered, stops the readers.
    pub async fn stop(self) {
        let _ = self.stop_delivery.send(true);
        let _ = self.delivery.await;
        let _ = self.merge.await;
        for task in self.live {
            task.abort();
        }
        drop(self.stream);
    }
}
