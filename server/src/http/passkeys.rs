//! Passkeys: `POST /api/passkeys/register/start|finish` (add one to the signed-in racer),
//! `POST /api/passkeys/login/start|finish` (sign in with one: a session and a new device
//! cookie), `GET /api/passkeys` and `DELETE /api/passkeys/{id}` (the signed-in racer's). The
//! ceremonies are in [`crate::identity::passkey`].

use alleycat_domain::api::{CeremonyFinish, CeremonyStart, Credential, CredentialList};
use axum::{
    body::Bytes,
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::{delete, get, post},
    Json, Router,
};

use super::{
    caller::SignedIn,
    error::{body_error, parse_json, ApiError},
    session::{add_device, session_for},
};
use crate::AppState;

/// The passkey routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/passkeys", get(list))
        .route("/passkeys/{id}", delete(remove))
        .route("/passkeys/register/start", post(register_start))
        .route("/passkeys/register/finish", post(register_finish))
        .route("/passkeys/login/start", post(login_start))
        .route("/passkeys/login/finish", post(login_finish))
}

type Body = Result<Bytes, axum::extract::rejection::BytesRejection>;

fn finish_body(state: &AppState, body: Body) -> Result<CeremonyFinish, ApiError> {
    let body = body.map_err(|e| body_error(e, state.config().max_body_bytes))?;
    parse_json(&body)
}

async fn register_start(
    State(state): State<AppState>,
    SignedIn(racer_id): SignedIn,
) -> Result<Json<CeremonyStart>, ApiError> {
    let racer = state
        .racers()
        .get(racer_id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("There is no racer {racer_id}.")))?;
    Ok(Json(state.passkeys().start_registration(state.db(), &racer, state.now_ms()).await?))
}

async fn register_finish(
    State(state): State<AppState>,
    SignedIn(racer_id): SignedIn,
    body: Body,
) -> Result<(StatusCode, Json<Credential>), ApiError> {
    let finish = finish_body(&state, body)?;
    let passkeys = state.passkeys();
    let credential =
        passkeys.finish_registration(state.db(), racer_id, &finish, state.now_ms()).await?;
    Ok((StatusCode::CREATED, Json(credential)))
}

async fn login_start(State(state): State<AppState>) -> Result<Json<CeremonyStart>, ApiError> {
    Ok(Json(state.passkeys().start_login(state.db(), state.now_ms()).await?))
}

async fn login_finish(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let finish = finish_body(&state, body)?;
    let login = state.passkeys().finish_login(state.db(), &finish, state.now_ms()).await?;
    let racer = state.racers().get(login.racer_id).await?.ok_or_else(|| {
        ApiError::Internal(anyhow::anyhow!("passkey {} names no racer", login.credential_id))
    })?;
    let mut response = Json(session_for(&state, racer)).into_response();
    add_device(&state, &headers, login.racer_id, &mut response).await?;
    Ok(response)
}

async fn list(
    State(state): State<AppState>,
    SignedIn(racer_id): SignedIn,
) -> Result<Json<CredentialList>, ApiError> {
    Ok(Json(CredentialList { credentials: state.db().passkeys(racer_id).await? }))
}

async fn remove(
    State(state): State<AppState>,
    SignedIn(racer_id): SignedIn,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.db().remove_passkey(racer_id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("You have no passkey with this id.".into()))
    }
}
