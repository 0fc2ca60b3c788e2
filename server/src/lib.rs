//! The Alleycat server: serves the racing app and its API, and runs the ingest pipeline.
//!
//! The binary (`main.rs`) only parses [`config`], sets up logging, binds and calls [`run`];
//! everything else lives here so that tests can start a real server on port 0 and stop it.
//!
//! Inside one process: the HTTP API appends events to the embedded [`stream`](alleycat_ingest::stream);
//! the [`live`] board reads the stream for the here-now rankings; delivery and merge read it as
//! their own consumer and produce the history files and results the read API serves.

pub mod admission;
pub mod auth;
pub mod config;
mod data_dir;
pub mod demo;
pub mod http;
pub mod live;
pub mod metrics;
pub mod offline;
mod pipeline;
pub mod roster;
pub mod shutdown;

use std::{future::Future, sync::Arc};

use alleycat_domain::RaceClock;
use alleycat_ingest::{merge::Database, stream::Stream};
use object_store::ObjectStore;
use tokio::{net::TcpListener, sync::watch};

pub use config::ServeConfig;

use crate::{admission::Admission, auth::Keys, live::LiveBoard, roster::Roster};

/// What every request handler can reach. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: ServeConfig,
    clock: RaceClock,
    keys: Keys,
    stream: Arc<dyn Stream>,
    store: Arc<dyn ObjectStore>,
    db: Database,
    roster: Arc<Roster>,
    board: Arc<LiveBoard>,
    admission: Admission,
    closing: watch::Receiver<bool>,
    metrics: metrics::Metrics,
}

impl AppState {
    /// The settings the server runs with.
    pub fn config(&self) -> &ServeConfig {
        &self.inner.config
    }

    /// The race clock.
    pub fn clock(&self) -> RaceClock {
        self.inner.clock
    }

    /// The token and API keys.
    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// The event stream.
    pub fn stream(&self) -> &Arc<dyn Stream> {
        &self.inner.stream
    }

    /// The object store holding delivered objects and history files.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.inner.store
    }

    /// The results database.
    pub fn db(&self) -> &Database {
        &self.inner.db
    }

    /// The racers.
    pub fn roster(&self) -> &Roster {
        &self.inner.roster
    }

    /// The here-now board.
    pub fn board(&self) -> &LiveBoard {
        &self.inner.board
    }

    /// The admission rules for events.
    pub fn admission(&self) -> &Admission {
        &self.inner.admission
    }

    /// Becomes `true` when the server starts shutting down (WebSockets close on it).
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.inner.closing.clone()
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.inner.metrics
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("config", &self.config).finish_non_exhaustive()
    }
}

/// The wall clock in epoch milliseconds.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

/// Opens the data directory, starts the pipeline and serves on `listener` until `shutdown`
/// resolves; then stops accepting, closes WebSockets, finishes in-flight requests, flushes
/// delivery, lets the merge fold the last objects, and closes the stream.
pub async fn run(
    listener: TcpListener,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let _lock = data_dir::lock(&config.data_dir)?;
    if !config.dist.join("index.html").is_file() {
        tracing::warn!(dist = %config.dist.display(), "The app is not built here; only the API is served. Build it with scripts/build-app.sh.");
    }
    let (closing_tx, closing) = watch::channel(false);
    let parts = pipeline::open(&config).await?;
    let state = AppState {
        inner: Arc::new(Inner {
            clock: RaceClock::new(config.race_seconds),
            keys: parts.keys,
            stream: parts.stream.clone(),
            store: parts.store,
            db: parts.db,
            roster: parts.roster,
            board: parts.board,
            admission: parts.admission,
            closing,
            metrics: metrics::Metrics::new(),
            config,
        }),
    };
    let running = pipeline::start(&state, parts.iterators);
    let address = listener.local_addr()?;
    tracing::info!(%address, "Alleycat is listening: open http://{address}/ in a browser.");
    let demo = demo::start(&state, address, state.closing());
    let stop_http = async move {
        shutdown.await;
        let _ = closing_tx.send(true);
    };
    axum::serve(listener, http::app(state.clone()).into_make_service())
        .with_graceful_shutdown(stop_http)
        .await?;
    if let Some(demo) = demo {
        // It stops sending on `closing`; its last requests were answered before HTTP stopped.
        if tokio::time::timeout(std::time::Duration::from_secs(5), demo).await.is_err() {
            tracing::warn!("The demo field did not stop in time.");
        }
    }
    tracing::info!("HTTP stopped; flushing the pipeline.");
    running.stop().await;
    tracing::info!("Alleycat stopped.");
    Ok(())
}
