//! `GET /healthz`: the process is up and serving.

use axum::{routing::get, Router};

use crate::AppState;

/// The health route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/healthz", get(|| async { "ok" }))
}
