//! Racers: `GET /api/racers/{id}` and `GET /api/racers?q=…` (search by name or id).

use alleycat_domain::api::{RacerInfo, RacerSearchResponse};
use axum::{
    extract::{Path, Query, State},
    routing::get,
    Json, Router,
};
use serde::Deserialize;

use super::error::ApiError;
use crate::AppState;

/// Matches returned when the client does not ask for a number.
const DEFAULT_MATCHES: usize = 20;
/// The most matches a client may ask for.
const MAX_MATCHES: usize = 200;

/// The racer routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/racers", get(search)).route("/racers/{id}", get(racer))
}

async fn racer(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RacerInfo>, ApiError> {
    let racer = id.parse().ok().and_then(|id| state.roster().get(id));
    racer.cloned().map(Json).ok_or_else(|| ApiError::NotFound(format!("There is no racer {id}.")))
}

#[derive(Debug, Deserialize)]
struct Params {
    q: Option<String>,
    limit: Option<usize>,
}

async fn search(
    State(state): State<AppState>,
    Query(params): Query<Params>,
) -> Json<RacerSearchResponse> {
    let limit = params.limit.unwrap_or(DEFAULT_MATCHES).min(MAX_MATCHES);
    Json(RacerSearchResponse {
        racers: state
            .roster()
            .search(params.q.as_deref().unwrap_or(""), limit + state.config().demo_racers as usize)
            .into_iter()
            .filter(|racer| !state.is_demo_racer(racer.id))
            .take(limit)
            .collect(),
    })
}
