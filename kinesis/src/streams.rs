//! The stream actions: CreateStream, DeleteStream, DescribeStream, DescribeStreamSummary,
//! ListStreams, ListShards, Increase/DecreaseStreamRetentionPeriod.

use std::collections::BTreeMap;

use alleycat_ingest::stream::ShardDescription;
use serde::{Deserialize, Serialize};

use crate::{
    arn::{Resource, STREAM_ARN_PATTERN},
    error::KinesisError,
    iterator::{PageToken, ITERATOR_TTL_MS},
    model::Timestamp,
    registry::{Entry, StreamMeta, MAX_SHARDS_PER_STREAM},
    validate::Checks,
    Call, ACCOUNT_ID,
};

/// The shards a created stream gets when neither ShardCount nor a mode says otherwise, and in
/// ON_DEMAND mode (Kinesis starts on-demand streams with 4 shards).
pub const DEFAULT_SHARD_COUNT: u32 = 4;
/// Retention bounds, hours (Kinesis: 24 hours to 365 days).
pub const MIN_RETENTION_HOURS: i64 = 24;
/// See [`MIN_RETENTION_HOURS`].
pub const MAX_RETENTION_HOURS: i64 = 8760;

/// The stream named by `StreamName`, or by the name part of `StreamARN`.
pub fn stream_name(
    checks: &mut Checks,
    name: &Option<String>,
    arn: &Option<String>,
) -> Option<String> {
    if let Some(name) = name {
        checks.stream_name("streamName", Some(name));
        return Some(name.clone());
    }
    if let Some(arn) = arn {
        return stream_arn(checks, "streamARN", arn);
    }
    checks.required::<()>("streamName", &None);
    None
}

/// The stream a stream ARN at `at` names, checked against the model's constraints.
pub fn stream_arn(checks: &mut Checks, at: &str, arn: &str) -> Option<String> {
    checks.length(at, Some(arn), 1, 2048);
    checks.pattern(at, Some(arn), STREAM_ARN_PATTERN, crate::arn::is_stream);
    match crate::arn::parse(arn) {
        Some(Resource::Stream(name)) => Some(name),
        _ => None,
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct HashKeyRange {
    starting_hash_key: String,
    ending_hash_key: String,
}

impl From<&ShardDescription> for HashKeyRange {
    fn from(shard: &ShardDescription) -> Self {
        Self {
            starting_hash_key: shard.starting_hash_key.to_string(),
            ending_hash_key: shard.ending_hash_key.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct SequenceNumberRange {
    starting_sequence_number: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    ending_sequence_number: Option<String>,
}

/// A shard as Kinesis describes it: a closed one with its ending sequence number, a child with
/// its parents.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Shard {
    shard_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_shard_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    adjacent_parent_shard_id: Option<String>,
    hash_key_range: HashKeyRange,
    sequence_number_range: SequenceNumberRange,
}

impl From<&ShardDescription> for Shard {
    fn from(shard: &ShardDescription) -> Self {
        Self {
            shard_id: shard.shard_id.to_string(),
            parent_shard_id: shard.parent_shard_id.map(|p| p.to_string()),
            adjacent_parent_shard_id: shard.adjacent_parent_shard_id.map(|p| p.to_string()),
            hash_key_range: HashKeyRange::from(shard),
            sequence_number_range: SequenceNumberRange {
                starting_sequence_number: shard.starting_sequence_number.0.to_string(),
                ending_sequence_number: shard.ending_sequence_number.map(|s| s.0.to_string()),
            },
        }
    }
}

/// A child of a closed shard, as GetRecords and SubscribeToShard report it at the shard's end.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChildShard {
    shard_id: String,
    parent_shards: Vec<String>,
    hash_key_range: HashKeyRange,
}

impl From<&ShardDescription> for ChildShard {
    fn from(shard: &ShardDescription) -> Self {
        Self {
            shard_id: shard.shard_id.to_string(),
            parent_shards: [shard.parent_shard_id, shard.adjacent_parent_shard_id]
                .into_iter()
                .flatten()
                .map(|p| p.to_string())
                .collect(),
            hash_key_range: HashKeyRange::from(shard),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct StreamModeDetails {
    stream_mode: &'static str,
}

fn mode(on_demand: bool) -> StreamModeDetails {
    StreamModeDetails { stream_mode: if on_demand { "ON_DEMAND" } else { "PROVISIONED" } }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
struct EnhancedMetrics {
    shard_level_metrics: Vec<String>,
}

/// The settings every full description reports: monitoring and encryption.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Settings {
    enhanced_monitoring: Vec<EnhancedMetrics>,
    encryption_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<String>,
}

fn settings(meta: &StreamMeta) -> Settings {
    Settings {
        enhanced_monitoring: vec![EnhancedMetrics {
            shard_level_metrics: meta.enhanced_metrics.iter().cloned().collect(),
        }],
        encryption_type: encryption_type(meta),
        key_id: meta.encryption_key.clone(),
    }
}

/// `KMS` while StartStreamEncryption is in effect, else `NONE`.
pub fn encryption_type(meta: &StreamMeta) -> &'static str {
    if meta.encryption_key.is_some() {
        "KMS"
    } else {
        "NONE"
    }
}

/// `WarmThroughput` as Kinesis reports it: the target reached at once.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct WarmThroughput {
    #[serde(rename = "TargetMiBps")]
    target_mibps: u32,
    #[serde(rename = "CurrentMiBps")]
    current_mibps: u32,
}

impl WarmThroughput {
    /// What a stream with `meta` reports, if anything (on-demand streams only).
    pub fn of(meta: &StreamMeta) -> Option<Self> {
        let target = meta.warm_throughput_mibps.filter(|_| meta.on_demand)?;
        Some(Self { target_mibps: target, current_mibps: target })
    }
}

/// The largest record a stream takes, KiB (the engines' limit; Kinesis' default).
pub const MAX_RECORD_SIZE_KIB: i64 = (alleycat_ingest::stream::MAX_RECORD_BYTES / 1024) as i64;
/// The model's bounds of `MaxRecordSizeInKiB`.
pub const MAX_RECORD_SIZE_KIB_RANGE: (i64, i64) = (1024, 10240);

/// Checks `MaxRecordSizeInKiB`: the model's range, then what the engines can store.
pub fn check_max_record_size(value: Option<i64>) -> Result<(), KinesisError> {
    let mut checks = Checks::new();
    let (min, max) = MAX_RECORD_SIZE_KIB_RANGE;
    checks.range("maxRecordSizeInKiB", value, min, max);
    checks.finish()?;
    match value {
        Some(kib) if kib != MAX_RECORD_SIZE_KIB => Err(KinesisError::InvalidArgument(format!(
            "MaxRecordSizeInKiB {kib} is not supported: Alleycat's streams store records of up to {MAX_RECORD_SIZE_KIB} KiB."
        ))),
        _ => Ok(()),
    }
}

/// The fields every description of a stream starts with (ListStreams' summaries are only these).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct StreamHeader {
    stream_name: String,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
    stream_status: &'static str,
    stream_mode_details: StreamModeDetails,
    stream_creation_timestamp: Timestamp,
}

/// The header of `entry`'s descriptions.
fn header(call: &Call<'_>, entry: &Entry, meta: &StreamMeta) -> StreamHeader {
    StreamHeader {
        stream_name: entry.name().to_owned(),
        stream_arn: crate::arn::stream(call, entry.name()),
        stream_status: entry.status(),
        stream_mode_details: mode(meta.on_demand),
        stream_creation_timestamp: Timestamp(meta.created_ms),
    }
}

/// No output fields.
#[derive(Debug, Serialize)]
pub struct Empty {}

/// CreateStream's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateStreamInput {
    stream_name: Option<String>,
    shard_count: Option<i64>,
    stream_mode_details: Option<StreamModeInput>,
    tags: Option<BTreeMap<String, String>>,
    #[serde(rename = "WarmThroughputMiBps")]
    warm_throughput_mibps: Option<i64>,
    #[serde(rename = "MaxRecordSizeInKiB")]
    max_record_size_kib: Option<i64>,
}

/// `StreamModeDetails` in a request.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamModeInput {
    stream_mode: Option<String>,
}

/// Checks `StreamModeDetails` and returns its mode.
pub fn check_mode<'a>(
    checks: &mut Checks,
    details: Option<&'a StreamModeInput>,
) -> Option<&'a str> {
    let stream_mode = details.and_then(|m| m.stream_mode.as_deref());
    if let Some(details) = details {
        checks.required("streamModeDetails.streamMode", &details.stream_mode);
    }
    checks.one_of("streamModeDetails.streamMode", stream_mode, &["PROVISIONED", "ON_DEMAND"]);
    stream_mode
}

/// CreateStream: a new stream of `ShardCount` shards (default [`DEFAULT_SHARD_COUNT`]) with
/// its `Tags`, ACTIVE at once.
pub async fn create(call: &Call<'_>, input: CreateStreamInput) -> Result<Empty, KinesisError> {
    let mut checks = Checks::new();
    checks.required("streamName", &input.stream_name);
    checks.stream_name("streamName", input.stream_name.as_deref());
    checks.range("shardCount", input.shard_count, 1, i64::from(i32::MAX));
    let stream_mode = check_mode(&mut checks, input.stream_mode_details.as_ref());
    crate::tags::check_tag_map(&mut checks, "tags", input.tags.as_ref());
    checks.range("warmThroughputMiBps", input.warm_throughput_mibps, 0, i64::from(i32::MAX));
    checks.finish()?;
    check_max_record_size(input.max_record_size_kib)?;
    let name = input.stream_name.unwrap_or_default();
    let on_demand = stream_mode == Some("ON_DEMAND");
    if on_demand && input.shard_count.is_some() {
        return Err(KinesisError::InvalidArgument(
            "ShardCount must not be specified for a stream in ON_DEMAND mode.".into(),
        ));
    }
    let shards = input.shard_count.unwrap_or(i64::from(DEFAULT_SHARD_COUNT));
    if shards > i64::from(MAX_SHARDS_PER_STREAM) {
        return Err(KinesisError::LimitExceeded(format!(
            "This request would exceed the shard limit for the account {ACCOUNT_ID} in {}. \
             Current provisioned shard count for the stream: 0. Limit: {MAX_SHARDS_PER_STREAM}. \
             Number of additional shards that would have resulted from this request: {shards}.",
            call.region
        )));
    }
    if on_demand {
        crate::account::check_on_demand_limit(call)?;
    }
    let tags = input.tags.unwrap_or_default();
    crate::tags::check_tag_limit(&format!("stream {name}"), tags.len())?;
    call.registry().create(&name, shards as u32, on_demand, tags).await?;
    if let Some(mibps) = input.warm_throughput_mibps.filter(|_| on_demand) {
        let entry = call.registry().get(&name)?;
        call.registry()
            .update(&entry, |meta| {
                meta.warm_throughput_mibps = Some(mibps as u32);
                Ok(())
            })
            .await?;
    }
    Ok(Empty {})
}

/// DeleteStream's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteStreamInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    enforce_consumer_deletion: Option<bool>,
}

/// DeleteStream: removes the stream and its records at once; a stream with registered
/// consumers only with `EnforceConsumerDeletion` (which deregisters them).
pub async fn delete(call: &Call<'_>, input: DeleteStreamInput) -> Result<Empty, KinesisError> {
    let name = named(&input.stream_name, &input.stream_arn)?;
    call.registry().delete(&name, input.enforce_consumer_deletion.unwrap_or(false)).await?;
    Ok(Empty {})
}

/// Validates a request that names only its stream, and returns the name.
pub fn named(name: &Option<String>, arn: &Option<String>) -> Result<String, KinesisError> {
    let mut checks = Checks::new();
    let name = stream_name(&mut checks, name, arn);
    checks.finish()?;
    Ok(name.unwrap_or_default())
}

/// DescribeStream's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    limit: Option<i64>,
    exclusive_start_shard_id: Option<String>,
}

/// DescribeStream's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamOutput {
    stream_description: StreamDescription,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct StreamDescription {
    #[serde(flatten)]
    header: StreamHeader,
    shards: Vec<Shard>,
    has_more_shards: bool,
    retention_period_hours: u32,
    #[serde(flatten)]
    settings: Settings,
}

/// The shards after `exclusive_start` (a shard id), as Kinesis orders them.
fn shards_after(all: &[ShardDescription], exclusive_start: Option<&str>) -> usize {
    match exclusive_start {
        // Kinesis compares shard ids as strings; ours sort the same way (fixed width).
        Some(start) => all.iter().take_while(|s| s.shard_id.to_string().as_str() <= start).count(),
        None => 0,
    }
}

/// DescribeStream: the stream and up to `Limit` (default 100) of its shards.
pub async fn describe(
    call: &Call<'_>,
    input: DescribeStreamInput,
) -> Result<DescribeStreamOutput, KinesisError> {
    let mut checks = Checks::new();
    let name = stream_name(&mut checks, &input.stream_name, &input.stream_arn);
    checks.range("limit", input.limit, 1, 10_000);
    checks.stream_name("exclusiveStartShardId", input.exclusive_start_shard_id.as_deref());
    checks.finish()?;
    let entry = call.registry().get(&name.unwrap_or_default())?;
    let all = entry.stream().await?.shards();
    let start = shards_after(&all, input.exclusive_start_shard_id.as_deref());
    let limit = input.limit.unwrap_or(100) as usize;
    let page: Vec<Shard> = all[start..].iter().take(limit).map(Shard::from).collect();
    let meta = entry.meta();
    Ok(DescribeStreamOutput {
        stream_description: StreamDescription {
            header: header(call, &entry, &meta),
            has_more_shards: start + page.len() < all.len(),
            shards: page,
            retention_period_hours: meta.retention_hours,
            settings: settings(&meta),
        },
    })
}

/// DescribeStreamSummary's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NamedInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
}

/// DescribeStreamSummary's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeStreamSummaryOutput {
    stream_description_summary: StreamDescriptionSummary,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct StreamDescriptionSummary {
    #[serde(flatten)]
    header: StreamHeader,
    retention_period_hours: u32,
    #[serde(flatten)]
    settings: Settings,
    open_shard_count: usize,
    consumer_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    warm_throughput: Option<WarmThroughput>,
    #[serde(rename = "MaxRecordSizeInKiB")]
    max_record_size_kib: i64,
}

/// DescribeStreamSummary: the stream without its shards.
pub async fn describe_summary(
    call: &Call<'_>,
    input: NamedInput,
) -> Result<DescribeStreamSummaryOutput, KinesisError> {
    let entry = call.registry().get(&named(&input.stream_name, &input.stream_arn)?)?;
    let shards = entry.stream().await?.shards().iter().filter(|s| s.is_open()).count();
    let meta = entry.meta();
    Ok(DescribeStreamSummaryOutput {
        stream_description_summary: StreamDescriptionSummary {
            header: header(call, &entry, &meta),
            retention_period_hours: meta.retention_hours,
            settings: settings(&meta),
            open_shard_count: shards,
            consumer_count: meta.consumers.len(),
            warm_throughput: WarmThroughput::of(&meta),
            max_record_size_kib: MAX_RECORD_SIZE_KIB,
        },
    })
}

/// ListStreams' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamsInput {
    limit: Option<i64>,
    exclusive_start_stream_name: Option<String>,
    next_token: Option<String>,
}

/// ListStreams' output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListStreamsOutput {
    stream_names: Vec<String>,
    has_more_streams: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
    stream_summaries: Vec<StreamHeader>,
}

/// ListStreams: stream names in order, `Limit` (default 100) at a time, after
/// `ExclusiveStartStreamName` or the `NextToken` of the previous page.
pub async fn list_streams(
    call: &Call<'_>,
    input: ListStreamsInput,
) -> Result<ListStreamsOutput, KinesisError> {
    let mut checks = Checks::new();
    checks.range("limit", input.limit, 1, 10_000);
    checks.stream_name("exclusiveStartStreamName", input.exclusive_start_stream_name.as_deref());
    checks.length("nextToken", input.next_token.as_deref(), 1, 1_048_576);
    checks.finish()?;
    let after = match &input.next_token {
        Some(token) => Some(
            decode_name_token(token)
                .ok_or_else(|| KinesisError::InvalidArgument("Invalid NextToken.".into()))?,
        ),
        None => input.exclusive_start_stream_name.clone(),
    };
    let limit = input.limit.unwrap_or(100) as usize;
    let all = call.registry().list();
    let rest: Vec<&Entry> = all
        .iter()
        .map(|e| &**e)
        .filter(|e| after.as_deref().is_none_or(|a| e.name() > a))
        .collect();
    let page = &rest[..rest.len().min(limit)];
    let has_more = rest.len() > page.len();
    Ok(ListStreamsOutput {
        stream_names: page.iter().map(|e| e.name().to_owned()).collect(),
        has_more_streams: has_more,
        next_token: has_more.then(|| encode_name_token(page.last().map_or("", |e| e.name()))),
        stream_summaries: page.iter().map(|e| header(call, e, &e.meta())).collect(),
    })
}

fn encode_name_token(name: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("streams|{name}"))
}

fn decode_name_token(token: &str) -> Option<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(token).ok()?;
    String::from_utf8(bytes).ok()?.strip_prefix("streams|").map(str::to_owned)
}

/// ListShards' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListShardsInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    next_token: Option<String>,
    exclusive_start_shard_id: Option<String>,
    max_results: Option<i64>,
    stream_creation_timestamp: Option<Timestamp>,
    shard_filter: Option<ShardFilterInput>,
}

/// ListShards' `ShardFilter`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ShardFilterInput {
    r#type: Option<String>,
    shard_id: Option<String>,
    timestamp: Option<Timestamp>,
}

/// The ShardFilter types.
const SHARD_FILTER_TYPES: [&str; 6] = [
    "AFTER_SHARD_ID",
    "AT_TRIM_HORIZON",
    "FROM_TRIM_HORIZON",
    "AT_LATEST",
    "AT_TIMESTAMP",
    "FROM_TIMESTAMP",
];

/// A checked ShardFilter.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ShardFilter {
    AfterShardId(String),
    AtTrimHorizon,
    FromTrimHorizon,
    AtLatest,
    AtTimestamp(u64),
    FromTimestamp(u64),
}

impl ShardFilter {
    /// Checks `input` (after the model checks): ShardId only with, and required by,
    /// AFTER_SHARD_ID; Timestamp likewise with AT_TIMESTAMP and FROM_TIMESTAMP.
    fn parse(input: &ShardFilterInput) -> Result<Self, KinesisError> {
        let kind = input.r#type.as_deref().unwrap_or_default();
        let wants_id = kind == "AFTER_SHARD_ID";
        let wants_time = matches!(kind, "AT_TIMESTAMP" | "FROM_TIMESTAMP");
        if input.shard_id.is_some() != wants_id {
            return Err(KinesisError::InvalidArgument(if wants_id {
                "ShardId must be specified in the ShardFilter when its Type is AFTER_SHARD_ID."
                    .into()
            } else {
                format!("ShardId cannot be specified in the ShardFilter when its Type is {kind}.")
            }));
        }
        if input.timestamp.is_some() != wants_time {
            return Err(KinesisError::InvalidArgument(if wants_time {
                format!("Timestamp must be specified in the ShardFilter when its Type is {kind}.")
            } else {
                format!("Timestamp cannot be specified in the ShardFilter when its Type is {kind}.")
            }));
        }
        let at = input.timestamp.map_or(0, |t| t.0);
        Ok(match kind {
            "AFTER_SHARD_ID" => Self::AfterShardId(input.shard_id.clone().unwrap_or_default()),
            "AT_TRIM_HORIZON" => Self::AtTrimHorizon,
            "FROM_TRIM_HORIZON" => Self::FromTrimHorizon,
            "AT_LATEST" => Self::AtLatest,
            "AT_TIMESTAMP" => Self::AtTimestamp(at),
            _ => Self::FromTimestamp(at),
        })
    }

    /// The compact form a NextToken carries.
    fn encode(&self) -> String {
        match self {
            Self::AfterShardId(id) => format!("AFTER_SHARD_ID:{id}"),
            Self::AtTrimHorizon => "AT_TRIM_HORIZON".into(),
            Self::FromTrimHorizon => "FROM_TRIM_HORIZON".into(),
            Self::AtLatest => "AT_LATEST".into(),
            Self::AtTimestamp(ms) => format!("AT_TIMESTAMP:{ms}"),
            Self::FromTimestamp(ms) => format!("FROM_TIMESTAMP:{ms}"),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        let (kind, value) = text.split_once(':').unwrap_or((text, ""));
        Some(match kind {
            "AFTER_SHARD_ID" => Self::AfterShardId(value.to_owned()),
            "AT_TRIM_HORIZON" => Self::AtTrimHorizon,
            "FROM_TRIM_HORIZON" => Self::FromTrimHorizon,
            "AT_LATEST" => Self::AtLatest,
            "AT_TIMESTAMP" => Self::AtTimestamp(value.parse().ok()?),
            "FROM_TIMESTAMP" => Self::FromTimestamp(value.parse().ok()?),
            _ => return None,
        })
    }

    /// Whether `shard` is listed, the stream's trim horizon being at `trim_ms`.
    fn keeps(&self, shard: &ShardDescription, trim_ms: u64) -> bool {
        let open_at = |t: u64| shard.opened_ms <= t && shard.closed_ms.is_none_or(|c| c >= t);
        let open_since = |t: u64| shard.closed_ms.is_none_or(|c| c >= t);
        match self {
            Self::AfterShardId(id) => shard.shard_id.to_string().as_str() > id.as_str(),
            Self::AtTrimHorizon => open_at(trim_ms),
            Self::FromTrimHorizon => open_since(trim_ms),
            Self::AtLatest => shard.is_open(),
            Self::AtTimestamp(t) => open_at(*t),
            Self::FromTimestamp(t) => open_since((*t).max(trim_ms)),
        }
    }
}

/// ListShards' output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListShardsOutput {
    shards: Vec<Shard>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListShards: `MaxResults` (default 1000) shards at a time, after `ExclusiveStartShardId`
/// or the `NextToken` of the previous page (valid five minutes, and given without the
/// stream's name, as in Kinesis), those of `ShardFilter` only (FROM_TRIM_HORIZON by default:
/// every shard within the retention period, closed or open).
pub async fn list_shards(
    call: &Call<'_>,
    input: ListShardsInput,
) -> Result<ListShardsOutput, KinesisError> {
    let _ = &input.stream_creation_timestamp; // a name names one stream here
    let mut checks = Checks::new();
    checks.range("maxResults", input.max_results, 1, 10_000);
    checks.length("nextToken", input.next_token.as_deref(), 1, 1_048_576);
    checks.stream_name("exclusiveStartShardId", input.exclusive_start_shard_id.as_deref());
    if let Some(filter) = &input.shard_filter {
        checks.required("shardFilter.type", &filter.r#type);
        checks.one_of("shardFilter.type", filter.r#type.as_deref(), &SHARD_FILTER_TYPES);
        checks.stream_name("shardFilter.shardId", filter.shard_id.as_deref());
    }
    let (name, start, filter) = if let Some(token) = &input.next_token {
        checks.finish()?;
        if input.stream_name.is_some() || input.stream_arn.is_some() {
            return Err(KinesisError::InvalidArgument(
                "NextToken and StreamName cannot be provided together.".into(),
            ));
        }
        if input.exclusive_start_shard_id.is_some() {
            return Err(KinesisError::InvalidArgument(
                "NextToken and ExclusiveStartShardId cannot be provided together.".into(),
            ));
        }
        if input.shard_filter.is_some() {
            return Err(KinesisError::InvalidArgument(
                "NextToken and ShardFilter cannot be provided together.".into(),
            ));
        }
        let token = PageToken::decode(token)
            .ok_or_else(|| KinesisError::InvalidArgument("Invalid NextToken.".into()))?;
        if call.now_ms.saturating_sub(token.issued_ms) > ITERATOR_TTL_MS {
            return Err(KinesisError::ExpiredNextToken(
                "The timestamp of the NextToken is more than 300 seconds old; call ListShards again with the stream name.".into(),
            ));
        }
        let filter = match &token.filter {
            Some(text) => Some(
                ShardFilter::decode(text)
                    .ok_or_else(|| KinesisError::InvalidArgument("Invalid NextToken.".into()))?,
            ),
            None => None,
        };
        (token.stream, Some(token.next as usize), filter)
    } else {
        let name = stream_name(&mut checks, &input.stream_name, &input.stream_arn);
        checks.finish()?;
        let filter = input.shard_filter.as_ref().map(ShardFilter::parse).transpose()?;
        (name.unwrap_or_default(), None, filter)
    };
    let entry = call.registry().get(&name)?;
    let all = entry.stream().await?.shards();
    let trim_ms = call.now_ms.saturating_sub(u64::from(entry.meta().retention_hours) * 3_600_000);
    let filter = filter.unwrap_or(ShardFilter::FromTrimHorizon);
    let start = start
        .unwrap_or_else(|| shards_after(&all, input.exclusive_start_shard_id.as_deref()))
        .min(all.len());
    let limit = input.max_results.unwrap_or(1000) as usize;
    let mut listed = Vec::new();
    let mut end = start;
    while end < all.len() && listed.len() < limit {
        if filter.keeps(&all[end], trim_ms) {
            listed.push(Shard::from(&all[end]));
        }
        end += 1;
    }
    let more = all[end..].iter().any(|s| filter.keeps(s, trim_ms));
    Ok(ListShardsOutput {
        shards: listed,
        next_token: more.then(|| {
            PageToken {
                stream: name,
                next: end as u32,
                issued_ms: call.now_ms,
                filter: Some(filter.encode()),
            }
            .encode()
        }),
    })
}

/// Increase/DecreaseStreamRetentionPeriod's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetentionInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    retention_period_hours: Option<i64>,
}

/// IncreaseStreamRetentionPeriod (`increase`) or DecreaseStreamRetentionPeriod.
pub async fn retention(
    call: &Call<'_>,
    input: RetentionInput,
    increase: bool,
) -> Result<Empty, KinesisError> {
    let mut checks = Checks::new();
    let name = stream_name(&mut checks, &input.stream_name, &input.stream_arn);
    checks.required("retentionPeriodHours", &input.retention_period_hours);
    checks.range("retentionPeriodHours", input.retention_period_hours, 1, MAX_RETENTION_HOURS);
    checks.finish()?;
    let hours = input.retention_period_hours.unwrap_or_default();
    let entry = call.registry().get(&name.unwrap_or_default())?;
    if hours < MIN_RETENTION_HOURS {
        return Err(KinesisError::InvalidArgument(format!(
            "Minimum allowed retention period is {MIN_RETENTION_HOURS} hours. Requested retention period ({hours} hours) is too short."
        )));
    }
    let current = i64::from(entry.meta().retention_hours);
    if increase && hours < current {
        return Err(KinesisError::InvalidArgument(format!(
            "Requested retention period ({hours} hours) for stream {} can not be shorter than existing retention period ({current} hours). Use DecreaseRetentionPeriod API.",
            entry.name()
        )));
    }
    if !increase && hours > current {
        return Err(KinesisError::InvalidArgument(format!(
            "Requested retention period ({hours} hours) for stream {} can not be longer than existing retention period ({current} hours). Use IncreaseRetentionPeriod API.",
            entry.name()
        )));
    }
    if entry.is_pipeline() && hours != current {
        return Err(KinesisError::ResourceInUse(format!(
            "The retention of stream {} is the server's --retention-hours ({current} hours); change it there.",
            entry.name()
        )));
    }
    call.registry()
        .update(&entry, |meta| {
            meta.retention_hours = hours as u32;
            Ok(())
        })
        .await?;
    Ok(Empty {})
}
