//! Riding over the live WebSocket (`--transport websocket`), as the app rides: one socket per
//! racer on `/api/live?classId=N&limit=100`, opened before the race and proven with
//! `{"type": "hello", "apiKey": …}` (the generated field is ridden with the producer key), each
//! second's event sent on it as `{"type": "events", "events": [event]}`, its `acks` and the
//! class's rankings read from it.
//!
//! All sockets are tasks of the one tokio runtime (no thread per socket), each holding one
//! tungstenite stream with a small read buffer. Per racer:
//!
//! - **Acknowledgements** answer the socket's `events` frames in the order sent (an `error`
//!   frame answers a whole frame the server could not take); each event is settled by
//!   [`crate::sender::settle`], the HTTP transports' rules, with its latency from its first send.
//! - **Ranking delay**: the server publishes each class's ranking once a second, just after the
//!   whole second of its clock (the tick). For each second of the ridden race, the first ranking
//!   for it that arrives counts, from that tick (estimated on the server's clock) to its arrival.
//!   The rankings sent at once on connect and after `hello` are not ticks and are not counted.
//! - **Reconnects**: a socket that fails or closes is opened again (with backoff, within the
//!   retry budget), and every unacknowledged event is sent again on it, oldest first: a resend
//!   the server already stored is answered `alreadyStored`, a success.
//! - An event is given up (failed with its last code) when the retry budget since its first
//!   send is spent; everything unanswered is abandoned when the run is stopped.

use std::{
    collections::VecDeque,
    sync::Arc,
    time::{Duration, Instant},
};

use alleycat_domain::{api::EventResult, Clock, RaceClock, RaceId, RacerEvent};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::{watch, Semaphore};
use tokio_tungstenite::{
    tungstenite::{protocol::WebSocketConfig, Message},
    MaybeTlsStream, WebSocketStream,
};

use crate::{
    config::{SOCKET_CONNECTS_AT_ONCE, SOCKET_RANKING_LIMIT},
    sender::{settle, Pending, BAD_RESPONSE_CODE, TRANSPORT_CODE},
    stats::Stats,
    Field, ServerClock,
};

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// A racer's socket reads frames of a few KiB (a ranking of 100 entries is about 12 KiB): a
/// small read buffer keeps 10,000 sockets cheap (tungstenite's default is 128 KiB).
const READ_BUFFER_BYTES: usize = 16 * 1024;
/// How long opening a socket and its `hello` may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The most events of one `events` frame (the server's limit per call).
const MAX_EVENTS_PER_FRAME: usize = 500;
/// How long an `events` frame may wait for its answer before the socket counts as lost.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// What every racer's socket shares.
pub(crate) struct SocketRide {
    /// `ws://host:port` of the server.
    pub(crate) ws_base: String,
    pub(crate) api_key: String,
    pub(crate) field: Field,
    pub(crate) race_seconds: u32,
    pub(crate) stats: Arc<Stats>,
    pub(crate) backoff: Duration,
    pub(crate) budget: Duration,
    pub(crate) stopping: watch::Receiver<bool>,
}

/// The fields of a server message the generator reads (rankings are skimmed, not parsed whole).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Incoming {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    race_id: Option<RaceId>,
    #[serde(default)]
    second: Option<u32>,
    #[serde(default)]
    records: Option<Vec<EventResult>>,
    #[serde(default)]
    code: Option<String>,
}

#[derive(serde::Serialize)]
struct EventsFrame<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    events: Vec<&'a RacerEvent>,
}

/// One racer's socket and what it waits for.
struct Racer<'a> {
    ride: &'a SocketRide,
    index: u32,
    race: RaceId,
    clock: ServerClock,
    race_clock: RaceClock,
    socket: Option<Socket>,
    /// Events to send, oldest first.
    outbox: VecDeque<Pending>,
    /// Frames sent and not answered yet, in the order sent, with when each was sent.
    in_flight: VecDeque<(Vec<Pending>, Instant)>,
    /// Rankings still to skip on this connection (the ones at connect and after `hello`).
    skip_rankings: u8,
    /// The last second of the race whose ranking was counted.
    ranked_second: u32,
    /// A socket was open before (the next one is a reconnect).
    connected_before: bool,
}

impl SocketRide {
    /// Rides `race` on the server's clock with a socket per racer; returns when every event is
    /// settled or the run stops.
    pub(crate) async fn ride_live(
        self: &Arc<Self>,
        race: RaceId,
        race_clock: RaceClock,
        clock: ServerClock,
    ) {
        let connects = Arc::new(Semaphore::new(SOCKET_CONNECTS_AT_ONCE));
        let tasks: Vec<_> = (0..self.field.racers)
            .map(|index| {
                let (ride, connects) = (self.clone(), connects.clone());
                tokio::spawn(async move {
                    let mut racer = Racer {
                        ride: &ride,
                        index,
                        race,
                        clock,
                        race_clock,
                        socket: None,
                        outbox: VecDeque::new(),
                        in_flight: VecDeque::new(),
                        skip_rankings: 0,
                        ranked_second: 0,
                        connected_before: false,
                    };
                    racer.ride(&connects).await;
                })
            })
            .collect();
        for task in tasks {
            let _ = task.await;
        }
    }

    fn stopped(&self) -> bool {
        *self.stopping.borrow()
    }
}

impl Racer<'_> {
    /// When this racer sends `second`: the racers are spread evenly over each second.
    fn due(&self, second: u32) -> tokio::time::Instant {
        let offset_us = u64::from(self.index) * 1_000_000 / u64::from(self.ride.field.racers);
        let second_start =
            self.race_clock.start_ms(self.race) + u64::from(second.saturating_sub(1)) * 1000;
        (self.clock.instant_at(second_start) + Duration::from_micros(offset_us)).into()
    }

    async fn ride(&mut self, connects: &Semaphore) {
        let mut next_second = 1u32;
        let mut stopping = self.ride.stopping.clone();
        let mut attempt = 0u32;
        loop {
            if self.ride.stopped() {
                break;
            }
            self.take_due_events(&mut next_second);
            let riding = next_second <= self.ride.race_seconds;
            if self.socket.is_none() {
                match self.connect(connects).await {
                    Ok(socket) => {
                        self.socket = Some(socket);
                        attempt = 0;
                    }
                    Err(code) => {
                        attempt += 1;
                        tracing::debug!(racer = self.index, %code, attempt, "Cannot open the socket; retrying.");
                        self.give_up_expired(&code);
                        if !riding && self.outbox.is_empty() {
                            break;
                        }
                        let delay = crate::sender::backoff(
                            self.ride.backoff,
                            attempt,
                            u64::from(self.index) ^ u64::from(attempt),
                        );
                        tokio::select! {
                            () = tokio::time::sleep(delay) => {}
                            _ = stopping.wait_for(|&stop| stop) => {}
                        }
                        continue;
                    }
                }
            }
            if !self.flush_outbox().await {
                self.lost_socket();
                continue;
            }
            if !riding && self.in_flight.is_empty() {
                break;
            }
            let due = self.due(next_second);
            let answer_by = self.in_flight.front().map(|(_, sent)| *sent + ANSWER_TIMEOUT);
            let mut socket = self.socket.take().expect("connected above");
            let wake = tokio::select! {
                () = tokio::time::sleep_until(due), if riding => None,
                () = sleep_until_option(answer_by) => Some(None),
                message = socket.next() => Some(Some(message)),
                _ = stopping.wait_for(|&stop| stop) => None,
            };
            self.socket = Some(socket);
            match wake {
                None => {}
                Some(None) => {
                    tracing::debug!(
                        racer = self.index,
                        "No answer in time; opening the socket again."
                    );
                    self.lost_socket();
                }
                Some(Some(Some(Ok(Message::Text(text))))) if !self.read(text.as_bytes()) => {
                    self.lost_socket();
                }
                Some(Some(Some(Ok(Message::Close(_)) | Err(_)) | None)) => self.lost_socket(),
                Some(Some(Some(Ok(_)))) => {}
            }
        }
        let unanswered =
            self.outbox.len() + self.in_flight.iter().map(|(frame, _)| frame.len()).sum::<usize>();
        self.ride.stats.abandoned(unanswered as u64);
        if let Some(mut socket) = self.socket.take() {
            let _ = tokio::time::timeout(Duration::from_secs(1), socket.close(None)).await;
        }
    }

    /// Puts every event whose time has come in the outbox, socket or not (a racer rides on
    /// while offline); its latency counts from when it was due.
    fn take_due_events(&mut self, next_second: &mut u32) {
        let now = tokio::time::Instant::now();
        while *next_second <= self.ride.race_seconds {
            let due = self.due(*next_second);
            if due > now {
                break;
            }
            let at = self.race_clock.start_ms(self.race) + u64::from(*next_second - 1) * 1000;
            let planned = self.ride.field.event(
                self.index,
                self.race,
                self.ride.race_seconds,
                *next_second,
                at,
            );
            self.ride.stats.sent(1);
            self.outbox.push_back(Pending { first_sent: due.into_std(), ..Pending::new(planned) });
            *next_second += 1;
        }
    }

    /// Opens the socket and says `hello` with the API key; the error code on failure.
    async fn connect(&mut self, connects: &Semaphore) -> Result<Socket, String> {
        let _turn = connects.acquire().await.expect("the semaphore is never closed");
        let class = self.ride.field.class_of(self.index);
        let url =
            format!("{}/api/live?classId={class}&limit={SOCKET_RANKING_LIMIT}", self.ride.ws_base);
        let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER_BYTES);
        let open = async {
            let (mut socket, _) =
                tokio_tungstenite::connect_async_with_config(url, Some(config), true)
                    .await
                    .map_err(|e| format!("{TRANSPORT_CODE}: {e}"))?;
            let hello = serde_json::json!({"type": "hello", "apiKey": self.ride.api_key});
            socket
                .send(Message::Text(hello.to_string().into()))
                .await
                .map_err(|e| format!("{TRANSPORT_CODE}: {e}"))?;
            // Rankings may come first (one at once on connect); then the welcome, or a refusal.
            while let Some(message) = socket.next().await {
                let Ok(Message::Text(text)) = message else { continue };
                match serde_json::from_str::<Incoming>(&text) {
                    Ok(m) if m.kind == "welcome" => return Ok(socket),
                    Ok(m) if m.kind == "error" => {
                        return Err(m.code.unwrap_or_else(|| "unauthenticated".into()))
                    }
                    _ => {}
                }
            }
            Err(format!("{TRANSPORT_CODE}: closed before the welcome"))
        };
        let socket = tokio::time::timeout(CONNECT_TIMEOUT, open)
            .await
            .unwrap_or_else(|_| Err(format!("{TRANSPORT_CODE}: no welcome in time")))?;
        // The ranking sent after the welcome (with the racer's entry) is not a tick either.
        self.skip_rankings = 1;
        if self.connected_before {
            self.ride.stats.reconnected();
        }
        self.connected_before = true;
        Ok(socket)
    }

    /// Sends the outbox in frames of up to 500 events; false when the socket failed.
    async fn flush_outbox(&mut self) -> bool {
        while !self.outbox.is_empty() {
            let take = self.outbox.len().min(MAX_EVENTS_PER_FRAME);
            let frame: Vec<Pending> = self.outbox.drain(..take).collect();
            let text = serde_json::to_string(&EventsFrame {
                kind: "events",
                events: frame.iter().map(|p| &p.planned.event).collect(),
            })
            .expect("racer events always serialize");
            self.ride
                .stats
                .request(frame.iter().any(|p| p.fate_unknown || !p.last_code.is_empty()));
            self.in_flight.push_back((frame, Instant::now()));
            let socket = self.socket.as_mut().expect("connected");
            if socket.send(Message::Text(text.into())).await.is_err() {
                return false;
            }
        }
        true
    }

    /// Takes one text frame from the server; false when it makes no sense on this socket.
    fn read(&mut self, text: &[u8]) -> bool {
        let Ok(message) = serde_json::from_slice::<Incoming>(text) else { return false };
        match message.kind.as_str() {
            "ranking" => self.ranking(message.race_id, message.second),
            "acks" => {
                let Some((frame, _)) = self.in_flight.pop_front() else { return false };
                let records = message.records.unwrap_or_default();
                if records.len() != frame.len() {
                    tracing::error!(
                        sent = frame.len(),
                        answered = records.len(),
                        "Acks do not match the frame."
                    );
                    self.ride.stats.failed(BAD_RESPONSE_CODE, frame.len() as u64);
                    return true;
                }
                let retry = settle(&self.ride.stats, frame, records);
                self.requeue(retry);
            }
            "error" => {
                // A whole frame refused: the stream unavailable (nothing stored, retried) or a
                // frame the server could not take (final).
                let Some((frame, _)) = self.in_flight.pop_front() else { return true };
                let code = message.code.unwrap_or_default();
                if code == "unavailable" {
                    let retry = frame
                        .into_iter()
                        .map(|mut p| {
                            p.last_code.clone_from(&code);
                            p
                        })
                        .collect();
                    self.requeue(retry);
                } else {
                    self.ride.stats.failed(&code, frame.len() as u64);
                }
            }
            _ => {}
        }
        true
    }

    /// Counts a ranking's delay after its tick: the first ranking of each second of the race.
    fn ranking(&mut self, race: Option<RaceId>, second: Option<u32>) {
        if self.skip_rankings > 0 {
            self.skip_rankings -= 1;
            return;
        }
        let (Some(race), Some(second)) = (race, second) else { return };
        if race != self.race || second <= self.ranked_second {
            return;
        }
        self.ranked_second = second;
        let tick = self.race_clock.start_ms(race) + u64::from(second - 1) * 1000;
        let now = self.clock.now_ms();
        self.ride.stats.ranking_delay(Duration::from_millis(now.saturating_sub(tick)));
    }

    /// Puts events to send again at the front of the outbox (they are older than what waits).
    fn requeue(&mut self, retry: Vec<Pending>) {
        for p in retry.into_iter().rev() {
            self.outbox.push_front(p);
        }
        self.give_up_expired(TRANSPORT_CODE);
    }

    /// The socket failed: everything in flight goes back to the outbox, its fate unknown.
    fn lost_socket(&mut self) {
        self.socket = None;
        let in_flight: Vec<Pending> = std::mem::take(&mut self.in_flight)
            .into_iter()
            .flat_map(|(frame, _)| frame)
            .map(|mut p| {
                p.fate_unknown = true;
                if p.last_code.is_empty() {
                    p.last_code = TRANSPORT_CODE.into();
                }
                p
            })
            .collect();
        for p in in_flight.into_iter().rev() {
            self.outbox.push_front(p);
        }
    }

    /// Fails the waiting events whose retry budget is spent.
    fn give_up_expired(&mut self, code: &str) {
        let budget = self.ride.budget;
        let stats = &self.ride.stats;
        self.outbox.retain(|p| {
            if p.first_sent.elapsed() < budget {
                return true;
            }
            stats.failed(if p.last_code.is_empty() { code } else { &p.last_code }, 1);
            false
        });
    }
}

/// Sleeps until `at`, or for ever when there is nothing to wait for.
async fn sleep_until_option(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
