//! SubscribeToShard delivery latency: the time from sending a PutRecord to the subscriber
//! receiving the record in a SubscribeToShardEvent.
//!
//! ```sh
//! cargo bench -p alleycat-kinesis --bench subscribe_latency -- --endpoint http://127.0.0.1:4567 \
//!     [--records 2000] [--rate 200] [--label alleycat]
//! ```
//!
//! Creates a one-shard stream, registers a consumer, subscribes from LATEST over HTTP/1.1, then
//! puts `--records` single records at `--rate` a second, each carrying the microsecond it was
//! sent, and reads them back from the event stream (the stream and the consumer awaited ACTIVE
//! first: ferrokinesis creates both asynchronously). Prints one JSON line: records received,
//! p50/p99/max latency in ms. Alleycat acknowledges a put only once durable, so its figure
//! includes the fsync. `scripts/bench-kinesis.sh` runs it against Alleycat and ferrokinesis.
#![allow(missing_docs, clippy::print_stdout)]

mod support;

use std::time::{Duration, Instant};

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use base64::Engine as _;
use serde_json::{json, Value};
use support::{arg, now_ms, percentile, Client};

/// How long the reader waits for the last record after the last put.
const DRAIN: Duration = Duration::from_secs(30);
/// How long a stream or consumer may stay CREATING.
const ACTIVE_WITHIN: Duration = Duration::from_secs(30);

/// Calls `action` until the status at `pointer` in its answer is ACTIVE (within
/// [`ACTIVE_WITHIN`]); the last answer.
async fn wait_active(client: &Client, action: &str, request: Value, pointer: &str) -> Value {
    let deadline = Instant::now() + ACTIVE_WITHIN;
    loop {
        let answer = client.call(action, request.to_string().into_bytes()).await.expect(action);
        if answer.pointer(pointer).and_then(Value::as_str) == Some("ACTIVE") {
            return answer;
        }
        assert!(Instant::now() < deadline, "{action}: not ACTIVE within {ACTIVE_WITHIN:?}");
        tokio::time::sleep(Duration::from_millis(50)).await; // polling the status, with a deadline
    }
}

#[tokio::main]
async fn main() {
    let Some(endpoint) = arg("--endpoint") else {
        println!(
            "usage: subscribe_latency --endpoint http://HOST:PORT [--records 2000] [--rate 200]"
        );
        return;
    };
    let records: usize = arg("--records").and_then(|s| s.parse().ok()).unwrap_or(2000);
    let rate: u64 = arg("--rate").and_then(|s| s.parse().ok()).unwrap_or(200);
    let label = arg("--label").unwrap_or_else(|| "endpoint".into());
    let client = Client::new(endpoint);
    let stream = format!("bench-subscribe-{}", now_ms());
    let body = |v: Value| v.to_string().into_bytes();
    client
        .call("CreateStream", body(json!({"StreamName": stream, "ShardCount": 1})))
        .await
        .expect("CreateStream");
    let summary = wait_active(
        &client,
        "DescribeStreamSummary",
        json!({"StreamName": stream}),
        "/StreamDescriptionSummary/StreamStatus",
    )
    .await;
    let arn =
        summary["StreamDescriptionSummary"]["StreamARN"].as_str().expect("a stream ARN").to_owned();
    let consumer = client
        .call("RegisterStreamConsumer", body(json!({"StreamARN": arn, "ConsumerName": "bench"})))
        .await
        .expect("RegisterStreamConsumer")["Consumer"]["ConsumerARN"]
        .as_str()
        .expect("a consumer ARN")
        .to_owned();
    // ferrokinesis registers a consumer as CREATING for half a second; Alleycat at once.
    wait_active(
        &client,
        "DescribeStreamConsumer",
        json!({"ConsumerARN": consumer}),
        "/ConsumerDescription/ConsumerStatus",
    )
    .await;
    let subscribe = json!({"ConsumerARN": consumer, "ShardId": "shardId-000000000000", "StartingPosition": {"Type": "LATEST"}});
    let mut response =
        client.send("SubscribeToShard", body(subscribe)).await.expect("SubscribeToShard");
    assert!(response.status().is_success(), "SubscribeToShard: {}", response.status());

    let epoch = Instant::now();
    let reader = tokio::spawn(async move {
        let (mut decoder, mut buffer) = (MessageFrameDecoder::new(), bytes::BytesMut::new());
        let mut latencies = Vec::with_capacity(records);
        let b64 = base64::engine::general_purpose::STANDARD;
        while latencies.len() < records {
            match decoder.decode_frame(&mut buffer).expect("an event-stream frame") {
                // An event without a payload (Alleycat's initial-response) carries no records.
                DecodedFrame::Complete(message) if message.payload().is_empty() => {}
                DecodedFrame::Complete(message) => {
                    let event: Value = serde_json::from_slice(message.payload()).expect("JSON");
                    let now = epoch.elapsed().as_micros() as f64;
                    for record in event["Records"].as_array().into_iter().flatten() {
                        let data =
                            b64.decode(record["Data"].as_str().expect("Data")).expect("base64");
                        let sent: f64 =
                            String::from_utf8_lossy(&data).parse().expect("a sent time");
                        latencies.push((now - sent) / 1000.0);
                    }
                }
                DecodedFrame::Incomplete => match response.chunk().await.expect("the event stream")
                {
                    Some(chunk) => buffer.extend_from_slice(&chunk),
                    None => break,
                },
            }
        }
        latencies
    });

    let mut pace = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    for _ in 0..records {
        pace.tick().await;
        let sent = epoch.elapsed().as_micros().to_string();
        let put = json!({"StreamName": stream, "PartitionKey": "p", "Data": base64::engine::general_purpose::STANDARD.encode(sent)});
        client.call("PutRecord", body(put)).await.expect("PutRecord");
    }
    let mut latencies = tokio::time::timeout(DRAIN, reader)
        .await
        .expect("every record delivered in time")
        .expect("reader");
    latencies.sort_by(f64::total_cmp);
    let round = |ms: f64| (ms * 100.0).round() / 100.0;
    let line = json!({
        "label": label, "bench": "subscribe_latency", "records": latencies.len(), "rate": rate,
        "p50_ms": round(percentile(&latencies, 0.5)), "p99_ms": round(percentile(&latencies, 0.99)),
        "max_ms": round(latencies.last().copied().unwrap_or(f64::NAN)),
    });
    println!("{line}");
    let _ = client
        .call("DeleteStream", body(json!({"StreamName": stream, "EnforceConsumerDeletion": true})))
        .await;
}
