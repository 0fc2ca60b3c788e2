//! `alleycat-sim`, Alleycat's load generator: simulated racers riding a server's races over its
//! HTTP API, exactly as bikes and producers do.
//!
//! [`run`] reads the server's race clock (`GET /api/config`), picks the races to ride
//! ([`plan`]), and sends every racer's event of every second (see [`field`]) in batches of up to
//! 500 per `POST /api/events`, over a few keep-alive connections, with the API key. On the race
//! clock each second is sent when it happens, the batches spread over the second; with `--fast`
//! and for the backfill, as fast as the server acknowledges. Retries follow [`sender`]'s rules,
//! and every event's fate is counted in [`stats`]; the [`Report`] holds the [`Summary`].
//!
//! The binary (`main.rs`) only parses [`SimConfig`], sets up logging, runs until done or
//! Ctrl-C, prints the summary and sets the exit code. The server's demo mode calls [`run`] too.

pub mod check;
pub mod config;
pub mod field;
pub mod plan;
mod progress;
pub mod sender;
pub mod stats;

use std::{
    collections::{HashMap, HashSet},
    future::Future,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use alleycat_domain::{api::ConfigResponse, Clock, RaceClock, RaceId};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

pub use config::{ClassChoice, SimConfig};
pub use field::Field;
pub use plan::Plan;
pub use stats::{EventKey, RideTotal, Summary};

use crate::{progress::Progress, sender::Sender, stats::Stats};

/// Why a run could not start. Failures of single events are counted in the summary instead.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// No `--api-key` was given and the server's key file is missing or empty.
    #[error("no API key: give --api-key (or ALLEYCAT_API_KEY), or --data-dir of a server that generated {}", path.display())]
    NoApiKey {
        /// The key file looked for.
        path: PathBuf,
    },
    /// The server's key file exists but cannot be read.
    #[error("cannot read the API key from {}: {source}", path.display())]
    ReadApiKey {
        /// The key file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error("cannot set up the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// The server could not be reached or did not answer its configuration.
    #[error("cannot read the race clock from {url}: {reason}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The server refused the API key.
    #[error("the server refused the API key ({status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// A race to ride has a problem with the clock (e.g. `--fast` on a race not over yet).
    #[error(transparent)]
    Plan(#[from] plan::PlanError),
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The counts, rates and latencies.
    pub summary: Summary,
    /// The race length the server runs.
    pub race_seconds: u32,
    /// The racers.
    pub field: Field,
    /// Each (race, racer)'s acknowledged seconds and total, when `keep_details` was set.
    pub totals: HashMap<(RaceId, u64), RideTotal>,
    /// Every acknowledged event, when `keep_details` was set.
    pub acknowledged: Option<HashSet<EventKey>>,
}

/// The server's clock, estimated from one `GET /api/config` and followed on the monotonic
/// clock (so a jump of the local wall clock changes nothing).
#[derive(Debug, Clone, Copy)]
struct ServerClock {
    at: Instant,
    server_ms: u64,
}

impl Clock for ServerClock {
    fn now_ms(&self) -> u64 {
        self.server_ms + self.at.elapsed().as_millis() as u64
    }
}

impl ServerClock {
    /// The local instant at which the server's clock reads `server_ms`.
    fn instant_at(&self, server_ms: u64) -> Instant {
        match server_ms.checked_sub(self.server_ms) {
            Some(ahead) => self.at + Duration::from_millis(ahead),
            None => self.at,
        }
    }
}

/// Reads the server's configuration and clock.
async fn server_config(
    client: &reqwest::Client,
    server: &str,
) -> Result<(ConfigResponse, ServerClock), SimError> {
    let url = format!("{server}/api/config");
    let unreachable = |reason: String| SimError::Unreachable { url: url.clone(), reason };
    let before = Instant::now();
    let response = client.get(&url).send().await.map_err(|e| unreachable(e.to_string()))?;
    if !response.status().is_success() {
        return Err(unreachable(format!("answered {}", response.status())));
    }
    let config: ConfigResponse = response.json().await.map_err(|e| unreachable(e.to_string()))?;
    let after = Instant::now();
    let clock = ServerClock { at: before + (after - before) / 2, server_ms: config.server_time_ms };
    Ok((config, clock))
}

/// The configuration and clock of the first of `servers` that answers, and its URL.
async fn first_server_config(
    client: &reqwest::Client,
    servers: &[String],
) -> Result<(ConfigResponse, ServerClock, String), SimError> {
    let mut failure = None;
    for server in servers {
        match server_config(client, server).await {
            Ok((config, clock)) => return Ok((config, clock, server.clone())),
            Err(error) => {
                tracing::warn!(%error, "Server unreachable; trying the next.");
                failure = Some(error);
            }
        }
    }
    Err(failure
        .unwrap_or(SimError::Unreachable { url: String::new(), reason: "no server given".into() }))
}

/// Checks the API key with an empty batch, so a wrong key is one clear error, not a failed run.
async fn check_api_key(
    client: &reqwest::Client,
    server: &str,
    api_key: &str,
) -> Result<(), SimError> {
    let url = format!("{server}/api/events");
    let response = client
        .post(&url)
        .bearer_auth(api_key)
        .json(&serde_json::json!({ "events": [] }))
        .send()
        .await
        .map_err(|e| SimError::Unreachable { url: url.clone(), reason: e.to_string() })?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let message = match response.json::<alleycat_domain::api::ApiError>().await {
        Ok(error) => error.message,
        Err(_) => String::new(),
    };
    Err(SimError::Refused { status: status.as_u16(), message })
}

/// Rides the races `config` asks for against its server until done, or until `stop` resolves
/// (then nothing new is sent and unanswered retries are abandoned).
pub async fn run(
    config: SimConfig,
    stop: impl Future<Output = ()> + Send + 'static,
) -> Result<Report, SimError> {
    let servers: Vec<String> =
        config.servers.iter().map(|s| s.trim_end_matches('/').to_owned()).collect();
    let api_key = config.resolve_api_key()?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(config.connections)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(config.request_timeout_seconds))
        .build()
        .map_err(SimError::Client)?;
    let (answer, clock, server) = first_server_config(&client, &servers).await?;
    check_api_key(&client, &server, &api_key).await?;
    let race_clock = answer.clock();
    let plan = Plan::new(&config, race_clock, clock.now_ms())?;
    let field = Field {
        seed: config.seed,
        first_racer: config.first_racer,
        racers: config.racers,
        class: config.class,
        invalid_percent: config.invalid_percent,
    };
    tracing::info!(
        servers = ?servers, racers = config.racers, class = %config.class,
        backfill = plan.backfill.len(), races = ?plan.describe(), fast = config.fast,
        "Riding."
    );

    let (stopping_tx, stopping) = watch::channel(false);
    let stop_task = tokio::spawn(async move {
        stop.await;
        let _ = stopping_tx.send(true);
    });
    let stats = Arc::new(Stats::new(config.keep_details || config.check_seconds.is_some()));
    let sender = Arc::new(Sender::new(
        client.clone(),
        &servers,
        &api_key,
        stats.clone(),
        Duration::from_millis(config.backoff_ms),
        config.retry_budget(),
        stopping.clone(),
    ));
    let total = plan.event_count(race_clock.race_seconds, config.racers);
    let progress = Progress::start(stats.clone(), total, config.progress);
    let permits = Arc::new(Semaphore::new(config.connections));
    let rider = Rider {
        field,
        race_seconds: race_clock.race_seconds,
        batch_size: config.batch_size,
        sender,
        permits: permits.clone(),
        stopping: stopping.clone(),
    };

    let mut ridden = Vec::new();
    for &race in &plan.backfill {
        if rider.stopped() {
            break;
        }
        ridden.push(race);
        rider.ride_fast(race).await;
    }
    let mut live_clock = clock;
    for race in plan.races() {
        if rider.stopped() {
            break;
        }
        ridden.push(race);
        if config.fast {
            rider.ride_fast(race).await;
        } else {
            // Follow the server's clock afresh each race, so long runs never drift from it.
            if let Ok((_, fresh, _)) = first_server_config(&client, &servers).await {
                live_clock = fresh;
            }
            tracing::info!(race, start_ms = race_clock.start_ms(race), "Riding race on the clock.");
            rider.ride_live(race, race_clock, live_clock).await;
        }
    }
    // Every sending task holds a permit until its batch is settled.
    let _all = permits
        .acquire_many(config.connections as u32)
        .await
        .expect("the semaphore is never closed");
    progress.finish();
    stop_task.abort();
    let mut report = Report {
        summary: stats.summary(ridden),
        race_seconds: race_clock.race_seconds,
        field,
        totals: stats.totals(),
        acknowledged: stats.acknowledged_keys(),
    };
    if let Some(limit) = config.check_seconds {
        tracing::info!(
            limit_s = limit,
            "Checking that the server stored every acknowledged event."
        );
        let limit = Duration::from_secs(limit);
        report.summary.check = Some(check::stored(&client, &server, &report, limit).await);
    }
    let summary = &report.summary;
    tracing::info!(
        sent = summary.sent,
        acknowledged = summary.acknowledged,
        failed = summary.failed,
        events_per_second = summary.events_per_second as u64,
        "Done."
    );
    Ok(report)
}

/// Sends the field's events of whole races.
struct Rider {
    field: Field,
    race_seconds: u32,
    batch_size: usize,
    sender: Arc<Sender>,
    permits: Arc<Semaphore>,
    stopping: watch::Receiver<bool>,
}

impl Rider {
    fn stopped(&self) -> bool {
        *self.stopping.borrow()
    }

    /// A free connection, or `None` when the run is stopping.
    async fn permit(&self) -> Option<OwnedSemaphorePermit> {
        let mut stopping = self.stopping.clone();
        tokio::select! {
            permit = self.permits.clone().acquire_owned() => permit.ok(),
            _ = stopping.wait_for(|&stop| stop) => None,
        }
    }

    /// Sends racers `racers` (batch number `home`, which picks its server) of `second` of
    /// `race` on its own task, holding `permit` until the batch is settled.
    fn dispatch(
        &self,
        race: RaceId,
        second: u32,
        home: usize,
        racers: std::ops::Range<u32>,
        device_timestamp: u64,
        permit: OwnedSemaphorePermit,
    ) {
        let batch = racers
            .map(|i| self.field.event(i, race, self.race_seconds, second, device_timestamp))
            .collect();
        let sender = self.sender.clone();
        tokio::spawn(async move {
            sender.send(batch, home).await;
            drop(permit);
        });
    }

    /// Every second of `race` for every racer, as fast as the server acknowledges them.
    async fn ride_fast(&self, race: RaceId) {
        let clock = RaceClock::new(self.race_seconds);
        for second in 1..=self.race_seconds {
            let at = clock.start_ms(race) + u64::from(second - 1) * 1000 + 500;
            for (home, racers) in self.field.batches(self.batch_size).enumerate() {
                let Some(permit) = self.permit().await else { return };
                self.dispatch(race, second, home, racers, at, permit);
            }
        }
    }

    /// `race` on the server's clock: each second's batches spread evenly over that second, the
    /// seconds already past sent at once.
    async fn ride_live(&self, race: RaceId, race_clock: RaceClock, clock: ServerClock) {
        let batches: Vec<_> = self.field.batches(self.batch_size).collect();
        let spread = 1000 / batches.len().max(1) as u64;
        for second in 1..=self.race_seconds {
            let second_start = race_clock.start_ms(race) + u64::from(second - 1) * 1000;
            for (b, racers) in batches.iter().enumerate() {
                let due = second_start + b as u64 * spread;
                let mut stopping = self.stopping.clone();
                tokio::select! {
                    () = tokio::time::sleep_until(clock.instant_at(due).into()) => {}
                    _ = stopping.wait_for(|&stop| stop) => return,
                }
                let Some(permit) = self.permit().await else { return };
                self.dispatch(race, second, b, racers.clone(), clock.now_ms(), permit);
            }
        }
    }
}
