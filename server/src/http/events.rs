//! `POST /api/events`: racer events into the stream, acknowledged per event like Kinesis
//! PutRecords once durable.
//!
//! Each event is parsed and validated on its own (see `alleycat_domain::event`), then checked
//! by the [admission rules](crate::admission); those that pass are appended in one
//! `put_records` call, partitioned by racer id. One bad event fails alone.

use alleycat_domain::{
    api::{EventResult, EventsResponse},
    RacerEvent,
};
use alleycat_ingest::stream::{PutRecord, ShardId, MAX_RECORDS_PER_PUT};
use axum::{body::Bytes, extract::State, http::HeaderMap, routing::post, Json, Router};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{
    caller,
    error::{body_error, ApiError},
};
use crate::AppState;

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

fn failure(code: &str, message: impl Into<String>) -> EventResult {
    EventResult {
        error_code: Some(code.to_owned()),
        error_message: Some(message.into()),
        ..EventResult::default()
    }
}

async fn put_events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Json<EventsResponse>, ApiError> {
    let body = body.map_err(|e| body_error(e, state.config().max_body_bytes))?;
    let caller = caller::identify(&state, &headers, None).ok_or_else(|| {
        ApiError::Forbidden(
            "Send a racer token (from POST /api/session) or the API key as 'Authorization: Bearer …'."
                .into(),
        )
    })?;
    let Body { events } = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!("The body is not {{\"events\": [...]}} JSON: {e}."))
    })?;
    if events.len() > MAX_RECORDS_PER_PUT {
        return Err(ApiError::BadRequest(format!(
            "{} events in one call; send at most {MAX_RECORDS_PER_PUT}.",
            events.len()
        )));
    }
    let race_seconds = state.config().race_seconds;
    let parsed: Vec<Result<RacerEvent, EventResult>> = events
        .iter()
        .map(|raw| {
            RacerEvent::from_json(raw.get().as_bytes(), race_seconds)
                .map_err(|e| failure(e.code(), e.to_string()))
        })
        .collect();
    let valid: Vec<&RacerEvent> = parsed.iter().filter_map(|p| p.as_ref().ok()).collect();
    let now = crate::now_ms();
    let mut admitted = state.admission().admit(caller, &valid, now).into_iter();

    // Each event's fate so far, and the admitted ones to put, with their index.
    let mut results: Vec<Option<EventResult>> = Vec::with_capacity(parsed.len());
    let mut to_put = Vec::new();
    for (index, event) in parsed.iter().enumerate() {
        match event {
            Err(failed) => results.push(Some(failed.clone())),
            Ok(event) => match admitted.next().expect("one admission result per valid event") {
                Err(refusal) => results.push(Some(failure(refusal.code(), refusal.to_string()))),
                Ok(ticket) => {
                    results.push(None);
                    // The event's own bytes go to the stream, a slice of the body rather than
                    // a copy printed again: they parsed as exactly one valid event (unknown or
                    // repeated fields are refused), so every reader parses the same event.
                    let data = body.slice_ref(events[index].get().as_bytes());
                    to_put.push((
                        index,
                        ticket,
                        PutRecord {
                            partition_key: event.racer_id.to_string(),
                            explicit_hash_key: None,
                            data,
                        },
                    ));
                }
            },
        }
    }

    if !to_put.is_empty() {
        let records = to_put.iter().map(|(_, _, r)| r.clone()).collect();
        let output = match state.stream().put_records(records).await {
            Ok(output) => output,
            Err(error) => {
                state.admission().release(to_put.iter().map(|(_, t, _)| *t));
                tracing::error!(%error, "The stream refused a batch of events.");
                return Err(ApiError::Unavailable(
                    "The event stream cannot take events right now; retry shortly.".into(),
                ));
            }
        };
        let mut released = Vec::new();
        // Records and bytes per shard, counted here and added to the metrics once per call.
        let mut per_shard: Vec<(ShardId, u64, u64)> = Vec::new();
        for ((index, ticket, record), fate) in to_put.iter().zip(output.records) {
            results[*index] = Some(match fate {
                Ok(ok) => {
                    let bytes = record.data.len() as u64;
                    match per_shard.iter_mut().find(|(shard, _, _)| *shard == ok.shard_id) {
                        Some((_, records, total)) => {
                            *records += 1;
                            *total += bytes;
                        }
                        None => per_shard.push((ok.shard_id, 1, bytes)),
                    }
                    EventResult {
                        shard_id: Some(ok.shard_id.to_string()),
                        sequence_number: Some(ok.sequence_number.to_string()),
                        ..EventResult::default()
                    }
                }
                Err(error) => {
                    released.push(*ticket);
                    failure(error.code.as_str(), error.message)
                }
            });
        }
        state.admission().release(released);
        let metrics = state.metrics();
        for (shard, records, bytes) in per_shard {
            let shard = crate::metrics::ShardLabel { shard: shard.to_string() };
            metrics.events_accepted.inc_by(records);
            metrics.stream_records.get_or_create(&shard).inc_by(records);
            metrics.stream_bytes.get_or_create(&shard).inc_by(bytes);
        }
    }

    let records: Vec<EventResult> = results.into_iter().map(|r| r.unwrap_or_default()).collect();
    let failed_record_count = records.iter().filter(|r| r.error_code.is_some()).count();
    for record in &records {
        if let Some(code) = &record.error_code {
            state.metrics().reject(code);
        }
    }
    Ok(Json(EventsResponse { failed_record_count, records }))
}
