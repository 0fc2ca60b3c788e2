//! The one intake for racer events, whatever door they came through (`POST /api/events`, the
//! racer's WebSocket): validate each event, apply the [admission rules](crate::admission), put
//! what passes to the stream in one durable `put_records`, release what the stream refused,
//! count the metrics, and answer each event in the order sent, like Kinesis PutRecords.
//!
//! A resend of an event already stored (same uuid) is answered as a success with
//! `alreadyStored: true`, so a client that lost an acknowledgement can resend its whole outbox.
//!
//! Transports only parse their wire format into raw JSON events (slices of the bytes they
//! received) and map [`IntakeError`] to their own error shape.

use alleycat_domain::{api::EventResult, RacerEvent};
use alleycat_ingest::stream::{PutRecord, ShardId, MAX_RECORDS_PER_PUT};
use axum::body::Bytes;
use serde_json::value::RawValue;

use crate::{
    admission::{Refusal, Ticket},
    auth::Caller,
    metrics::ShardLabel,
    AppState,
};

/// Why a whole submission was refused (one bad event only fails itself).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IntakeError {
    /// More events than one put takes.
    #[error("{count} events in one call; send at most {limit}.")]
    TooManyEvents {
        /// Events sent.
        count: usize,
        /// The most one call takes ([`MAX_RECORDS_PER_PUT`]).
        limit: usize,
    },
    /// The stream refused the whole put (storage failing); nothing was stored.
    #[error("The event stream cannot take events right now; retry shortly.")]
    StreamUnavailable,
}

/// An event that failed with `code` and `message`.
pub fn failure(code: &str, message: impl Into<String>) -> EventResult {
    EventResult {
        error_code: Some(code.to_owned()),
        error_message: Some(message.into()),
        ..EventResult::default()
    }
}

/// The `uuid` of an event that did not parse as a whole, when it has a valid one.
fn uuid_of(raw: &RawValue) -> Option<uuid::Uuid> {
    #[derive(serde::Deserialize)]
    struct UuidOnly {
        uuid: uuid::Uuid,
    }
    serde_json::from_str::<UuidOnly>(raw.get()).ok().map(|u| u.uuid)
}

/// An admitted event on its way to the stream.
struct Admitted {
    /// Its place in the submission.
    index: usize,
    uuid: uuid::Uuid,
    /// Its reservation of (race, racer, second), released if the stream refuses it.
    ticket: Ticket,
    record: PutRecord,
}

/// Takes `events` from `caller`, each a JSON event that is a slice of `body`, and answers each,
/// in order: stored (shard and sequence number, durable) or failed (code and message).
pub async fn submit(
    state: &AppState,
    caller: Caller,
    body: &Bytes,
    events: &[&RawValue],
) -> Result<Vec<EventResult>, IntakeError> {
    if events.len() > MAX_RECORDS_PER_PUT {
        return Err(IntakeError::TooManyEvents { count: events.len(), limit: MAX_RECORDS_PER_PUT });
    }
    let (mut results, admitted) = admit(state, caller, body, events);
    if !admitted.is_empty() {
        put(state, &mut results, admitted).await?;
    }
    let results: Vec<EventResult> = results.into_iter().map(Option::unwrap_or_default).collect();
    for code in results.iter().filter_map(|r| r.error_code.as_deref()) {
        state.metrics().reject(code);
    }
    Ok(results)
}

/// Parses and admits each event: the failures answered, the admitted ones to put.
fn admit(
    state: &AppState,
    caller: Caller,
    body: &Bytes,
    events: &[&RawValue],
) -> (Vec<Option<EventResult>>, Vec<Admitted>) {
    let race_seconds = state.config().race_seconds;
    let parsed: Vec<Result<RacerEvent, EventResult>> = events
        .iter()
        .map(|raw| {
            RacerEvent::from_json(raw.get().as_bytes(), race_seconds)
                .map_err(|e| EventResult { uuid: uuid_of(raw), ..failure(e.code(), e.to_string()) })
        })
        .collect();
    let valid: Vec<&RacerEvent> = parsed.iter().filter_map(|p| p.as_ref().ok()).collect();
    let mut tickets = state.admission().admit(caller, &valid, state.now_ms()).into_iter();
    let mut results = Vec::with_capacity(parsed.len());
    let mut admitted = Vec::new();
    for (index, event) in parsed.iter().enumerate() {
        let event = match event {
            Err(failed) => {
                results.push(Some(failed.clone()));
                continue;
            }
            Ok(event) => event,
        };
        match tickets.next().expect("one admission result per valid event") {
            Err(Refusal::AlreadyStored { .. }) => results.push(Some(EventResult {
                uuid: Some(event.uuid),
                already_stored: true,
                ..EventResult::default()
            })),
            Err(refusal) => results.push(Some(EventResult {
                uuid: Some(event.uuid),
                ..failure(refusal.code(), refusal.to_string())
            })),
            Ok(ticket) => {
                results.push(None);
                // The event's own bytes go to the stream, a slice of the body rather than a
                // copy printed again: they parsed as exactly one valid event (unknown or
                // repeated fields are refused), so every reader parses the same event.
                let data = body.slice_ref(events[index].get().as_bytes());
                let record = PutRecord {
                    partition_key: event.racer_id.to_string(),
                    explicit_hash_key: None,
                    data,
                };
                admitted.push(Admitted { index, uuid: event.uuid, ticket, record });
            }
        }
    }
    (results, admitted)
}

/// Puts the admitted events in one call and answers each; releases the reservations of those
/// the stream refused so that a retry is not refused as a duplicate.
async fn put(
    state: &AppState,
    results: &mut [Option<EventResult>],
    admitted: Vec<Admitted>,
) -> Result<(), IntakeError> {
    let records = admitted.iter().map(|a| a.record.clone()).collect();
    let output = match state.stream().put_records(records).await {
        Ok(output) => output,
        Err(error) => {
            state.admission().release(admitted.iter().map(|a| a.ticket));
            tracing::error!(%error, "The stream refused a batch of events.");
            return Err(IntakeError::StreamUnavailable);
        }
    };
    let mut released = Vec::new();
    let mut confirmed = Vec::with_capacity(admitted.len());
    let mut stored = Vec::with_capacity(admitted.len());
    for (event, fate) in admitted.iter().zip(output.records) {
        results[event.index] = Some(match fate {
            Ok(ok) => {
                confirmed.push(event.ticket);
                stored.push((ok.shard_id, event.record.data.len() as u64));
                EventResult {
                    uuid: Some(event.uuid),
                    shard_id: Some(ok.shard_id.to_string()),
                    sequence_number: Some(ok.sequence_number.to_string()),
                    ..EventResult::default()
                }
            }
            Err(error) => {
                released.push(event.ticket);
                EventResult {
                    uuid: Some(event.uuid),
                    ..failure(error.code.as_str(), error.message)
                }
            }
        });
    }
    state.admission().release(released);
    state.admission().confirm(confirmed);
    count_stored(state, &stored);
    Ok(())
}

/// Adds the stored records and bytes to the per-shard metrics, once per shard per call.
fn count_stored(state: &AppState, stored: &[(ShardId, u64)]) {
    let mut per_shard: Vec<(ShardId, u64, u64)> = Vec::new();
    for &(shard, bytes) in stored {
        match per_shard.iter_mut().find(|(s, _, _)| *s == shard) {
            Some((_, records, total)) => {
                *records += 1;
                *total += bytes;
            }
            None => per_shard.push((shard, 1, bytes)),
        }
    }
    let metrics = state.metrics();
    for (shard, records, bytes) in per_shard {
        let label = ShardLabel { shard: shard.to_string() };
        metrics.events_accepted.inc_by(records);
        metrics.stream_records.get_or_create(&label).inc_by(records);
        metrics.stream_bytes.get_or_create(&label).inc_by(bytes);
    }
}
