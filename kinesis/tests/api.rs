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
    service: Arc<Kinesis>,
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
    let service =
        Arc::new(Kinesis::new(Arc::new(registry), Arc::new(clock.clone()), credentials()));
    Fixture { app: alleycat_kinesis::router(service.clone()), service, clock, pipeline, _dir: dir }
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
    // Each broken member is named by its record's place in the list, from 1.
    let records = json!([
        {"Data": data("x"), "PartitionKey": "p"},
        {"Data": data("x"), "ExplicitHashKey": "01"},
    ]);
    let (kind, message) =
        k.error("PutRecords", json!({"StreamName": "alleycat", "Records": records})).await;
    assert_eq!(kind, "ValidationException");
    assert_eq!(
        message,
        "2 validation errors detected: Value null at 'records.2.member.partitionKey' failed to satisfy constraint: Member must not be null; \
         Value '01' at 'records.2.member.explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})"
    );
    let (kind, message) =
        k.error("PutRecord", json!({"StreamName": "alleycat", "Data": data("x")})).await;
    assert_eq!(kind, "ValidationException");
    assert!(message.contains("Value null at 'partitionKey' failed"), "{message}");
    let (kind, _) = k
        .error("PutRecord", json!({"StreamName": "nope", "PartitionKey": "p", "Data": data("x")}))
        .await;
    assert_eq!(kind, "ResourceNotFoundException");
    let (kind, message) = k
        .error("PutRecord", json!({"StreamName": "alleycat", "PartitionKey": "p", "Data": "***"}))
        .await;
    assert_eq!(kind, "SerializationException");
    assert!(message.contains("'***' can not be converted to a Blob: Invalid symbol"), "{message}");
    // Non-canonical base64 (the last character's unused bits set) is refused too.
    let (kind, _) = k
        .error("PutRecord", json!({"StreamName": "alleycat", "PartitionKey": "p", "Data": "aGj="}))
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

const STREAM_ARN: &str = "arn:aws:kinesis:us-east-1:000000000000:stream/";

#[tokio::test]
async fn stream_settings_change_and_are_reported_as_kinesis_reports_them() {
    let k = fixture();
    k.ok("CreateStream", json!({"StreamName": "s", "ShardCount": 1})).await;
    let on = k
        .ok("EnableEnhancedMonitoring", json!({"StreamName": "s", "ShardLevelMetrics": ["ALL"]}))
        .await;
    assert_eq!(on["CurrentShardLevelMetrics"], json!([]));
    assert_eq!(on["DesiredShardLevelMetrics"].as_array().unwrap().len(), 7);
    assert_eq!(on["StreamARN"], format!("{STREAM_ARN}s"));
    let off = k
        .ok(
            "DisableEnhancedMonitoring",
            json!({"StreamARN": format!("{STREAM_ARN}s"), "ShardLevelMetrics": ["IncomingBytes", "OutgoingBytes"]}),
        )
        .await;
    assert_eq!(off["DesiredShardLevelMetrics"].as_array().unwrap().len(), 5);
    let described = k.ok("DescribeStream", json!({"StreamName": "s"})).await;
    let metrics = &described["StreamDescription"]["EnhancedMonitoring"][0]["ShardLevelMetrics"];
    assert_eq!(metrics.as_array().unwrap().len(), 5);
    assert!(!metrics.as_array().unwrap().contains(&json!("IncomingBytes")));

    k.ok(
        "StartStreamEncryption",
        json!({"StreamName": "s", "EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}),
    )
    .await;
    let summary = k.ok("DescribeStreamSummary", json!({"StreamName": "s"})).await;
    let summary = &summary["StreamDescriptionSummary"];
    assert_eq!(
        (summary["EncryptionType"].as_str(), summary["KeyId"].as_str()),
        (Some("KMS"), Some("alias/aws/kinesis"))
    );
    let put =
        k.ok("PutRecord", json!({"StreamName": "s", "PartitionKey": "p", "Data": data("x")})).await;
    assert_eq!(put["EncryptionType"], "KMS");
    k.ok(
        "StopStreamEncryption",
        json!({"StreamName": "s", "EncryptionType": "KMS", "KeyId": "alias/aws/kinesis"}),
    )
    .await;
    let put = k
        .ok(
            "PutRecords",
            json!({"StreamName": "s", "Records": [{"PartitionKey": "p", "Data": data("x")}]}),
        )
        .await;
    assert_eq!(put["EncryptionType"], "NONE");
    let (kind, _) = k
        .error(
            "StopStreamEncryption",
            json!({"StreamName": "s", "EncryptionType": "KMS", "KeyId": "k"}),
        )
        .await;
    assert_eq!(kind, "InvalidArgumentException");

    let (kind, _) = k
        .error("UpdateStreamWarmThroughput", json!({"StreamName": "s", "WarmThroughputMiBps": 100}))
        .await;
    assert_eq!(kind, "InvalidArgumentException", "warm throughput is for ON_DEMAND streams");
    k.ok("UpdateStreamMode", json!({"StreamARN": format!("{STREAM_ARN}s"), "StreamModeDetails": {"StreamMode": "ON_DEMAND"}})).await;
    let warm = k
        .ok("UpdateStreamWarmThroughput", json!({"StreamName": "s", "WarmThroughputMiBps": 100}))
        .await;
    assert_eq!(warm["WarmThroughput"], json!({"TargetMiBps": 100, "CurrentMiBps": 100}));
    let summary = k.ok("DescribeStreamSummary", json!({"StreamName": "s"})).await;
    let summary = &summary["StreamDescriptionSummary"];
    assert_eq!(summary["StreamModeDetails"]["StreamMode"], "ON_DEMAND");
    assert_eq!(summary["WarmThroughput"]["TargetMiBps"], 100);
    assert_eq!(summary["MaxRecordSizeInKiB"], 1024);

    k.ok(
        "UpdateMaxRecordSize",
        json!({"StreamARN": format!("{STREAM_ARN}s"), "MaxRecordSizeInKiB": 1024}),
    )
    .await;
    let (kind, message) = k
        .error(
            "UpdateMaxRecordSize",
            json!({"StreamARN": format!("{STREAM_ARN}s"), "MaxRecordSizeInKiB": 2048}),
        )
        .await;
    assert_eq!(kind, "InvalidArgumentException");
    assert!(message.contains("up to 1024 KiB"), "{message}");
}

#[tokio::test]
async fn account_limits_and_the_billing_commitment_answer_as_kinesis() {
    let k = fixture();
    k.ok("CreateStream", json!({"StreamName": "p", "ShardCount": 3})).await;
    k.ok(
        "CreateStream",
        json!({"StreamName": "o", "StreamModeDetails": {"StreamMode": "ON_DEMAND"}}),
    )
    .await;
    let limits = k.ok("DescribeLimits", json!({})).await;
    assert_eq!(
        limits,
        json!({"ShardLimit": 1024, "OpenShardCount": 2 + 3 + 4, "OnDemandStreamCount": 1, "OnDemandStreamCountLimit": 50})
    );
    let settings = k.ok("DescribeAccountSettings", json!({})).await;
    assert_eq!(settings, json!({"MinimumThroughputBillingCommitment": {"Status": "DISABLED"}}));
    let on = k
        .ok(
            "UpdateAccountSettings",
            json!({"MinimumThroughputBillingCommitment": {"Status": "ENABLED"}}),
        )
        .await;
    let commitment = &on["MinimumThroughputBillingCommitment"];
    assert_eq!(commitment["Status"], "ENABLED");
    assert_eq!(commitment["StartedAt"].as_f64().unwrap(), START_MS as f64 / 1000.0);
    k.clock.advance(Duration::from_secs(3600));
    let off = k
        .ok(
            "UpdateAccountSettings",
            json!({"MinimumThroughputBillingCommitment": {"Status": "DISABLED"}}),
        )
        .await;
    let commitment = &off["MinimumThroughputBillingCommitment"];
    assert_eq!(commitment["Status"], "ENABLED_UNTIL_EARLIEST_ALLOWED_END");
    assert_eq!(
        commitment["EndedAt"].as_f64().unwrap(),
        (START_MS + 24 * 3_600_000) as f64 / 1000.0
    );
    k.clock.advance(Duration::from_secs(24 * 3600));
    let later = k.ok("DescribeAccountSettings", json!({})).await;
    assert_eq!(later["MinimumThroughputBillingCommitment"]["Status"], "DISABLED");
    let (kind, message) = k
        .error(
            "UpdateAccountSettings",
            json!({"MinimumThroughputBillingCommitment": {"Status": "MAYBE"}}),
        )
        .await;
    assert_eq!(kind, "ValidationException");
    assert!(
        message.ends_with("Member must satisfy enum value set: [ENABLED, DISABLED]"),
        "{message}"
    );
}

#[tokio::test]
async fn tags_and_policies_attach_to_streams_and_consumers_by_arn() {
    let k = fixture();
    k.ok("CreateStream", json!({"StreamName": "t", "ShardCount": 1, "Tags": {"team": "red"}}))
        .await;
    let stream = format!("{STREAM_ARN}t");
    k.ok("TagResource", json!({"ResourceARN": stream, "Tags": {"env": "test"}})).await;
    let tags = k.ok("ListTagsForResource", json!({"ResourceARN": stream})).await;
    assert_eq!(
        tags["Tags"],
        json!([{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "red"}])
    );
    let old_style = k.ok("ListTagsForStream", json!({"StreamName": "t"})).await;
    assert_eq!(old_style["Tags"], tags["Tags"]);
    k.ok("UntagResource", json!({"ResourceARN": stream, "TagKeys": ["team"]})).await;
    let tags = k.ok("ListTagsForResource", json!({"ResourceARN": stream})).await;
    assert_eq!(tags["Tags"], json!([{"Key": "env", "Value": "test"}]));

    let consumer = k
        .ok(
            "RegisterStreamConsumer",
            json!({"StreamARN": stream, "ConsumerName": "c", "Tags": {"app": "kcl"}}),
        )
        .await["Consumer"]["ConsumerARN"]
        .as_str()
        .unwrap()
        .to_owned();
    k.ok("TagResource", json!({"ResourceARN": consumer, "Tags": {"tier": "1"}})).await;
    let tags = k.ok("ListTagsForResource", json!({"ResourceARN": consumer})).await;
    assert_eq!(
        tags["Tags"],
        json!([{"Key": "app", "Value": "kcl"}, {"Key": "tier", "Value": "1"}])
    );

    let policy = r#"{"Version":"2012-10-17","Statement":[]}"#;
    for arn in [&stream, &consumer] {
        assert_eq!(k.ok("GetResourcePolicy", json!({"ResourceARN": arn})).await["Policy"], "{}");
        k.ok("PutResourcePolicy", json!({"ResourceARN": arn, "Policy": policy})).await;
        assert_eq!(k.ok("GetResourcePolicy", json!({"ResourceARN": arn})).await["Policy"], policy);
        k.ok("DeleteResourcePolicy", json!({"ResourceARN": arn})).await;
        assert_eq!(k.ok("GetResourcePolicy", json!({"ResourceARN": arn})).await["Policy"], "{}");
    }
    let (kind, _) =
        k.error("PutResourcePolicy", json!({"ResourceARN": stream, "Policy": "not json"})).await;
    assert_eq!(kind, "InvalidArgumentException");
    let (kind, message) =
        k.error("ListTagsForResource", json!({"ResourceARN": format!("{STREAM_ARN}nope")})).await;
    assert_eq!(
        (kind.as_str(), message.as_str()),
        ("ResourceNotFoundException", "Stream nope under account 000000000000 not found.")
    );
    let (kind, _) =
        k.error("GetResourcePolicy", json!({"ResourceARN": format!("{consumer}9")})).await;
    assert_eq!(kind, "ResourceNotFoundException", "another registration time is another consumer");
    let many: serde_json::Map<String, Value> =
        (0..50).map(|i| (format!("k{i}"), json!("v"))).collect();
    let (kind, _) = k.error("TagResource", json!({"ResourceARN": stream, "Tags": many})).await;
    assert_eq!(kind, "InvalidArgumentException", "50 more tags would exceed 50 per resource");
}

#[tokio::test]
async fn the_new_actions_validate_their_input_as_the_api_reference_says() {
    let k = fixture();
    let (kind, message) =
        k.error("TagResource", json!({"ResourceARN": "arn:aws:s3:::bucket"})).await;
    assert_eq!(kind, "ValidationException");
    assert_eq!(
        message,
        "2 validation errors detected: Value 'arn:aws:s3:::bucket' at 'resourceARN' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: arn:aws.*:kinesis:.*:\\d{12}:.*stream/\\S+; \
         Value null at 'tags' failed to satisfy constraint: Member must not be null"
    );
    let (kind, message) = k
        .error(
            "EnableEnhancedMonitoring",
            json!({"StreamName": "alleycat", "ShardLevelMetrics": ["Everything"]}),
        )
        .await;
    assert_eq!(kind, "ValidationException");
    assert!(message.contains("at 'shardLevelMetrics.1.member' failed to satisfy constraint: Member must satisfy enum value set: [IncomingBytes,"), "{message}");
    let (kind, message) = k.error("StartStreamEncryption", json!({"StreamName": "alleycat"})).await;
    assert_eq!(kind, "ValidationException");
    assert!(
        message.starts_with("2 validation errors detected: Value null at 'encryptionType'"),
        "{message}"
    );
    let (kind, _) = k
        .error(
            "StartStreamEncryption",
            json!({"StreamName": "alleycat", "EncryptionType": "NONE", "KeyId": "k"}),
        )
        .await;
    assert_eq!(kind, "InvalidArgumentException");
    let (kind, message) =
        k.error("UpdateStreamMode", json!({"StreamModeDetails": {"StreamMode": "FAST"}})).await;
    assert_eq!(kind, "ValidationException");
    assert!(
        message.contains("Value null at 'streamARN'")
            && message.contains("enum value set: [PROVISIONED, ON_DEMAND]"),
        "{message}"
    );
    let (kind, message) = k
        .error(
            "UpdateMaxRecordSize",
            json!({"StreamARN": format!("{STREAM_ARN}alleycat"), "MaxRecordSizeInKiB": 99999}),
        )
        .await;
    assert_eq!(kind, "ValidationException");
    assert!(message.ends_with("Member must have value less than or equal to 10240"), "{message}");
    let (kind, _) = k
        .error(
            "UpdateStreamWarmThroughput",
            json!({"StreamName": "alleycat", "WarmThroughputMiBps": -1}),
        )
        .await;
    assert_eq!(kind, "ValidationException");
    let (kind, message) = k
        .error("RegisterStreamConsumer", json!({"StreamARN": "alleycat", "ConsumerName": "a b"}))
        .await;
    assert_eq!(kind, "ValidationException");
    assert!(
        message.starts_with("2 validation errors detected: Value 'alleycat' at 'streamARN'"),
        "{message}"
    );
    let (kind, _) = k.error("DescribeStreamConsumer", json!({"ConsumerName": "c"})).await;
    assert_eq!(kind, "InvalidArgumentException");
    let (kind, _) = k
        .error(
            "ListStreamConsumers",
            json!({"StreamARN": format!("{STREAM_ARN}alleycat"), "MaxResults": 0}),
        )
        .await;
    assert_eq!(kind, "ValidationException");
    let (kind, _) =
        k.error("PutResourcePolicy", json!({"ResourceARN": format!("{STREAM_ARN}alleycat")})).await;
    assert_eq!(kind, "ValidationException");
    let (kind, _) = k.error("UpdateAccountSettings", json!({})).await;
    assert_eq!(kind, "ValidationException");
}

#[tokio::test]
async fn consumers_are_registered_listed_described_and_deregistered() {
    let k = fixture();
    k.ok("CreateStream", json!({"StreamName": "f", "ShardCount": 1})).await;
    let stream = format!("{STREAM_ARN}f");
    let registered =
        k.ok("RegisterStreamConsumer", json!({"StreamARN": stream, "ConsumerName": "b"})).await;
    let consumer = &registered["Consumer"];
    assert_eq!(consumer["ConsumerStatus"], "CREATING");
    let arn = format!("{stream}/consumer/b:{}", START_MS / 1000);
    assert_eq!(consumer["ConsumerARN"], arn);
    k.ok("RegisterStreamConsumer", json!({"StreamARN": stream, "ConsumerName": "a"})).await;
    let described = k.ok("DescribeStreamConsumer", json!({"ConsumerARN": arn})).await;
    let d = &described["ConsumerDescription"];
    assert_eq!(
        (d["ConsumerName"].as_str(), d["ConsumerStatus"].as_str()),
        (Some("b"), Some("ACTIVE"))
    );
    assert_eq!(d["StreamARN"], stream);
    let by_name =
        k.ok("DescribeStreamConsumer", json!({"StreamARN": stream, "ConsumerName": "b"})).await;
    assert_eq!(by_name["ConsumerDescription"]["ConsumerARN"], arn);
    let (kind, _) =
        k.error("RegisterStreamConsumer", json!({"StreamARN": stream, "ConsumerName": "b"})).await;
    assert_eq!(kind, "ResourceInUseException");

    let first = k.ok("ListStreamConsumers", json!({"StreamARN": stream, "MaxResults": 1})).await;
    assert_eq!(first["Consumers"][0]["ConsumerName"], "a");
    let token = first["NextToken"].as_str().unwrap();
    let rest = k.ok("ListStreamConsumers", json!({"StreamARN": stream, "NextToken": token})).await;
    assert_eq!(rest["Consumers"][0]["ConsumerName"], "b");
    assert!(rest.get("NextToken").is_none());
    let summary = k.ok("DescribeStreamSummary", json!({"StreamName": "f"})).await;
    assert_eq!(summary["StreamDescriptionSummary"]["ConsumerCount"], 2);

    let (kind, _) = k.error("DeleteStream", json!({"StreamName": "f"})).await;
    assert_eq!(
        kind, "ResourceInUseException",
        "a stream with consumers needs EnforceConsumerDeletion"
    );
    k.ok("DeregisterStreamConsumer", json!({"ConsumerARN": arn})).await;
    let (kind, _) = k.error("DescribeStreamConsumer", json!({"ConsumerARN": arn})).await;
    assert_eq!(kind, "ResourceNotFoundException");
    k.ok("DeregisterStreamConsumer", json!({"StreamARN": stream, "ConsumerName": "a"})).await;
    let listed = k.ok("ListStreamConsumers", json!({"StreamARN": stream})).await;
    assert_eq!(listed["Consumers"], json!([]));

    for i in 0..20 {
        k.ok(
            "RegisterStreamConsumer",
            json!({"StreamARN": stream, "ConsumerName": format!("c{i}")}),
        )
        .await;
    }
    let (kind, _) = k
        .error(
            "RegisterStreamConsumer",
            json!({"StreamARN": stream, "ConsumerName": "one-too-many"}),
        )
        .await;
    assert_eq!(kind, "LimitExceededException");
    k.ok("DeleteStream", json!({"StreamName": "f", "EnforceConsumerDeletion": true})).await;
}

/// A SubscribeToShard answer, read one event-stream message at a time.
struct Events {
    body: Body,
    decoder: aws_smithy_eventstream::frame::MessageFrameDecoder,
    buffer: bytes::BytesMut,
}

/// How long a test waits for the next message.
const EVENT_DEADLINE: Duration = Duration::from_secs(10);

impl Events {
    /// The next message; `None` once the body ended.
    async fn next(&mut self) -> Option<aws_smithy_types::event_stream::Message> {
        use aws_smithy_eventstream::frame::DecodedFrame;
        loop {
            if let DecodedFrame::Complete(message) =
                self.decoder.decode_frame(&mut self.buffer).unwrap()
            {
                return Some(message);
            }
            let frame = tokio::time::timeout(EVENT_DEADLINE, self.body.frame())
                .await
                .expect("no event in time")?;
            self.buffer.extend_from_slice(&frame.unwrap().into_data().unwrap());
        }
    }

    /// The next message: its `:event-type` (or `:exception-type`) and its JSON payload.
    async fn event(&mut self) -> Option<(String, Value)> {
        let message = self.next().await?;
        let kind = message
            .headers()
            .iter()
            .find(|h| matches!(h.name().as_str(), ":event-type" | ":exception-type"))
            .map(|h| h.value().as_string().unwrap().as_str().to_owned())
            .unwrap();
        Some((kind, serde_json::from_slice(message.payload()).unwrap()))
    }
}

impl Fixture {
    /// Registers consumer `name` on stream `stream`; its ARN.
    async fn consumer(&self, stream: &str, name: &str) -> String {
        let registered = self
            .ok(
                "RegisterStreamConsumer",
                json!({"StreamARN": format!("{STREAM_ARN}{stream}"), "ConsumerName": name}),
            )
            .await;
        registered["Consumer"]["ConsumerARN"].as_str().unwrap().to_owned()
    }

    /// Subscribes; the answer's status and, when 200, its events (else the error body).
    async fn subscribe(
        &self,
        consumer: &str,
        shard: &str,
        position: Value,
    ) -> Result<Events, (u16, Value)> {
        let body = json!({"ConsumerARN": consumer, "ShardId": shard, "StartingPosition": position});
        let request = self.signed(
            &credentials(),
            Some("Kinesis_20131202.SubscribeToShard"),
            "application/x-amz-json-1.1",
            serde_json::to_vec(&body).unwrap(),
        );
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        if status != 200 {
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            return Err((status, serde_json::from_slice(&bytes).unwrap()));
        }
        assert_eq!(response.headers()["content-type"], "application/vnd.amazon.eventstream");
        let mut events = Events {
            body: response.into_body(),
            decoder: Default::default(),
            buffer: Default::default(),
        };
        let (kind, payload) = events.event().await.unwrap();
        assert_eq!((kind.as_str(), payload), ("initial-response", json!({})));
        Ok(events)
    }
}

#[tokio::test]
async fn a_subscriber_is_pushed_records_put_after_it_subscribed_and_resumes_after_its_continuation()
{
    let k = fixture();
    k.ok("CreateStream", json!({"StreamName": "e", "ShardCount": 1})).await;
    let consumer = k.consumer("e", "reader").await;
    let mut events =
        k.subscribe(&consumer, "shardId-000000000000", json!({"Type": "LATEST"})).await.unwrap();
    let (kind, first) = events.event().await.unwrap();
    assert_eq!(kind, "SubscribeToShardEvent");
    assert_eq!(first["Records"], json!([]));
    assert_eq!(first["MillisBehindLatest"], 0);
    let before_any = first["ContinuationSequenceNumber"].as_str().unwrap().to_owned();

    let put = |text: &'static str| {
        k.ok("PutRecord", json!({"StreamName": "e", "PartitionKey": "p", "Data": data(text)}))
    };
    put("one").await;
    // Pushed as it arrives, well before the next heartbeat would be due.
    let pushed = tokio::time::timeout(alleycat_kinesis::subscribe::HEARTBEAT / 2, events.event());
    let (_, event) = pushed.await.expect("the record was not pushed at once").unwrap();
    assert_eq!(texts(&event["Records"]), ["one"]);
    let after_one = event["ContinuationSequenceNumber"].as_str().unwrap().to_owned();
    assert_eq!(after_one, event["Records"][0]["SequenceNumber"].as_str().unwrap());
    put("two").await;
    put("three").await;
    drop(events);

    // A new subscription (after the five seconds a takeover waits) resumes exactly after "one".
    k.clock.advance(Duration::from_millis(5_001));
    let mut resumed = k
        .subscribe(
            &consumer,
            "shardId-000000000000",
            json!({"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after_one}),
        )
        .await
        .unwrap();
    let (_, event) = resumed.event().await.unwrap();
    assert_eq!(texts(&event["Records"]), ["two", "three"]);
    drop(resumed);
    // From the continuation given before any record: everything.
    k.clock.advance(Duration::from_millis(5_001));
    let mut all = k
        .subscribe(
            &consumer,
            "shardId-000000000000",
            json!({"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": before_any}),
        )
        .await
        .unwrap();
    let (_, event) = all.event().await.unwrap();
    assert_eq!(texts(&event["Records"]), ["one", "two", "three"]);
}

#[tokio::test]
async fn a_second_subscription_within_five_seconds_is_refused_and_a_later_one_takes_over() {
    let k = fixture();
    let consumer = k.consumer("alleycat", "twice").await;
    let mut first = k
        .subscribe(&consumer, "shardId-000000000001", json!({"Type": "TRIM_HORIZON"}))
        .await
        .unwrap();
    first.event().await.unwrap();
    k.clock.advance(Duration::from_millis(4_999));
    let (status, error) = k
        .subscribe(&consumer, "shardId-000000000001", json!({"Type": "TRIM_HORIZON"}))
        .await
        .err()
        .unwrap();
    assert_eq!((status, error["__type"].as_str()), (400, Some("ResourceInUseException")));
    // Another shard is another subscription.
    k.subscribe(&consumer, "shardId-000000000000", json!({"Type": "LATEST"})).await.unwrap();
    k.clock.advance(Duration::from_millis(1));
    let _second =
        k.subscribe(&consumer, "shardId-000000000001", json!({"Type": "LATEST"})).await.unwrap();
    let (kind, payload) = first.event().await.unwrap();
    assert_eq!(kind, "ResourceInUseException");
    assert!(payload["message"].as_str().unwrap().contains("took over"), "{payload}");
    assert!(first.next().await.is_none(), "the older subscription ends after its exception");
}

#[tokio::test(start_paused = true)]
async fn a_subscription_ends_after_five_minutes() {
    let k = fixture();
    let consumer = k.consumer("alleycat", "patient").await;
    let started = tokio::time::Instant::now();
    let mut events =
        k.subscribe(&consumer, "shardId-000000000000", json!({"Type": "LATEST"})).await.unwrap();
    let mut heartbeats = 0;
    while let Some(message) = events.next().await {
        assert!(
            message.payload().starts_with(b"{\"Records\":[]"),
            "only empty events on an idle shard"
        );
        heartbeats += 1;
    }
    let lasted = started.elapsed();
    assert!(lasted >= Duration::from_secs(300) && lasted < Duration::from_secs(301), "{lasted:?}");
    assert!((60..=62).contains(&heartbeats), "an event at least every five seconds: {heartbeats}");
}

#[tokio::test]
async fn bad_subscriptions_get_the_documented_errors() {
    let k = fixture();
    let consumer = k.consumer("alleycat", "c").await;
    let error = |r: Result<Events, (u16, Value)>| {
        let (status, body) = r.err().expect("should fail");
        assert_eq!(status, 400);
        (body["__type"].as_str().unwrap().to_owned(), body["message"].as_str().unwrap().to_owned())
    };
    let (kind, message) = error(
        k.subscribe(&format!("{consumer}0"), "shardId-000000000000", json!({"Type": "LATEST"}))
            .await,
    );
    assert_eq!(kind, "ResourceNotFoundException");
    assert!(message.starts_with("Consumer arn:aws:kinesis"), "{message}");
    let (kind, _) =
        error(k.subscribe(&consumer, "shardId-000000000007", json!({"Type": "LATEST"})).await);
    assert_eq!(kind, "ResourceNotFoundException");
    let (kind, message) =
        error(k.subscribe(&consumer, "shardId-000000000000", json!({"Type": "SOON"})).await);
    assert_eq!(kind, "ValidationException");
    assert!(message.contains("at 'startingPosition.type'"), "{message}");
    let (kind, _) = error(
        k.subscribe(&consumer, "shardId-000000000000", json!({"Type": "AT_SEQUENCE_NUMBER"})).await,
    );
    assert_eq!(kind, "InvalidArgumentException");
    let (kind, message) = error(
        k.subscribe(
            "arn:aws:kinesis:us-east-1:000000000000:stream/alleycat",
            "shardId-000000000000",
            json!({"Type": "LATEST"}),
        )
        .await,
    );
    assert_eq!(kind, "ValidationException");
    assert!(message.contains("at 'consumerARN'"), "{message}");
}

#[tokio::test]
async fn shutting_the_service_down_ends_its_subscriptions_at_once() {
    let k = fixture();
    let consumer = k.consumer("alleycat", "until-shutdown").await;
    let mut events =
        k.subscribe(&consumer, "shardId-000000000000", json!({"Type": "LATEST"})).await.unwrap();
    events.event().await.unwrap();
    k.service.shutdown();
    // Well before the next heartbeat: a graceful shutdown must not wait for subscriptions.
    let ended = tokio::time::timeout(alleycat_kinesis::subscribe::HEARTBEAT / 2, events.next());
    assert!(ended.await.expect("the subscription did not end").is_none());
}

const S0: &str = "shardId-000000000000";
const S1: &str = "shardId-000000000001";
const S2: &str = "shardId-000000000002";
const S3: &str = "shardId-000000000003";

fn shard_ids(listed: &Value) -> Vec<String> {
    listed["Shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["ShardId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_split_closes_the_parent_whose_reader_ends_with_its_children() {
    let k = fixture();
    k.ok("CreateStream", json!({"StreamName": "r", "ShardCount": 1})).await;
    let put = |key: &'static str, text: &'static str| {
        k.ok("PutRecord", json!({"StreamName": "r", "PartitionKey": key, "Data": data(text)}))
    };
    put("a", "before").await;
    let middle = (1u128 << 127).to_string();
    k.ok(
        "SplitShard",
        json!({"StreamName": "r", "ShardToSplit": S0, "NewStartingHashKey": middle}),
    )
    .await;
    let after = put("a", "after").await;
    assert_ne!(after["ShardId"], S0, "the closed parent takes no records");

    let described = k.ok("DescribeStream", json!({"StreamName": "r"})).await;
    let shards = &described["StreamDescription"]["Shards"];
    assert_eq!(described["StreamDescription"]["StreamStatus"], "ACTIVE");
    assert_eq!(shards.as_array().unwrap().len(), 3);
    let parent_end = shards[0]["SequenceNumberRange"]["EndingSequenceNumber"].as_str().unwrap();
    assert_eq!(parent_end, "0");
    assert_eq!(shards[1]["ParentShardId"], S0);
    assert_eq!(shards[2]["HashKeyRange"]["StartingHashKey"], middle.as_str());
    assert!(shards[1]["SequenceNumberRange"].get("EndingSequenceNumber").is_none());
    let summary = k.ok("DescribeStreamSummary", json!({"StreamName": "r"})).await;
    assert_eq!(summary["StreamDescriptionSummary"]["OpenShardCount"], 2);

    // The parent's reader gets its record, then no NextShardIterator but its children.
    let iterator = k.iterator("r", S0, "TRIM_HORIZON", json!({})).await;
    let page = k.ok("GetRecords", json!({"ShardIterator": iterator})).await;
    assert_eq!(texts(&page["Records"]), ["before"]);
    assert!(page.get("NextShardIterator").is_none(), "{page}");
    assert_eq!(page["ChildShards"][0]["ShardId"], S1);
    assert_eq!(page["ChildShards"][1]["ParentShards"], json!([S0]));
    assert_eq!(page["ChildShards"][1]["HashKeyRange"]["StartingHashKey"], middle.as_str());

    // A subscriber of the parent gets its records, then its children, and the end.
    let consumer = k.consumer("r", "reader").await;
    let mut events = k.subscribe(&consumer, S0, json!({"Type": "TRIM_HORIZON"})).await.unwrap();
    let (_, event) = events.event().await.unwrap();
    assert_eq!(texts(&event["Records"]), ["before"]);
    assert_eq!(event["ChildShards"][0]["ShardId"], S1);
    assert!(event.get("ContinuationSequenceNumber").is_none());
    assert!(events.event().await.is_none(), "the subscription ends at the shard's end");
}

#[tokio::test]
async fn merges_and_shard_count_updates_reshape_the_open_shards() {
    let k = fixture();
    k.ok("CreateStream", json!({"StreamName": "m", "ShardCount": 3})).await;
    k.ok("MergeShards", json!({"StreamName": "m", "ShardToMerge": S1, "AdjacentShardToMerge": S2}))
        .await;
    let listed = k.ok("ListShards", json!({"StreamName": "m"})).await;
    assert_eq!(shard_ids(&listed), [S0, S1, S2, S3]);
    assert_eq!(listed["Shards"][3]["ParentShardId"], S1);
    assert_eq!(listed["Shards"][3]["AdjacentParentShardId"], S2);
    let open =
        k.ok("ListShards", json!({"StreamName": "m", "ShardFilter": {"Type": "AT_LATEST"}})).await;
    assert_eq!(shard_ids(&open), [S0, S3]);

    let updated = k
        .ok(
            "UpdateShardCount",
            json!({"StreamName": "m", "TargetShardCount": 4, "ScalingType": "UNIFORM_SCALING"}),
        )
        .await;
    assert_eq!(
        (updated["CurrentShardCount"].as_u64(), updated["TargetShardCount"].as_u64()),
        (Some(2), Some(4))
    );
    let open =
        k.ok("ListShards", json!({"StreamName": "m", "ShardFilter": {"Type": "AT_LATEST"}})).await;
    assert_eq!(open["Shards"].as_array().unwrap().len(), 4);
    let summary = k.ok("DescribeStreamSummary", json!({"StreamName": "m"})).await;
    assert_eq!(summary["StreamDescriptionSummary"]["OpenShardCount"], 4);

    // ShardFilter: after a shard id, paged with the filter kept in the token; at a time.
    let after = k
        .ok(
            "ListShards",
            json!({"StreamName": "m", "MaxResults": 2, "ShardFilter": {"Type": "AFTER_SHARD_ID", "ShardId": S2}}),
        )
        .await;
    assert_eq!(shard_ids(&after), [S3, "shardId-000000000004"]);
    let rest = k.ok("ListShards", json!({"NextToken": after["NextToken"]})).await;
    assert!(shard_ids(&rest).iter().all(|id| id.as_str() > S2));
    let at_start = k
        .ok(
            "ListShards",
            json!({"StreamName": "m", "ShardFilter": {"Type": "AT_TIMESTAMP", "Timestamp": START_MS as f64 / 1000.0 - 1.0}}),
        )
        .await;
    assert!(shard_ids(&at_start).is_empty(), "no shard was open before the stream: {at_start}");
    let from = k
        .ok("ListShards", json!({"StreamName": "m", "ShardFilter": {"Type": "FROM_TIMESTAMP", "Timestamp": START_MS / 1000}}))
        .await;
    assert_eq!(
        shard_ids(&from).len(),
        shard_ids(&k.ok("ListShards", json!({"StreamName": "m"})).await).len()
    );
    let trim = k
        .ok("ListShards", json!({"StreamName": "m", "ShardFilter": {"Type": "AT_TRIM_HORIZON"}}))
        .await;
    assert!(shard_ids(&trim).is_empty(), "the stream is younger than its retention");
}

#[tokio::test]
async fn the_resharding_actions_answer_bad_requests_as_the_api_reference_says() {
    let k = fixture();
    k.ok("CreateStream", json!({"StreamName": "v", "ShardCount": 2})).await;
    let (kind, message) = k.error("SplitShard", json!({"StreamName": "v"})).await;
    assert_eq!(kind, "ValidationException");
    assert_eq!(
        message,
        "2 validation errors detected: Value null at 'shardToSplit' failed to satisfy constraint: \
         Member must not be null; Value null at 'newStartingHashKey' failed to satisfy constraint: \
         Member must not be null"
    );
    let (kind, _) = k
        .error(
            "SplitShard",
            json!({"StreamName": "v", "ShardToSplit": S0, "NewStartingHashKey": "01"}),
        )
        .await;
    assert_eq!(kind, "ValidationException");
    let (kind, message) = k
        .error(
            "SplitShard",
            json!({"StreamName": "v", "ShardToSplit": S0, "NewStartingHashKey": "1"}),
        )
        .await;
    assert_eq!(kind, "InvalidArgumentException");
    assert!(
        message.contains("is not both greater than one plus the shard's StartingHashKey 0"),
        "{message}"
    );
    let (kind, message) = k
        .error("SplitShard", json!({"StreamName": "v", "ShardToSplit": "shardId-000000000009", "NewStartingHashKey": "100"}))
        .await;
    assert_eq!(kind, "ResourceNotFoundException");
    assert_eq!(
        message,
        "Could not find shard shardId-000000000009 in stream v under account 000000000000."
    );
    let (kind, _) = k
        .error(
            "SplitShard",
            json!({"StreamName": "nope", "ShardToSplit": S0, "NewStartingHashKey": "100"}),
        )
        .await;
    assert_eq!(kind, "ResourceNotFoundException");
    k.ok("SplitShard", json!({"StreamName": "v", "ShardToSplit": S0, "NewStartingHashKey": "100"}))
        .await;
    let (kind, message) = k
        .error(
            "SplitShard",
            json!({"StreamName": "v", "ShardToSplit": S0, "NewStartingHashKey": "50"}),
        )
        .await;
    assert_eq!(kind, "ResourceInUseException");
    assert!(message.ends_with(
        "has already been merged or split, and thus is not eligible for merging or splitting."
    ));

    let (kind, _) = k.error("MergeShards", json!({"StreamName": "v", "ShardToMerge": S1})).await;
    assert_eq!(kind, "ValidationException");
    let (kind, message) = k
        .error(
            "MergeShards",
            json!({"StreamName": "v", "ShardToMerge": S2, "AdjacentShardToMerge": S1}),
        )
        .await;
    assert_eq!(kind, "InvalidArgumentException");
    assert_eq!(
        message,
        format!("Shards {S2} and {S1} in stream v under account 000000000000 are not an adjacent pair of shards eligible for merging")
    );
    let (kind, _) = k
        .error(
            "MergeShards",
            json!({"StreamName": "v", "ShardToMerge": S0, "AdjacentShardToMerge": S3}),
        )
        .await;
    assert_eq!(kind, "ResourceInUseException");

    let (kind, message) = k
        .error(
            "UpdateShardCount",
            json!({"StreamName": "v", "TargetShardCount": 0, "ScalingType": "FAST"}),
        )
        .await;
    assert_eq!(kind, "ValidationException");
    assert!(
        message.contains("Member must have value greater than or equal to 1")
            && message.contains("enum value set: [UNIFORM_SCALING]"),
        "{message}"
    );
    for target in [7, 1] {
        let (kind, _) = k
            .error("UpdateShardCount", json!({"StreamName": "v", "TargetShardCount": target, "ScalingType": "UNIFORM_SCALING"}))
            .await;
        assert_eq!(kind, "LimitExceededException", "3 open shards to {target}");
    }
    for _ in 0..alleycat_kinesis::reshard::MAX_SCALINGS_PER_DAY {
        k.ok(
            "UpdateShardCount",
            json!({"StreamName": "v", "TargetShardCount": 3, "ScalingType": "UNIFORM_SCALING"}),
        )
        .await;
    }
    let (kind, _) = k
        .error(
            "UpdateShardCount",
            json!({"StreamName": "v", "TargetShardCount": 3, "ScalingType": "UNIFORM_SCALING"}),
        )
        .await;
    assert_eq!(kind, "LimitExceededException", "ten scalings a rolling day");
    k.clock.advance(Duration::from_secs(24 * 3600));
    k.ok(
        "UpdateShardCount",
        json!({"StreamName": "v", "TargetShardCount": 3, "ScalingType": "UNIFORM_SCALING"}),
    )
    .await;

    let (kind, _) = k
        .error("ListShards", json!({"StreamName": "v", "ShardFilter": {"Type": "SOMETIMES"}}))
        .await;
    assert_eq!(kind, "ValidationException");
    for filter in [
        json!({"Type": "AFTER_SHARD_ID"}),
        json!({"Type": "AT_LATEST", "ShardId": S0}),
        json!({"Type": "AT_TIMESTAMP"}),
        json!({"Type": "AT_LATEST", "Timestamp": 1}),
    ] {
        let (kind, _) =
            k.error("ListShards", json!({"StreamName": "v", "ShardFilter": filter})).await;
        assert_eq!(kind, "InvalidArgumentException", "{filter}");
    }
}

#[tokio::test]
async fn the_pipeline_stream_reshards_through_update_shard_count() {
    let k = fixture();
    k.ok(
        "UpdateShardCount",
        json!({"StreamName": "alleycat", "TargetShardCount": 4, "ScalingType": "UNIFORM_SCALING"}),
    )
    .await;
    assert_eq!(k.pipeline.shards().iter().filter(|s| s.is_open()).count(), 4);
    assert_eq!(k.pipeline.shards().len(), 6);
}
