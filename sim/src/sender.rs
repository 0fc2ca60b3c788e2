//! Sending batches of events: one `POST /api/events` per batch, answered per event like Kinesis
//! PutRecords, and retries with backoff for what may succeed when tried again.
//!
//! What is retried, and what is not:
//! - A whole request that failed at the transport level (connection refused or reset, timeout,
//!   an answer cut off) or was answered 5xx, 408 or 429 is sent again. Whether the server stored
//!   its events is unknown, so when a retry of such an event is answered `alreadyStored` (or
//!   `DuplicateEvent`, by a server that predates it), the server already had it: it counts as
//!   acknowledged ("already stored"), not failed.
//! - An event answered with a retryable code ([`RETRYABLE_CODES`]) is sent again.
//! - Everything else is final. An acknowledged event is never sent again; an event refused by
//!   validation or admission (`RaceNotRunning`, `DuplicateEvent`, …) is not retried.
//!
//! The wait before retry `n` is `backoff · 2ⁿ⁻¹`, capped at 2 s, with equal jitter; an event is
//! retried until the retry budget, counted from its first send, is spent, then fails with the
//! code it last failed with.
//!
//! With several servers, each batch has a home server (the same racers always go to the same
//! one, so the field is spread evenly). A request that fails as a whole marks its server down
//! for [`DOWN_FOR`] and is retried on the next server that is not down, so a dead server's
//! racers carry on against the others; the home is tried again once its time is up.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering::Relaxed},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use alleycat_domain::{
    api::{ApiError, EventResult, EventsResponse},
    hash::splitmix64,
    RacerEvent,
};
use reqwest::{
    header::{AUTHORIZATION, CONTENT_TYPE},
    StatusCode,
};
use serde::Serialize;
use tokio::sync::watch;

use crate::{
    config::MAX_BACKOFF_MS,
    field::PlannedEvent,
    stats::{EventKey, Stats},
};

/// Per-event error codes worth sending again (the one list, shared with the app).
pub use alleycat_domain::api::RETRYABLE_CODES;
/// The code of a (race, racer, second) the server already stored.
pub const DUPLICATE_CODE: &str = "DuplicateEvent";
/// The code of a request that failed at the transport level.
pub const TRANSPORT_CODE: &str = "TransportError";
/// The code of an answer that does not match the request.
pub const BAD_RESPONSE_CODE: &str = "BadResponse";
/// The code of a deliberately invalid event the server accepted (a server bug).
pub const ACCEPTED_INVALID_CODE: &str = "InvalidEventAccepted";

/// How long a server whose request failed as a whole is passed over.
pub const DOWN_FOR: Duration = Duration::from_secs(2);

/// Posts batches of events to the servers and settles each event's fate in [`Stats`].
#[derive(Debug)]
pub struct Sender {
    client: reqwest::Client,
    events_urls: Vec<String>,
    /// Per server: until when it is passed over.
    down_until: Mutex<Vec<Option<Instant>>>,
    authorization: String,
    stats: Arc<Stats>,
    backoff: Duration,
    budget: Duration,
    stopping: watch::Receiver<bool>,
    jitter: AtomicU64,
}

/// An event waiting for its acknowledgement.
#[derive(Debug)]
pub(crate) struct Pending {
    pub(crate) planned: PlannedEvent,
    /// When it was first sent: its acknowledgement latency and retry budget count from here.
    pub(crate) first_sent: Instant,
    /// An attempt got no answer, so the server may have stored it.
    pub(crate) fate_unknown: bool,
    /// The code it last failed with.
    pub(crate) last_code: String,
}

impl Pending {
    /// `planned`, about to be sent for the first time.
    pub(crate) fn new(planned: PlannedEvent) -> Self {
        Self { planned, first_sent: Instant::now(), fate_unknown: false, last_code: String::new() }
    }
}

/// Settles each of `pending` by its answer in `records` (the same order, one each) in `stats`;
/// returns those to send again. Shared by every transport, so they count alike.
pub(crate) fn settle(
    stats: &Stats,
    pending: Vec<Pending>,
    records: Vec<EventResult>,
) -> Vec<Pending> {
    let mut retry = Vec::new();
    for (mut p, record) in pending.into_iter().zip(records) {
        let e = &p.planned.event;
        let key = EventKey { race_id: e.race_id, racer_id: e.racer_id, second: e.second };
        let latency = p.first_sent.elapsed();
        match record.error_code {
            None if p.planned.deliberately_invalid => stats.failed(ACCEPTED_INVALID_CODE, 1),
            None => stats.acknowledged([(key, e.output())], latency, record.already_stored),
            Some(_) if p.planned.deliberately_invalid => stats.rejected_as_intended(1),
            Some(code) if code == DUPLICATE_CODE && p.fate_unknown => {
                stats.acknowledged([(key, e.output())], latency, true);
            }
            Some(code) if RETRYABLE_CODES.contains(&code.as_str()) => {
                p.last_code = code;
                retry.push(p);
            }
            Some(code) => stats.failed(&code, 1),
        }
    }
    retry
}

/// How one request went.
enum Attempt {
    /// The server answered every event.
    Answered(EventsResponse),
    /// The whole request may succeed when sent again.
    Retry {
        code: String,
        /// The server may have stored the events.
        fate_unknown: bool,
    },
    /// The whole request was refused for good.
    Refused(String),
}

#[derive(Serialize)]
struct Body<'a> {
    events: Vec<&'a RacerEvent>,
}

impl Sender {
    /// A sender posting to `servers` (base URLs, at least one) with `api_key`.
    pub fn new(
        client: reqwest::Client,
        servers: &[String],
        api_key: &str,
        stats: Arc<Stats>,
        backoff: Duration,
        budget: Duration,
        stopping: watch::Receiver<bool>,
    ) -> Self {
        Self {
            client,
            events_urls: servers.iter().map(|s| format!("{s}/api/events")).collect(),
            down_until: Mutex::new(vec![None; servers.len()]),
            authorization: format!("Bearer {api_key}"),
            stats,
            backoff,
            budget,
            stopping,
            jitter: AtomicU64::new(0),
        }
    }

    /// Sends `batch` (whose home is server `home`, modulo their number) until every event is
    /// settled: acknowledged, refused, failed after its retries, or abandoned because the run
    /// is stopping.
    pub async fn send(&self, batch: Vec<PlannedEvent>, home: usize) {
        if batch.is_empty() {
            return;
        }
        let first_sent = Instant::now();
        self.stats.sent(batch.len() as u64);
        let mut pending: Vec<Pending> = batch.into_iter().map(Pending::new).collect();
        let mut attempt = 0u32;
        loop {
            self.stats.request(attempt > 0);
            let server = self.pick(home);
            let retry = match self.post(server, &pending).await {
                Attempt::Answered(response) => settle(&self.stats, pending, response.records),
                Attempt::Retry { code, fate_unknown } => {
                    self.mark_down(server);
                    tracing::debug!(%code, events = pending.len(), attempt, "Request failed; retrying.");
                    for p in &mut pending {
                        p.fate_unknown |= fate_unknown;
                        p.last_code.clone_from(&code);
                    }
                    pending
                }
                Attempt::Refused(code) => {
                    tracing::warn!(%code, events = pending.len(), "The server refused a whole request.");
                    self.stats.failed(&code, pending.len() as u64);
                    Vec::new()
                }
            };
            if retry.is_empty() {
                return;
            }
            pending = retry;
            attempt += 1;
            if first_sent.elapsed() >= self.budget {
                for p in &pending {
                    self.stats.failed(&p.last_code, 1);
                }
                tracing::warn!(events = pending.len(), code = %pending[0].last_code, "Gave up retrying events.");
                return;
            }
            let mut stopping = self.stopping.clone();
            tokio::select! {
                () = tokio::time::sleep(self.delay(attempt)) => {}
                _ = stopping.wait_for(|&stop| stop) => {}
            }
            if *self.stopping.borrow() {
                self.stats.abandoned(pending.len() as u64);
                return;
            }
        }
    }

    /// The server to send to: `home` unless it is down, else the next one up (or `home` when
    /// every server is down).
    fn pick(&self, home: usize) -> usize {
        let count = self.events_urls.len();
        let now = Instant::now();
        let down = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        (0..count)
            .map(|step| (home + step) % count)
            .find(|&i| down[i].is_none_or(|until| until <= now))
            .unwrap_or(home % count)
    }

    fn mark_down(&self, server: usize) {
        if self.events_urls.len() > 1 {
            let mut down = self.down_until.lock().unwrap_or_else(|p| p.into_inner());
            down[server] = Some(Instant::now() + DOWN_FOR);
        }
    }

    async fn post(&self, server: usize, pending: &[Pending]) -> Attempt {
        let body = Body { events: pending.iter().map(|p| &p.planned.event).collect() };
        let body = serde_json::to_vec(&body).expect("racer events always serialize");
        let response = match self
            .client
            .post(&self.events_urls[server])
            .header(AUTHORIZATION, &self.authorization)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
        {
            Ok(response) => response,
            Err(error) => {
                tracing::debug!(%error, "Transport failure.");
                return Attempt::Retry { code: TRANSPORT_CODE.into(), fate_unknown: true };
            }
        };
        let status = response.status();
        if status.is_success() {
            return match response.json::<EventsResponse>().await {
                Ok(answer) if answer.records.len() == pending.len() => Attempt::Answered(answer),
                Ok(answer) => {
                    tracing::error!(
                        sent = pending.len(),
                        answered = answer.records.len(),
                        "The answer does not match the request."
                    );
                    Attempt::Refused(BAD_RESPONSE_CODE.into())
                }
                Err(error) if error.is_decode() => {
                    tracing::error!(%error, "The answer is not an events response.");
                    Attempt::Refused(BAD_RESPONSE_CODE.into())
                }
                Err(_) => Attempt::Retry { code: TRANSPORT_CODE.into(), fate_unknown: true },
            };
        }
        let code = format!("Http{}", status.as_u16());
        if status.is_server_error()
            || status == StatusCode::REQUEST_TIMEOUT
            || status == StatusCode::TOO_MANY_REQUESTS
        {
            // 503 is the server saying it stored nothing; 429 never reached the handler.
            let fate_unknown =
                !matches!(status, StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS);
            return Attempt::Retry { code, fate_unknown };
        }
        match response.json::<ApiError>().await {
            Ok(error) => {
                tracing::warn!(status = status.as_u16(), code = %error.error, message = %error.message, "Request refused.");
                Attempt::Refused(error.error)
            }
            Err(_) => Attempt::Refused(code),
        }
    }

    /// The wait before retry `attempt` (1-based): doubling from the base, capped, jittered.
    fn delay(&self, attempt: u32) -> Duration {
        backoff(self.backoff, attempt, self.jitter.fetch_add(1, Relaxed))
    }
}

/// The wait before retry `attempt` (1-based): `base` doubling, capped at [`MAX_BACKOFF_MS`],
/// with equal jitter drawn from `seed`.
pub(crate) fn backoff(base: Duration, attempt: u32, seed: u64) -> Duration {
    let full = base
        .saturating_mul(1 << attempt.saturating_sub(1).min(16))
        .min(Duration::from_millis(MAX_BACKOFF_MS));
    let draw = splitmix64(seed) % 1000;
    full / 2 + full / 2 * draw as u32 / 1000
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap_with_jitter() {
        let (_tx, rx) = watch::channel(false);
        let sender = Sender::new(
            reqwest::Client::new(),
            &["http://127.0.0.1:1".to_owned()],
            "k",
            Arc::new(Stats::new(false)),
            Duration::from_millis(100),
            Duration::from_secs(1),
            rx,
        );
        for attempt in 1..=20 {
            let full = Duration::from_millis((100u64 << (attempt - 1).min(16)).min(MAX_BACKOFF_MS));
            let delay = sender.delay(attempt);
            assert!(delay >= full / 2 && delay <= full, "attempt {attempt}: {delay:?}");
        }
    }
}
