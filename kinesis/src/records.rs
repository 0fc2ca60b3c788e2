//! The record actions: PutRecord, PutRecords, GetShardIterator, GetRecords.

use std::{borrow::Cow, time::Duration};

use alleycat_ingest::stream::{
    self, GetRecordsOutput as StreamRecords, RecordErrorCode, SequenceNumber, ShardId,
    ShardIterator, StartingPosition, MAX_PUT_BYTES, MAX_RECORDS_PER_GET, MAX_RECORDS_PER_PUT,
    MAX_RECORD_BYTES,
};
use serde::{Deserialize, Serialize};

use crate::{
    error::KinesisError,
    iterator::{Iterator, ITERATOR_TTL_MS},
    model::{Blob, Timestamp},
    streams::{encryption_type, stream_name, ChildShard},
    validate::{
        is_hash_key, is_name, is_sequence, Checks, Member, HASH_KEY_PATTERN, NAME_PATTERN,
        SEQUENCE_PATTERN,
    },
    Call, ACCOUNT_ID,
};

/// The most data one GetRecords answer carries (Kinesis: 10 MiB); the rest is left for the
/// next call.
pub const MAX_GET_BYTES: usize = 10 * 1024 * 1024;

/// One record of a put request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordInput {
    data: Option<Blob>,
    partition_key: Option<String>,
    explicit_hash_key: Option<String>,
}

/// A field of a put record: `partitionKey` in PutRecord, `records.<n>.member.partitionKey` in
/// PutRecords (`n` from 1), spelled only if a check of it fails.
struct RecordField {
    /// The record's place in PutRecords' list, from 0; none in PutRecord.
    index: Option<usize>,
    field: &'static str,
}

impl Member for RecordField {
    fn spell(&self) -> Cow<'_, str> {
        match self.index {
            None => Cow::Borrowed(self.field),
            Some(i) => Cow::Owned(format!("records.{}.member.{}", i + 1, self.field)),
        }
    }
}

impl RecordInput {
    /// Checks the record at `index` of PutRecords' list, or PutRecord's (no index).
    fn check(&self, checks: &mut Checks, index: Option<usize>) {
        let at = |field| RecordField { index, field };
        checks.required(&at("data"), &self.data);
        checks.blob(&at("data"), self.data.as_ref().map(|b| &b.0[..]), MAX_RECORD_BYTES);
        checks.required(&at("partitionKey"), &self.partition_key);
        checks.length(&at("partitionKey"), self.partition_key.as_deref(), 1, 256);
        checks.pattern(
            &at("explicitHashKey"),
            self.explicit_hash_key.as_deref(),
            HASH_KEY_PATTERN,
            is_hash_key,
        );
    }

    /// The record to give the stream (after [`Self::check`] passed).
    fn into_put(self) -> Result<stream::PutRecord, KinesisError> {
        let explicit_hash_key = match self.explicit_hash_key {
            Some(key) => Some(key.parse::<u128>().map_err(|_| {
                KinesisError::InvalidArgument(format!(
                    "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {key}"
                ))
            })?),
            None => None,
        };
        Ok(stream::PutRecord {
            partition_key: self.partition_key.unwrap_or_default(),
            explicit_hash_key,
            data: self.data.unwrap_or_default().0,
        })
    }
}

/// PutRecord's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    #[serde(flatten)]
    record: RecordInput,
    sequence_number_for_ordering: Option<String>,
}

/// PutRecord's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordOutput {
    shard_id: String,
    sequence_number: String,
    encryption_type: &'static str,
}

fn throttled(shard: ShardId, stream: &str) -> String {
    format!("Rate exceeded for shard {shard} in stream {stream} under account {ACCOUNT_ID}.")
}

/// PutRecord: one record, acknowledged once durable. Throttling fails the whole call with
/// ProvisionedThroughputExceededException.
pub async fn put_record(
    call: &Call<'_>,
    input: PutRecordInput,
) -> Result<PutRecordOutput, KinesisError> {
    let mut checks = Checks::new();
    let name = stream_name(&mut checks, &input.stream_name, &input.stream_arn);
    input.record.check(&mut checks, None);
    // Kinesis orders by arrival within a shard anyway; the hint is validated, then unneeded.
    checks.pattern(
        "sequenceNumberForOrdering",
        input.sequence_number_for_ordering.as_deref(),
        SEQUENCE_PATTERN,
        is_sequence,
    );
    checks.finish()?;
    let entry = call.registry().get(&name.unwrap_or_default())?;
    let record = input.record.into_put()?;
    let output = entry.stream().await?.put_records(vec![record]).await?;
    match output.records.into_iter().next() {
        Some(Ok(ok)) => Ok(PutRecordOutput {
            shard_id: ok.shard_id.to_string(),
            sequence_number: ok.sequence_number.0.to_string(),
            encryption_type: encryption_type(&entry.meta()),
        }),
        Some(Err(error)) => Err(match error.code {
            RecordErrorCode::ProvisionedThroughputExceeded => {
                let shard = shard_in_message(&error.message);
                KinesisError::ProvisionedThroughputExceeded(throttled(shard, entry.name()))
            }
            RecordErrorCode::InvalidArgument => KinesisError::InvalidArgument(error.message),
            RecordErrorCode::InternalFailure => {
                tracing::error!(error = %error.message, stream = entry.name(), "PutRecord failed in the stream.");
                KinesisError::InternalFailure
            }
        }),
        None => Err(KinesisError::InternalFailure),
    }
}

/// The shard a per-record throttling error names (the stream says "rate exceeded for
/// shardId-…"); shard 0 if it names none.
fn shard_in_message(message: &str) -> ShardId {
    message.split_whitespace().find_map(|word| word.parse::<ShardId>().ok()).unwrap_or(ShardId(0))
}

/// PutRecords' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordsInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    records: Option<Vec<RecordInput>>,
}

/// PutRecords' output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordsOutput {
    failed_record_count: usize,
    records: Vec<PutRecordsResultEntry>,
    encryption_type: &'static str,
}

/// One record's fate: a sequence number and shard, or an error code and message.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordsResultEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<Shown<u128>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shard_id: Option<Shown<ShardId>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<String>,
}

/// A value that travels as the string its `Display` writes (sequence numbers, shard ids),
/// written straight into the answer rather than into a string of its own first.
#[derive(Debug)]
pub struct Shown<T>(T);

impl<T: std::fmt::Display> Serialize for Shown<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// PutRecords: up to 500 records; each succeeds or fails on its own, as in Kinesis: a
/// throttled record is `ProvisionedThroughputExceededException` ("Rate exceeded for shard …"),
/// a storage failure `InternalFailure` ("Internal service failure."); both are worth retrying.
pub async fn put_records(
    call: &Call<'_>,
    input: PutRecordsInput,
) -> Result<PutRecordsOutput, KinesisError> {
    let mut checks = Checks::new();
    let name = stream_name(&mut checks, &input.stream_name, &input.stream_arn);
    checks.required("records", &input.records);
    if let Some(records) = &input.records {
        checks.count(
            "records",
            Some(records.len()),
            || {
                format!(
                    "[{}]",
                    records.iter().map(|_| "PutRecordsRequestEntry").collect::<Vec<_>>().join(", ")
                )
            },
            1,
            MAX_RECORDS_PER_PUT,
        );
        for (i, record) in records.iter().enumerate() {
            record.check(&mut checks, Some(i));
        }
    }
    checks.finish()?;
    let records = input.records.unwrap_or_default();
    let total: usize = records
        .iter()
        .map(|r| {
            r.partition_key.as_ref().map_or(0, String::len)
                + r.data.as_ref().map_or(0, |d| d.0.len())
        })
        .sum();
    if total > MAX_PUT_BYTES {
        return Err(KinesisError::InvalidArgument("Records size exceeds 5 MB limit".into()));
    }
    let entry = call.registry().get(&name.unwrap_or_default())?;
    let records = records.into_iter().map(RecordInput::into_put).collect::<Result<Vec<_>, _>>()?;
    let output = entry.stream().await?.put_records(records).await?;
    let records = output
        .records
        .into_iter()
        .map(|result| match result {
            Ok(ok) => PutRecordsResultEntry {
                sequence_number: Some(Shown(ok.sequence_number.0)),
                shard_id: Some(Shown(ok.shard_id)),
                error_code: None,
                error_message: None,
            },
            Err(error) => {
                let message = match error.code {
                    RecordErrorCode::ProvisionedThroughputExceeded => {
                        throttled(shard_in_message(&error.message), entry.name())
                    }
                    RecordErrorCode::InternalFailure => {
                        tracing::error!(error = %error.message, stream = entry.name(), "A PutRecords entry failed in the stream.");
                        "Internal service failure.".to_owned()
                    }
                    RecordErrorCode::InvalidArgument => error.message,
                };
                PutRecordsResultEntry {
                    sequence_number: None,
                    shard_id: None,
                    error_code: Some(error.code.as_str()),
                    error_message: Some(message),
                }
            }
        })
        .collect();
    Ok(PutRecordsOutput {
        failed_record_count: output.failed_record_count,
        records,
        encryption_type: encryption_type(&entry.meta()),
    })
}

/// GetShardIterator's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    shard_id: Option<String>,
    shard_iterator_type: Option<String>,
    starting_sequence_number: Option<String>,
    timestamp: Option<Timestamp>,
}

/// GetShardIterator's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorOutput {
    shard_iterator: String,
}

const ITERATOR_TYPES: [&str; 5] =
    ["AFTER_SEQUENCE_NUMBER", "AT_SEQUENCE_NUMBER", "AT_TIMESTAMP", "TRIM_HORIZON", "LATEST"];

/// GetShardIterator: an iterator of any of the five types, valid for five minutes.
pub async fn get_shard_iterator(
    call: &Call<'_>,
    input: GetShardIteratorInput,
) -> Result<GetShardIteratorOutput, KinesisError> {
    let mut checks = Checks::new();
    let name = stream_name(&mut checks, &input.stream_name, &input.stream_arn);
    checks.required("shardId", &input.shard_id);
    checks.length("shardId", input.shard_id.as_deref(), 1, 128);
    checks.pattern("shardId", input.shard_id.as_deref(), NAME_PATTERN, is_name);
    checks.required("shardIteratorType", &input.shard_iterator_type);
    checks.one_of("shardIteratorType", input.shard_iterator_type.as_deref(), &ITERATOR_TYPES);
    checks.pattern(
        "startingSequenceNumber",
        input.starting_sequence_number.as_deref(),
        SEQUENCE_PATTERN,
        is_sequence,
    );
    checks.finish()?;
    let name = name.unwrap_or_default();
    let kind = input.shard_iterator_type.unwrap_or_default();
    let shard_text = input.shard_id.unwrap_or_default();
    let entry = call.registry().get(&name)?;
    let shard = find_shard(&shard_text, &name)?;
    let stream = entry.stream().await?;
    let iterator = open_iterator(
        &*stream,
        &name,
        shard,
        &kind,
        input.starting_sequence_number.as_deref(),
        input.timestamp,
    )
    .await?;
    Ok(GetShardIteratorOutput {
        shard_iterator: Iterator {
            issued_ms: call.now_ms,
            created_ms: entry.meta().created_ms,
            stream: name,
            shard,
            position: iterator.position,
        }
        .encode(),
    })
}

/// The top bit of a sequence number marks a position rather than a record: `BEFORE | p` names
/// the point just before the record at engine position `p` (which may not exist yet), so
/// AFTER_SEQUENCE_NUMBER (and AT_SEQUENCE_NUMBER) of it read from `p` on. SubscribeToShard's
/// ContinuationSequenceNumber is one before a subscription has delivered any record: the
/// engines' own sequence numbers have no record to name there (a shard's first position, or a
/// JetStream sequence of another shard). Real sequence numbers stay below 2^96.
pub const BEFORE: u128 = 1 << 127;

/// The shard `text` names in stream `name`, or the ResourceNotFound Kinesis answers.
pub(crate) fn find_shard(text: &str, name: &str) -> Result<ShardId, KinesisError> {
    parse_shard(text).ok_or_else(|| {
        KinesisError::ResourceNotFound(format!(
            "Could not find shard {text} in stream {name} under account {ACCOUNT_ID}."
        ))
    })
}

/// A reader of `shard` of stream `name` placed as an iterator type `kind` with its sequence
/// number or timestamp says (GetShardIterator's fields, and SubscribeToShard's
/// StartingPosition), with Kinesis' errors.
pub(crate) async fn open_iterator(
    stream: &dyn alleycat_ingest::stream::Stream,
    name: &str,
    shard: ShardId,
    kind: &str,
    sequence: Option<&str>,
    timestamp: Option<Timestamp>,
) -> Result<ShardIterator, KinesisError> {
    let wants_sequence = matches!(kind, "AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER");
    let sequence = match (sequence, wants_sequence) {
        (Some(_), false) | (None, true) => {
            return Err(KinesisError::InvalidArgument(format!(
                "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or \
                 (2) TRIM_HORIZON, LATEST or AT_TIMESTAMP and no StartingSequenceNumber. Request specified {kind} and {} StartingSequenceNumber.",
                if wants_sequence { "no" } else { "also a" }
            )))
        }
        (Some(text), true) => Some(text.parse::<SequenceNumber>().map_err(|_| {
            KinesisError::InvalidArgument(format!(
                "StartingSequenceNumber {text} used in GetShardIterator on shard {shard} in stream {name} under account {ACCOUNT_ID} is invalid."
            ))
        })?),
        (None, false) => None,
    };
    if shard.0 as usize >= stream.shards().len() {
        return Err(shard_not_found(shard, name));
    }
    if let Some(seq) = sequence.filter(|s| s.0 & BEFORE != 0) {
        let position = seq.0 & !BEFORE;
        if (position >> 64) as u32 != shard.0 || position >> 96 != 0 {
            return Err(KinesisError::InvalidArgument(format!(
                "Invalid StartingSequenceNumber for {shard} in stream {name} under account {ACCOUNT_ID}: it belongs to another shard."
            )));
        }
        return Ok(ShardIterator { shard_id: shard, position });
    }
    let start = match (kind, sequence) {
        ("TRIM_HORIZON", _) => StartingPosition::TrimHorizon,
        ("LATEST", _) => StartingPosition::Latest,
        ("AT_SEQUENCE_NUMBER", Some(seq)) => StartingPosition::AtSequenceNumber(seq),
        ("AFTER_SEQUENCE_NUMBER", Some(seq)) => StartingPosition::AfterSequenceNumber(seq),
        _ => match timestamp {
            Some(at) => StartingPosition::AtTimestamp(at.0),
            None => {
                return Err(KinesisError::InvalidArgument(
                    "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.".into(),
                ))
            }
        },
    };
    stream.shard_iterator(shard, start).await.map_err(|error| match error {
        alleycat_ingest::stream::StreamError::InvalidArgument(message) if wants_sequence => {
            KinesisError::InvalidArgument(format!(
                "Invalid StartingSequenceNumber for {shard} in stream {name} under account {ACCOUNT_ID}: {message}"
            ))
        }
        other => other.into(),
    })
}

/// `shardId-000000000003`, or just its number as Kinesis also accepts.
fn parse_shard(text: &str) -> Option<ShardId> {
    text.parse::<ShardId>().ok().or_else(|| {
        text.bytes().all(|b| b.is_ascii_digit()).then(|| text.parse().ok().map(ShardId))?
    })
}

/// The error for a shard the stream does not have.
pub(crate) fn shard_not_found(shard: ShardId, stream: &str) -> KinesisError {
    KinesisError::ResourceNotFound(format!(
        "Shard {shard} in stream {stream} under account {ACCOUNT_ID} does not exist"
    ))
}

/// GetRecords' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRecordsInput {
    shard_iterator: Option<String>,
    limit: Option<i64>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

/// GetRecords' output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRecordsOutput {
    records: Vec<RecordOutput>,
    /// Absent once a closed shard is read to its end.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_shard_iterator: Option<String>,
    millis_behind_latest: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    child_shards: Option<Vec<ChildShard>>,
}

/// One record read.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RecordOutput {
    sequence_number: String,
    approximate_arrival_timestamp: Timestamp,
    data: Blob,
    partition_key: String,
}

/// GetRecords: up to `Limit` (default 10,000) records and at most [`MAX_GET_BYTES`] of data
/// from the iterator's position, without waiting; the next iterator; how far behind the tip.
pub async fn get_records(
    call: &Call<'_>,
    input: GetRecordsInput,
) -> Result<GetRecordsOutput, KinesisError> {
    let _ = &input.stream_arn; // the iterator names its stream
    let mut checks = Checks::new();
    checks.required("shardIterator", &input.shard_iterator);
    checks.length("shardIterator", input.shard_iterator.as_deref(), 1, 512);
    checks.range("limit", input.limit, 1, MAX_RECORDS_PER_GET as i64);
    checks.finish()?;
    let text = input.shard_iterator.unwrap_or_default();
    let iterator = Iterator::decode(&text)
        .filter(|it| it.issued_ms <= call.now_ms + ITERATOR_TTL_MS)
        .ok_or_else(|| KinesisError::InvalidArgument("Invalid ShardIterator.".into()))?;
    if call.now_ms.saturating_sub(iterator.issued_ms) > ITERATOR_TTL_MS {
        return Err(KinesisError::ExpiredIterator(format!(
            "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of {ITERATOR_TTL_MS} milliseconds.",
            java_time(iterator.issued_ms),
            java_time(call.now_ms)
        )));
    }
    let entry = call
        .registry()
        .get(&iterator.stream)
        .ok()
        .filter(|e| e.meta().created_ms == iterator.created_ms)
        .ok_or_else(|| shard_not_found(iterator.shard, &iterator.stream))?;
    let stream =
        entry.stream().await.map_err(|_| shard_not_found(iterator.shard, &iterator.stream))?;
    if iterator.shard.0 as usize >= stream.shards().len() {
        return Err(shard_not_found(iterator.shard, &iterator.stream));
    }
    let limit = input.limit.map_or(MAX_RECORDS_PER_GET, |l| l as usize);
    let at = ShardIterator { shard_id: iterator.shard, position: iterator.position };
    let mut output = stream.get_records(&at, limit, Duration::ZERO).await?;
    keep_within(&mut output, MAX_GET_BYTES, call.now_ms);
    let next =
        Iterator { issued_ms: call.now_ms, position: output.next_iterator.position, ..iterator };
    Ok(GetRecordsOutput {
        records: output.records.into_iter().map(RecordOutput::from).collect(),
        next_shard_iterator: output.child_shards.is_none().then(|| next.encode()),
        millis_behind_latest: output.millis_behind_latest,
        child_shards: output.child_shards.map(|c| c.iter().map(ChildShard::from).collect()),
    })
}

impl From<alleycat_ingest::stream::Record> for RecordOutput {
    fn from(r: alleycat_ingest::stream::Record) -> Self {
        Self {
            sequence_number: r.sequence_number.0.to_string(),
            approximate_arrival_timestamp: Timestamp(r.arrival_ms),
            data: Blob(r.data),
            partition_key: r.partition_key,
        }
    }
}

/// Keeps `output` within `max_bytes` of data (always at least one record, as Kinesis): the
/// records left out are read next, and the lag is that of the last record kept.
pub(crate) fn keep_within(output: &mut StreamRecords, max_bytes: usize, now_ms: u64) {
    let mut bytes = 0;
    let keep = output
        .records
        .iter()
        .position(|r| {
            bytes += r.data.len();
            bytes > max_bytes
        })
        .map_or(output.records.len(), |i| i.max(1));
    if keep < output.records.len() {
        let first_left = output.records[keep].sequence_number;
        output.records.truncate(keep);
        output.next_iterator.position = first_left.0;
        output.child_shards = None; // the shard's end is not reached yet
        let newest_kept = output.records.last().map_or(now_ms, |r| r.arrival_ms);
        output.millis_behind_latest = now_ms.saturating_sub(newest_kept);
    }
}

/// A time as Kinesis' Java runtime prints it: `Tue Dec 01 12:00:00 UTC 2026`.
fn java_time(ms: u64) -> String {
    chrono::DateTime::from_timestamp_millis(ms as i64)
        .map_or_else(|| ms.to_string(), |t| t.format("%a %b %d %H:%M:%S UTC %Y").to_string())
}
