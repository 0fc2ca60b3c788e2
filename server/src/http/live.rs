//! `GET /api/live?classId=N[&limit=M][&token=T]` (WebSocket): the here-now ranking of the class's
//! current race, sent at once on connect and then once a second. With a racer token the
//! message always includes the racer's own entry (`me`), wherever they are placed.

use std::time::Duration;

use axum::{
    extract::{
        ws::{Message, WebSocket, WebSocketUpgrade},
        Query, State,
    },
    http::HeaderMap,
    response::Response,
    routing::get,
    Router,
};
use serde::Deserialize;

use super::{caller, error::ApiError};
use crate::{auth::Caller, AppState};

/// Entries sent when the client does not ask for a number.
pub const DEFAULT_LIMIT: usize = 100;
/// The most entries a client may ask for.
pub const MAX_LIMIT: usize = 10_000;
/// How long a send may take before the client is considered gone.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The live route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/live", get(live))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params {
    class_id: Option<i64>,
    limit: Option<usize>,
    token: Option<String>,
}

async fn live(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<Params>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let class = super::error::class_id(params.class_id)?;
    let me = match caller::identify(&state, &headers, params.token.as_deref()) {
        Some(Caller::Racer(id)) => Some(id),
        _ => None,
    };
    let limit = params.limit.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    Ok(upgrade.on_upgrade(move |socket| serve(socket, state, class, limit, me)))
}

async fn serve(mut socket: WebSocket, state: AppState, class: u8, limit: usize, me: Option<u64>) {
    let Some(mut snapshots) = state.board().subscribe(class) else { return };
    let mut closing = state.closing();
    if *closing.borrow() {
        return;
    }
    state.metrics().websocket_clients.inc();
    loop {
        let message = snapshots.borrow_and_update().message(limit, me);
        let text = match serde_json::to_string(&message) {
            Ok(text) => text,
            Err(error) => {
                tracing::error!(%error, "Cannot encode a live ranking.");
                break;
            }
        };
        match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text.into()))).await {
            Ok(Ok(())) => {}
            _ => break,
        }
        tokio::select! {
            changed = snapshots.changed() => if changed.is_err() { break },
            _ = closing.changed() => {
                let _ = socket.send(Message::Close(None)).await;
                break;
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {} // pings are answered by axum; other messages are ignored
            },
        }
    }
    state.metrics().websocket_clients.dec();
}
