//! The signed-in racer's devices: `GET /api/devices` (the browsers that may ride as them, the
//! one asking marked `current`) and `DELETE /api/devices/{id}` (that browser is signed out: its
//! cookie is refused from now on).

use alleycat_domain::api::CredentialList;
use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    routing::{delete, get},
    Json, Router,
};

use super::{caller::SignedIn, error::ApiError};
use crate::{
    identity::{self, device},
    AppState,
};

/// The device routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/devices", get(list)).route("/devices/{id}", delete(remove))
}

async fn list(
    State(state): State<AppState>,
    SignedIn(racer_id): SignedIn,
    headers: HeaderMap,
) -> Result<Json<CredentialList>, ApiError> {
    let mut credentials = state.db().devices(racer_id).await?;
    if let Some(secret) = device::secret(&headers) {
        let this = state.db().device_id(&identity::sha256_hex(secret)).await?;
        for credential in &mut credentials {
            credential.current = this.as_deref() == Some(credential.id.as_str());
        }
    }
    Ok(Json(CredentialList { credentials }))
}

async fn remove(
    State(state): State<AppState>,
    SignedIn(racer_id): SignedIn,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.db().revoke_device(racer_id, &id, state.now_ms()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("You have no device with this id.".into()))
    }
}
