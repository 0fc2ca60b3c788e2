//! Start-up: opens the data directory's parts (the object store, the database, the keys, the
//! event stream, the roster) into the [`AppState`] every handler uses, and replays the current
//! race into the here-now board and the duplicate check.

use std::{num::NonZeroU32, sync::Arc, time::Duration};

use alleycat_domain::{Clock, RaceClock};
use alleycat_ingest::{
    db::Database,
    pipeline,
    stream::{self, StreamConfig, StreamLocation, StreamSettings},
};
use anyhow::Context;
use tokio::sync::watch;

use crate::{
    admission::Admission,
    auth::{self, ApiKeySource, Keys},
    data_dir,
    identity::{limit::CreationLimit, passkey::Passkeys},
    live::{self, LiveBoard},
    metrics::Metrics,
    racers::Racers,
    roster::Roster,
    state::{AppState, Inner},
    ServeConfig,
};

/// The stream settings of `config` (its engine's directory in the data directory).
pub fn stream_settings(config: &ServeConfig) -> StreamSettings {
    StreamSettings {
        stream: StreamConfig {
            shards: config.shards,
            retention: Duration::from_secs(config.retention_hours * 3600),
            throttle: config.throttle,
            ..StreamConfig::default()
        },
        dir: config.data_dir.join(data_dir::STREAM_DIR),
        jetstream_stream: config.jetstream_stream.clone(),
        jetstream_replicas: config.jetstream_replicas.map(usize::from),
    }
}

/// Opens everything `config` names and builds the server's state (closing when `closing`
/// turns true); returns it with the here-now readers' iterators, positioned after the replay.
pub async fn open(
    config: ServeConfig,
    public_url: url::Url,
    time: Arc<dyn Clock>,
    closing: watch::Receiver<bool>,
) -> anyhow::Result<(AppState, live::CaughtUp)> {
    let dir = &config.data_dir;
    let (store, db) =
        pipeline::open(dir, &config.store.store_config(dir), &config.database.database_config())
            .await
            .context("cannot open the object store and results database")?;
    let keys = load_keys(&config, &db).await?;
    if matches!(config.stream, StreamLocation::Nats { .. }) && !db.is_shared() {
        tracing::warn!(
            "The stream is on NATS but the results are in this server's SQLite file: run one \
             server so, or give every server the same --database-url, whose lease lets one of \
             them at a time run delivery and merge."
        );
    }
    let stream = stream::open(&config.stream, &stream_settings(&config), time.clone()).await?;
    let roster = Arc::new(
        Roster::load_or_create(&db, config.roster_size, config.roster_seed)
            .await
            .context("cannot load the roster")?,
    );
    let racers = Arc::new(Racers::new(roster, db.clone(), time.clone()));
    let clock = RaceClock::new(config.race_seconds);
    let board = Arc::new(LiveBoard::new(clock, racers.clone()));
    let admission =
        Admission::new(clock, config.clock_grace_seconds, config.racer_events_per_second)
            .with_late_seconds(config.late_seconds);
    let grace_ms = u64::from(config.clock_grace_seconds) * 1000;
    let iterators = live::catch_up(&*stream, &board, &admission, grace_ms, time.now_ms()).await?;
    let creation_limit = CreationLimit::new(
        NonZeroU32::new(config.racer_creations_per_hour).unwrap_or(NonZeroU32::MIN),
        time.clone(),
    );
    let passkeys = Passkeys::new(&public_url).context("cannot use --public-url for passkeys")?;
    let inner = Inner {
        clock,
        time,
        keys,
        stream,
        store,
        db,
        racers,
        creation_limit,
        passkeys,
        public_url,
        board,
        admission,
        closing,
        metrics: Metrics::new(),
        pipeline: crate::health::PipelineStatus::default(),
        config,
    };
    Ok((AppState { inner: Arc::new(inner) }, iterators))
}

/// The token secret and the producers' API key: from the shared database when there is one,
/// else from the data directory's files; generated on first start, logged so an operator finds
/// the key.
async fn load_keys(config: &ServeConfig, db: &Database) -> anyhow::Result<Keys> {
    let dir = &config.data_dir;
    let (keys, source) = if db.is_shared() {
        Keys::load_shared(db, config.api_key.clone())
            .await
            .context("cannot load the shared keys")?
    } else {
        Keys::load(dir, config.api_key.clone()).context("cannot load the keys")?
    };
    let file = dir.join(auth::API_KEY_FILE);
    match (source, db.is_shared()) {
        (ApiKeySource::Generated, true) => tracing::info!(
            api_key = keys.api_key(),
            "Generated the API key for producers (the load generator) into the database."
        ),
        (ApiKeySource::Stored, true) => {
            tracing::info!("Producers' API key is in the database (table shared_keys).")
        }
        (ApiKeySource::Generated, false) => tracing::info!(
            api_key = keys.api_key(),
            file = %file.display(),
            "Generated the API key for producers (the load generator)."
        ),
        (ApiKeySource::Stored, false) => {
            tracing::info!(file = %file.display(), "Producers' API key is in this file.")
        }
        (ApiKeySource::Configured, _) => {}
    }
    Ok(keys)
}
