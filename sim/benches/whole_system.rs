//! Whole-system benchmarks with the load generator (BENCHMARKS.md, "Load generator and whole
//! system"). Each run starts the release `alleycat` binary on a fresh data directory and rides it
//! with the sim library in this process:
//!
//! ```sh
//! cargo build --release -p alleycat-server
//! cargo bench -p alleycat-sim --bench whole_system -- live 1000 300      # racers, race seconds
//! cargo bench -p alleycat-sim --bench whole_system -- fast 5000 300
//! cargo bench -p alleycat-sim --bench whole_system -- backfill 40000 300 1   # + past races
//! ```
//!
//! - `live`: the racers (all classes) ride one race on the clock, plus a probe racer in class 1
//!   with a racer token whose here-now entry a WebSocket client watches: push latency is the
//!   time from the probe's event being acknowledged to its second showing on the socket. Then
//!   history freshness: from the race's end until class 1's history file holds the probe's last
//!   second; and lost events: the race results must hold every acknowledged second.
//! - `fast`: the racers ride the last finished race as fast as the server acknowledges.
//! - `backfill`: the racers ride N past races at full speed; then the time until every class
//!   history file holds them, and each file's size.
//!
//! Server CPU (utime + stime) and peak memory (VmHWM) come from `/proc/<pid>` of the server.
//! `ALLEYCAT_BIN` picks the server binary (default `target/release/alleycat`);
//! `BENCH_DELIVERY_INTERVAL_MS` the delivery interval (default 60000, the server's default).
#![allow(missing_docs, clippy::print_stdout)]

use std::{
    path::{Path, PathBuf},
    process::Child,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alleycat_domain::{
    api::{ConfigResponse, LiveMessage, RaceResultsResponse},
    Clock, EventKind, RaceClock, RacerEvent, SystemClock,
};
use alleycat_sim::{ClassChoice, SimConfig, Summary};
use futures::StreamExt;
use hdrhistogram::Histogram;

const API_KEY: &str = "bench-producer-key";
const ROSTER: u32 = 40_000;

struct Server {
    child: Child,
    base: String,
    data: tempfile::TempDir,
}

fn spawn_server(race_seconds: u32) -> Server {
    let data = tempfile::tempdir().unwrap();
    let binary = std::env::var_os("ALLEYCAT_BIN").map(PathBuf::from).unwrap_or_else(|| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/alleycat")
    });
    let interval = std::env::var("BENCH_DELIVERY_INTERVAL_MS").unwrap_or_else(|_| "60000".into());
    let settings = [
        ("ALLEYCAT_DATA_DIR", data.path().display().to_string()),
        ("ALLEYCAT_DIST", data.path().join("no-app").display().to_string()),
        ("ALLEYCAT_RACE_SECONDS", race_seconds.to_string()),
        ("ALLEYCAT_API_KEY", API_KEY.to_owned()),
        ("ALLEYCAT_ROSTER_SIZE", ROSTER.to_string()),
        ("ALLEYCAT_DELIVERY_INTERVAL_MS", interval),
    ];
    let (child, address) = alleycat_testkit::alleycat::serve(&binary, settings);
    Server { child, base: format!("http://{address}"), data }
}

/// CPU seconds (user + system) and peak resident memory (KiB) of process `pid`.
fn proc_usage(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: u64 = [11, 12].iter().filter_map(|&i| fields.get(i)?.parse::<u64>().ok()).sum();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0);
    (ticks as f64 / 100.0, hwm) // USER_HZ is 100 on Linux
}

fn sim(base: &str, racers: u32) -> SimConfig {
    SimConfig {
        servers: vec![base.to_owned()],
        racers,
        class: ClassChoice::All,
        api_key: Some(API_KEY.into()),
        ..SimConfig::default()
    }
}

fn print_summary(s: &Summary) {
    let l = s.ack_latency_ms;
    println!(
        "sim: sent {} acknowledged {} failed {} {:?} · {:.0} events/s over {:.1} s · ack p50 {:.1} ms p95 {:.1} ms p99 {:.1} ms max {:.1} ms",
        s.sent, s.acknowledged, s.failed, s.failed_by_code, s.events_per_second, s.elapsed_seconds,
        l.p50, l.p95, l.p99, l.max
    );
}

async fn get<T: serde::de::DeserializeOwned>(url: String) -> Option<T> {
    let response = reqwest::get(url).await.ok()?;
    response.status().is_success().then_some(())?;
    response.json().await.ok()
}

/// Seconds merged into the results of `race`, over all classes.
async fn merged_seconds(base: &str, race: u64) -> u64 {
    let mut sum = 0;
    for class in 1..=6 {
        if let Some(r) =
            get::<RaceResultsResponse>(format!("{base}/api/races/{race}?classId={class}")).await
        {
            sum += r.results.iter().map(|r| u64::from(r.seconds)).sum::<u64>();
        }
    }
    sum
}

async fn live(racers: u32, race_seconds: u32) {
    let server = spawn_server(race_seconds);
    let base = server.base.clone();
    let config: ConfigResponse = get(format!("{base}/api/config")).await.unwrap();
    let clock = RaceClock::new(race_seconds);
    let now = config.server_time_ms;
    let race = if clock.second_at(now) <= 2 { clock.race_at(now) } else { clock.race_at(now) + 1 };
    let offset = now as i128 - SystemClock.now_ms() as i128;
    let server_now = move || (SystemClock.now_ms() as i128 + offset) as u64;

    // The probe: a person's racer with its token, a WebSocket on class 1, one event a second.
    let client = reqwest::Client::new();
    let session: serde_json::Value = client
        .post(format!("{base}/api/racers"))
        .json(&serde_json::json!({ "name": "Probe" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = session["token"].as_str().unwrap().to_owned();
    // The probe is a person's racer (outside the simulated field), as a rider in a browser is.
    let probe_id = session["racer"]["id"].as_u64().unwrap();
    let ws = format!("{}/api/live?classId=1&limit=1", base.replace("http://", "ws://"));
    let (mut socket, _) = tokio_tungstenite::connect_async(ws).await.unwrap();
    let hello = serde_json::json!({"type": "hello", "token": token}).to_string();
    futures::SinkExt::send(
        &mut socket,
        tokio_tungstenite::tungstenite::Message::Text(hello.into()),
    )
    .await
    .unwrap();
    let seen: Arc<Mutex<Vec<Option<Instant>>>> =
        Arc::new(Mutex::new(vec![None; race_seconds as usize + 1]));
    let watcher = {
        let seen = seen.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = socket.next().await {
                let Ok(text) = message.into_text() else { continue };
                let Ok(LiveMessage::Ranking(ranking)) = serde_json::from_str(&text) else {
                    continue;
                };
                if ranking.race_id != race {
                    continue;
                }
                if let Some(me) = ranking.me {
                    let mut seen = seen.lock().unwrap();
                    for s in 1..=me.second as usize {
                        seen[s].get_or_insert_with(Instant::now);
                    }
                }
            }
        })
    };
    let probe = {
        let (client, base, token) = (client.clone(), base.clone(), token.clone());
        tokio::spawn(async move {
            let mut acked = vec![None; race_seconds as usize + 1];
            for second in 1..=race_seconds {
                let due = clock.start_ms(race) + u64::from(second - 1) * 1000 + 500;
                let wait = due.saturating_sub(server_now());
                tokio::time::sleep(Duration::from_millis(wait)).await;
                let event = RacerEvent {
                    uuid: uuid::Uuid::from_u128(u128::from(second) | (0x4000_u128 << 64)),
                    event: if second == race_seconds {
                        EventKind::Final
                    } else {
                        EventKind::Update
                    },
                    device_timestamp: server_now(),
                    second,
                    race_id: race,
                    racer_id: probe_id,
                    class_id: 1,
                    cadence: 80.0,
                    resistance: 60.0,
                    source: alleycat_domain::Source::Sim,
                    power: None,
                    heart_rate: None,
                };
                let answer = client
                    .post(format!("{base}/api/events"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({ "events": [event] }))
                    .send()
                    .await;
                if answer.is_ok_and(|a| a.status().is_success()) {
                    acked[second as usize] = Some(Instant::now());
                }
            }
            acked
        })
    };

    let pid = server.child.id();
    let (cpu_before, _) = proc_usage(pid);
    let started = Instant::now();
    let report = alleycat_sim::run(
        SimConfig { race: Some(race), progress: false, ..sim(&base, racers) },
        std::future::pending(),
    )
    .await
    .unwrap();
    let wall = started.elapsed().as_secs_f64();
    let (cpu_after, hwm) = proc_usage(pid);
    let acked = probe.await.unwrap();
    let race_end = clock.end_ms(race);

    // History freshness: race end until class 1's history holds the probe's last second.
    let freshness = loop {
        let url = format!("{base}/api/history/class-1.gz");
        if let Ok(response) = reqwest::get(url).await {
            if response.status().is_success() {
                let bytes = response.bytes().await.unwrap();
                let history = alleycat_domain::history::decode(&bytes).unwrap();
                if history.best(probe_id, race_seconds).is_some() {
                    break server_now().saturating_sub(race_end);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    watcher.abort();
    let mut push = Histogram::<u64>::new(3).unwrap();
    let seen = seen.lock().unwrap().clone();
    for second in 1..=race_seconds as usize {
        if let (Some(a), Some(v)) = (acked[second], seen[second]) {
            push.record(v.saturating_duration_since(a).as_millis() as u64).unwrap();
        }
    }
    // Lost events: every acknowledged second is in the results (probe included).
    let expected = report.summary.acknowledged + acked.iter().flatten().count() as u64;
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut merged = 0;
    while Instant::now() < deadline {
        merged = merged_seconds(&base, race).await;
        if merged >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    println!("live: {racers} racers (all classes) + 1 probe, race {race_seconds} s");
    print_summary(&report.summary);
    println!(
        "server: CPU {:.1} s over {:.0} s = {:.0} % of one core · peak RSS {} MiB",
        cpu_after - cpu_before,
        wall,
        100.0 * (cpu_after - cpu_before) / wall,
        hwm / 1024
    );
    println!(
        "here-now push latency (acknowledged → on the socket), {} samples: p50 {} ms p99 {} ms max {} ms",
        push.len(),
        push.value_at_quantile(0.5),
        push.value_at_quantile(0.99),
        push.max()
    );
    println!("history freshness (race end → in class-1.gz): {:.1} s", freshness as f64 / 1000.0);
    println!(
        "lost events: {} (results hold {merged} of {expected} acknowledged seconds)",
        expected.saturating_sub(merged)
    );
    stop(server);
}

async fn fast(racers: u32, race_seconds: u32) {
    let server = spawn_server(race_seconds);
    // `--fast` rides a finished race: the one before the race running now.
    let config: ConfigResponse = get(format!("{}/api/config", server.base)).await.unwrap();
    let race = config.current_race_id - 1;
    let pid = server.child.id();
    let (cpu_before, _) = proc_usage(pid);
    let report = alleycat_sim::run(
        SimConfig { fast: true, race: Some(race), progress: false, ..sim(&server.base, racers) },
        std::future::pending(),
    )
    .await
    .unwrap();
    let (cpu_after, hwm) = proc_usage(pid);
    println!("fast: {racers} racers × {race_seconds} s of a finished race");
    print_summary(&report.summary);
    println!("server: CPU {:.1} s · peak RSS {} MiB", cpu_after - cpu_before, hwm / 1024);
    stop(server);
}

async fn backfill(racers: u32, race_seconds: u32, races: u32) {
    let server = spawn_server(race_seconds);
    let started = Instant::now();
    let report = alleycat_sim::run(
        SimConfig { backfill: races, races: 0, progress: false, ..sim(&server.base, racers) },
        std::future::pending(),
    )
    .await
    .unwrap();
    let sent_in = started.elapsed().as_secs_f64();
    // Merged: every class's history file holds every one of its racers.
    let per_class = |class: u32| (0..racers).filter(|i| i % 6 + 1 == class).count();
    loop {
        let mut done = true;
        for class in 1..=6u32 {
            let url = format!("{}/api/history/class-{class}.gz", server.base);
            let count = match reqwest::get(url).await {
                Ok(r) if r.status().is_success() => {
                    alleycat_domain::history::decode(&r.bytes().await.unwrap())
                        .map(|h| h.racer_count())
                        .unwrap_or(0)
                }
                _ => 0,
            };
            done &= count == per_class(class);
        }
        if done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let merged_in = started.elapsed().as_secs_f64();
    println!("backfill: {racers} racers × {races} race(s) × {race_seconds} s");
    print_summary(&report.summary);
    println!("sent in {sent_in:.1} s; every history file complete after {merged_in:.1} s");
    for class in 1..=6 {
        let path = server.data.path().join(format!("history/class-{class}.gz"));
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        println!(
            "history/class-{class}.gz: {:.1} KiB ({} racers)",
            size as f64 / 1024.0,
            per_class(class)
        );
    }
    let (cpu, hwm) = proc_usage(server.child.id());
    println!("server: CPU {cpu:.1} s in all · peak RSS {} MiB", hwm / 1024);
    stop(server);
}

fn stop(mut server: Server) {
    let _ = server.child.kill();
    let _ = server.child.wait();
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; the mode and numbers follow `--`.
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let number =
        |i: usize, default: u32| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    match args.first().map(String::as_str) {
        Some("live") => live(number(1, 1000), number(2, 300)).await,
        Some("fast") => fast(number(1, 5000), number(2, 300)).await,
        Some("backfill") => backfill(number(1, 40_000), number(2, 300), number(3, 1)).await,
        _ => println!("usage: whole_system live|fast|backfill [racers] [race seconds] [races]"),
    }
}
