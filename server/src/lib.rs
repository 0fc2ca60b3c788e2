//! The Alleycat server: serves the racing app and its API.
//!
//! The binary (`main.rs`) only parses [`config`], sets up logging, binds and calls [`run`];
//! everything else lives here so that tests can start a real server on port 0 and stop it.

pub mod config;
pub mod http;
pub mod shutdown;

use std::{future::Future, sync::Arc};

use alleycat_domain::RaceClock;
use tokio::net::TcpListener;

pub use config::ServeConfig;

/// What every request handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: ServeConfig,
    clock: RaceClock,
}

impl AppState {
    /// State for a server with these settings.
    pub fn new(config: ServeConfig) -> Self {
        let clock = RaceClock::new(config.race_seconds);
        Self { inner: Arc::new(Inner { config, clock }) }
    }

    /// The settings the server runs with.
    pub fn config(&self) -> &ServeConfig {
        &self.inner.config
    }

    /// The race clock.
    pub fn clock(&self) -> RaceClock {
        self.inner.clock
    }
}

/// Serves on `listener` until `shutdown` resolves, then finishes in-flight requests and returns.
pub async fn run(
    listener: TcpListener,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)?;
    if !config.dist.join("index.html").is_file() {
        tracing::warn!(dist = %config.dist.display(), "The app is not built here; only the API is served. Build it with `trunk build --release`.");
    }
    let state = AppState::new(config);
    tracing::info!(address = %listener.local_addr()?, "Alleycat is listening.");
    axum::serve(listener, http::app(state)).with_graceful_shutdown(shutdown).await?;
    tracing::info!("Alleycat stopped.");
    Ok(())
}
