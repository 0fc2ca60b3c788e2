//! Racers: `POST /api/racers` (create your own racer), `GET /api/racers/{id}` and
//! `GET /api/racers?q=…` (search people and the simulated roster by name or id).

use alleycat_domain::{
    api::{CreateRacerRequest, RacerInfo, RacerSearchResponse},
    racer::validate_name,
};
use axum::{
    body::Bytes,
    extract::{Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    routing::get,
    Json, Router,
};
use serde::Deserialize;

use super::{
    client::ClientAddr,
    error::{body_error, parse_json, ApiError},
    session::{session_for, set_device_cookie},
};
use crate::{
    config::Registration,
    identity::{self, device},
    AppState,
};

/// Matches returned when the client does not ask for a number.
const DEFAULT_MATCHES: usize = 20;
/// The most matches a client may ask for.
const MAX_MATCHES: usize = 200;

/// The racer routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/racers", get(search).post(create)).route("/racers/{id}", get(racer))
}

/// Creates a person's racer and this browser's device: 201 with a session, and the device
/// cookie. Refused: a bad name (400), no usable invitation when invitations are required (403),
/// too many racers from this address (429).
async fn create(
    State(state): State<AppState>,
    ClientAddr(address): ClientAddr,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| body_error(e, state.config().max_body_bytes))?;
    let request: CreateRacerRequest = parse_json(&body)?;
    let name = validate_name(&request.name).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let invite = match state.config().registration {
        Registration::Open => None,
        Registration::Invite => Some(
            request.invite.as_deref().map(str::trim).filter(|code| !code.is_empty()).ok_or_else(
                || {
                    ApiError::Forbidden(
                "New racers need an invitation here: open the invitation link you were given, \
                 or ask the organiser for one."
                    .into(),
            )
                },
            )?,
        ),
    };
    state.creation_limit().check(address).map_err(|retry_after| ApiError::TooManyRequests {
        message: format!(
            "Too many racers were created from your address; try again in {} minutes.",
            retry_after.as_secs().div_ceil(60).max(1)
        ),
        retry_after,
    })?;
    let secret = identity::random_secret().map_err(|e| ApiError::Internal(e.into()))?;
    let device_id = identity::random_id().map_err(|e| ApiError::Internal(e.into()))?;
    let avatar_seed = identity::random_avatar_seed().map_err(|e| ApiError::Internal(e.into()))?;
    let (secret_sha256, label) = (identity::sha256_hex(&secret), device::label(&headers));
    let invite_sha256 = invite.map(identity::sha256_hex);
    let new = alleycat_ingest::db::people::NewPerson {
        name: &name,
        avatar_seed,
        created_at_ms: state.now_ms(),
        invite_sha256: invite_sha256.as_deref(),
        device: alleycat_ingest::db::devices::NewDevice {
            device_id: &device_id,
            secret_sha256: &secret_sha256,
            label: &label,
        },
    };
    let racer = state.db().create_person(&new).await?;
    tracing::info!(racer = racer.id, %address, "A racer was created.");
    state.racers().remember(racer.clone());
    let mut response = (StatusCode::CREATED, Json(session_for(&state, racer))).into_response();
    set_device_cookie(&state, &secret, &mut response);
    Ok(response)
}

async fn racer(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RacerInfo>, ApiError> {
    let racer = match id.parse() {
        Ok(id) => state.racers().get(id).await?,
        Err(_) => None,
    };
    racer.map(Json).ok_or_else(|| ApiError::NotFound(format!("There is no racer {id}.")))
}

#[derive(Debug, Deserialize)]
struct Params {
    q: Option<String>,
    limit: Option<usize>,
}

async fn search(
    State(state): State<AppState>,
    Query(params): Query<Params>,
) -> Result<Json<RacerSearchResponse>, ApiError> {
    let limit = params.limit.unwrap_or(DEFAULT_MATCHES).min(MAX_MATCHES);
    let found = state
        .racers()
        .search(params.q.as_deref().unwrap_or(""), limit + state.config().demo_racers as usize)
        .await?;
    Ok(Json(RacerSearchResponse {
        racers: found
            .into_iter()
            .filter(|racer| !state.is_demo_racer(racer.id))
            .take(limit)
            .collect(),
    }))
}
