//! SubscribeToShard: records pushed to a registered consumer as they arrive, for five minutes.
//!
//! The answer is `200` with `Content-Type: application/vnd.amazon.eventstream` and a body of
//! event-stream messages ([`crate::eventstream`]) that does not end until the subscription
//! does, over HTTP/1.1 (chunked) or HTTP/2 (h2c, as the SDKs' HTTP/2 clients speak it to an
//! `http://` endpoint):
//!
//! 1. an `initial-response` event (an empty structure);
//! 2. `SubscribeToShardEvent`s, each with `Records` (up to [`MAX_EVENT_BYTES`] of data),
//!    `ContinuationSequenceNumber` and `MillisBehindLatest`: the first at once with what the
//!    shard holds from the starting position, then one as soon as new records are written (the
//!    engine wakes the subscription when the shard's tip moves; nothing polls), or after
//!    [`HEARTBEAT`] without any;
//! 3. the end after [`SUBSCRIPTION_LIFETIME`], as in Kinesis (the client subscribes again from
//!    the last ContinuationSequenceNumber), or an `exception` message when the subscription
//!    cannot go on: `ResourceInUseException` when a newer subscription of the same consumer to
//!    the same shard took over, `ResourceNotFoundException` when the consumer or the stream is
//!    gone, `InternalFailureException` when the engine failed. The body simply ends when the
//!    server shuts down.
//!
//! `ContinuationSequenceNumber` is the sequence number of the last record delivered, so
//! `AFTER_SEQUENCE_NUMBER` of it resumes exactly after it. Before any record was delivered it
//! names the position reached ([`crate::records::BEFORE`]), which AFTER_SEQUENCE_NUMBER
//! resumes from as well. At the end of a closed (split or merged) shard, the last event has no
//! ContinuationSequenceNumber but the shard's `ChildShards`, and the subscription ends.
//!
//! A second subscription of the same consumer to the same shard within [`TAKEOVER_MS`] of the
//! last successful one is refused with `ResourceInUseException`; later, it takes over and the
//! older one ends with that exception. Errors found before the stream starts (validation, an
//! unknown consumer or shard, a bad starting position) are ordinary error answers.

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{Arc, Mutex},
    time::Duration,
};

use alleycat_ingest::stream::{
    Clock, SequenceNumber, ShardId, ShardIterator, StartingPosition, MAX_RECORDS_PER_GET,
};
use bytes::Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::{sync::watch, time::Instant};

use crate::{
    arn::{self, Resource},
    consumers::check_consumer_arn,
    error::KinesisError,
    eventstream,
    model::Timestamp,
    records::{find_shard, keep_within, open_iterator, RecordOutput, BEFORE},
    registry::Entry,
    resource,
    streams::ChildShard,
    streams::Empty,
    validate::{is_name, is_sequence, Checks, NAME_PATTERN, SEQUENCE_PATTERN},
    Call, Protocol, ACCOUNT_ID,
};

/// How long a subscription lasts (Kinesis: 5 minutes).
pub const SUBSCRIPTION_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// How long after a successful subscription another of the same consumer to the same shard is
/// refused (Kinesis: 5 seconds).
pub const TAKEOVER_MS: u64 = 5_000;
/// The longest time between two events when no records arrive.
pub const HEARTBEAT: Duration = Duration::from_secs(5);
/// The most record data one event carries (Kinesis pushes up to 2 MB per second per shard
/// and consumer); the rest follows in the next event at once.
pub const MAX_EVENT_BYTES: usize = 2 * 1024 * 1024;

/// The subscriptions made, by consumer ARN and shard: when each started, and a handle that
/// ends it when a newer one takes over.
#[derive(Debug, Default)]
pub struct Subscriptions {
    leases: Mutex<HashMap<(String, ShardId), Lease>>,
}

#[derive(Debug)]
struct Lease {
    started_ms: u64,
    /// Dropped when replaced, which the subscription holding its receiver sees.
    _taken: watch::Sender<()>,
}

impl Subscriptions {
    /// Claims `consumer`'s subscription to `shard` at `now_ms`, unless one started less than
    /// [`TAKEOVER_MS`] ago; the receiver reports when a later claim takes it over.
    fn claim(
        &self,
        consumer: &str,
        shard: ShardId,
        now_ms: u64,
    ) -> Result<watch::Receiver<()>, KinesisError> {
        let mut leases = self.leases.lock().unwrap_or_else(|p| p.into_inner());
        let key = (consumer.to_owned(), shard);
        if let Some(lease) = leases.get(&key) {
            if now_ms.saturating_sub(lease.started_ms) < TAKEOVER_MS {
                return Err(KinesisError::ResourceInUse(format!(
                    "Another active subscription exists for consumer {consumer} on shard {shard}; a new one may take over {TAKEOVER_MS} ms after it started."
                )));
            }
        }
        let (taken, receiver) = watch::channel(());
        leases.insert(key, Lease { started_ms: now_ms, _taken: taken });
        Ok(receiver)
    }
}

/// SubscribeToShard's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SubscribeInput {
    #[serde(rename = "ConsumerARN")]
    consumer_arn: Option<String>,
    shard_id: Option<String>,
    starting_position: Option<StartingPositionInput>,
}

/// `StartingPosition` in a request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartingPositionInput {
    #[serde(rename = "Type")]
    kind: Option<String>,
    sequence_number: Option<String>,
    timestamp: Option<Timestamp>,
}

const POSITION_TYPES: [&str; 5] =
    ["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"];

/// A subscription ready to stream: where it reads and what ends it.
pub struct Subscription {
    entry: Arc<Entry>,
    consumer: String,
    consumer_created_ms: u64,
    iterator: ShardIterator,
    last_delivered: Option<SequenceNumber>,
    content_type: &'static str,
    protocol: Protocol,
    clock: Arc<dyn Clock>,
    deadline: Instant,
    taken: watch::Receiver<()>,
    closing: watch::Receiver<bool>,
    first: bool,
    done: bool,
}

/// Checks the request, finds the consumer and the shard, places the reader and claims the
/// subscription; the [`Subscription`] then streams its events.
pub(crate) async fn start(
    call: &Call<'_>,
    protocol: Protocol,
    input: SubscribeInput,
) -> Result<Subscription, KinesisError> {
    let mut checks = Checks::new();
    checks.required("consumerARN", &input.consumer_arn);
    check_consumer_arn(&mut checks, input.consumer_arn.as_deref());
    checks.required("shardId", &input.shard_id);
    checks.length("shardId", input.shard_id.as_deref(), 1, 128);
    checks.pattern("shardId", input.shard_id.as_deref(), NAME_PATTERN, is_name);
    checks.required("startingPosition", &input.starting_position);
    let position = input.starting_position.as_ref();
    if let Some(position) = position {
        checks.required("startingPosition.type", &position.kind);
    }
    let kind = position.and_then(|p| p.kind.as_deref());
    checks.one_of("startingPosition.type", kind, &POSITION_TYPES);
    let sequence = position.and_then(|p| p.sequence_number.as_deref());
    checks.pattern("startingPosition.sequenceNumber", sequence, SEQUENCE_PATTERN, is_sequence);
    checks.finish()?;
    let text = input.consumer_arn.clone().unwrap_or_default();
    let Some(Resource::Consumer(parts)) = arn::parse(&text) else {
        return Err(resource::consumer_not_found(&text));
    };
    let (entry, consumer) = resource::consumer(call, &text, &parts)?;
    let shard = find_shard(input.shard_id.as_deref().unwrap_or_default(), entry.name())?;
    let timestamp = position.and_then(|p| p.timestamp);
    let iterator = {
        let stream = entry.stream().await?;
        open_iterator(&*stream, entry.name(), shard, kind.unwrap_or_default(), sequence, timestamp)
            .await?
    };
    let taken = call.service.subscriptions.claim(&text, shard, call.now_ms)?;
    tracing::debug!(consumer = %text, %shard, "A Kinesis consumer subscribed.");
    Ok(Subscription {
        entry,
        consumer: parts.name,
        consumer_created_ms: consumer.created_ms,
        iterator,
        last_delivered: None,
        content_type: protocol.content_type(),
        protocol,
        clock: call.service.clock.clone(),
        deadline: Instant::now() + SUBSCRIPTION_LIFETIME,
        taken,
        closing: call.service.closing.subscribe(),
        first: true,
        done: false,
    })
}

/// One push.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct SubscribeToShardEvent {
    records: Vec<RecordOutput>,
    /// Absent in the last event of a closed shard, which carries its children instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    continuation_sequence_number: Option<String>,
    millis_behind_latest: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    child_shards: Option<Vec<ChildShard>>,
}

/// An exception's payload.
#[derive(Debug, Serialize)]
struct ExceptionBody {
    message: String,
}

/// How a wait for the next event ended.
enum Woken {
    Read(Result<alleycat_ingest::stream::GetRecordsOutput, KinesisError>),
    TakenOver,
    Closing,
}

impl Subscription {
    /// The body: the initial response, then the events, as event-stream messages.
    pub fn into_body(self) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>> + Send {
        let initial = self.encoded("initial-response", &Empty {});
        futures_util::stream::once(async move { Ok(initial) }).chain(futures_util::stream::unfold(
            self,
            |mut subscription| async move {
                let frame = subscription.next_frame().await?;
                Some((Ok(frame), subscription))
            },
        ))
    }

    fn encoded(&self, event_type: &str, value: &impl Serialize) -> Bytes {
        let payload = self.protocol.encode(value).unwrap_or_default();
        eventstream::event(event_type, self.content_type, payload)
    }

    fn exception(&mut self, error: &KinesisError) -> Bytes {
        self.done = true;
        let kind = match error {
            KinesisError::ResourceNotFound(_) | KinesisError::ResourceInUse(_) => error.type_name(),
            _ => "InternalFailureException",
        };
        let payload =
            self.protocol.encode(&ExceptionBody { message: error.message() }).unwrap_or_default();
        eventstream::exception(kind, self.content_type, payload)
    }

    /// The next message, or `None` when the subscription is over.
    async fn next_frame(&mut self) -> Option<Bytes> {
        loop {
            if self.done {
                return None;
            }
            let now = Instant::now();
            if now >= self.deadline {
                return None;
            }
            let wait = if self.first { Duration::ZERO } else { HEARTBEAT.min(self.deadline - now) };
            if !self.entry.has_consumer(&self.consumer, self.consumer_created_ms) {
                return Some(self.exception(&KinesisError::ResourceNotFound(format!(
                    "Consumer {} of stream {} under account {ACCOUNT_ID} was deregistered.",
                    self.consumer,
                    self.entry.name()
                ))));
            }
            let woken = {
                let read = read(&self.entry, &self.iterator, wait);
                tokio::select! {
                    _ = self.taken.changed() => Woken::TakenOver,
                    _ = self.closing.wait_for(|closing| *closing) => Woken::Closing,
                    result = read => Woken::Read(result),
                }
            };
            match woken {
                Woken::TakenOver => {
                    return Some(self.exception(&KinesisError::ResourceInUse(format!(
                        "A newer subscription of consumer {} to {} took over this one.",
                        self.consumer, self.iterator.shard_id
                    ))))
                }
                Woken::Closing => return None,
                Woken::Read(Ok(mut output)) => {
                    self.first = false;
                    keep_within(&mut output, MAX_EVENT_BYTES, self.clock.now_ms());
                    if let Some(last) = output.records.last() {
                        self.last_delivered = Some(last.sequence_number);
                    }
                    self.iterator = output.next_iterator;
                    // At a closed shard's end: its children, and the subscription ends.
                    self.done = output.child_shards.is_some();
                    let event = SubscribeToShardEvent {
                        continuation_sequence_number: (!self.done)
                            .then(|| self.continuation().to_string()),
                        millis_behind_latest: output.millis_behind_latest,
                        records: output.records.into_iter().map(RecordOutput::from).collect(),
                        child_shards: output
                            .child_shards
                            .map(|c| c.iter().map(ChildShard::from).collect()),
                    };
                    return Some(self.encoded("SubscribeToShardEvent", &event));
                }
                Woken::Read(Err(KinesisError::ExpiredIterator(_))) => {
                    // Its records expired under it: go on from the oldest kept, as a reader
                    // from TRIM_HORIZON would.
                    match self.reposition().await {
                        Ok(()) => continue,
                        Err(error) => return Some(self.exception(&error)),
                    }
                }
                Woken::Read(Err(KinesisError::ServiceUnavailable)) => return None,
                Woken::Read(Err(error)) => return Some(self.exception(&error)),
            }
        }
    }

    /// Where a new subscription should resume to go on exactly after what this one delivered.
    fn continuation(&self) -> u128 {
        self.last_delivered.map_or(BEFORE | self.iterator.position, |seq| seq.0)
    }

    async fn reposition(&mut self) -> Result<(), KinesisError> {
        let stream = self.entry.stream().await?;
        self.iterator =
            stream.shard_iterator(self.iterator.shard_id, StartingPosition::TrimHorizon).await?;
        self.last_delivered = None;
        Ok(())
    }
}

/// Up to a full event's records from `iterator`, waiting up to `wait` for the first.
async fn read(
    entry: &Entry,
    iterator: &ShardIterator,
    wait: Duration,
) -> Result<alleycat_ingest::stream::GetRecordsOutput, KinesisError> {
    let stream = entry.stream().await?;
    Ok(stream.get_records(iterator, MAX_RECORDS_PER_GET, wait).await?)
}
