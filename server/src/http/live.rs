//! `GET /api/live?classId=N[&limit=M]` (WebSocket): the racer's one connection. The server sends
//! the here-now ranking of the class's current race at once and then once a second
//! (`{"type": "ranking", …}`), and takes the racer's events on the same socket:
//!
//! - `{"type": "hello", "token": "…"}` proves who is riding (a racer token or the API key);
//!   answered by `{"type": "welcome", "racerId": N}`. `{"type": "hello", "apiKey": "…"}` is a
//!   producer's hello (the load generator riding the generated field): only the API key is taken
//!   there, the welcome has `"racerId": null`, and the socket may then send for any racer while
//!   it receives the class's ranking like any other. The secret never travels in the URL, so it
//!   is in no server or proxy log. A bad token or key gets an `error` and the socket is closed
//!   (4401).
//! - `{"type": "events", "events": [RacerEvent, …]}` (at most 500, only after `hello`) goes
//!   through the same [intake](crate::intake) as `POST /api/events` and is answered by
//!   `{"type": "acks", "records": [{"uuid", "shardId", "sequenceNumber"} | {"uuid",
//!   "errorCode", "errorMessage"}, …]}` in the order sent, once durable.
//! - A frame that is not such a message gets `{"type": "error", "code", "message"}` and the
//!   socket stays open. A frame over [`MAX_FRAME_BYTES`] closes it (1009), and so does a client
//!   sending more than [`MAX_FRAMES_PER_SECOND`] frames a second (1008), with the reason.
//!
//! Once the racer is known, each ranking also carries their own entry (`me`), wherever they
//! are placed. Watching without `hello` is allowed: the ranking is public.

use std::time::{Duration, Instant};

use alleycat_domain::api::LiveMessage;
use axum::{
    body::Bytes,
    extract::{
        ws::{close_code, CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade},
        Query, State,
    },
    response::Response,
    routing::get,
    Router,
};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::ApiError;
use crate::{auth::Caller, intake, AppState};

/// Entries sent when the client does not ask for a number.
pub const DEFAULT_LIMIT: usize = 100;
/// The most entries a client may ask for.
pub const MAX_LIMIT: usize = 10_000;
/// The largest frame a client may send (500 events fit many times over).
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;
/// Frames a client may send in one second (a racer sends about one); more closes the socket.
pub const MAX_FRAMES_PER_SECOND: u32 = 50;
/// Each socket's read buffer: a racer's frames are a few hundred bytes (an event is ~250), and
/// a larger frame grows it while it is read. tungstenite's default, 128 KiB a socket, is what
/// 10,000 sockets cannot afford.
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// How long a send may take before the client is considered gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closing socket waits for the client's own close.
const CLOSE_DRAIN: Duration = Duration::from_secs(2);
/// The close code for a refused `hello` (in the 4000s, which applications define).
const UNAUTHENTICATED: u16 = 4401;

/// The live route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/live", get(live))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params {
    class_id: Option<i64>,
    limit: Option<usize>,
}

async fn live(
    State(state): State<AppState>,
    Query(params): Query<Params>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let class = super::error::class_id(params.class_id)?;
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    Ok(upgrade
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| serve(socket, state, class, limit)))
}

/// A message from the client, parsed by hand so that events stay raw JSON (stored as sent).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Incoming<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    token: Option<String>,
    #[serde(rename = "apiKey")]
    api_key: Option<String>,
    #[serde(borrow)]
    events: Option<Vec<&'a RawValue>>,
}

/// What the socket does after a client's frame.
enum Next {
    /// Answer with this and go on.
    Reply(LiveMessage),
    /// Answer with this, then close with this code and reason.
    Close(LiveMessage, u16, &'static str),
}

/// One socket's state: who it speaks for, and its frame budget.
struct Session {
    caller: Option<Caller>,
    window_start: Instant,
    frames_in_window: u32,
}

impl Session {
    /// The racer whose entry rides along with each ranking.
    fn me(&self) -> Option<u64> {
        match self.caller {
            Some(Caller::Racer(id)) => Some(id),
            _ => None,
        }
    }

    /// Counts a frame; false when the client sends too many.
    fn within_budget(&mut self) -> bool {
        let now = Instant::now();
        if now.duration_since(self.window_start) >= Duration::from_secs(1) {
            self.window_start = now;
            self.frames_in_window = 0;
        }
        self.frames_in_window += 1;
        self.frames_in_window <= MAX_FRAMES_PER_SECOND
    }
}

fn error(code: &str, message: impl Into<String>) -> LiveMessage {
    LiveMessage::Error { code: code.to_owned(), message: message.into() }
}

/// Answers one text frame.
async fn handle(state: &AppState, session: &mut Session, frame: &Bytes) -> Next {
    let incoming: Incoming = match serde_json::from_slice(frame) {
        Ok(incoming) => incoming,
        Err(e) => {
            return Next::Reply(error(
                "bad_request",
                format!("Send {{\"type\": \"hello\", \"token\": …}} or {{\"type\": \"events\", \"events\": […]}} JSON: {e}."),
            ))
        }
    };
    match (incoming.kind, incoming.token, incoming.api_key, incoming.events) {
        ("hello", Some(token), None, None) => {
            hello(session, state.keys().identify(&token, state.now_ms()), "invalid token")
        }
        ("hello", None, Some(key), None) => {
            let producer = state.keys().identify(&key, state.now_ms());
            hello(session, producer.filter(|c| *c == Caller::Producer), "invalid API key")
        }
        ("events", None, None, Some(events)) => {
            let Some(caller) = session.caller else {
                return Next::Reply(error(
                    "unauthenticated",
                    "Send {\"type\": \"hello\", \"token\": …} first: no event is taken before it.",
                ));
            };
            match intake::submit(state, caller, frame, &events).await {
                Ok(records) => Next::Reply(LiveMessage::Acks { records }),
                Err(e @ intake::IntakeError::TooManyEvents { .. }) => {
                    Next::Reply(error("bad_request", e.to_string()))
                }
                Err(e @ intake::IntakeError::StreamUnavailable) => {
                    Next::Reply(error("unavailable", e.to_string()))
                }
            }
        }
        (kind, _, _, _) => Next::Reply(error(
            "bad_request",
            format!("{kind:?} with these fields is not a message: send hello (with token or apiKey) or events (with events)."),
        )),
    }
}

/// Answers a `hello` whose credential identified `caller` (`None`: refused, closing with
/// `reason`).
fn hello(session: &mut Session, caller: Option<Caller>, reason: &'static str) -> Next {
    match caller {
        Some(caller) => {
            session.caller = Some(caller);
            Next::Reply(LiveMessage::Welcome { racer_id: session.me() })
        }
        None => Next::Close(
            error(
                "unauthenticated",
                "This token or key is not valid (expired or not ours): get a new token from POST /api/session.",
            ),
            UNAUTHENTICATED,
            reason,
        ),
    }
}

async fn send(socket: &mut WebSocket, message: &LiveMessage) -> bool {
    match serde_json::to_string(message) {
        Ok(text) => send_text(socket, text.into()).await,
        Err(error) => {
            tracing::error!(%error, "Cannot encode a live message.");
            false
        }
    }
}

/// Sends one text frame; false when the client is gone or too slow.
async fn send_text(socket: &mut WebSocket, text: Utf8Bytes) -> bool {
    matches!(tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text))).await, Ok(Ok(())))
}

async fn close(socket: &mut WebSocket, code: u16, reason: &'static str) {
    let frame = CloseFrame { code, reason: Utf8Bytes::from_static(reason) };
    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
    // The closing handshake: read what the client still sends until its own close. A socket
    // dropped with unread bytes is reset by the kernel, and the client loses the reason (a
    // flooding client has many frames in flight, more than the small read buffer takes).
    let _ = tokio::time::timeout(CLOSE_DRAIN, async {
        while let Some(Ok(message)) = socket.recv().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

async fn serve(mut socket: WebSocket, state: AppState, class: u8, limit: usize) {
    let Some(mut snapshots) = state.board().subscribe(class) else { return };
    let mut closing = state.closing();
    if *closing.borrow() {
        return;
    }
    state.metrics().websocket_clients.inc();
    let mut session = Session { caller: None, window_start: Instant::now(), frames_in_window: 0 };
    let mut ranking_due = true;
    loop {
        if ranking_due {
            let frame = snapshots.borrow_and_update().frame(limit, session.me());
            if !send_text(&mut socket, frame).await {
                break;
            }
            ranking_due = false;
        }
        tokio::select! {
            changed = snapshots.changed() => match changed {
                Ok(()) => ranking_due = true,
                Err(_) => break,
            },
            _ = closing.changed() => {
                close(&mut socket, close_code::AWAY, "the server is shutting down").await;
                break;
            }
            incoming = socket.recv() => {
                let frame = match incoming {
                    Some(Ok(Message::Text(text))) => Bytes::from(text),
                    Some(Ok(Message::Binary(_))) => {
                        if !send(&mut socket, &error("bad_request", "Send JSON in text frames.")).await {
                            break;
                        }
                        continue;
                    }
                    Some(Ok(Message::Close(_))) | None => break,
                    Some(Ok(_)) => continue, // pings are answered by axum
                    Some(Err(error)) => {
                        tracing::debug!(%error, "A live socket failed.");
                        close(&mut socket, close_code::SIZE, "frames are at most 1 MiB").await;
                        break;
                    }
                };
                if !session.within_budget() {
                    close(&mut socket, close_code::POLICY, "too many messages: at most 50 a second").await;
                    break;
                }
                match handle(&state, &mut session, &frame).await {
                    Next::Reply(reply) => {
                        let me_changed = matches!(reply, LiveMessage::Welcome { .. });
                        if !send(&mut socket, &reply).await {
                            break;
                        }
                        // The racer's own entry comes with the next ranking at once.
                        ranking_due |= me_changed;
                    }
                    Next::Close(reply, code, reason) => {
                        let _ = send(&mut socket, &reply).await;
                        close(&mut socket, code, reason).await;
                        break;
                    }
                }
            }
        }
    }
    state.metrics().websocket_clients.dec();
}
