//! HTTP ingest benchmark: `POST /api/events` against a real server in this process.
//!
//! ```sh
//! cargo bench -p alleycat-server --bench ingest -- [--seconds 10] [--connections 8] [--paced-racers 1000]
//! ```
//!
//! Two workloads on a fresh data directory (defaults: 4 shards, durable stream, delivery and
//! merge running), in this order:
//! 1. paced: `--paced-racers` racers each sending one event a second for `--seconds` (one
//!    request per racer per second, spread over the second), acknowledgement latency p50/p99
//!    and the process's CPU use per second of wall time (server and client together);
//! 2. saturation: `--connections` keep-alive clients each posting 500-event batches as fast as
//!    acknowledgements come back (backfill of an old race, with the API key); events/s
//!    acknowledged and batch latency p50/p99.
#![allow(missing_docs, clippy::print_stdout)]

use std::time::{Duration, Instant};

use alleycat_domain::{EventKind, RaceClock, RacerEvent};
use alleycat_server::ServeConfig;
use serde_json::json;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.windows(2).find(|w| w[0] == name).and_then(|w| w[1].parse().ok()).unwrap_or(default)
}

fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 =
        fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    ticks / 100.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn event(race: u64, racer: u64, second: u32) -> RacerEvent {
    RacerEvent {
        uuid: uuid::Uuid::new_v4(),
        event: EventKind::Update,
        device_timestamp: alleycat_server::now_ms(),
        second,
        race_id: race,
        racer_id: racer,
        class_id: (racer % 6 + 1) as u8,
        cadence: 70.0 + (racer % 20) as f64,
        resistance: 40.0 + (second % 30) as f64,
    }
}

#[tokio::main]
async fn main() {
    let seconds = arg("--seconds", 10);
    let connections = arg("--connections", 8);
    let paced = arg("--paced-racers", 1000);
    let data = tempfile::tempdir().unwrap();
    let config = ServeConfig {
        port: 0,
        data_dir: data.path().to_owned(),
        dist: data.path().join("no-dist"),
        api_key: Some("bench".into()),
        delivery_interval_ms: 1000,
        ..ServeConfig::default()
    };
    let clock = RaceClock::new(config.race_seconds);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(alleycat_server::run(listener, config.clone(), async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder().pool_max_idle_per_host(1024).build().unwrap();
    // One request that queues until the server is up, so start-up is outside every timing.
    client.get(format!("{base}/healthz")).send().await.unwrap();

    // 1. Paced (first, on a quiet server): racers of the current race, one event a second each, spread over the second.
    let tokens: Vec<String> = (1..=paced).map(|_| "bench".to_owned()).collect();
    let cpu_before = cpu_seconds();
    let paced_started = Instant::now();
    let mut handles = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let (client, base) = (client.clone(), base.clone());
        let offset = Duration::from_micros(1_000_000 * i as u64 / paced.max(1));
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut tick = tokio::time::interval_at(
                tokio::time::Instant::now() + offset,
                Duration::from_secs(1),
            );
            for _ in 0..seconds {
                tick.tick().await;
                let now = alleycat_server::now_ms();
                let e = event(clock.race_at(now), 100_000 + i as u64, clock.second_at(now));
                let t = Instant::now();
                let response = client
                    .post(format!("{base}/api/events"))
                    .bearer_auth(&token)
                    .json(&json!({ "events": [e] }))
                    .send()
                    .await
                    .unwrap();
                let _ = response.bytes().await;
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for handle in handles {
        latencies.extend(handle.await.unwrap());
    }
    let wall = paced_started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    latencies.sort_by(f64::total_cmp);
    println!(
        "paced: {paced} racers x 1 event/s for {seconds} s, ack p50 {:.2} ms, p99 {:.2} ms, process CPU {:.1}% of one core (server and client together)",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        100.0 * cpu / wall
    );
    // 2. Saturation: backfill of a race long past (no duplicate tracking, no clock limit).
    let race = clock.race_at(alleycat_server::now_ms()) - 1000;
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|worker| {
            let (client, base) = (client.clone(), base.clone());
            tokio::spawn(async move {
                let (mut acked, mut latencies, mut batch) = (0u64, Vec::new(), 0u64);
                while Instant::now() < deadline {
                    let racer_base = (worker * 1_000_000 + batch * 500) / 300;
                    let events: Vec<_> = (0..500u64)
                        .map(|i| {
                            event(
                                race,
                                1 + racer_base + i / 300,
                                1 + ((batch * 500 + i) % 300) as u32,
                            )
                        })
                        .collect();
                    let t = Instant::now();
                    let body: serde_json::Value = client
                        .post(format!("{base}/api/events"))
                        .bearer_auth("bench")
                        .json(&json!({ "events": events }))
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                    acked += 500 - body["failedRecordCount"].as_u64().unwrap_or(500);
                    batch += 1;
                }
                (acked, latencies)
            })
        })
        .collect();
    let (mut acked, mut latencies) = (0u64, Vec::new());
    for worker in workers {
        let (a, l) = worker.await.unwrap();
        acked += a;
        latencies.extend(l);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    println!(
        "saturation: {connections} connections, {:.0} events/s acknowledged ({} in {elapsed:.1} s), batch p50 {:.1} ms, p99 {:.1} ms",
        acked as f64 / elapsed,
        acked,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
