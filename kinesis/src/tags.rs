//! The tag actions: AddTagsToStream, ListTagsForStream, RemoveTagsFromStream (by stream name),
//! and TagResource, UntagResource, ListTagsForResource (by the ARN of a stream or a consumer).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::{
    arn::RESOURCE_ARN_PATTERN,
    error::KinesisError,
    registry::MAX_TAGS_PER_STREAM,
    resource::Target,
    streams::{stream_name, Empty},
    validate::Checks,
    Call, ACCOUNT_ID,
};

/// AddTagsToStream's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddTagsInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

fn shown(tags: &BTreeMap<String, String>) -> String {
    format!("{{{}}}", tags.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", "))
}

/// Checks a tag map at `at` against the model: 1 to 200 entries, keys of 1 to 128 characters,
/// values of at most 256.
pub fn check_tag_map(checks: &mut Checks, at: &str, tags: Option<&BTreeMap<String, String>>) {
    let Some(tags) = tags else { return };
    checks.count(at, Some(tags.len()), || shown(tags), 1, 200);
    for (key, value) in tags {
        checks.length(&format!("{at}.{key}.member.key"), Some(key), 1, 128);
        checks.length(&format!("{at}.{key}.member.value"), Some(value), 0, 256);
    }
}

/// Refuses more than [`MAX_TAGS_PER_STREAM`] tags on resource `name`.
pub fn check_tag_limit(name: &str, count: usize) -> Result<(), KinesisError> {
    if count > MAX_TAGS_PER_STREAM {
        return Err(KinesisError::InvalidArgument(format!(
            "Failed to add tags to {name} under account {ACCOUNT_ID} because a given resource cannot have more than {MAX_TAGS_PER_STREAM} tags."
        )));
    }
    Ok(())
}

/// Adds or overwrites `new` in `tags`, within the limit.
fn merge(
    name: &str,
    tags: &mut BTreeMap<String, String>,
    new: BTreeMap<String, String>,
) -> Result<(), KinesisError> {
    check_tag_limit(name, tags.keys().chain(new.keys()).collect::<BTreeSet<_>>().len())?;
    tags.extend(new);
    Ok(())
}

/// AddTagsToStream: adds or overwrites tags; a stream holds at most 50.
pub async fn add(call: &Call<'_>, input: AddTagsInput) -> Result<Empty, KinesisError> {
    let mut checks = Checks::new();
    let name = stream_name(&mut checks, &input.stream_name, &input.stream_arn);
    checks.required("tags", &input.tags);
    check_tag_map(&mut checks, "tags", input.tags.as_ref());
    checks.finish()?;
    let entry = call.registry().get(&name.unwrap_or_default())?;
    let tags = input.tags.unwrap_or_default();
    call.registry()
        .update(&entry, |meta| merge(&format!("stream {}", entry.name()), &mut meta.tags, tags))
        .await?;
    Ok(Empty {})
}

/// ListTagsForStream's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    exclusive_start_tag_key: Option<String>,
    limit: Option<i64>,
}

/// ListTagsForStream's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsOutput {
    tags: Vec<Tag>,
    has_more_tags: bool,
}

/// One tag.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    key: String,
    value: String,
}

/// ListTagsForStream: tags in key order, `Limit` (default 50) after `ExclusiveStartTagKey`.
pub async fn list(call: &Call<'_>, input: ListTagsInput) -> Result<ListTagsOutput, KinesisError> {
    let mut checks = Checks::new();
    let name = stream_name(&mut checks, &input.stream_name, &input.stream_arn);
    checks.length("exclusiveStartTagKey", input.exclusive_start_tag_key.as_deref(), 1, 128);
    checks.range("limit", input.limit, 1, 50);
    checks.finish()?;
    let entry = call.registry().get(&name.unwrap_or_default())?;
    let limit = input.limit.unwrap_or(50) as usize;
    let after = input.exclusive_start_tag_key;
    let rest: Vec<(String, String)> = entry
        .meta()
        .tags
        .into_iter()
        .filter(|(key, _)| after.as_ref().is_none_or(|a| key > a))
        .collect();
    Ok(ListTagsOutput {
        has_more_tags: rest.len() > limit,
        tags: rest.into_iter().take(limit).map(|(key, value)| Tag { key, value }).collect(),
    })
}

/// RemoveTagsFromStream's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RemoveTagsInput {
    stream_name: Option<String>,
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

/// RemoveTagsFromStream: removes the named tags (absent ones are ignored).
pub async fn remove(call: &Call<'_>, input: RemoveTagsInput) -> Result<Empty, KinesisError> {
    let mut checks = Checks::new();
    let name = stream_name(&mut checks, &input.stream_name, &input.stream_arn);
    checks.required("tagKeys", &input.tag_keys);
    check_tag_keys(&mut checks, input.tag_keys.as_deref(), 50);
    checks.finish()?;
    let entry = call.registry().get(&name.unwrap_or_default())?;
    let keys = input.tag_keys.unwrap_or_default();
    call.registry()
        .update(&entry, |meta| {
            for key in &keys {
                meta.tags.remove(key);
            }
            Ok(())
        })
        .await?;
    Ok(Empty {})
}

/// TagResource's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    tags: Option<BTreeMap<String, String>>,
}

/// Checks a `ResourceARN` (required) and returns it.
pub fn resource_arn(checks: &mut Checks, arn: &Option<String>) -> String {
    checks.required("resourceARN", arn);
    checks.length("resourceARN", arn.as_deref(), 1, 2048);
    checks.pattern("resourceARN", arn.as_deref(), RESOURCE_ARN_PATTERN, crate::arn::is_resource);
    arn.clone().unwrap_or_default()
}

/// TagResource: adds or overwrites tags of a stream or a consumer (at most 50 each).
pub async fn tag_resource(call: &Call<'_>, input: TagResourceInput) -> Result<Empty, KinesisError> {
    let mut checks = Checks::new();
    let arn = resource_arn(&mut checks, &input.resource_arn);
    checks.required("tags", &input.tags);
    check_tag_map(&mut checks, "tags", input.tags.as_ref());
    checks.finish()?;
    let target = Target::find(call, &arn)?;
    let tags = input.tags.unwrap_or_default();
    target.update(call, |tags_of, _| merge(&arn, tags_of, tags)).await?;
    Ok(Empty {})
}

/// UntagResource's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    tag_keys: Option<Vec<String>>,
}

/// UntagResource: removes the named tags of a stream or a consumer (absent ones are ignored).
pub async fn untag_resource(
    call: &Call<'_>,
    input: UntagResourceInput,
) -> Result<Empty, KinesisError> {
    let mut checks = Checks::new();
    let arn = resource_arn(&mut checks, &input.resource_arn);
    checks.required("tagKeys", &input.tag_keys);
    check_tag_keys(&mut checks, input.tag_keys.as_deref(), 50);
    checks.finish()?;
    let target = Target::find(call, &arn)?;
    let keys = input.tag_keys.unwrap_or_default();
    target
        .update(call, |tags, _| {
            for key in &keys {
                tags.remove(key);
            }
            Ok(())
        })
        .await?;
    Ok(Empty {})
}

/// Checks a list of tag keys: 1 to `max` keys of 1 to 128 characters.
fn check_tag_keys(checks: &mut Checks, keys: Option<&[String]>, max: usize) {
    let Some(keys) = keys else { return };
    checks.count("tagKeys", Some(keys.len()), || format!("[{}]", keys.join(", ")), 1, max);
    for (i, key) in keys.iter().enumerate() {
        checks.length(&format!("tagKeys.{}.member", i + 1), Some(key), 1, 128);
    }
}

/// ListTagsForResource's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceInput {
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
}

/// ListTagsForResource's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsForResourceOutput {
    tags: Vec<Tag>,
}

/// ListTagsForResource: every tag of a stream or a consumer, in key order.
pub async fn list_for_resource(
    call: &Call<'_>,
    input: ListTagsForResourceInput,
) -> Result<ListTagsForResourceOutput, KinesisError> {
    let mut checks = Checks::new();
    let arn = resource_arn(&mut checks, &input.resource_arn);
    checks.finish()?;
    let (tags, _) = Target::find(call, &arn)?.read()?;
    Ok(ListTagsForResourceOutput {
        tags: tags.into_iter().map(|(key, value)| Tag { key, value }).collect(),
    })
}
