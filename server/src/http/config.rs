//! `GET /api/config`: the classes and the race clock.

use alleycat_domain::api::ConfigResponse;
use axum::{extract::State, http::header, response::IntoResponse, routing::get, Json, Router};

use crate::AppState;

/// The config route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/config", get(config))
}

async fn config(State(state): State<AppState>) -> impl IntoResponse {
    let body = ConfigResponse::new(state.clock(), state.now_ms())
        .with_late_seconds(state.config().late_seconds);
    ([(header::CACHE_CONTROL, "no-store")], Json(body))
}
