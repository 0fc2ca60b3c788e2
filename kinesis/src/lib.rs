//! The Amazon Kinesis Data Streams API over Alleycat's streams, so that AWS SDKs, the AWS CLI
//! and agents work unchanged against Alleycat.
//!
//! # Wire protocol
//!
//! Every call is `POST /` with `X-Amz-Target: Kinesis_20131202.<Action>` and a body in the
//! JSON protocol (`Content-Type: application/x-amz-json-1.1`; 1.0 is accepted too) or the CBOR
//! protocol (`application/x-amz-cbor-1.1`, the Java SDK's and the KCL's default); the answer
//! uses the request's. Answers are 200 with the action's output, or the error's status with
//! `{"__type": "<Name>", "message": "<sentence>"}` ([`KinesisError`]). Field names, limits,
//! validation messages and error names follow the Kinesis API reference. Blobs (`Data`) are
//! base64 strings in JSON and byte strings in CBOR; timestamps are epoch seconds with a
//! fraction, under CBOR tag 1 in CBOR ([`model`]). Every request must be
//! signed with AWS Signature Version 4 for the configured credentials ([`sigv4`]).
//!
//! # Actions
//!
//! All 39 of the API reference: CreateStream, DeleteStream, DescribeStream,
//! DescribeStreamSummary, ListStreams, ListShards, Increase/DecreaseStreamRetentionPeriod
//! ([`streams`]); SplitShard, MergeShards, UpdateShardCount ([`reshard`]); PutRecord, PutRecords, GetShardIterator, GetRecords ([`records`]);
//! AddTagsToStream, ListTagsForStream, RemoveTagsFromStream, TagResource, UntagResource,
//! ListTagsForResource ([`tags`]); Put/Get/DeleteResourcePolicy ([`policy`]); DescribeLimits,
//! DescribeAccountSettings, UpdateAccountSettings ([`account`]); Enable/DisableEnhancedMonitoring,
//! Start/StopStreamEncryption, UpdateStreamMode, UpdateMaxRecordSize, UpdateStreamWarmThroughput
//! ([`settings`]); Register/Describe/List/DeregisterStreamConsumer ([`consumers`]);
//! SubscribeToShard ([`subscribe`], an event stream over HTTP/1.1 or HTTP/2). Streams are found
//! by name in the [`Registry`], where the stream `alleycat` is the racing pipeline's.
//!
//! Differences from Amazon Kinesis, by design: streams are ACTIVE as soon as CreateStream
//! answers and gone as soon as DeleteStream does, consumers likewise, and a reshard is done
//! (the stream ACTIVE again) when its call answers; GetRecords has
//! no per-shard call rate limit; settings without an effect here (metrics, KMS encryption,
//! policies, warm throughput, billing) are kept and reported but change nothing.

pub mod account;
pub mod arn;
pub mod consumers;
pub mod error;
pub mod eventstream;
pub mod iterator;
pub mod model;
pub mod policy;
pub mod records;
pub mod registry;
pub mod reshard;
pub mod resource;
pub mod settings;
pub mod sigv4;
pub mod streams;
pub mod subscribe;
pub mod tags;
pub mod validate;

use std::{future::Future, sync::Arc};

use alleycat_ingest::stream::Clock;
use axum::{
    body::Bytes,
    extract::{DefaultBodyLimit, State},
    http::{header, HeaderMap, HeaderValue, Method, Uri},
    response::{IntoResponse, Response},
    routing::post,
    Router,
};
use serde::{de::DeserializeOwned, Serialize};

pub use error::KinesisError;
pub use registry::{CreatedStreams, PipelineStream, Registry, PIPELINE_STREAM};

/// The account id in ARNs and messages (Alleycat has no accounts).
pub const ACCOUNT_ID: &str = "000000000000";
/// The largest request body read: a full PutRecords (5 MiB of data) in base64 with its JSON.
pub const MAX_REQUEST_BYTES: usize = 8 * 1024 * 1024;
/// The `X-Amz-Target` prefix of every action.
pub const TARGET_PREFIX: &str = "Kinesis_20131202.";

const JSON_1_1: &str = "application/x-amz-json-1.1";
const JSON_1_0: &str = "application/x-amz-json-1.0";
const CBOR_1_1: &str = "application/x-amz-cbor-1.1";

/// The Kinesis service: the streams, the clock and the credentials requests must be signed
/// with.
pub struct Kinesis {
    registry: Arc<Registry>,
    clock: Arc<dyn Clock>,
    credentials: sigv4::Credentials,
    subscriptions: subscribe::Subscriptions,
    /// Set once by [`Kinesis::shutdown`]: subscriptions end.
    closing: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for Kinesis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kinesis").field("registry", &self.registry).finish_non_exhaustive()
    }
}

impl Kinesis {
    /// A service over `registry` that accepts requests signed (SigV4) with `credentials`,
    /// reading the time (iterator ages, signature dates) from `clock`.
    pub fn new(
        registry: Arc<Registry>,
        clock: Arc<dyn Clock>,
        credentials: sigv4::Credentials,
    ) -> Self {
        let (closing, _) = tokio::sync::watch::channel(false);
        Self { registry, clock, credentials, subscriptions: Default::default(), closing }
    }

    /// Ends every SubscribeToShard stream (their bodies end), so that a graceful shutdown does
    /// not wait up to five minutes for them. Other calls are unaffected.
    pub fn shutdown(&self) {
        self.closing.send_replace(true);
    }

    /// The streams.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }
}

/// One call in progress: the service, the caller's region and the time it arrived.
#[derive(Debug)]
pub struct Call<'a> {
    service: &'a Kinesis,
    /// The region the request was signed for (ARNs use it).
    pub region: String,
    /// When the call arrived, epoch ms.
    pub now_ms: u64,
}

impl Call<'_> {
    /// The streams.
    pub fn registry(&self) -> &Registry {
        &self.service.registry
    }
}

/// The Kinesis API as a router: `POST /` for every action.
pub fn router(service: Arc<Kinesis>) -> Router {
    Router::new()
        .route("/", post(handle))
        .layer(DefaultBodyLimit::max(MAX_REQUEST_BYTES))
        .with_state(service)
}

/// The protocol of a request, which its answer uses too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Json(&'static str),
    Cbor,
}

impl Protocol {
    fn of(headers: &HeaderMap) -> Option<Self> {
        let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
        match content_type.split(';').next()?.trim() {
            JSON_1_1 => Some(Self::Json(JSON_1_1)),
            JSON_1_0 => Some(Self::Json(JSON_1_0)),
            CBOR_1_1 => Some(Self::Cbor),
            _ => None,
        }
    }

    fn decode<T: DeserializeOwned>(self, body: &[u8]) -> Result<T, KinesisError> {
        match self {
            Self::Json(_) => {
                serde_json::from_slice(body).map_err(|e| KinesisError::Serialization(e.to_string()))
            }
            Self::Cbor => {
                ciborium::from_reader(body).map_err(|e| KinesisError::Serialization(e.to_string()))
            }
        }
    }

    pub(crate) fn encode<T: Serialize>(self, value: &T) -> Result<Vec<u8>, KinesisError> {
        match self {
            Self::Json(_) => serde_json::to_vec(value).map_err(|e| {
                tracing::error!(error = %e, "Could not encode a Kinesis answer.");
                KinesisError::InternalFailure
            }),
            Self::Cbor => {
                let mut bytes = Vec::new();
                ciborium::into_writer(value, &mut bytes).map_err(|e| {
                    tracing::error!(error = %e, "Could not encode a Kinesis answer.");
                    KinesisError::InternalFailure
                })?;
                Ok(bytes)
            }
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::Json(content_type) => content_type,
            Self::Cbor => CBOR_1_1,
        }
    }

    fn answer(self, status: axum::http::StatusCode, body: Vec<u8>) -> Response {
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(self.content_type()));
        if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
            headers.insert("x-amzn-requestid", id);
        }
        response
    }

    fn error(self, error: &KinesisError) -> Response {
        #[derive(Serialize)]
        struct Body<'a> {
            #[serde(rename = "__type")]
            kind: &'a str,
            message: String,
        }
        let body = Body { kind: error.type_name(), message: error.message() };
        let bytes = self.encode(&body).unwrap_or_default();
        self.answer(error.status(), bytes)
    }
}

impl IntoResponse for KinesisError {
    fn into_response(self) -> Response {
        Protocol::Json(JSON_1_1).error(&self)
    }
}

async fn handle(
    State(service): State<Arc<Kinesis>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(protocol) = Protocol::of(&headers) else {
        return KinesisError::UnsupportedContentType.into_response();
    };
    let action = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix(TARGET_PREFIX))
        .unwrap_or_default()
        .to_owned();
    let now_ms = service.clock.now_ms();
    let result = match sigv4::verify(&service.credentials, &method, &uri, &headers, &body, now_ms) {
        Ok(signed) => {
            let call = Call { service: &service, region: signed.region, now_ms };
            if action == "SubscribeToShard" {
                return subscribe(&call, protocol, &body).await.unwrap_or_else(|error| {
                    tracing::debug!(action, error = error.type_name(), message = %error.message(), "Kinesis call refused.");
                    protocol.error(&error)
                });
            }
            dispatch(&call, protocol, &action, &body).await
        }
        Err(error) => Err(error),
    };
    match result {
        Ok(bytes) => protocol.answer(axum::http::StatusCode::OK, bytes),
        Err(error) => {
            tracing::debug!(action, error = error.type_name(), message = %error.message(), "Kinesis call refused.");
            protocol.error(&error)
        }
    }
}

/// SubscribeToShard: an event-stream answer that lasts as long as the subscription.
async fn subscribe(
    call: &Call<'_>,
    protocol: Protocol,
    body: &[u8],
) -> Result<Response, KinesisError> {
    if body.is_empty() {
        return Err(KinesisError::Serialization("The request body is empty.".into()));
    }
    let subscription = subscribe::start(call, protocol, protocol.decode(body)?).await?;
    let mut response = axum::body::Body::from_stream(subscription.into_body()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(eventstream::CONTENT_TYPE));
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        headers.insert("x-amzn-requestid", id);
    }
    Ok(response)
}

/// Decodes the input, runs the action, encodes its output.
async fn run<'c, I, O, Fut>(
    protocol: Protocol,
    body: &[u8],
    action: impl FnOnce(I) -> Fut,
) -> Result<Vec<u8>, KinesisError>
where
    I: DeserializeOwned,
    O: Serialize,
    Fut: Future<Output = Result<O, KinesisError>> + 'c,
{
    if body.is_empty() {
        return Err(KinesisError::Serialization("The request body is empty.".into()));
    }
    let input = protocol.decode(body)?;
    protocol.encode(&action(input).await?)
}

async fn dispatch(
    call: &Call<'_>,
    protocol: Protocol,
    action: &str,
    body: &[u8],
) -> Result<Vec<u8>, KinesisError> {
    match action {
        "CreateStream" => run(protocol, body, |i| streams::create(call, i)).await,
        "DeleteStream" => run(protocol, body, |i| streams::delete(call, i)).await,
        "DescribeStream" => run(protocol, body, |i| streams::describe(call, i)).await,
        "DescribeStreamSummary" => {
            run(protocol, body, |i| streams::describe_summary(call, i)).await
        }
        "ListStreams" => run(protocol, body, |i| streams::list_streams(call, i)).await,
        "ListShards" => run(protocol, body, |i| streams::list_shards(call, i)).await,
        "SplitShard" => run(protocol, body, |i| reshard::split(call, i)).await,
        "MergeShards" => run(protocol, body, |i| reshard::merge(call, i)).await,
        "UpdateShardCount" => run(protocol, body, |i| reshard::update_shard_count(call, i)).await,
        "IncreaseStreamRetentionPeriod" => {
            run(protocol, body, |i| streams::retention(call, i, true)).await
        }
        "DecreaseStreamRetentionPeriod" => {
            run(protocol, body, |i| streams::retention(call, i, false)).await
        }
        "PutRecord" => run(protocol, body, |i| records::put_record(call, i)).await,
        "PutRecords" => run(protocol, body, |i| records::put_records(call, i)).await,
        "GetShardIterator" => run(protocol, body, |i| records::get_shard_iterator(call, i)).await,
        "GetRecords" => run(protocol, body, |i| records::get_records(call, i)).await,
        "AddTagsToStream" => run(protocol, body, |i| tags::add(call, i)).await,
        "ListTagsForStream" => run(protocol, body, |i| tags::list(call, i)).await,
        "RemoveTagsFromStream" => run(protocol, body, |i| tags::remove(call, i)).await,
        "RegisterStreamConsumer" => run(protocol, body, |i| consumers::register(call, i)).await,
        "DescribeStreamConsumer" => run(protocol, body, |i| consumers::describe(call, i)).await,
        "ListStreamConsumers" => run(protocol, body, |i| consumers::list(call, i)).await,
        "DeregisterStreamConsumer" => run(protocol, body, |i| consumers::deregister(call, i)).await,
        "TagResource" => run(protocol, body, |i| tags::tag_resource(call, i)).await,
        "UntagResource" => run(protocol, body, |i| tags::untag_resource(call, i)).await,
        "ListTagsForResource" => run(protocol, body, |i| tags::list_for_resource(call, i)).await,
        "PutResourcePolicy" => run(protocol, body, |i| policy::put(call, i)).await,
        "GetResourcePolicy" => run(protocol, body, |i| policy::get(call, i)).await,
        "DeleteResourcePolicy" => run(protocol, body, |i| policy::delete(call, i)).await,
        "DescribeLimits" => run(protocol, body, |i| account::describe_limits(call, i)).await,
        "DescribeAccountSettings" => {
            run(protocol, body, |i| account::describe_settings(call, i)).await
        }
        "UpdateAccountSettings" => run(protocol, body, |i| account::update_settings(call, i)).await,
        "EnableEnhancedMonitoring" => {
            run(protocol, body, |i| settings::monitoring(call, i, true)).await
        }
        "DisableEnhancedMonitoring" => {
            run(protocol, body, |i| settings::monitoring(call, i, false)).await
        }
        "StartStreamEncryption" => {
            run(protocol, body, |i| settings::encryption(call, i, true)).await
        }
        "StopStreamEncryption" => {
            run(protocol, body, |i| settings::encryption(call, i, false)).await
        }
        "UpdateStreamMode" => run(protocol, body, |i| settings::update_mode(call, i)).await,
        "UpdateMaxRecordSize" => {
            run(protocol, body, |i| settings::update_max_record_size(call, i)).await
        }
        "UpdateStreamWarmThroughput" => {
            run(protocol, body, |i| settings::update_warm_throughput(call, i)).await
        }
        _ => Err(KinesisError::UnknownOperation),
    }
}
