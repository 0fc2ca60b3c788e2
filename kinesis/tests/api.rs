//! The Kinesis API through its router (no socket): each action as an SDK calls it, and the
//! documented error for each kind of bad request. Time is a manual clock.
#![allow(missing_docs)]

use std::{sync::Arc, time::Duration};

use alleycat_ingest::stream::{DiskStream, ManualClock, Stream, StreamConfig, SyncPolicy};
use alleycat_kinesis::{
    sigv4::{self, Credentials},
    CreatedStreams, Kinesis, PipelineStream, Registry,
};
use axum::{body::Body, http::Request, Router};
use base64::{engine::general_purpose::STANDARD, Engine};
use ciborium::Value as Cbor;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

const START_MS: u64 = 1_800_000_000_000;

struct Fixture {
    app: Router,
    clock: ManualClock,
    pipeline: Arc<dyn Stream>,
    _dir: tempfile::TempDir,
}

fn fixture_with(throttle: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START_MS);
    let pipeline: Arc<dyn Stream> = Arc::new(
        DiskStream::open_with(
            Arc::new(alleycat_ingest::stream::RealFs),
            Arc::new(clock.clone()),
            dir.path().join("stream"),
            StreamConfig { shards: 2, ..StreamConfig::default() },
        )
        .unwrap(),
    );
    let registry = Registry::open(
        dir.path().join("kinesis"),
        PipelineStream { stream: pipeline.clone(), retention_hours: 24 },
        CreatedStreams { throttle, sync: SyncPolicy::Always },
        Arc::new(clock.clone()),
    )
    .unwrap();
    let service = Kinesis::new(Arc::new(registry), Arc::new(clock.clone()), credentials());
    Fixture { app: alleycat_kinesis::router(Arc::new(service)), clock, pipeline, _dir: dir }
}

fn credentials() -> Credentials {
    Credentials { access_key_id: "AKIDTEST".into(), secret_access_key: "secret".into() }
}

fn fixture() -> Fixture {
    fixture_with(false)
}

impl Fixture {
    async fn raw(&self, target: Option<&str>, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        self.signed_as(&credentials(), target, content_type, body).await
    }

    /// A request signed as an SDK signs it, with `credentials`, at the fixture's time.
    fn signed(
        &self,
        credentials: &Credentials,
        target: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Request<Body> {
        use alleycat_ingest::stream::Clock;
        let mut request =
            Request::post("/").header("content-type", content_type).header("host", "localhost");
        if let Some(target) = target {
            request = request.header("x-amz-target", target);
        }
        let mut request = request.body(Body::empty()).unwrap();
        let (method, uri) = (request.method().clone(), request.uri().clone());
        let now = self.clock.now_ms();
        sigv4::sign(credentials, "us-east-1", &method, &uri, request.headers_mut(), &body, now);
        *request.body_mut() = Body::from(body);
        request
    }

    /// Status, content type and body of the answer to `request`.
    async fn exchange(&self, request: Request<Body>) -> (u16, String, Vec<u8>) {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, content_type, bytes.to_vec())
    }

    async fn send(&self, request: Request<Body>) -> (u16, Value) {
        let (status, _, bytes) = self.exchange(request).await;
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn signed_as(
        &self,
        credentials: &Credentials,
        target: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, Value) {
        self.send(self.signed(credentials, target, content_type, body)).await
    }

    /// A CBOR call: the answer's status, content type and decoded body.
    async fn cbor(&self, action: &str, body: &Cbor) -> (u16, String, Cbor) {
        let mut bytes = Vec::new();
        ciborium::into_writer(body, &mut bytes).unwrap();
        let target = format!("Kinesis_20131202.{action}");
        let request =
            self.signed(&credentials(), Some(&target), "application/x-amz-cbor-1.1", bytes);
        let (status, content_type, answer) = self.exchange(request).await;
        (status, content_type, ciborium::from_reader(&answer[..]).unwrap())
    }

    async fn call(&self, action: &str, body: Value) -> (u16, Value) {
        self.raw(
            Some(&format!("Kinesis_20131202.{action}")),
            "application/x-amz-json-1.1",
            serde_json::to_vec(&body).unwrap(),
        )
        .await
    }

    async fn ok(&self, action: &str, body: Value) -> Value {
        let (status, answer) = self.call(action, body).await;
        assert_eq!(status, 200, "{action}: {answer}");
        answer
    }

    async fn error(&self, action: &str, body: Value) -> (String, String) {
        let (status, answer) = self.call(action, body).await;
        assert_eq!(status, 400, "{action} should fail: {answer}");
        (
            answer["__type"].as_str().unwrap().to_owned(),
            answer["message"].as_str().unwrap_or("").to_owned(),
        )
    }

    async fn iterator(&self, stream: &str, shard: &str, kind: &str, extra: Value) -> String {
        let mut body = json!({"StreamName": stream, "ShardId": shard, "ShardIteratorType": kind});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        self.ok("GetShardIterator", body).await["ShardIterator"].as_str().unwrap().to_owned()
    }
}

fn data(text: &str) -> String {
    STANDARD.encode(text)
}

fn texts(records: &Value) -> Vec<String> {
    records
        .as_array()
        .unwrap()
        .iter()
        .map(|r| String::from_utf8(STANDARD.decode(r["Data"].as_str().unwrap()).unwrap()).unwrap())
        .collect()
}

#[tokio::test]
async fn a_created_stream_is_described_listed_and_deleted() {
    let k = fixture();
    k.ok("CreateStream", json!({"StreamName": "orders", "ShardCount": 3})).await;
    let described = k.ok("DescribeStream", json!({"StreamName": "orders"})).await;
    let d = &described["StreamDescription"];
    assert_eq!(d["StreamStatus"], "ACTIVE");
    assert_eq!(d["StreamARN"], "arn:aws:kinesis:us-east-1:000000000000:stream/orders");
    assert_eq!(d["RetentionPeriodHours"], 24);
    assert_eq!(d["HasMoreShards"], false);
    assert_eq!(d["StreamCreationTimestamp"].as_f64().unwrap(), START_MS as f64 / 1000.0);
    let shards = d["Shards"].as_array().unwrap();
    assert_eq!(shards.len(), 3);
    assert_eq!(shards[0]["ShardId"], "shardId-000000000000");
    assert_eq!(shards[0]["HashKeyRange"]["StartingHashKey"], "0");
    assert_eq!(shards[2]["HashKeyRange"]["EndingHashKey"], u128::MAX.to_string());
    let summary = k.ok("DescribeStreamSummary", json!({"StreamName": "orders"})).await;
    assert_eq!(summary["StreamDescriptionSummary"]["OpenShardCount"], 3);
    let listed = k.ok("ListStreams", json!({})).await;
    assert_eq!(listed["StreamNames"], json!(["alleycat", "orders"]));
    assert_eq!(listed["HasMoreStreams"], false);

    let (kind, message) =
        k.error("CreateStream", json!({"StreamName": "orders", "ShardCount": 1})).await;
    assert_eq!(
        (kind.as_str(), message.as_str()),
        ("ResourceInUseException", "Stream orders under account 000000000000 already exists.")
    );

    k.ok("DeleteStream", json!({"StreamName": "orders"})).await;
    let (kind, message) = k.error("DescribeStream", json!({"StreamName": "orders"})).await;
    assert_eq!(
        (kind.as_str(), message.as_str()),
        ("ResourceNotFoundException", "Stream orders under account 000000000000 not found.")
    );
    let (kind, _) = k.error("DeleteStream", json!({"StreamName": "alleycat"})).await;
    assert_eq!(kind, "ResourceInUseException");
}

#[tokio::test]
async fn list_streams_and_list_shards_page_with_their_tokens() {
    let k = fixture();
    for name in ["b", "c", "d"] {
        k.ok("CreateStream", json!({"StreamName": name, "ShardCount": 1})).await;
    }
    let first = k.ok("ListStreams", json!({"Limit": 2})).await;
    assert_eq!(first["StreamNames"], json!(["alleycat", "b"]));
    assert_eq!(first["HasMoreStreams"], true);
    let next = k.ok("ListStreams", json!({"NextToken": first["NextToken"]})).await;
    assert_eq!(next["StreamNames"], json!(["c", "d"]));
    let after = k.ok("ListStreams", json!({"ExclusiveStartStreamName": "c"})).await;
    assert_eq!(after["StreamNames"], json!(["d"]));

    k.ok("CreateStream", json!({"StreamName": "wide", "ShardCount": 5})).await;
    let page = k.ok("ListShards", json!({"StreamName": "wide", "MaxResults": 2})).await;
    let ids = |page: &Value| {
        page["Shards"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["ShardId"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&page), ["shardId-000000000000", "shardId-000000000001"]);
    let token = page["NextToken"].as_str().unwrap().to_owned();
    let (kind, message) =
        k.error("ListShards", json!({"StreamName": "wide", "NextToken": token})).await;
    assert_eq!(
        (kind.as_str(), message.as_str()),
        ("InvalidArgumentException", "NextToken and StreamName cannot be provided together.")
    );
    let page2 = k.ok("ListShards", json!({"NextToken": token, "MaxResults": 2})).await;
    assert_eq!(ids(&page2), ["shardId-000000000002", "shardId-000000000003"]);
    let page3 = k.ok("ListShards", json!({"NextToken": page2["NextToken"]})).await;
    assert_eq!(ids(&page3), ["shardId-000000000004"]);
    assert!(page3.get("NextToken").is_none());
    let after = k
        .ok(
            "ListShards",
            json!({"StreamName": "wide", "ExclusiveStartShardId": "shardId-000000000003"}),
        )
        .await;
    assert_eq!(ids(&after), ["shardId-000000000004"]);
    k.clock.advance(Duration::from_secs(301));
    let (kind, _) = k.error("ListShards", json!({"NextToken": page2["NextToken"]})).await;
    assert_eq!(kind, "ExpiredNextTokenException");
}

#[tokio::test]
async fn records_are_read_back_from_every_kind_of_iterator() {
    let k = fixture();
    k.ok("CreateStream", json!({"StreamName": "s", "ShardCount": 1})).await;
    let first = k
        .ok("PutRecord", json!({"StreamName": "s", "PartitionKey": "p", "Data": data("one")}))
        .await;
    assert_eq!(first["ShardId"], "shardId-000000000000");
    let seq1 = first["SequenceNumber"].as_str().unwrap().to_owned();
    k.clock.advance(Duration::from_secs(10));
    let batch = k
        .ok(
            "PutRecords",
            json!({"StreamName": "s", "Records": [
                {"PartitionKey": "p", "Data": data("two")},
                {"PartitionKey": "q", "Data": data("three")}
            ]}),
        )
        .await;
    assert_eq!(batch["FailedRecordCount"], 0);
    let seq2 = batch["Records"][0]["SequenceNumber"].as_str().unwrap().to_owned();
    let shard = "shardId-000000000000";

    let it = k.iterator("s", shard, "TRIM_HORIZON", json!({})).await;
    let read = k.ok("GetRecords", json!({"ShardIterator": it})).await;
    assert_eq!(texts(&read["Records"]), ["one", "two", "three"]);
    assert_eq!(read["Records"][0]["PartitionKey"], "p");
    assert_eq!(read["Records"][0]["SequenceNumber"], seq1.as_str());
    assert_eq!(
        read["Records"][0]["ApproximateArrivalTimestamp"].as_f64().unwrap(),
        START_MS as f64 / 1000.0
    );
    assert_eq!(read["MillisBehindLatest"], 0);

    let at =
        k.iterator("s", shard, "AT_SEQUENCE_NUMBER", json!({"StartingSequenceNumber": seq2})).await;
    assert_eq!(
        texts(&k.ok("GetRecords", json!({"ShardIterator": at})).await["Records"]),
        ["two", "three"]
    );
    let after = k
        .iterator("s", shard, "AFTER_SEQUENCE_NUMBER", json!({"StartingSequenceNumber": seq2}))
        .await;
    assert_eq!(
        texts(&k.ok("GetRecords", json!({"ShardIterator": after})).await["Records"]),
        ["three"]
    );
    let stamp = (START_MS + 5_000) as f64 / 1000.0;
    let timed = k.iterator("s", shard, "AT_TIMESTAMP", json!({"Timestamp": stamp})).await;
    assert_eq!(
        texts(&k.ok("GetRecords", json!({"ShardIterator": timed})).await["Records"]),
        ["two", "three"]
    );
    let latest = k.iterator("s", shard, "LATEST", json!({})).await;
    let empty = k.ok("GetRecords", json!({"ShardIterator": latest})).await;
    assert_eq!(texts(&empty["Records"]), Vec::<String>::new());
    k.ok("PutRecord", json!({"StreamName": "s", "PartitionKey": "p", "Data": data("four")})).await;
    let next = k.ok("GetRecords", json!({"ShardIterator": empty["NextShardIterator"]})).await;
    assert_eq!(texts(&next["Records"]), ["four"]);
}

#[tokio::test]
async fn paging_to_the_tip_brings_millis_behind_latest_to_zero() {
    let k = fixture();
    k.ok("CreateStream", json!({"StreamName": "s", "ShardCount": 1})).await;
    for i in 0..5 {
        k.ok(
            "PutRecord",
            json!({"StreamName": "s", "PartitionKey": "p", "Data": data(&i.to_string())}),
        )
        .await;
        k.clock.advance(Duration::from_secs(1));
    }
    let mut it = k.iterator("s", "shardId-000000000000", "TRIM_HORIZON", json!({})).await;
    let mut behind = Vec::new();
    let mut seen = Vec::new();
    loop {
        let page = k.ok("GetRecords", json!({"ShardIterator": it, "Limit": 2})).await;
        seen.extend(texts(&page["Records"]));
        behind.push(page["MillisBehindLatest"].as_u64().unwrap());
        it = page["NextShardIterator"].as_str().unwrap().to_owned();
        if page["MillisBehindLatest"] == 0 {
            break;
        }
    }
    assert_eq!(seen, ["0", "1", "2", "3", "4"]);
    assert!(behind[0] > 0 && behind.windows(2).all(|w| w[0] >= w[1]), "{behind:?}");
}

#[tokio::test]
async fn an_iterator_expires_after_five_minutes_and_garbage_is_invalid() {
    let k = fixture();
    let it = k.iterator("alleycat", "shardId-000000000001", "TRIM_HORIZON", json!({})).await;
    k.clock.advance(Duration::from_secs(299));
    k.ok("GetRecords", json!({"ShardIterator": it})).await;
    k.clock.advance(Duration::from_secs(2));
    let (kind, message) = k.error("GetRecords", json!({"ShardIterator": it})).await;
    assert_eq!(kind, "ExpiredIteratorException");
    assert!(
        message.starts_with("Iterator expired. The iterator was created at time "),
        "{message}"
    );
    assert!(message.ends_with(
        "which is further in the future than the tolerated delay of 300000 milliseconds."
    ));
    let (kind, message) = k.error("GetRecords", json!({"ShardIterator": "bm9wZQ=="})).await;
    assert_eq!(
        (kind.as_str(), message.as_str()),
        ("InvalidArgumentException", "Invalid ShardIterator.")
    );
}

#[tokio::test]
async fn records_put_to_alleycat_are_in_the_pipeline_stream() {
    let k = fixture();
    let put = k
        .ok(
            "PutRecord",
            json!({"StreamName": "alleycat", "PartitionKey": "42", "Data": data("{}")}),
        )
        .await;
    let shard: alleycat_ingest::stream::ShardId = put["ShardId"].as_str().unwrap().parse().unwrap();
    let it = k
        .pipeline
        .shard_iterator(shard, alleycat_ingest::stream::StartingPosition::TrimHorizon)
        .await
        .unwrap();
    let read = k.pipeline.get_records(&it, 10, Duration::ZERO).await.unwrap();
    assert_eq!(read.records.len(), 1);
    assert_eq!(read.records[0].partition_key, "42");
    assert_eq!(
        read.records[0].sequence_number.0.to_string(),
        put["SequenceNumber"].as_str().unwrap()
    );
}

#[tokio::test]
async fn throttled_entries_fail_one_by_one_with_kinesis_codes_and_succeed_on_retry() {
    let k = fixture_with(true);
    k.ok("CreateStream", json!({"StreamName": "t", "ShardCount": 1})).await;
    // 500 records of 4 KiB: twice a shard's 1 MiB/s.
    let records: Vec<Value> = (0..500)
        .map(
            |i| json!({"PartitionKey": format!("k{i}"), "Data": STANDARD.encode(vec![b'x'; 4096])}),
        )
        .collect();
    let answer = k.ok("PutRecords", json!({"StreamName": "t", "Records": records})).await;
    let failed = answer["FailedRecordCount"].as_u64().unwrap();
    assert!(failed > 200 && failed < 300, "{failed}");
    let entries = answer["Records"].as_array().unwrap();
    let rejected: Vec<&Value> = entries.iter().filter(|e| e.get("ErrorCode").is_some()).collect();
    assert_eq!(rejected.len() as u64, failed);
    assert_eq!(rejected[0]["ErrorCode"], "ProvisionedThroughputExceededException");
    assert_eq!(
        rejected[0]["ErrorMessage"],
        "Rate exceeded for shard shardId-000000000000 in stream t under account 000000000000."
    );
    assert!(rejected[0].get("SequenceNumber").is_none());
    let big = STANDARD.encode(vec![b'x'; 4096]);
    let (kind, message) =
        k.error("PutRecord", json!({"StreamName": "t", "PartitionKey": "p", "Data": big})).await;
    assert_eq!(kind, "ProvisionedThroughputExceededException");
    assert_eq!(
        message,
        "Rate exceeded for shard shardId-000000000000 in stream t under account 000000000000."
    );
    k.clock.advance(Duration::from_secs(1));
    let retry: Vec<Value> = entries.iter().zip(0..).filter(|(e, _)| e.get("ErrorCode").is_some()).map(|(_, i)| json!({"PartitionKey": format!("k{i}"), "Data": STANDARD.encode(vec![b'x'; 4096])})).collect();
    let again = k.ok("PutRecords", json!({"StreamName": "t", "Records": retry})).await;
    assert_eq!(again["FailedRecordCount"], 0);
}

#[tokio::test]
async fn bad_requests_get_the_documented_errors() {
    let k = fixture();
    let (kind, message) = k.error("CreateStream", json!({"ShardCount": 0})).await;
    assert_eq!(kind, "ValidationException");
    assert_eq!(
        message,
        "2 validation errors detected: Value null at 'streamName' failed to satisfy constraint: Member must not be null; \
         Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1"
    );
    let (kind, message) = k
        .error(
            "PutRecords",
            json!({"StreamName": "alleycat", "Records": [{"Data": data("x"), "PartitionKey": ""}]}),
        )
        .await;
    assert_eq!(kind, "ValidationException");
    assert!(message.contains("at 'records.1.member.partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1"), "{message}");
    let (kind, _) = k
        .error("PutRecord", json!({"StreamName": "nope", "PartitionKey": "p", "Data": data("x")}))
        .await;
    assert_eq!(kind, "ResourceNotFoundException");
    let (kind, _) = k
        .error("PutRecord", json!({"StreamName": "alleycat", "PartitionKey": "p", "Data": "***"}))
        .await;
    assert_eq!(kind, "SerializationException");
    let (kind, message) = k.error("GetShardIterator", json!({"StreamName": "alleycat", "ShardId": "shardId-000000000009", "ShardIteratorType": "LATEST"})).await;
    assert_eq!((kind.as_str(), message.as_str()), ("ResourceNotFoundException", "Shard shardId-000000000009 in stream alleycat under account 000000000000 does not exist"));
    let (kind, message) = k.error("GetShardIterator", json!({"StreamName": "alleycat", "ShardId": "shardId-000000000000", "ShardIteratorType": "SOMEWHERE"})).await;
    assert_eq!(kind, "ValidationException");
    assert!(message.ends_with("Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, AT_SEQUENCE_NUMBER, AT_TIMESTAMP, TRIM_HORIZON, LATEST]"), "{message}");
    let (kind, _) = k.error("GetShardIterator", json!({"StreamName": "alleycat", "ShardId": "shardId-000000000000", "ShardIteratorType": "AT_SEQUENCE_NUMBER"})).await;
    assert_eq!(kind, "InvalidArgumentException");
    let (kind, _) = k.error("GetShardIterator", json!({"StreamName": "alleycat", "ShardId": "shardId-000000000000", "ShardIteratorType": "AT_TIMESTAMP"})).await;
    assert_eq!(kind, "InvalidArgumentException");
    let (kind, _) = k.error("GetShardIterator", json!({"StreamName": "alleycat", "ShardId": "shardId-000000000000", "ShardIteratorType": "AT_SEQUENCE_NUMBER", "StartingSequenceNumber": "99"})).await;
    assert_eq!(kind, "InvalidArgumentException");
    let (kind, _) = k.error("GetRecords", json!({"ShardIterator": "x", "Limit": 10001})).await;
    assert_eq!(kind, "ValidationException");
    let (kind, _) = k.error("Frobnicate", json!({})).await;
    assert_eq!(kind, "UnknownOperationException");
    let (status, answer) = k.raw(None, "application/x-amz-json-1.1", b"{}".to_vec()).await;
    assert_eq!((status, answer["__type"].as_str()), (400, Some("UnknownOperationException")));
    let (status, answer) = k
        .raw(Some("Kinesis_20131202.ListStreams"), "application/x-amz-json-1.1", b"{".to_vec())
        .await;
    assert_eq!((status, answer["__type"].as_str()), (400, Some("SerializationException")));
    let (status, _) =
        k.raw(Some("Kinesis_20131202.ListStreams"), "text/plain", b"{}".to_vec()).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_pipeline_streams_retention_is_the_servers_setting_and_is_refused_a_change() {
    let k = fixture();
    let (kind, message) = k
        .error(
            "IncreaseStreamRetentionPeriod",
            json!({"StreamName": "alleycat", "RetentionPeriodHours": 48}),
        )
        .await;
    assert_eq!(kind, "ResourceInUseException");
    assert!(message.contains("--retention-hours (24 hours); change it there"), "{message}");
    // Asking for the retention it already has changes nothing, and is answered as such.
    k.ok(
        "DecreaseStreamRetentionPeriod",
        json!({"StreamName": "alleycat", "RetentionPeriodHours": 24}),
    )
    .await;
    let summary = k.ok("DescribeStreamSummary", json!({"StreamName": "alleycat"})).await;
    assert_eq!(summary["StreamDescriptionSummary"]["RetentionPeriodHours"], 24);
}

#[tokio::test]
async fn retention_and_tags_change_as_kinesis_allows() {
    let k = fixture();
    k.ok("CreateStream", json!({"StreamName": "r", "ShardCount": 1})).await;
    k.ok("IncreaseStreamRetentionPeriod", json!({"StreamName": "r", "RetentionPeriodHours": 72}))
        .await;
    let hours = |d: Value| d["StreamDescriptionSummary"]["RetentionPeriodHours"].as_u64().unwrap();
    assert_eq!(hours(k.ok("DescribeStreamSummary", json!({"StreamName": "r"})).await), 72);
    let (kind, message) = k
        .error(
            "IncreaseStreamRetentionPeriod",
            json!({"StreamName": "r", "RetentionPeriodHours": 48}),
        )
        .await;
    assert_eq!(kind, "InvalidArgumentException");
    assert!(
        message.contains("can not be shorter than existing retention period (72 hours)"),
        "{message}"
    );
    k.ok("DecreaseStreamRetentionPeriod", json!({"StreamName": "r", "RetentionPeriodHours": 24}))
        .await;
    let (kind, message) = k
        .error(
            "DecreaseStreamRetentionPeriod",
            json!({"StreamName": "r", "RetentionPeriodHours": 12}),
        )
        .await;
    assert_eq!(kind, "InvalidArgumentException");
    assert!(message.starts_with("Minimum allowed retention period is 24 hours."), "{message}");
    // The stream still works after its engine was reopened with the new retention.
    k.ok("PutRecord", json!({"StreamName": "r", "PartitionKey": "p", "Data": data("x")})).await;

    k.ok("AddTagsToStream", json!({"StreamName": "r", "Tags": {"b": "2", "a": "1", "c": ""}}))
        .await;
    let tags = k.ok("ListTagsForStream", json!({"StreamName": "r", "Limit": 2})).await;
    assert_eq!(tags["Tags"], json!([{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]));
    assert_eq!(tags["HasMoreTags"], true);
    let rest =
        k.ok("ListTagsForStream", json!({"StreamName": "r", "ExclusiveStartTagKey": "b"})).await;
    assert_eq!(rest["Tags"], json!([{"Key": "c", "Value": ""}]));
    k.ok("RemoveTagsFromStream", json!({"StreamName": "r", "TagKeys": ["a", "zzz"]})).await;
    let tags = k.ok("ListTagsForStream", json!({"StreamName": "r"})).await;
    assert_eq!(tags["Tags"].as_array().unwrap().len(), 2);
    assert_eq!(tags["HasMoreTags"], false);
}

#[tokio::test]
async fn unsigned_foreign_and_forged_requests_are_refused_with_kinesis_errors() {
    let k = fixture();
    let name = "Kinesis_20131202.ListStreams";
    let target = Some(name);
    let json = "application/x-amz-json-1.1";
    let unsigned = Request::post("/")
        .header("content-type", json)
        .header("x-amz-target", name)
        .body(Body::from("{}"))
        .unwrap();
    let (status, answer) = k.send(unsigned).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer,
        json!({"__type": "MissingAuthenticationTokenException", "message": "Missing Authentication Token"})
    );
    let stranger = Credentials { access_key_id: "AKIDOTHER".into(), ..credentials() };
    let (status, answer) = k.signed_as(&stranger, target, json, b"{}".to_vec()).await;
    assert_eq!((status, answer["__type"].as_str()), (400, Some("UnrecognizedClientException")));
    let forger = Credentials { secret_access_key: "guess".into(), ..credentials() };
    let (status, answer) = k.signed_as(&forger, target, json, b"{}".to_vec()).await;
    assert_eq!((status, answer["__type"].as_str()), (400, Some("InvalidSignatureException")));
    // A signature made ten minutes ago is outside the allowed skew.
    let mut old = Request::post("/")
        .header("content-type", json)
        .header("host", "localhost")
        .header("x-amz-target", name)
        .body(Body::from("{}"))
        .unwrap();
    let (method, uri) = (old.method().clone(), old.uri().clone());
    sigv4::sign(
        &credentials(),
        "us-east-1",
        &method,
        &uri,
        old.headers_mut(),
        b"{}",
        START_MS - 600_000,
    );
    let (status, answer) = k.send(old).await;
    assert_eq!((status, answer["__type"].as_str()), (400, Some("InvalidSignatureException")));
    assert!(answer["message"].as_str().unwrap().starts_with("Signature expired: "), "{answer}");
}

fn cbor_map(entries: &[(&str, Cbor)]) -> Cbor {
    Cbor::Map(entries.iter().map(|(k, v)| (Cbor::Text((*k).to_owned()), v.clone())).collect())
}

fn field<'a>(map: &'a Cbor, name: &str) -> &'a Cbor {
    map.as_map()
        .and_then(|m| m.iter().find(|(k, _)| k.as_text() == Some(name)))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {name} in {map:?}"))
}

#[tokio::test]
async fn the_cbor_protocol_carries_data_as_bytes_and_timestamps_under_tag_1() {
    let k = fixture();
    let text = |s: &str| Cbor::Text(s.to_owned());
    let (status, content_type, _) = k
        .cbor(
            "CreateStream",
            &cbor_map(&[("StreamName", text("c")), ("ShardCount", Cbor::Integer(1.into()))]),
        )
        .await;
    assert_eq!((status, content_type.as_str()), (200, "application/x-amz-cbor-1.1"));
    let binary = vec![0u8, 0xff, b'b', b'i', b'n'];
    let put = cbor_map(&[
        ("StreamName", text("c")),
        ("PartitionKey", text("p")),
        ("Data", Cbor::Bytes(binary.clone())),
    ]);
    let (status, _, answer) = k.cbor("PutRecord", &put).await;
    assert_eq!(status, 200, "{answer:?}");
    assert_eq!(field(&answer, "ShardId"), &text("shardId-000000000000"));

    // AT_TIMESTAMP with the timestamp as SDKs send it in CBOR: tag 1 over epoch seconds, as an
    // integer or a float.
    for stamp in [Cbor::Integer((START_MS / 1000).into()), Cbor::Float(START_MS as f64 / 1000.0)] {
        let request = cbor_map(&[
            ("StreamName", text("c")),
            ("ShardId", text("shardId-000000000000")),
            ("ShardIteratorType", text("AT_TIMESTAMP")),
            ("Timestamp", Cbor::Tag(1, Box::new(stamp))),
        ]);
        let (status, _, iterator) = k.cbor("GetShardIterator", &request).await;
        assert_eq!(status, 200, "{iterator:?}");
        let read = cbor_map(&[("ShardIterator", field(&iterator, "ShardIterator").clone())]);
        let (status, _, records) = k.cbor("GetRecords", &read).await;
        assert_eq!(status, 200, "{records:?}");
        let record = &field(&records, "Records").as_array().unwrap()[0];
        assert_eq!(field(record, "Data"), &Cbor::Bytes(binary.clone()));
        assert_eq!(
            field(record, "ApproximateArrivalTimestamp"),
            &Cbor::Tag(1, Box::new(Cbor::Float(START_MS as f64 / 1000.0)))
        );
        assert_eq!(field(&records, "MillisBehindLatest"), &Cbor::Integer(0.into()));
    }

    let (status, _, summary) =
        k.cbor("DescribeStreamSummary", &cbor_map(&[("StreamName", text("c"))])).await;
    assert_eq!(status, 200, "{summary:?}");
    let summary = field(&summary, "StreamDescriptionSummary");
    assert_eq!(field(summary, "StreamName"), &text("c"));
    assert!(matches!(field(summary, "StreamCreationTimestamp"), Cbor::Tag(1, _)));

    let (status, content_type, error) =
        k.cbor("GetRecords", &cbor_map(&[("ShardIterator", text("bm9wZQ=="))])).await;
    assert_eq!((status, content_type.as_str()), (400, "application/x-amz-cbor-1.1"));
    assert_eq!(field(&error, "__type"), &text("InvalidArgumentException"));
    assert_eq!(field(&error, "message"), &text("Invalid ShardIterator."));
    let (status, _, error) = k.cbor("PutRecord", &cbor_map(&[("StreamName", text("c"))])).await;
    assert_eq!(status, 400);
    assert_eq!(field(&error, "__type"), &text("ValidationException"));
}
