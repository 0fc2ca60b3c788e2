//! `GET /healthz` (the process is up and serving) and `GET /metrics` (Prometheus text format).

use axum::{extract::State, http::header, response::IntoResponse, routing::get, Router};

use crate::AppState;

/// The health and metrics routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(|| async { "ok" })).route("/metrics", get(metrics))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let text = state.metrics().render(state.stream().as_ref()).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text)
}
