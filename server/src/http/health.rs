//! `GET /healthz` (the process is up and serving), `GET /metrics` (Prometheus text format) and
//! `GET /api/metrics` (JSON: `{"pipelineLeader": true, "pipelineLeaseLosses": 0}`: whether this
//! server holds the pipeline lease and runs delivery and merge, and how often it lost it).

use axum::{extract::State, http::header, response::IntoResponse, routing::get, Json, Router};

use crate::AppState;

/// The health and metrics routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(|| async { "ok" })).route("/metrics", get(metrics))
}

/// The JSON status route, under `/api`.
pub fn api_routes() -> Router<AppState> {
    Router::new().route("/metrics", get(api_metrics))
}

async fn api_metrics(State(state): State<AppState>) -> impl IntoResponse {
    let metrics = state.metrics();
    Json(serde_json::json!({
        "pipelineLeader": metrics.pipeline_leader(),
        "pipelineLeaseLosses": metrics.pipeline_lease_losses(),
    }))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let text = state.metrics().render(state.stream().as_ref()).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text)
}
