//! `GET /healthz` (the process is up and serving: a liveness check that touches nothing),
//! `GET /readyz` (whether the server can do its job, per component: 200 or 503 with the JSON of
//! [`crate::health::Readiness`]), `GET /metrics` (Prometheus text format; it runs the readiness
//! check too, for the `alleycat_ready` gauges) and
//! `GET /api/metrics` (JSON: `{"pipelineLeader": true, "pipelineLeaseLosses": 0}`: whether this
//! server holds the pipeline lease and runs delivery and merge, and how often it lost it).

use axum::{
    extract::State,
    http::{header, StatusCode},
    response::IntoResponse,
    routing::get,
    Json, Router,
};

use crate::AppState;

/// The health and metrics routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
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

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let readiness = crate::health::check(&state).await;
    state.metrics().set_readiness(&readiness);
    let status = if readiness.ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(readiness))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state.metrics().set_readiness(&crate::health::check(&state).await);
    let text = state.metrics().render(state.stream().as_ref()).await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text)
}
