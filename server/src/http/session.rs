//! `POST /api/session`: a signed racer token for the person this browser's device cookie proves;
//! `DELETE /api/session`: sign out (the device is forgotten). A racer id alone proves nothing and
//! is refused; the generated (simulated) roster never gets a session.

use alleycat_domain::{
    api::{RacerInfo, SessionResponse},
    racer::is_simulated,
};
use axum::{
    body::Bytes,
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::post,
    Json, Router,
};

use super::error::{body_error, ApiError};
use crate::{
    identity::{self, device},
    AppState,
};

/// What every refusal of a session ends with: how to get a racer.
pub const HOW_TO_GET_A_RACER: &str = "Create your racer or sign in with a passkey.";

/// The session routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/session", post(create).delete(sign_out))
}

async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<SessionResponse>, ApiError> {
    let body = body.map_err(|e| body_error(e, state.config().max_body_bytes))?;
    refuse_racer_ids(&body)?;
    let Some(secret) = device::secret(&headers) else {
        return Err(ApiError::Unauthorized(format!(
            "This browser has no racer of its own yet. {HOW_TO_GET_A_RACER}"
        )));
    };
    let device = state.db().use_device(&identity::sha256_hex(secret), state.now_ms()).await?;
    let Some(device) = device.filter(|d| !is_simulated(d.racer_id)) else {
        return Err(ApiError::Unauthorized(format!(
            "This browser was signed out, or its device was removed. {HOW_TO_GET_A_RACER}"
        )));
    };
    let racer = state.racers().get(device.racer_id).await?.ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!("device {} names no racer", device.device_id))
    })?;
    Ok(Json(session_for(&state, racer)))
}

/// Refuses a body that asks for a racer by id (`{"racerId": N}`, how sessions were once had);
/// takes an empty body or a JSON object without it.
fn refuse_racer_ids(body: &[u8]) -> Result<(), ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let value: serde_json::Value = super::error::parse_json(body)?;
    let Some(object) = value.as_object() else {
        return Err(ApiError::BadRequest("Send an empty body or {}.".into()));
    };
    if object.contains_key("racerId") {
        return Err(ApiError::Unauthorized(format!(
            "A racer id alone proves nothing: a session is given only to this browser's own \
             racer (its device cookie) or a passkey. {HOW_TO_GET_A_RACER}"
        )));
    }
    Ok(())
}

/// A token for `racer`, valid for `--token-hours`.
pub fn session_for(state: &AppState, racer: RacerInfo) -> SessionResponse {
    let expires_at_ms = state.now_ms() + state.config().token_hours * 3_600_000;
    let token = state.keys().issue(racer.id, expires_at_ms);
    SessionResponse { token, racer, expires_at_ms }
}

/// Gives this browser a new device of `racer_id` (stored, and its cookie set on `response`).
pub async fn add_device(
    state: &AppState,
    headers: &HeaderMap,
    racer_id: u64,
    response: &mut Response,
) -> Result<(), ApiError> {
    let secret = identity::random_secret().map_err(|e| ApiError::Internal(e.into()))?;
    let device_id = identity::random_id().map_err(|e| ApiError::Internal(e.into()))?;
    let label = device::label(headers);
    let new = alleycat_ingest::db::devices::NewDevice {
        device_id: &device_id,
        secret_sha256: &identity::sha256_hex(&secret),
        label: &label,
    };
    state.db().add_device(racer_id, &new, state.now_ms()).await?;
    set_device_cookie(state, &secret, response);
    Ok(())
}

/// Sets the device cookie holding `secret` on `response`.
pub fn set_device_cookie(state: &AppState, secret: &str, response: &mut Response) {
    response
        .headers_mut()
        .append(header::SET_COOKIE, device::set_cookie(secret, state.secure_cookies()));
}

async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    if let Some(secret) = device::secret(&headers) {
        state.db().revoke_device_by_secret(&identity::sha256_hex(secret), state.now_ms()).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().append(header::SET_COOKIE, device::clear_cookie(state.secure_cookies()));
    Ok(response)
}
