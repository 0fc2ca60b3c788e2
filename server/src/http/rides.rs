//! A racer's ride as a file to take home: `GET /api/racers/{id}/races/{raceId}.fit[?classId=N]`,
//! a FIT activity (see `alleycat_domain::fit`) of every second of the race up to the last one
//! ridden, from the per-second outputs, cadences and heart rates the merge keeps. Without
//! `classId`, the ride in the lowest class the racer rode that race in.

use alleycat_domain::{
    fit::{Activity, Second},
    output::from_centi,
    RaceId,
};
use alleycat_ingest::merge::ride::Ride;
use axum::{
    extract::{Path, Query, State},
    http::header,
    response::{IntoResponse, Response},
    routing::get,
    Router,
};
use serde::Deserialize;

use super::error::{class_id, racer_id, ApiError};
use crate::AppState;

/// The media type of FIT files.
const FIT_MEDIA_TYPE: &str = "application/vnd.ant.fit";

/// The ride-file route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/racers/{id}/races/{file}", get(fit_file))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Params {
    class_id: Option<i64>,
}

async fn fit_file(
    State(state): State<AppState>,
    Path((racer, file)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let racer = racer_id(&racer)?;
    let race: RaceId = file.strip_suffix(".fit").and_then(|r| r.parse().ok()).ok_or_else(|| {
        ApiError::NotFound(format!("There is no ride file {file:?}: ask for <raceId>.fit."))
    })?;
    let class = params.class_id.map(|raw| class_id(Some(raw))).transpose()?;
    let race_seconds = state.config().race_seconds;
    let Some((_, stored)) = state.db().ride(race, racer, class).await? else {
        return Err(ApiError::NotFound(format!("Racer {racer} has no ride in race {race} (yet).")));
    };
    let ride = Ride::from_stored(&stored, race_seconds);
    let activity = Activity {
        start_unix_seconds: state.clock().start_ms(race) / 1000,
        serial_number: racer as u32,
        seconds: ride
            .seconds()
            .map(|(second, centi, detail)| Second {
                second,
                output: from_centi(centi),
                cadence: detail.cadence(),
                heart_rate: detail.heart_rate(),
            })
            .collect(),
    };
    let filename = format!("attachment; filename=\"alleycat-race-{race}-racer-{racer}.fit\"");
    Ok((
        [
            (header::CONTENT_TYPE, FIT_MEDIA_TYPE.to_owned()),
            (header::CONTENT_DISPOSITION, filename),
        ],
        activity.encode(),
    )
        .into_response())
}
