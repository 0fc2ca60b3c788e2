//! The Alleycat server: serves the racing app and its API, and runs the ingest pipeline.
//!
//! The binary (`main.rs`) only parses [`config`], sets up logging, binds and calls [`run`];
//! everything else lives here so that tests can start a real server on port 0 and stop it.
//!
//! Inside one process: the HTTP API appends events to the embedded [`stream`](alleycat_ingest::stream);
//! the [`live`] board reads the stream for the here-now rankings; delivery and merge read it as
//! their own consumer and produce the history files and results the read API serves. With a
//! shared PostgreSQL database (`--database-url`) several servers run side by side: each serves
//! everything, but delivery and merge run only on the holder of the pipeline lease
//! (`alleycat_ingest::lease`, followed by the [`leader`] loop).
//!
//! Where things are: [`startup`] opens the data directory's parts into the [`AppState`] every
//! handler uses ([`state`]); [`live`] runs the here-now readers; [`leader`] runs delivery and
//! merge while this server holds the lease; [`http`] is the API.

pub mod admission;
pub mod auth;
pub mod config;
pub mod connections;
mod data_dir;
pub mod demo;
pub mod health;
pub mod http;
pub mod identity;
pub mod intake;
mod leader;
pub mod live;
pub mod metrics;
pub mod offline;
pub mod racers;
pub mod roster;
pub mod shutdown;
mod startup;
mod state;
pub mod tls;

use std::{
    future::{Future, IntoFuture},
    sync::Arc,
    time::Duration,
};

use alleycat_domain::{Clock, SystemClock};
use tokio::{net::TcpListener, sync::watch};

pub use config::ServeConfig;
pub use state::AppState;

/// What [`run_with`] takes beyond the configuration: what a test sets, and nothing an operator
/// configures (the command line has no clock).
pub struct RunOptions {
    /// The Kinesis API on this already bound listener (tests bind port 0), or off.
    pub kinesis: Option<TcpListener>,
    /// Where the server reads the time (default: the wall clock). A test sets a
    /// [`ManualClock`](alleycat_domain::ManualClock) to run at any second of a race.
    pub clock: Arc<dyn Clock>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self { kinesis: None, clock: Arc::new(SystemClock) }
    }
}

/// Opens the data directory, starts the pipeline and serves on `listener` (and the Kinesis API
/// on `--kinesis-port` when it is on) until `shutdown` resolves; then stops accepting, closes
/// WebSockets, finishes in-flight requests, flushes delivery, lets the merge fold the last
/// objects, and closes the streams.
pub async fn run(
    listener: TcpListener,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let kinesis = match config.kinesis_port() {
        Some(port) => Some(TcpListener::bind((config.host, port)).await.map_err(|e| {
            anyhow::anyhow!("cannot listen for the Kinesis API on {}:{port}: {e}", config.host)
        })?),
        None => None,
    };
    run_with(listener, config, RunOptions { kinesis, ..RunOptions::default() }, shutdown).await
}

/// [`run`], with the Kinesis API on an already bound listener or off, and the clock of
/// `options`.
pub async fn run_with(
    listener: TcpListener,
    config: ServeConfig,
    options: RunOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let RunOptions { kinesis, clock } = options;
    let tls = tls::acceptor(&config.tls)?;
    let _lock = data_dir::lock(&config.data_dir)?;
    let kinesis_credentials = kinesis.as_ref().map(|_| config.kinesis_credentials()).transpose()?;
    if !config.dist.join("index.html").is_file() {
        tracing::warn!(dist = %config.dist.display(), "The app is not built here; only the API is served. Build it with scripts/build-app.sh.");
    }
    let (closing_tx, closing) = watch::channel(false);
    let closing_tx = Arc::new(closing_tx);
    let address = listener.local_addr()?;
    let public_url = config.public_url(address.port());
    let (state, iterators) = startup::open(config, public_url, clock, closing).await?;
    let stream_watch = tokio::spawn(health::watch_stream(state.clone(), closing_tx.clone()));
    // The here-now readers and ticker run on every server; delivery and merge on the leader.
    let readers = [
        tokio::spawn(live::follow(state.clone(), iterators)),
        tokio::spawn(live::tick(state.inner.board.clone(), state.time().clone())),
    ];
    let leader = leader::start(&state);
    let kinesis = match (kinesis, kinesis_credentials) {
        (Some(listener), Some(credentials)) => {
            Some(serve_kinesis(listener, &state, credentials).await?)
        }
        _ => None,
    };
    let public_url = state.public_url();
    tracing::info!(%address, %public_url, "Alleycat is listening: open {public_url} in a browser.");
    // The demo field's client speaks plain HTTP: over TLS it rides through a loopback listener
    // of its own, which nothing outside this machine reaches.
    let demo_listener = match (&tls, state.config().demo_racers) {
        (Some(_), 1..) => Some(TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?),
        _ => None,
    };
    let demo_address = demo_listener.as_ref().map_or(Ok(address), TcpListener::local_addr)?;
    let demo = demo::start(&state, demo_address, state.closing());
    let stop_http = async move {
        shutdown.await;
        let _ = closing_tx.send(true);
    };
    tokio::spawn(stop_http);
    let limits = connections::Limits {
        max_connections: state.config().max_connections,
        header_read_timeout: Duration::from_millis(state.config().header_read_timeout_ms),
        drain_timeout: Duration::from_secs(state.config().request_timeout_seconds),
    };
    let app = http::app(state.clone());
    let serve = |listener, tls| {
        connections::serve(
            listener,
            app.clone(),
            limits,
            state.closing(),
            state.metrics().clone(),
            tls,
        )
    };
    match demo_listener {
        Some(demo_listener) => {
            tokio::join!(serve(listener, tls), serve(demo_listener, None));
        }
        None => serve(listener, tls).await,
    }
    if let Some((task, registry)) = kinesis {
        task.await??;
        registry.close().await;
    }
    if let Some(demo) = demo {
        // It stops sending on `closing`; its last requests were answered before HTTP stopped.
        if tokio::time::timeout(Duration::from_secs(5), demo).await.is_err() {
            tracing::warn!("The demo field did not stop in time.");
        }
    }
    tracing::info!("HTTP stopped; flushing the pipeline.");
    leader.stop().await;
    for reader in readers {
        reader.abort();
    }
    if stream_watch.is_finished() && stream_watch.await.unwrap_or(false) {
        anyhow::bail!(
            "the stream's writer stopped; exiting so that a supervisor restarts the server"
        );
    }
    tracing::info!("Alleycat stopped.");
    Ok(())
}

/// Serves the Kinesis API on `listener` over the pipeline's stream (as `alleycat`) and the
/// streams created through it (under `<data-dir>/kinesis/`), until the server starts closing.
async fn serve_kinesis(
    listener: TcpListener,
    state: &AppState,
    credentials: alleycat_kinesis::sigv4::Credentials,
) -> anyhow::Result<(tokio::task::JoinHandle<std::io::Result<()>>, Arc<alleycat_kinesis::Registry>)>
{
    use alleycat_ingest::stream::SyncPolicy;
    use alleycat_kinesis::{CreatedStreams, Kinesis, PipelineStream, Registry};
    let config = state.config();
    let pipeline = PipelineStream {
        stream: state.stream().clone(),
        retention_hours: config.retention_hours as u32,
    };
    let created = CreatedStreams { throttle: config.throttle, sync: SyncPolicy::Always };
    let dir = config.data_dir.join("kinesis");
    let clock = state.time().clone();
    let registry_clock = clock.clone();
    let registry = Arc::new(
        tokio::task::spawn_blocking(move || Registry::open(dir, pipeline, created, registry_clock))
            .await?
            .map_err(|e| anyhow::anyhow!("cannot open the Kinesis streams: {e}"))?,
    );
    let service = Arc::new(Kinesis::new(registry.clone(), clock, credentials));
    let app = alleycat_kinesis::router(service.clone());
    let address = listener.local_addr()?;
    tracing::info!(%address, "The Kinesis API is listening: use --endpoint-url http://{address}");
    let mut closing = state.closing();
    let task = tokio::spawn(
        axum::serve(listener, app.into_make_service())
            .with_graceful_shutdown(async move {
                let _ = closing.wait_for(|closing| *closing).await;
                // SubscribeToShard streams last five minutes: end them, or the drain waits.
                service.shutdown();
            })
            .into_future(),
    );
    Ok((task, registry))
}
