//! Race results and class records: `GET /api/races?classId=N`, `GET /api/races/{raceId}?classId=N`,
//! `GET /api/leaderboard?classId=N`.

use alleycat_domain::{
    api::{
        LeaderboardResponse, LeaderboardRow, RaceResultRow, RaceResultsResponse, RaceSummary,
        RacesResponse,
    },
    RaceId,
};
use axum::{
    extract::{Path, Query, State},
    routing::get,
    Json, Router,
};
use serde::Deserialize;

use super::error::{class_id, ApiError};
use crate::AppState;

/// Races listed when the client does not ask for a number.
const DEFAULT_RACES: u32 = 20;
/// Leaderboard rows when the client does not ask for a number.
const DEFAULT_LEADERBOARD: u32 = 100;
/// The most rows a client may ask for.
const MAX_ROWS: u32 = 10_000;

/// The race and leaderboard routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/races", get(races))
        .route("/races/{race_id}", get(race))
        .route("/leaderboard", get(leaderboard))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params {
    class_id: Option<i64>,
    limit: Option<u32>,
}

async fn races(
    State(state): State<AppState>,
    Query(params): Query<Params>,
) -> Result<Json<RacesResponse>, ApiError> {
    let class = class_id(params.class_id)?;
    let limit = params.limit.unwrap_or(DEFAULT_RACES).min(MAX_ROWS);
    let clock = state.clock();
    let races = state
        .db()
        .recent_races(class, limit)
        .await?
        .into_iter()
        .map(|r| RaceSummary {
            race_id: r.race_id,
            class_id: r.class_id,
            started_at_ms: clock.start_ms(r.race_id),
            racers: r.racers,
        })
        .collect();
    Ok(Json(RacesResponse { races }))
}

async fn race(
    State(state): State<AppState>,
    Path(race_id): Path<RaceId>,
    Query(params): Query<Params>,
) -> Result<Json<RaceResultsResponse>, ApiError> {
    let class = class_id(params.class_id)?;
    let rows = state.db().race_results(race_id, class).await?;
    state.racers().learn(rows.iter().map(|r| r.racer_id)).await?;
    let results: Vec<RaceResultRow> = rows
        .into_iter()
        .map(|r| RaceResultRow {
            place: r.place,
            racer_id: r.racer_id,
            name: state.racers().name(r.racer_id),
            seconds: r.seconds,
            total: r.total,
            best: r.best,
            final_output: r.final_output,
            real_bike: r.real_bike,
        })
        .collect();
    if results.is_empty() {
        return Err(ApiError::NotFound(format!(
            "Race {race_id} has no results in class {class} (yet)."
        )));
    }
    Ok(Json(RaceResultsResponse { race_id, class_id: class, results }))
}

async fn leaderboard(
    State(state): State<AppState>,
    Query(params): Query<Params>,
) -> Result<Json<LeaderboardResponse>, ApiError> {
    let class = class_id(params.class_id)?;
    let limit = params.limit.unwrap_or(DEFAULT_LEADERBOARD).min(MAX_ROWS);
    let rows = state.db().leaderboard(class, limit).await?;
    state.racers().learn(rows.iter().map(|r| r.racer_id)).await?;
    let entries = rows
        .into_iter()
        .map(|r| LeaderboardRow {
            place: r.place,
            racer_id: r.racer_id,
            name: state.racers().name(r.racer_id),
            race_id: r.race_id,
            total: r.total,
        })
        .collect();
    Ok(Json(LeaderboardResponse { class_id: class, entries }))
}
