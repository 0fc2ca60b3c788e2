//! `POST /api/events`: racer events into the stream, acknowledged per event like Kinesis
//! PutRecords once durable. The door for producers (the load generator, the demo field) and the
//! app's fallback; the work is the [intake](crate::intake) every transport shares.

use alleycat_domain::api::EventsResponse;
use axum::{body::Bytes, extract::State, routing::post, Json, Router};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{
    caller::Authenticated,
    error::{body_error, ApiError},
};
use crate::{intake, AppState};

/// The events route.
pub fn routes() -> Router<AppState> {
    Router::new().route("/events", post(put_events))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body<'a> {
    #[serde(borrow)]
    events: Vec<&'a RawValue>,
}

async fn put_events(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<EventsResponse>, ApiError> {
    let body = body.map_err(|e| body_error(e, state.config().max_body_bytes))?;
    let Body { events } = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!("The body is not {{\"events\": [...]}} JSON: {e}."))
    })?;
    let records = intake::submit(&state, caller, &body, &events).await?;
    let failed_record_count = records.iter().filter(|r| r.error_code.is_some()).count();
    Ok(Json(EventsResponse { failed_record_count, records }))
}
