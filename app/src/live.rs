//! The racer's one connection: the `/api/live` WebSocket brings the here-now ranking and takes
//! the rider's events, reconnecting by itself with backoff (`logic::backoff`).
//!
//! - The racer's token goes in the socket's first message (`hello`), never in its URL. Once the
//!   server answers `welcome`, the socket speaks for the racer: each ranking carries their own
//!   entry, and the [`Link`] is open for their events.
//! - Events go out as `{"type": "events", …}` frames through the [`Link`], one frame at a time;
//!   the `acks` that answer it (in the order sent) go back to whoever sent it.
//! - A socket is given up, and a new one opened, when the browser says it is offline (Chromium
//!   keeps a WebSocket open when the network goes away, and `context.setOffline` in tests does
//!   the same) or when nothing has arrived for [`STALE_MS`] (the server sends a ranking every
//!   second, so a silent socket is a dead one). While offline no attempt is made; the first
//!   attempt comes as soon as the browser is back online.

use std::{
    cell::RefCell,
    rc::Rc,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

use alleycat_domain::{
    api::{EventResult, LiveMessage, LiveRanking, LiveRequest},
    ClassId, RacerEvent,
};
use futures::{
    channel::{
        mpsc::{unbounded, UnboundedSender},
        oneshot,
    },
    future::{self, select, Either},
    stream, SinkExt, StreamExt,
};
use gloo_net::websocket::{futures::WebSocket, Message};
use gloo_timers::future::{IntervalStream, TimeoutFuture};

use crate::{logic::backoff::Backoff, time::perf_now};

/// A socket silent for this long is taken for dead (the server sends a ranking every second).
pub const STALE_MS: f64 = 6_000.0;
/// A socket that has not opened within this long is given up (a connection that hangs).
pub const OPEN_TIMEOUT_MS: u32 = 5_000;
/// How often the connection looks at the network, the silence and whether it is still wanted.
const WATCH_MS: u32 = 250;

/// The connection as the rider sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveStatus {
    /// Opening the first connection.
    Connecting,
    /// Rankings are arriving.
    Connected,
    /// The connection is lost; the next attempt is in `retry_in_ms`.
    Disconnected {
        /// Time until the next attempt, ms.
        retry_in_ms: u32,
        /// Attempts since the connection was lost.
        attempt: u32,
    },
    /// The browser is offline: the next attempt comes when it is back online.
    Offline,
}

/// Whether the browser believes it has a network.
pub fn browser_online() -> bool {
    web_sys::window().is_none_or(|w| w.navigator().on_line())
}

/// The way the rider's events take over the live socket: open once the server has welcomed
/// the racer, closed while there is no such socket. Cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Link(Rc<RefCell<LinkState>>);

#[derive(Default)]
struct LinkState {
    /// Frames for the welcomed socket; `None` while there is none.
    frames: Option<UnboundedSender<String>>,
    /// Whoever waits for the answer to the frame on its way.
    answer: Option<oneshot::Sender<Result<Vec<EventResult>, String>>>,
    /// Whether the last attempt to open a socket failed (the HTTP fallback applies).
    unavailable: bool,
    /// Told whenever the link opens or closes.
    watchers: Vec<Rc<dyn Fn()>>,
}

impl Link {
    /// A link with no socket behind it, which says so: a sender on it uses `POST /api/events`.
    pub fn without_socket() -> Self {
        let link = Self::default();
        link.0.borrow_mut().unavailable = true;
        link
    }

    /// Whether events can go over the socket now.
    pub fn is_open(&self) -> bool {
        self.0.borrow().frames.is_some()
    }

    /// Whether the socket cannot be opened: the last attempt failed.
    pub fn is_unavailable(&self) -> bool {
        let state = self.0.borrow();
        state.frames.is_none() && state.unavailable
    }

    /// Calls `watcher` whenever the link opens or closes.
    pub fn watch(&self, watcher: impl Fn() + 'static) {
        self.0.borrow_mut().watchers.push(Rc::new(watcher));
    }

    /// Sends `events` in one frame and waits for their results (in the order sent), or says
    /// why they got none. One frame at a time: a second call gives up on the first's answer.
    pub async fn send_events(&self, events: Vec<RacerEvent>) -> Result<Vec<EventResult>, String> {
        let frame = serde_json::to_string(&LiveRequest::Events { events })
            .map_err(|e| format!("Cannot write the events ({e})."))?;
        let (answer, answered) = oneshot::channel();
        {
            let mut state = self.0.borrow_mut();
            let Some(frames) = &state.frames else {
                return Err("The live connection is not open.".into());
            };
            frames.unbounded_send(frame).map_err(|_| "The live connection was lost.".to_owned())?;
            state.answer = Some(answer);
        }
        answered.await.unwrap_or_else(|_| Err("The live connection was lost.".into()))
    }

    /// The server welcomed the racer on the socket that sends `frames`.
    fn open(&self, frames: UnboundedSender<String>) {
        {
            let mut state = self.0.borrow_mut();
            state.frames = Some(frames);
            state.unavailable = false;
        }
        self.notify();
    }

    /// The socket is gone (`failed`: without ever being welcomed); the frame on its way gets
    /// no answer.
    fn close(&self, failed: bool) {
        {
            let mut state = self.0.borrow_mut();
            state.frames = None;
            state.answer = None;
            state.unavailable = failed;
        }
        self.notify();
    }

    /// Hands the answer to the frame on its way to whoever waits for it.
    fn answer(&self, result: Result<Vec<EventResult>, String>) {
        let waiting = self.0.borrow_mut().answer.take();
        if let Some(waiting) = waiting {
            let _ = waiting.send(result);
        }
    }

    fn notify(&self) {
        let watchers = self.0.borrow().watchers.clone();
        for watcher in watchers {
            watcher();
        }
    }
}

/// The WebSocket address for `class_id`, on this page's host.
fn url(class_id: ClassId, limit: u32) -> String {
    let location = web_sys::window().map(|w| w.location());
    let host = location.as_ref().and_then(|l| l.host().ok()).unwrap_or_default();
    let secure = location.and_then(|l| l.protocol().ok()).is_some_and(|p| p == "https:");
    let scheme = if secure { "wss" } else { "ws" };
    format!("{scheme}://{host}/api/live?classId={class_id}&limit={limit}")
}

/// The `hello` that proves who is riding, as the socket's first message.
fn hello(token: &str) -> Option<String> {
    serde_json::to_string(&LiveRequest::Hello { token: token.to_owned() }).ok()
}

/// What one socket's life brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// It was no longer wanted.
    Stopped,
    /// It carried rankings, then ended.
    Lost,
    /// It never carried anything.
    Failed,
}

/// Follows class `class_id` until `alive` turns false: calls `on_ranking` with each ranking and
/// `on_status` whenever the connection changes, and opens `link` for the rider's events while
/// a socket welcomes the racer (with `token`; without one, the board is watched only).
pub async fn follow(
    class_id: ClassId,
    token: Option<String>,
    limit: u32,
    alive: Arc<AtomicBool>,
    link: Link,
    on_ranking: impl Fn(LiveRanking),
    on_status: impl Fn(LiveStatus),
) {
    let mut backoff = Backoff::default();
    on_status(LiveStatus::Connecting);
    while alive.load(Ordering::Relaxed) {
        if !browser_online() {
            on_status(LiveStatus::Offline);
            wait_while(&alive, || !browser_online()).await;
            backoff.reset();
            continue;
        }
        let ended =
            serve(&url(class_id, limit), token.as_deref(), &alive, &link, &on_ranking, &on_status)
                .await;
        link.close(ended == Ended::Failed);
        match ended {
            Ended::Stopped => return,
            Ended::Lost => backoff.reset(),
            Ended::Failed => {}
        }
        if !browser_online() {
            continue;
        }
        let delay = backoff.next_delay_ms(js_sys::Math::random());
        // Count down in whole seconds so the rider sees when the next attempt comes; going
        // offline meanwhile says so at once.
        let until = perf_now() + delay;
        while alive.load(Ordering::Relaxed) && browser_online() && perf_now() < until {
            on_status(LiveStatus::Disconnected {
                retry_in_ms: (until - perf_now()).max(0.0) as u32,
                attempt: backoff.attempt(),
            });
            TimeoutFuture::new(WATCH_MS).await;
        }
    }
}

/// Waits while `condition` holds and `alive` is set.
async fn wait_while(alive: &AtomicBool, condition: impl Fn() -> bool) {
    while alive.load(Ordering::Relaxed) && condition() {
        TimeoutFuture::new(WATCH_MS).await;
    }
}

/// What the socket loop reacts to.
enum Input {
    /// A message from the server, or the socket's end (`None`).
    Received(Option<Message>),
    /// A frame of events to send.
    Frame(String),
    /// Time to look at the network and the silence.
    Watch,
}

/// One socket, from opening to its end.
async fn serve(
    url: &str,
    token: Option<&str>,
    alive: &AtomicBool,
    link: &Link,
    on_ranking: &impl Fn(LiveRanking),
    on_status: &impl Fn(LiveStatus),
) -> Ended {
    let Ok(socket) = WebSocket::open(url) else { return Ended::Failed };
    let (mut sink, received) = socket.split();
    // The sink waits for the socket to open; a failure, or no opening in time, is a connection
    // that never worked. (Without a hello, the watch below gives up a socket that stays silent.)
    if let Some(hello) = token.and_then(hello) {
        let sent =
            select(Box::pin(sink.send(Message::Text(hello))), TimeoutFuture::new(OPEN_TIMEOUT_MS));
        if !matches!(sent.await, Either::Left((Ok(()), _))) {
            return Ended::Failed;
        }
    }
    let (frames, outgoing) = unbounded::<String>();
    let mut frames = Some(frames);
    let received = received
        .map(|m| Input::Received(m.ok()))
        .chain(stream::once(future::ready(Input::Received(None))));
    let watch = IntervalStream::new(WATCH_MS).map(|()| Input::Watch);
    let mut inputs = stream::select(received, stream::select(outgoing.map(Input::Frame), watch));
    let mut last_heard = perf_now();
    let mut ended = Ended::Failed;
    while let Some(input) = inputs.next().await {
        match input {
            Input::Received(Some(message)) => {
                last_heard = perf_now();
                let text = match message {
                    Message::Text(text) => text,
                    Message::Bytes(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                };
                match serde_json::from_str::<LiveMessage>(&text) {
                    Ok(LiveMessage::Ranking(ranking)) => {
                        ended = Ended::Lost;
                        on_status(LiveStatus::Connected);
                        on_ranking(ranking);
                    }
                    Ok(LiveMessage::Welcome { .. }) => {
                        if let Some(frames) = frames.take() {
                            link.open(frames);
                        }
                    }
                    Ok(LiveMessage::Acks { records }) => link.answer(Ok(records)),
                    // The server answers a frame it could not take with an error (the socket
                    // stays open): the events on their way go again.
                    Ok(LiveMessage::Error { code, message }) => {
                        leptos::logging::warn!("live: {code}: {message}");
                        link.answer(Err(message));
                    }
                    Err(_) => {}
                }
            }
            Input::Received(None) => break,
            Input::Frame(frame) => {
                if sink.send(Message::Text(frame)).await.is_err() {
                    break;
                }
            }
            Input::Watch => {
                if !alive.load(Ordering::Relaxed) {
                    return Ended::Stopped;
                }
                if !browser_online() || perf_now() - last_heard > STALE_MS {
                    break;
                }
            }
        }
    }
    ended
}
