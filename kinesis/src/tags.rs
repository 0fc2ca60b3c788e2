//! The tag actions: AddTagsToStream, ListTagsForStream, RemoveTagsFromStream.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    error::KinesisError,
    registry::MAX_TAGS_PER_STREAM,
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

/// AddTagsToStream: adds or overwrites up to 10 tags; a stream holds at most 50.
pub async fn add(call: &Call<'_>, input: AddTagsInput) -> Result<Empty, KinesisError> {
    let mut checks = Checks::new();
    let name = stream_name(&mut checks, &input.stream_name, &input.stream_arn);
    checks.required("tags", &input.tags);
    if let Some(tags) = &input.tags {
        checks.count("tags", Some(tags.len()), || shown(tags), 1, 10);
        for (key, value) in tags {
            checks.length(&format!("tags.{key}.member.key"), Some(key), 1, 128);
            checks.length(&format!("tags.{key}.member.value"), Some(value), 0, 256);
        }
    }
    checks.finish()?;
    let entry = call.registry().get(&name.unwrap_or_default())?;
    let tags = input.tags.unwrap_or_default();
    call.registry()
        .update(&entry, |meta| {
            let after = meta.tags.keys().chain(tags.keys()).collect::<std::collections::BTreeSet<_>>().len();
            if after > MAX_TAGS_PER_STREAM {
                return Err(KinesisError::InvalidArgument(format!(
                    "Failed to add tags to stream {} under account {ACCOUNT_ID} because a given stream cannot have more than {MAX_TAGS_PER_STREAM} tags.",
                    entry.name()
                )));
            }
            meta.tags.extend(tags);
            Ok(())
        })
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
    if let Some(keys) = &input.tag_keys {
        checks.count("tagKeys", Some(keys.len()), || format!("[{}]", keys.join(", ")), 1, 10);
        for (i, key) in keys.iter().enumerate() {
            checks.length(&format!("tagKeys.{}.member", i + 1), Some(key), 1, 128);
        }
    }
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
