//! The here-now ranking over the `/api/live` WebSocket, reconnecting by itself with backoff.
//! The racer's token goes in the socket's first message (`hello`), never in its URL, so that
//! the server includes the rider's own entry in each ranking.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use alleycat_domain::{
    api::{LiveMessage, LiveRanking, LiveRequest},
    ClassId,
};
use futures::{SinkExt, StreamExt};
use gloo_net::websocket::{futures::WebSocket, Message};
use gloo_timers::future::TimeoutFuture;

use crate::logic::backoff::Backoff;

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

/// Follows the here-now ranking of `class_id` until `alive` turns false, calling `on_ranking`
/// with each message and `on_status` whenever the connection changes.
pub async fn follow(
    class_id: ClassId,
    token: Option<String>,
    limit: u32,
    alive: Arc<AtomicBool>,
    on_ranking: impl Fn(LiveRanking),
    on_status: impl Fn(LiveStatus),
) {
    let mut backoff = Backoff::default();
    on_status(LiveStatus::Connecting);
    while alive.load(Ordering::Relaxed) {
        if let Ok(socket) = WebSocket::open(&url(class_id, limit)) {
            let (mut sink, mut stream) = socket.split();
            // Sent once the socket is open (the sink waits for it); a failure is a lost
            // connection, retried after the backoff like any other.
            let greeted = match token.as_deref().and_then(hello) {
                Some(hello) => sink.send(Message::Text(hello)).await.is_ok(),
                None => true,
            };
            if greeted {
                while let Some(Ok(message)) = stream.next().await {
                    if !alive.load(Ordering::Relaxed) {
                        return;
                    }
                    let text = match message {
                        Message::Text(text) => text,
                        Message::Bytes(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                    };
                    match serde_json::from_str::<LiveMessage>(&text) {
                        Ok(LiveMessage::Ranking(ranking)) => {
                            backoff.reset();
                            on_status(LiveStatus::Connected);
                            on_ranking(ranking);
                        }
                        Ok(LiveMessage::Error { code, message }) => {
                            leptos::logging::warn!("live: {code}: {message}");
                        }
                        // Welcome and acks (this socket sends no events yet).
                        Ok(_) | Err(_) => {}
                    }
                }
            }
        }
        if !alive.load(Ordering::Relaxed) {
            return;
        }
        let delay = backoff.next_delay_ms(js_sys::Math::random());
        // Count down in whole seconds so the rider sees when the next attempt comes.
        let mut left = delay;
        while left > 0.0 && alive.load(Ordering::Relaxed) {
            on_status(LiveStatus::Disconnected {
                retry_in_ms: left as u32,
                attempt: backoff.attempt(),
            });
            let step = left.min(1000.0);
            TimeoutFuture::new(step as u32).await;
            left -= step;
        }
    }
}
