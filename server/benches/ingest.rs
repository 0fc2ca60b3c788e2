//! HTTP ingest benchmark: `POST /api/events` against the real `alleycat` binary, run as its own
//! process so that its CPU time is measured apart from the load generator's.
//!
//! ```sh
//! cargo bench -p alleycat-server --bench ingest -- [--seconds 10] [--connections 8] \
//!     [--paced-racers 1000] [--live-clients 6] [--delivery-interval-ms 60000] \
//!     [--skip-paced] [--skip-saturation] [--nats | --stream nats://host:port[,host:port...]]
//! # or against a server already running (e.g. under `perf record`), with its pid for CPU:
//! cargo bench -p alleycat-server --bench ingest -- --url http://127.0.0.1:3000 --pid 1234 \
//!     --api-key KEY
//! ```
//! (the paced racers are people created by the bench from one address: start that server with
//! `--racer-creations-per-hour` at least `--paced-racers`).
//!
//! By default the bench starts `target/release/alleycat` (the binary built with the bench) on
//! a fresh data directory with the defaults (4 shards, durable stream, delivery and merge
//! running, delivery's interval hint at its 60 s default unless `--delivery-interval-ms` says
//! otherwise), on a free port, and stops it with SIGTERM at the end. Two workloads, in this
//! order:
//! 1. paced: `--paced-racers` people's racers (created with `POST /api/racers`), each with their
//!    own racer token, each sending one event a
//!    second of the current race for `--seconds` (one request per racer per second, spread
//!    evenly over the second), while `--live-clients` WebSocket clients watch the here-now
//!    board; acknowledgement latency p50/p99, and the **server process's** CPU time
//!    (utime + stime from `/proc/<pid>/stat`) per second of wall time;
//! 2. saturation: `--connections` keep-alive clients each posting 500-event batches as fast as
//!    acknowledgements come back (backfill of an old race, with the API key); events/s
//!    acknowledged, batch latency p50/p99, and both processes' CPU.
//!
//! With `--nats` the server's stream is a JetStream stream (three replicas) on a three-node
//! NATS cluster that the bench starts on loopback (`alleycat-testkit`, Debian's
//! `nats-server`); with `--stream nats://…`, on a cluster already running (e.g.
//! `scripts/nats-cluster.sh start`). Either way the stream gets a fresh name per run. The NATS
//! nodes' CPU is not in the server's figure.
//!
//! Every line also gives the load average (`/proc/loadavg`) when it was measured.
#![allow(missing_docs, clippy::print_stdout)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::{
    fmt::Write as _,
    process::Child,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use alleycat_domain::{Clock, RaceClock, SystemClock};
use alleycat_server::config::DEFAULT_DELIVERY_INTERVAL_MS;
use futures::StreamExt;
use serde::Deserialize;

fn args() -> Vec<String> {
    std::env::args().collect()
}

fn arg(name: &str, default: u64) -> u64 {
    args().windows(2).find(|w| w[0] == name).and_then(|w| w[1].parse().ok()).unwrap_or(default)
}

fn arg_str(name: &str) -> Option<String> {
    args().windows(2).find(|w| w[0] == name).map(|w| w[1].clone())
}

fn flag(name: &str) -> bool {
    args().iter().any(|a| a == name)
}

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`.
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3 (state); utime
    // and stime are fields 14 and 15, in clock ticks (100 a second on Linux).
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 =
        fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    ticks / 100.0
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// One event as JSON, written directly (the load generator should cost as little as it can).
fn write_event(out: &mut String, race: u64, racer: u64, second: u32, now: u64) {
    let uuid = uuid::Uuid::from_u128(
        (u128::from(race) << 80) ^ (u128::from(racer) << 16) ^ u128::from(second),
    );
    let _ = write!(
        out,
        r#"{{"uuid":"{}","event":"update","deviceTimestamp":{now},"second":{second},"raceId":{race},"racerId":{racer},"classId":{},"cadence":{}.5,"resistance":{}}}"#,
        uuid.hyphenated(),
        racer % 6 + 1,
        70 + racer % 20,
        40 + second % 30,
    );
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    failed_record_count: u64,
}

/// The server under test: its base URL, its pid, and the child process if we started it.
struct Server {
    base: String,
    pid: String,
    child: Option<Child>,
    _data: Option<tempfile::TempDir>,
}

fn start_server(api_key: &str, delivery_interval_ms: &str, stream: Option<&str>) -> Server {
    let data = tempfile::tempdir().unwrap();
    let dist = data.path().join("no-dist");
    let stream_name = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let mut env = vec![
        ("ALLEYCAT_DATA_DIR", data.path().as_os_str()),
        ("ALLEYCAT_DIST", dist.as_os_str()),
        ("ALLEYCAT_API_KEY", api_key.as_ref()),
        ("ALLEYCAT_DELIVERY_INTERVAL_MS", delivery_interval_ms.as_ref()),
        // Every paced racer is a person created from this one address.
        ("ALLEYCAT_RACER_CREATIONS_PER_HOUR", "1000000".as_ref()),
    ];
    if let Some(stream) = stream {
        env.push(("ALLEYCAT_STREAM", stream.as_ref()));
        env.push(("ALLEYCAT_JETSTREAM_STREAM", stream_name.as_ref()));
    }
    let (child, base) = support::spawn_binary(&env);
    Server { base, pid: child.id().to_string(), child: Some(child), _data: Some(data) }
}

/// CPU used by the server and by this process over a window.
struct CpuWindow {
    server_pid: String,
    server: f64,
    own: f64,
    started: Instant,
}

impl CpuWindow {
    fn start(server_pid: &str) -> Self {
        Self {
            server_pid: server_pid.to_owned(),
            server: cpu_seconds(server_pid),
            own: cpu_seconds("self"),
            started: Instant::now(),
        }
    }

    /// (wall seconds, server % of one core, load generator % of one core)
    fn finish(&self) -> (f64, f64, f64) {
        let wall = self.started.elapsed().as_secs_f64();
        let server = cpu_seconds(&self.server_pid) - self.server;
        let own = cpu_seconds("self") - self.own;
        (wall, 100.0 * server / wall, 100.0 * own / wall)
    }
}

/// The server's race clock.
async fn server_clock(client: &reqwest::Client, server: &Server) -> RaceClock {
    let url = format!("{}/api/config", server.base);
    let config: alleycat_domain::api::ConfigResponse =
        client.get(url).send().await.unwrap().json().await.unwrap();
    config.clock()
}

/// Posts one `{"events": [...]}` body; returns the time to the answer in ms and how many events
/// it refused.
async fn post(client: &reqwest::Client, url: &str, credential: &str, body: String) -> (f64, u64) {
    let started = Instant::now();
    let response = client
        .post(url)
        .bearer_auth(credential)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let answer: Answer = response.json().await.unwrap();
    (started.elapsed().as_secs_f64() * 1000.0, answer.failed_record_count)
}

async fn paced(client: &reqwest::Client, server: &Server, racers: u64, seconds: u64, live: u64) {
    let clock = server_clock(client, server).await;
    // Each paced racer is a person with their own racer, as a rider in a browser is.
    let mut tokens = Vec::new();
    for n in 1..=racers {
        let session: alleycat_domain::api::SessionResponse = client
            .post(format!("{}/api/racers", server.base))
            .json(&serde_json::json!({ "name": format!("Bench Racer {n}") }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens.push((session.racer.id, session.token));
    }
    // Watchers of the here-now board, one per class (round robin).
    let received = Arc::new(AtomicU64::new(0));
    let ws_base = server.base.replace("http://", "ws://");
    let mut watchers = Vec::new();
    for i in 0..live {
        let url = format!("{ws_base}/api/live?classId={}", i % 6 + 1);
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        let received = received.clone();
        watchers.push(tokio::spawn(async move {
            while let Some(Ok(_)) = socket.next().await {
                received.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    let window = CpuWindow::start(&server.pid);
    let mut handles = Vec::new();
    for (i, (racer, token)) in tokens.into_iter().enumerate() {
        let (client, url) = (client.clone(), format!("{}/api/events", server.base));
        let offset = Duration::from_micros(1_000_000 * i as u64 / racers.max(1));
        handles.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut tick = tokio::time::interval_at(
                tokio::time::Instant::now() + offset,
                Duration::from_secs(1),
            );
            // A late tick (a busy machine) must not fire twice in a row: a racer sends once a
            // second, and a burst would be refused by the per-racer rate.
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let (mut refused, mut last) = (0u64, None);
            for _ in 0..seconds {
                tick.tick().await;
                let now = SystemClock.now_ms();
                let race = clock.race_at(now);
                // The clock's second, but never one already sent (ticks jitter around the
                // second's edge), as a real device counts its seconds.
                let second = match last {
                    Some((r, s)) if r == race => clock.second_at(now).max(s + 1),
                    _ => clock.second_at(now),
                };
                last = Some((race, second));
                let mut body = String::from(r#"{"events":["#);
                write_event(&mut body, race, racer, second, now);
                body.push_str("]}");
                let (latency, failed) = post(&client, &url, &token, body).await;
                latencies.push(latency);
                refused += failed;
            }
            (latencies, refused)
        }));
    }
    let (mut latencies, mut refused) = (Vec::new(), 0);
    for handle in handles {
        let (l, r) = handle.await.unwrap();
        latencies.extend(l);
        refused += r;
    }
    let (wall, server_cpu, own_cpu) = window.finish();
    for watcher in watchers {
        watcher.abort();
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "paced: {racers} racers x 1 event/s for {wall:.1} s ({refused} refused), {live} live \
         clients ({} messages); ack p50 {:.2} ms, p99 {:.2} ms; server CPU {server_cpu:.1}% of \
         one core, load generator {own_cpu:.1}%; load average {}",
        received.load(Ordering::Relaxed),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        load_average()
    );
}

async fn saturation(
    client: &reqwest::Client,
    server: &Server,
    api_key: &str,
    connections: u64,
    seconds: u64,
) {
    // Backfill of a race long past: no duplicate tracking, no clock limit.
    let clock = server_clock(client, server).await;
    let race = clock.race_at(SystemClock.now_ms()) - 1000;
    let window = CpuWindow::start(&server.pid);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..connections)
        .map(|worker| {
            let (client, url) = (client.clone(), format!("{}/api/events", server.base));
            let api_key = api_key.to_owned();
            tokio::spawn(async move {
                let (mut acked, mut latencies, mut batch) = (0u64, Vec::new(), 0u64);
                let mut body = String::with_capacity(500 * 220);
                while Instant::now() < deadline {
                    body.clear();
                    body.push_str(r#"{"events":["#);
                    let now = SystemClock.now_ms();
                    for i in 0..500u64 {
                        if i > 0 {
                            body.push(',');
                        }
                        let n = worker * 1_000_000_000 + batch * 500 + i;
                        write_event(&mut body, race, 1 + n / 300, 1 + (n % 300) as u32, now);
                    }
                    body.push_str("]}");
                    let (latency, failed) = post(&client, &url, &api_key, body.clone()).await;
                    latencies.push(latency);
                    acked += 500 - failed.min(500);
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
    let (wall, server_cpu, own_cpu) = window.finish();
    latencies.sort_by(f64::total_cmp);
    println!(
        "saturation: {connections} connections, {:.0} events/s acknowledged ({acked} in \
         {wall:.1} s), batch p50 {:.1} ms, p99 {:.1} ms; server CPU {server_cpu:.0}% of one \
         core, load generator {own_cpu:.0}%; load average {}",
        acked as f64 / wall,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        load_average()
    );
    catch_up(client, server, acked, wall).await;
}

/// One scrape of the server's `/metrics`.
async fn metrics(client: &reqwest::Client, server: &Server) -> String {
    let response = client.get(format!("{}/metrics", server.base)).send().await.unwrap();
    response.text().await.unwrap()
}

/// A value without labels in a `/metrics` scrape (0 when absent).
fn metric(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// After the saturation window: how long delivery and merge take to catch up with every event
/// the server accepted (all of them delivered but a size hint's worth still buffered, every
/// delivered object merged), and the rate sustained over the window plus that time, so that
/// work the pipeline put off past the window is counted.
async fn catch_up(client: &reqwest::Client, server: &Server, acked: u64, wall: f64) {
    /// Records of about 220 B that fit in delivery's 1 MiB size hint: never flushed by size.
    const BUFFERED: f64 = 5_000.0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        // One scrape, so that the three values are of the same moment.
        let scrape = metrics(client, server).await;
        let accepted = metric(&scrape, "alleycat_events_accepted_total");
        let delivered = metric(&scrape, "alleycat_delivery_records");
        let merge_lag = metric(&scrape, "alleycat_merge_lag_objects");
        if delivered + BUFFERED >= accepted && merge_lag == 0.0 {
            let late = started.elapsed().as_secs_f64();
            println!(
                "pipeline: delivery and merge caught up {late:.2} s after the window \
                 ({delivered:.0} of {accepted:.0} accepted events delivered and merged); \
                 sustained {:.0} events/s",
                acked as f64 / (wall + late)
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("pipeline: delivery and merge had not caught up 60 s after the window");
}

#[tokio::main]
async fn main() {
    let seconds = arg("--seconds", 10);
    let connections = arg("--connections", 8);
    let racers = arg("--paced-racers", 1000);
    let live = arg("--live-clients", 6);
    let interval = arg("--delivery-interval-ms", DEFAULT_DELIVERY_INTERVAL_MS);
    let api_key = arg_str("--api-key").unwrap_or_else(|| "bench".into());
    // Held for the whole run: the cluster stops when dropped.
    let cluster = if flag("--nats") {
        Some(alleycat_testkit::nats::NatsCluster::start().await)
    } else {
        None
    };
    let stream = cluster.as_ref().map(|c| c.url()).or_else(|| arg_str("--stream"));
    if let Some(stream) = &stream {
        println!("stream: {stream}");
    }
    let mut server = match (arg_str("--url"), arg_str("--pid")) {
        (Some(base), Some(pid)) => Server { base, pid, child: None, _data: None },
        (None, None) => start_server(&api_key, &interval.to_string(), stream.as_deref()),
        _ => panic!("--url and --pid go together"),
    };
    let client = reqwest::Client::builder().pool_max_idle_per_host(1024).build().unwrap();
    // One request first, so that start-up is outside every timing.
    client.get(format!("{}/healthz", server.base)).send().await.unwrap();
    if !flag("--skip-paced") {
        paced(&client, &server, racers, seconds, live).await;
    }
    if !flag("--skip-saturation") {
        saturation(&client, &server, &api_key, connections, seconds).await;
    }
    if let Some(mut child) = server.child.take() {
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "the server exited with {status}");
    }
}
