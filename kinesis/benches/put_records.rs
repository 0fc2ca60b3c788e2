//! PutRecords throughput through the Kinesis JSON protocol from a light Rust client, so that
//! the figure is the server's and not the client's (the JavaScript SDK spends about a core on
//! 130,000 records/s of signing, JSON and base64 on this machine).
//!
//! ```sh
//! cargo bench -p alleycat-kinesis --bench put_records -- --endpoint http://127.0.0.1:4567 \
//!     [--seconds 10] [--concurrency 1,8,32] [--shards 4] [--label alleycat]
//! ```
//!
//! Each call is 500 racer events of about 200 bytes (as `tests/kinesis/js/bench.mjs` sends),
//! signed with SigV4 like an SDK signs it, over HTTP/1.1 keep-alive connections, one per
//! concurrent call. Prints one JSON line per concurrency: records/s acknowledged and p50/p99 call
//! latency. Credentials: `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (the server's defaults
//! otherwise). `scripts/bench-kinesis.sh` runs it against Alleycat and kinesalite in one run.
#![allow(missing_docs, clippy::print_stdout)]

mod support;

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use base64::Engine as _;
use serde_json::{json, Value};
use support::{arg, now_ms, percentile, Client};

const RECORDS_PER_CALL: u64 = 500;

/// One call's body: 500 events for racers after `n`, as the app would send them.
fn put_records_body(stream: &str, n: u64) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let records: Vec<Value> = (0..RECORDS_PER_CALL)
        .map(|i| {
            let racer = 1 + (n * RECORDS_PER_CALL + i) % 40_000;
            let event = json!({
                "uuid": uuid::Uuid::new_v4(), "event": "update", "deviceTimestamp": now_ms(),
                "second": 1 + n % 300, "raceId": 6_000_000u64, "racerId": racer,
                "classId": 1 + racer % 6, "cadence": 80.5, "resistance": 55.25,
            });
            json!({ "PartitionKey": racer.to_string(), "Data": b64.encode(event.to_string()) })
        })
        .collect();
    serde_json::to_vec(&json!({ "StreamName": stream, "Records": records })).expect("JSON")
}

async fn run(client: Arc<Client>, stream: &str, concurrency: usize, seconds: u64, label: &str) {
    let end = Instant::now() + Duration::from_secs(seconds);
    let counter = Arc::new(AtomicU64::new(1));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, counter, stream) = (client.clone(), counter.clone(), stream.to_owned());
            tokio::spawn(async move {
                let (mut latencies, mut ok, mut failed) = (Vec::new(), 0u64, 0u64);
                while Instant::now() < end {
                    let body = put_records_body(&stream, counter.fetch_add(1, Ordering::Relaxed));
                    let sent = Instant::now();
                    let answer = client.call("PutRecords", body).await.expect("PutRecords");
                    latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
                    let failures = answer["FailedRecordCount"].as_u64().unwrap_or(0);
                    failed += failures;
                    ok += RECORDS_PER_CALL - failures;
                }
                (latencies, ok, failed)
            })
        })
        .collect();
    let (mut latencies, mut ok, mut failed) = (Vec::new(), 0, 0);
    for worker in workers {
        let (l, o, f) = worker.await.expect("worker");
        latencies.extend(l);
        ok += o;
        failed += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let line = json!({
        "label": label, "client": "rust", "concurrency": concurrency,
        "seconds": (elapsed * 100.0).round() / 100.0, "calls": latencies.len(),
        "records_per_s": (ok as f64 / elapsed).round(), "failed": failed,
        "p50_ms": (percentile(&latencies, 0.5) * 10.0).round() / 10.0,
        "p99_ms": (percentile(&latencies, 0.99) * 10.0).round() / 10.0,
    });
    println!("{line}");
}

#[tokio::main]
async fn main() {
    let Some(endpoint) = arg("--endpoint") else {
        println!(
            "usage: put_records --endpoint http://HOST:PORT [--seconds 10] [--concurrency 1,8,32]"
        );
        return;
    };
    let seconds = arg("--seconds").and_then(|s| s.parse().ok()).unwrap_or(10);
    let shards: u32 = arg("--shards").and_then(|s| s.parse().ok()).unwrap_or(4);
    let label = arg("--label").unwrap_or_else(|| "endpoint".into());
    let concurrency = arg("--concurrency").unwrap_or_else(|| "1,8,32".into());
    let client = Arc::new(Client::new(endpoint));
    let stream = format!("bench-rust-{}", now_ms());
    let create = json!({ "StreamName": stream, "ShardCount": shards }).to_string().into_bytes();
    client.call("CreateStream", create).await.expect("CreateStream");
    // kinesalite creates streams asynchronously; Alleycat's are ACTIVE at once.
    let describe = json!({ "StreamName": stream }).to_string().into_bytes();
    for attempt in 0.. {
        let summary =
            client.call("DescribeStreamSummary", describe.clone()).await.expect("Describe");
        if summary["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE" {
            break;
        }
        assert!(attempt < 100, "stream {stream} never became ACTIVE");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // One warm-up call, so connection set-up is not timed.
    client.call("PutRecords", put_records_body(&stream, 0)).await.expect("warm-up");
    for c in concurrency.split(',').filter_map(|c| c.parse().ok()) {
        run(client.clone(), &stream, c, seconds, &label).await;
    }
}
