//! The enhanced fan-out consumer actions: RegisterStreamConsumer, DescribeStreamConsumer,
//! ListStreamConsumers, DeregisterStreamConsumer.
//!
//! A consumer is a name registered on a stream, kept in the stream's metadata (so it survives
//! restarts) with its registration time; its ARN is
//! `<stream ARN>/consumer/<name>:<registration epoch seconds>` ([`crate::arn`]).
//! RegisterStreamConsumer answers `CREATING`, as Kinesis does, but the consumer is usable at
//! once: every later call sees it `ACTIVE` (Kinesis takes seconds). Deregistering removes it at
//! once (Kinesis shows `DELETING` for a while). A stream holds at most
//! [`MAX_CONSUMERS_PER_STREAM`].

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{
    arn::{self, Resource, CONSUMER_ARN_PATTERN},
    error::KinesisError,
    iterator::ITERATOR_TTL_MS,
    model::Timestamp,
    registry::{ConsumerMeta, Entry},
    resource,
    streams::{stream_arn, Empty},
    tags::{check_tag_limit, check_tag_map},
    validate::Checks,
    Call, ACCOUNT_ID,
};

/// The most consumers one stream may have registered (Kinesis: 20).
pub const MAX_CONSUMERS_PER_STREAM: usize = 20;

/// A consumer as Kinesis describes it in lists.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Consumer {
    consumer_name: String,
    #[serde(rename = "ConsumerARN")]
    consumer_arn: String,
    consumer_status: &'static str,
    consumer_creation_timestamp: Timestamp,
}

impl Consumer {
    fn of(
        call: &Call<'_>,
        stream: &str,
        name: &str,
        meta: &ConsumerMeta,
        status: &'static str,
    ) -> Self {
        Self {
            consumer_name: name.to_owned(),
            consumer_arn: arn::consumer(call, stream, name, meta.created_ms),
            consumer_status: status,
            consumer_creation_timestamp: Timestamp(meta.created_ms),
        }
    }
}

/// Checks a required `StreamARN` at `streamARN` and returns the stream it names.
fn required_stream_arn(checks: &mut Checks, arn: &Option<String>) -> Option<String> {
    checks.required("streamARN", arn);
    arn.as_deref().and_then(|arn| stream_arn(checks, "streamARN", arn))
}

/// Checks a `ConsumerARN` at `consumerARN`.
pub fn check_consumer_arn(checks: &mut Checks, arn: Option<&str>) {
    checks.length("consumerARN", arn, 1, 2048);
    checks.pattern("consumerARN", arn, CONSUMER_ARN_PATTERN, arn::is_consumer);
}

/// RegisterStreamConsumer's input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegisterInput {
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    consumer_name: Option<String>,
    tags: Option<std::collections::BTreeMap<String, String>>,
}

/// RegisterStreamConsumer's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegisterOutput {
    consumer: Consumer,
}

/// RegisterStreamConsumer: registers `ConsumerName` on the stream, with its `Tags`.
pub async fn register(
    call: &Call<'_>,
    input: RegisterInput,
) -> Result<RegisterOutput, KinesisError> {
    let mut checks = Checks::new();
    let stream = required_stream_arn(&mut checks, &input.stream_arn);
    checks.required("consumerName", &input.consumer_name);
    checks.stream_name("consumerName", input.consumer_name.as_deref());
    check_tag_map(&mut checks, "tags", input.tags.as_ref());
    checks.finish()?;
    let (stream, name) = (stream.unwrap_or_default(), input.consumer_name.unwrap_or_default());
    let tags = input.tags.unwrap_or_default();
    check_tag_limit(&format!("consumer {name}"), tags.len())?;
    let entry = call.registry().get(&stream)?;
    let consumer = ConsumerMeta { created_ms: call.now_ms, tags, policy: None };
    let stored = consumer.clone();
    call.registry()
        .update(&entry, |meta| {
            if meta.consumers.contains_key(&name) {
                return Err(KinesisError::ResourceInUse(format!(
                    "Consumer {name} under stream {stream} under account {ACCOUNT_ID} already exists."
                )));
            }
            if meta.consumers.len() >= MAX_CONSUMERS_PER_STREAM {
                return Err(KinesisError::LimitExceeded(format!(
                    "Stream {stream} under account {ACCOUNT_ID} already has {MAX_CONSUMERS_PER_STREAM} registered consumers, the most it may have."
                )));
            }
            meta.consumers.insert(name.clone(), stored);
            Ok(())
        })
        .await?;
    tracing::info!(stream = %stream, consumer = %name, "Registered a Kinesis consumer.");
    Ok(RegisterOutput { consumer: Consumer::of(call, &stream, &name, &consumer, "CREATING") })
}

/// Describe/DeregisterStreamConsumer's input: the consumer's ARN, or its stream's ARN and its
/// name.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConsumerRefInput {
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    consumer_name: Option<String>,
    #[serde(rename = "ConsumerARN")]
    consumer_arn: Option<String>,
}

/// The consumer a request names: its stream, its name and its registration.
fn named_consumer(
    call: &Call<'_>,
    input: &ConsumerRefInput,
) -> Result<(Arc<Entry>, String, ConsumerMeta), KinesisError> {
    let mut checks = Checks::new();
    let stream =
        input.stream_arn.as_deref().and_then(|arn| stream_arn(&mut checks, "streamARN", arn));
    checks.stream_name("consumerName", input.consumer_name.as_deref());
    check_consumer_arn(&mut checks, input.consumer_arn.as_deref());
    checks.finish()?;
    if let Some(text) = &input.consumer_arn {
        let Some(Resource::Consumer(parts)) = arn::parse(text) else {
            return Err(resource::consumer_not_found(text));
        };
        let (entry, meta) = resource::consumer(call, text, &parts)?;
        return Ok((entry, parts.name, meta));
    }
    let (Some(stream), Some(name)) = (stream, input.consumer_name.clone()) else {
        return Err(KinesisError::InvalidArgument(
            "Either ConsumerARN or both ConsumerName and StreamARN must be given.".into(),
        ));
    };
    let entry = call.registry().get(&stream)?;
    let meta = entry.meta().consumers.get(&name).cloned().ok_or_else(|| {
        KinesisError::ResourceNotFound(format!(
            "Consumer {name} under stream {stream} under account {ACCOUNT_ID} not found."
        ))
    })?;
    Ok((entry, name, meta))
}

/// DescribeStreamConsumer's output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeOutput {
    consumer_description: ConsumerDescription,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
struct ConsumerDescription {
    #[serde(flatten)]
    consumer: Consumer,
    #[serde(rename = "StreamARN")]
    stream_arn: String,
}

/// DescribeStreamConsumer: the consumer, ACTIVE.
pub async fn describe(
    call: &Call<'_>,
    input: ConsumerRefInput,
) -> Result<DescribeOutput, KinesisError> {
    let (entry, name, meta) = named_consumer(call, &input)?;
    Ok(DescribeOutput {
        consumer_description: ConsumerDescription {
            consumer: Consumer::of(call, entry.name(), &name, &meta, "ACTIVE"),
            stream_arn: arn::stream(call, entry.name()),
        },
    })
}

/// DeregisterStreamConsumer: removes the consumer (its subscriptions end).
pub async fn deregister(call: &Call<'_>, input: ConsumerRefInput) -> Result<Empty, KinesisError> {
    let (entry, name, meta) = named_consumer(call, &input)?;
    call.registry()
        .update(&entry, |stored| {
            // Only the registration found above: a newer one of the same name stays.
            if stored.consumers.get(&name).is_some_and(|c| c.created_ms == meta.created_ms) {
                stored.consumers.remove(&name);
            }
            Ok(())
        })
        .await?;
    tracing::info!(stream = entry.name(), consumer = %name, "Deregistered a Kinesis consumer.");
    Ok(Empty {})
}

/// ListStreamConsumers' input.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListInput {
    #[serde(rename = "StreamARN")]
    stream_arn: Option<String>,
    next_token: Option<String>,
    max_results: Option<i64>,
    stream_creation_timestamp: Option<Timestamp>,
}

/// ListStreamConsumers' output.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListOutput {
    consumers: Vec<Consumer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// ListStreamConsumers: the stream's consumers in name order, `MaxResults` (default 100) at a
/// time, with a `NextToken` valid five minutes (given with the same StreamARN, as in Kinesis).
pub async fn list(call: &Call<'_>, input: ListInput) -> Result<ListOutput, KinesisError> {
    let mut checks = Checks::new();
    let stream = required_stream_arn(&mut checks, &input.stream_arn);
    checks.length("nextToken", input.next_token.as_deref(), 1, 1_048_576);
    checks.range("maxResults", input.max_results, 1, 10_000);
    checks.finish()?;
    let stream = stream.unwrap_or_default();
    let after = match &input.next_token {
        Some(token) => {
            let (issued_ms, after) = decode_token(token, &stream)
                .ok_or_else(|| KinesisError::InvalidArgument("Invalid NextToken.".into()))?;
            if call.now_ms.saturating_sub(issued_ms) > ITERATOR_TTL_MS {
                return Err(KinesisError::ExpiredNextToken(
                    "The timestamp of the NextToken is more than 300 seconds old; call ListStreamConsumers again without it.".into(),
                ));
            }
            Some(after)
        }
        None => None,
    };
    let entry = call.registry().get(&stream)?;
    let meta = entry.meta();
    if input.stream_creation_timestamp.is_some_and(|t| t.0 / 1000 != meta.created_ms / 1000) {
        return Err(KinesisError::ResourceNotFound(format!(
            "Stream {stream} under account {ACCOUNT_ID} with the given creation timestamp not found."
        )));
    }
    let rest: Vec<(&String, &ConsumerMeta)> = meta
        .consumers
        .iter()
        .filter(|(name, _)| after.as_ref().is_none_or(|a| *name > a))
        .collect();
    let limit = input.max_results.unwrap_or(100) as usize;
    let page = &rest[..rest.len().min(limit)];
    let next_token = (rest.len() > page.len())
        .then(|| page.last().map(|(name, _)| encode_token(call.now_ms, &stream, name)))
        .flatten();
    Ok(ListOutput {
        consumers: page
            .iter()
            .map(|(name, consumer)| Consumer::of(call, &stream, name, consumer, "ACTIVE"))
            .collect(),
        next_token,
    })
}

fn encode_token(issued_ms: u64, stream: &str, after: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .encode(format!("consumers|{issued_ms}|{stream}|{after}"))
}

/// The issue time and the last consumer of the previous page, if `token` is one for `stream`.
fn decode_token(token: &str, stream: &str) -> Option<(u64, String)> {
    use base64::Engine;
    let text =
        String::from_utf8(base64::engine::general_purpose::STANDARD.decode(token).ok()?).ok()?;
    let mut parts = text.splitn(4, '|');
    (parts.next()? == "consumers").then_some(())?;
    let issued_ms = parts.next()?.parse().ok()?;
    (parts.next()? == stream).then_some(())?;
    Some((issued_ms, parts.next()?.to_owned()))
}
