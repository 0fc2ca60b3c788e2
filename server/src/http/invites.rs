//! `POST /api/invites` (the API key): single-use invitation links to create a racer, as
//! `alleycat invite` prints them.

use alleycat_domain::api::{InviteRequest, InviteResponse};
use axum::{body::Bytes, extract::State, http::StatusCode, routing::post, Json, Router};

use super::{
    caller::Authenticated,
    error::{body_error, parse_json, ApiError},
};
use crate::{auth::Caller, identity::invite, AppState};

/// The invitation route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/invites", post(create))
}

async fn create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<InviteResponse>), ApiError> {
    if caller != Caller::Producer {
        return Err(ApiError::Forbidden("Invitations are made with the API key.".into()));
    }
    let body = body.map_err(|e| body_error(e, state.config().max_body_bytes))?;
    let count = if body.iter().all(u8::is_ascii_whitespace) {
        1
    } else {
        parse_json::<InviteRequest>(&body)?.count.unwrap_or(1)
    };
    let links = invite::create(state.db(), state.public_url(), count, state.now_ms()).await?;
    Ok((StatusCode::CREATED, Json(InviteResponse { links })))
}
