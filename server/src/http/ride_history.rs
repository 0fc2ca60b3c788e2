//! A racer's own record, for their page: `GET /api/racers/{id}/races[?limit=N&before=RACE]`
//! (their past races, newest first, each with its place, field, total, whether it was on a real
//! bike, and every second's output) and `GET /api/racers/{id}/bests` (their personal best in each
//! class: the best race total with its all-time place, and the best output at each second).
//!
//! Both read the results database (`rides`, `class_records`), for people and roster racers
//! alike. The per-second bests are the maximum over the racer's stored rides, the same fold the
//! history file's bests are ([`ClassBests::improve`]); history imported in the original format
//! (`alleycat history import`) has no rides, so it is in the history file but not here.

use alleycat_domain::{
    api::{PersonalBest, PersonalBestsResponse, RacerRace, RacerRacesResponse},
    history::ClassBests,
    output::from_centi,
    RaceId,
};
use alleycat_ingest::merge::ride::Ride;
use axum::{
    extract::{rejection::QueryRejection, Path, Query, State},
    routing::get,
    Json, Router,
};
use serde::Deserialize;

use super::error::{racer_id, ApiError};
use crate::AppState;

/// Races listed when the client does not ask for a number.
const DEFAULT_RACES: u32 = 10;
/// The most races one page may list (each carries every second's output).
const MAX_RACES: u32 = 50;

/// The racer-page routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/racers/{id}/races", get(races)).route("/racers/{id}/bests", get(bests))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Params {
    limit: Option<u32>,
    before: Option<RaceId>,
}

async fn races(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Json<RacerRacesResponse>, ApiError> {
    let racer = racer_id(&id)?;
    let Query(params) = params.map_err(|e| {
        ApiError::BadRequest(format!(
            "{} (limit is 1 to {MAX_RACES}, before a race id).",
            e.body_text()
        ))
    })?;
    let limit = match params.limit.unwrap_or(DEFAULT_RACES) {
        0 => return Err(ApiError::BadRequest(format!("limit is 1 to {MAX_RACES}, not 0."))),
        n => n.min(MAX_RACES),
    };
    let rides = state.db().racer_rides(racer, params.before.unwrap_or(RaceId::MAX), limit).await?;
    if rides.is_empty() {
        known_racer(&state, racer).await?;
    }
    let race_count = rides.windows(2).filter(|w| w[0].race_id != w[1].race_id).count() + 1;
    let next_before =
        (!rides.is_empty() && race_count as u32 == limit).then(|| rides[rides.len() - 1].race_id);
    let (clock, race_seconds) = (state.clock(), state.config().race_seconds);
    let races = rides
        .into_iter()
        .map(|r| RacerRace {
            race_id: r.race_id,
            class_id: r.class_id,
            started_at_ms: clock.start_ms(r.race_id),
            place: r.place,
            field: r.field,
            seconds: r.seconds,
            total: r.total,
            real_bike: r.stored.real_bike,
            outputs: Ride::from_stored(&r.stored, race_seconds)
                .seconds()
                .map(|(_, centi, _)| (centi > 0).then(|| from_centi(centi)))
                .collect(),
        })
        .collect();
    Ok(Json(RacerRacesResponse { racer_id: racer, races, next_before }))
}

async fn bests(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PersonalBestsResponse>, ApiError> {
    let racer = racer_id(&id)?;
    let records = state.db().racer_records(racer).await?;
    if records.is_empty() {
        known_racer(&state, racer).await?;
    }
    let race_seconds = state.config().race_seconds;
    let mut bests = Vec::with_capacity(records.len());
    for r in records {
        let mut class_bests = ClassBests::new(r.class_id, race_seconds);
        for stored in state.db().racer_class_rides(racer, r.class_id).await? {
            for (second, centi, _) in Ride::from_stored(&stored, race_seconds).seconds() {
                class_bests.improve(racer, second, centi);
            }
        }
        bests.push(PersonalBest {
            class_id: r.class_id,
            total: r.record.total,
            race_id: r.record.race_id,
            place: r.record.place,
            field: r.field,
            seconds: (1..=race_seconds)
                .map(|s| class_bests.get(racer, s).map(from_centi))
                .collect(),
        });
    }
    Ok(Json(PersonalBestsResponse { racer_id: racer, bests }))
}

/// A racer with nothing to show is known when the roster has them or they rode a race (a
/// person's rides are admitted with their token); anyone else is a 404.
async fn known_racer(state: &AppState, racer: u64) -> Result<(), ApiError> {
    if state.roster().get(racer).is_some()
        || !state.db().racer_rides(racer, RaceId::MAX, 1).await?.is_empty()
    {
        return Ok(());
    }
    Err(ApiError::NotFound(format!("There is no racer {racer}.")))
}
