//! The resharding actions: SplitShard, MergeShards and UpdateShardCount (UNIFORM_SCALING).
//!
//! Each closes parent shards and opens children in the stream's engine
//! ([`alleycat_ingest::stream::map`] has the rules; the parents keep their records and get an
//! EndingSequenceNumber, the children name their ParentShardId / AdjacentParentShardId). The
//! stream is UPDATING while the engine reshards (a few milliseconds: the call answers once it
//! is ACTIVE again, unlike Kinesis, which answers at once and finishes later); a second reshard
//! meanwhile is refused with ResourceInUseException, as Kinesis refuses one on an UPDATING
//! stream. This works on the racing pipeline's own stream `alleycat` too, while racers ride:
//! the pipeline's readers finish a parent before its children.

use alleycat_ingest::stream::{Reshard, ShardDescription, ShardId};
use serde::{Deserialize, Serialize};

use crate::{
    error::KinesisError,
    records::find_shard,
    registry::{Entry, MAX_SHARDS_PER_STREAM},
    streams::{stream_name, Empty},
    validate::{is_hash_key, is_name, Checks, HASH_KEY_PATTERN, NAME_PATTERN},
    Call, ACCOUNT_ID,
};

/// UpdateShardCount's limit: scalings per stream in a rolling 24 hours (Kinesis: 10).
pub const MAX_SCALINGS_PER_DAY: usize = 10;

/// SplitShard's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SplitShardInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    shard_to_split: Option<String>,
    new_starting_hash_key: Option<String>,
}

/// SplitShard: the open shard `ShardToSplit` closes; two children open, the second starting at
/// `NewStartingHashKey`.
pub async fn split(call: &Call<'_>, input: SplitShardInput) -> Result<Empty, KinesisError> {
    let mut checks = Checks::new();
    let name = stream_name(&mut checks, &input.stream_name, &input.stream_arn);
    checks.required("shardToSplit", &input.shard_to_split);
    checks.length("shardToSplit", input.shard_to_split.as_deref(), 1, 128);
    checks.pattern("shardToSplit", input.shard_to_split.as_deref(), NAME_PATTERN, is_name);
    checks.required("newStartingHashKey", &input.new_starting_hash_key);
    checks.pattern(
        "newStartingHashKey",
        input.new_starting_hash_key.as_deref(),
        HASH_KEY_PATTERN,
        is_hash_key,
    );
    checks.finish()?;
    let entry = call.registry().get(&name.unwrap_or_default())?;
    let text = input.shard_to_split.unwrap_or_default();
    let shard = open_shard(&entry, &text).await?;
    let key_text = input.new_starting_hash_key.unwrap_or_default();
    let key: Option<u128> = key_text.parse().ok();
    // Kinesis: above the shard's first key plus one, below its last.
    let inside =
        key.filter(|&k| k > shard.starting_hash_key.saturating_add(1) && k < shard.ending_hash_key);
    let Some(key) = inside else {
        return Err(KinesisError::InvalidArgument(format!(
            "NewStartingHashKey {key_text} used in SplitShard() on shard {text} in stream {} under account {ACCOUNT_ID} is not both greater than one plus the shard's StartingHashKey {} and less than the shard's EndingHashKey {}.",
            entry.name(),
            shard.starting_hash_key,
            shard.ending_hash_key
        )));
    };
    check_shard_limit(call, &entry, 1).await?;
    let change = Reshard::Split { shard: shard.shard_id, new_starting_hash_key: key };
    call.registry().reshard(&entry, change, false).await?;
    Ok(Empty {})
}

/// MergeShards' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MergeShardsInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    shard_to_merge: Option<String>,
    adjacent_shard_to_merge: Option<String>,
}

/// MergeShards: the open shards `ShardToMerge` and `AdjacentShardToMerge`, whose hash-key
/// ranges touch, close; one child opens over both.
pub async fn merge(call: &Call<'_>, input: MergeShardsInput) -> Result<Empty, KinesisError> {
    let mut checks = Checks::new();
    let name = stream_name(&mut checks, &input.stream_name, &input.stream_arn);
    for (at, value) in [
        ("shardToMerge", &input.shard_to_merge),
        ("adjacentShardToMerge", &input.adjacent_shard_to_merge),
    ] {
        checks.required(at, value);
        checks.length(at, value.as_deref(), 1, 128);
        checks.pattern(at, value.as_deref(), NAME_PATTERN, is_name);
    }
    checks.finish()?;
    let entry = call.registry().get(&name.unwrap_or_default())?;
    let (first_text, second_text) = (
        input.shard_to_merge.unwrap_or_default(),
        input.adjacent_shard_to_merge.unwrap_or_default(),
    );
    let first = open_shard(&entry, &first_text).await?;
    let second = open_shard(&entry, &second_text).await?;
    let touching = first.ending_hash_key.checked_add(1) == Some(second.starting_hash_key)
        || second.ending_hash_key.checked_add(1) == Some(first.starting_hash_key);
    if !touching || first.shard_id == second.shard_id {
        return Err(KinesisError::InvalidArgument(format!(
            "Shards {first_text} and {second_text} in stream {} under account {ACCOUNT_ID} are not an adjacent pair of shards eligible for merging",
            entry.name()
        )));
    }
    let change = Reshard::Merge { shard: first.shard_id, adjacent: second.shard_id };
    call.registry().reshard(&entry, change, false).await?;
    Ok(Empty {})
}

/// UpdateShardCount's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateShardCountInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    target_shard_count: Option<i64>,
    scaling_type: Option<String>,
}

/// UpdateShardCount's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateShardCountOutput {
    stream_name: String,
    current_shard_count: u32,
    target_shard_count: u32,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
}

/// UpdateShardCount: `TargetShardCount` open shards of equal hash-key ranges, by splits and
/// merges; within Kinesis' limits (at most double, at least half the open shards, at most
/// [`MAX_SHARDS_PER_STREAM`], [`MAX_SCALINGS_PER_DAY`] scalings a rolling day).
pub async fn update_shard_count(
    call: &Call<'_>,
    input: UpdateShardCountInput,
) -> Result<UpdateShardCountOutput, KinesisError> {
    let mut checks = Checks::new();
    let name = stream_name(&mut checks, &input.stream_name, &input.stream_arn);
    checks.required("targetShardCount", &input.target_shard_count);
    checks.range("targetShardCount", input.target_shard_count, 1, i64::from(i32::MAX));
    checks.required("scalingType", &input.scaling_type);
    checks.one_of("scalingType", input.scaling_type.as_deref(), &["UNIFORM_SCALING"]);
    checks.finish()?;
    let entry = call.registry().get(&name.unwrap_or_default())?;
    let meta = entry.meta();
    if meta.on_demand {
        return Err(KinesisError::InvalidArgument(format!(
            "UpdateShardCount is not supported for stream {} under account {ACCOUNT_ID}: it is in ON_DEMAND mode.",
            entry.name()
        )));
    }
    let current = open_count(&entry).await?;
    let target = input.target_shard_count.unwrap_or_default();
    let stream = entry.name();
    let refuse = |why: String| {
        Err(KinesisError::LimitExceeded(format!(
            "UpdateShardCount of stream {stream} under account {ACCOUNT_ID} from {current} to {target} shards: {why}"
        )))
    };
    if target > 2 * i64::from(current) {
        return refuse(format!("the target is more than double the current {current} shards."));
    }
    if 2 * target < i64::from(current) {
        return refuse(format!("the target is below half the current {current} shards."));
    }
    if target > i64::from(MAX_SHARDS_PER_STREAM) {
        return refuse(format!("the limit is {MAX_SHARDS_PER_STREAM} shards per stream."));
    }
    let window_start = call.now_ms.saturating_sub(crate::registry::SCALING_WINDOW_MS);
    if meta.scalings_ms.iter().filter(|&&ms| ms > window_start).count() >= MAX_SCALINGS_PER_DAY {
        return refuse(format!(
            "a stream is scaled at most {MAX_SCALINGS_PER_DAY} times in a rolling 24 hours."
        ));
    }
    let target = target as u32;
    call.registry().reshard(&entry, Reshard::Scale { target }, true).await?;
    Ok(UpdateShardCountOutput {
        stream_name: stream.to_owned(),
        current_shard_count: current,
        target_shard_count: target,
        stream_arn: crate::arn::stream(call, stream),
    })
}

/// The open shard named `text` of `entry`: ResourceNotFound when there is none, ResourceInUse
/// when it was already split or merged (as Kinesis answers).
async fn open_shard(entry: &Entry, text: &str) -> Result<ShardDescription, KinesisError> {
    let id: ShardId = find_shard(text, entry.name())?;
    let shards = entry.stream().await?.shards();
    let shard = shards.get(id.0 as usize).cloned().ok_or_else(|| {
        KinesisError::ResourceNotFound(format!(
            "Could not find shard {text} in stream {} under account {ACCOUNT_ID}.",
            entry.name()
        ))
    })?;
    if !shard.is_open() {
        return Err(KinesisError::ResourceInUse(format!(
            "Shard {text} in stream {} under account {ACCOUNT_ID} has already been merged or split, and thus is not eligible for merging or splitting.",
            entry.name()
        )));
    }
    Ok(shard)
}

async fn open_count(entry: &Entry) -> Result<u32, KinesisError> {
    Ok(entry.stream().await?.shards().iter().filter(|s| s.is_open()).count() as u32)
}

/// Refuses a reshard that would take the stream past [`MAX_SHARDS_PER_STREAM`] open shards.
async fn check_shard_limit(call: &Call<'_>, entry: &Entry, added: u32) -> Result<(), KinesisError> {
    let open = open_count(entry).await?;
    if open + added > MAX_SHARDS_PER_STREAM {
        return Err(KinesisError::LimitExceeded(format!(
            "This request would exceed the shard limit for the account {ACCOUNT_ID} in {}. Current provisioned shard count for the stream: {open}. Limit: {MAX_SHARDS_PER_STREAM}. Number of additional shards that would have resulted from this request: {added}.",
            call.region
        )));
    }
    Ok(())
}
