//! `GET /api/config`: the classes and the race clock.

use alleycat_domain::api::ConfigResponse;
use axum::{extract::State, http::header, response::IntoResponse, routing::get, Json, Router};

use crate::AppState;

/// The config route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/config", get(config))
}

async fn config(State(state): State<AppState>) -> impl IntoResponse {
    let body = ConfigResponse::new(state.clock(), now_ms());
    ([(header::CACHE_CONTROL, "no-store")], Json(body))
}

/// The wall clock in epoch milliseconds.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}
