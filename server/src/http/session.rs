//! `POST /api/session`: a signed racer token.

use alleycat_domain::api::{SessionRequest, SessionResponse};
use axum::{body::Bytes, extract::State, routing::post, Json, Router};

use super::error::{body_error, parse_json, ApiError};
use crate::AppState;

/// The session route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/session", post(create))
}

async fn create(
    State(state): State<AppState>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<SessionResponse>, ApiError> {
    let body = body.map_err(|e| body_error(e, state.config().max_body_bytes))?;
    let request: SessionRequest = parse_json(&body)?;
    let racer = state.roster().get(request.racer_id).cloned().ok_or_else(|| {
        ApiError::NotFound(format!(
            "There is no racer {} (racers are 1 to {}).",
            request.racer_id,
            state.roster().len()
        ))
    })?;
    if state.is_demo_racer(racer.id) {
        return Err(ApiError::Conflict(format!(
            "Racer {} is ridden by the demo field; choose another racer.",
            racer.id
        )));
    }
    let expires_at_ms = state.now_ms() + state.config().token_hours * 3_600_000;
    let token = state.keys().issue(racer.id, expires_at_ms);
    Ok(Json(SessionResponse { token, racer, expires_at_ms }))
}
