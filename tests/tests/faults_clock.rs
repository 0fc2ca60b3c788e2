//! The fault matrix's clock row (`scripts/faults.sh clock`, RELIABILITY.md): while 1,000
//! simulated racers ride, the server's wall clock is stepped 5 s back and then forward again,
//! and later 5 s forward and then back, as an NTP correction or a VM resume would step it.
//! Afterwards every acknowledged event is in the race results exactly once and in the class
//! history files (`alleycat-sim`'s check), whatever the racers were told meanwhile.
//!
//! The `alleycat` binary reads the system clock and offers no way to step it from outside (on
//! purpose: nothing an operator could set by mistake), so the server runs in this process on a
//! clock the test steps, injected through `RunOptions::clock` like every test's `ManualClock`;
//! unlike `ManualClock`, it runs on with the wall clock between the steps, for the racers ride
//! in real time. With `ALLEYCAT_FAULTS_ROW=<file>` the test writes its row of the matrix there.

mod support;

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use alleycat_domain::{Clock, SystemClock};
use alleycat_server::RunOptions;
use alleycat_sim::{ClassChoice, SimConfig};
use support::{client, eventually, metric, serve_config, sim_config, Dirs};
use tokio::{net::TcpListener, sync::oneshot};

const RACE_SECONDS: u32 = 15;
const ROSTER: u32 = 2000;
/// The step, each way.
const STEP_MS: i64 = 5_000;
/// Time between two steps (and before the first, once racing).
const BETWEEN_STEPS: Duration = Duration::from_secs(3);

/// The wall clock plus an offset the test steps.
#[derive(Debug, Default)]
struct SteppedClock(AtomicI64);

impl SteppedClock {
    fn step(&self, by_ms: i64) {
        self.0.fetch_add(by_ms, Ordering::SeqCst);
    }
}

impl Clock for SteppedClock {
    fn now_ms(&self) -> u64 {
        SystemClock.now_ms().saturating_add_signed(self.0.load(Ordering::SeqCst))
    }
}

/// Events rejected by reason, from the server's `/metrics`.
async fn rejections(base: &str) -> BTreeMap<String, u64> {
    let text = client().get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("alleycat_events_rejected_total{reason=\""))
        .filter_map(|rest| {
            let (reason, count) = rest.split_once("\"} ")?;
            Some((reason.to_owned(), count.trim().parse::<f64>().ok()? as u64))
        })
        .collect()
}

/// Samples `/readyz` every half second into `seen` (status and the components not ready) until
/// `stop` fires.
async fn watch_ready(
    base: String,
    seen: Arc<Mutex<BTreeMap<String, u32>>>,
    mut stop: oneshot::Receiver<()>,
) {
    loop {
        let sample = match client().get(format!("{base}/readyz")).send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                let bad: Vec<String> = body["components"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter(|(_, c)| c["ready"] != true)
                    .map(|(name, c)| format!("{name}:{}", c["state"].as_str().unwrap_or("?")))
                    .collect();
                format!(
                    "{status} {}",
                    if bad.is_empty() { "all ready".into() } else { bad.join(",") }
                )
            }
            Err(_) => "000 no answer".to_owned(),
        };
        *seen.lock().unwrap().entry(sample).or_default() += 1;
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stepping_the_wall_clock_back_and_forth_loses_no_acknowledged_event() {
    let racers: u32 =
        std::env::var("ALLEYCAT_FAULTS_RACERS").ok().and_then(|r| r.parse().ok()).unwrap_or(1000);
    let dirs = Dirs::new();
    let clock = Arc::new(SteppedClock::default());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let options = RunOptions { clock: clock.clone(), ..RunOptions::default() };
    let server = tokio::spawn(alleycat_server::run_with(
        listener,
        serve_config(&dirs, RACE_SECONDS, ROSTER),
        options,
        async {
            let _ = stopped.await;
        },
    ));

    // Two races, joining the running one, then the generator's check of what was stored.
    let sim = tokio::spawn(support::ride(SimConfig {
        races: 2,
        join_within: RACE_SECONDS,
        retry_seconds: 60,
        check_seconds: Some(120),
        ..sim_config(&base, racers, ClassChoice::All)
    }));
    eventually(Duration::from_secs(60), "racing", || async {
        (metric(&base, "events_accepted", "").await > 0).then_some(())
    })
    .await;

    // Back and forth, then forth and back.
    let before = (metric(&base, "events_accepted", "").await, rejections(&base).await);
    let seen = Arc::new(Mutex::new(BTreeMap::new()));
    let (stop_watch, watch_stopped) = oneshot::channel();
    let watcher = tokio::spawn(watch_ready(base.clone(), seen.clone(), watch_stopped));
    for step in [-STEP_MS, STEP_MS, STEP_MS, -STEP_MS] {
        tokio::time::sleep(BETWEEN_STEPS).await; // the clock's steady stretch, not a synchronisation
        clock.step(step);
    }
    let healed = Instant::now();
    let accepted = metric(&base, "events_accepted", "").await;
    let puts = if accepted > before.0 {
        format!("never stopped ({} accepted while stepping)", accepted - before.0)
    } else {
        eventually(Duration::from_secs(60), "puts again", || async {
            (metric(&base, "events_accepted", "").await > accepted).then_some(())
        })
        .await;
        format!("{:.1} s after the last step", healed.elapsed().as_secs_f64())
    };
    let after = rejections(&base).await;
    let _ = stop_watch.send(());
    watcher.await.unwrap();

    let report = sim.await.unwrap();
    let s = &report.summary;
    let check = s.check.clone().expect("the generator checked what was stored");
    let rejected: Vec<String> = after
        .iter()
        .filter(|(reason, &n)| n > before.1.get(*reason).copied().unwrap_or(0))
        .map(|(reason, n)| {
            format!("`{reason}` ×{}", n - before.1.get(reason).copied().unwrap_or(0))
        })
        .collect();
    let failed: Vec<String> =
        s.failed_by_code.iter().map(|(code, n)| format!("`{code}` ×{n}")).collect();
    let readyz: Vec<String> =
        seen.lock().unwrap().iter().map(|(sample, n)| format!("{sample} ×{n}")).collect();
    let row = format!(
        "| wall clock stepped 5 s back and forth, then forth and back, {}s apart (in-process server on a stepped clock: tests/tests/faults_clock.rs) | {} | {} / {} | {} | {}; {} requests retried; final failures: {} | {} |\n",
        BETWEEN_STEPS.as_secs(),
        s.acknowledged,
        check.missing_from_results,
        check.missing_from_history,
        puts,
        if rejected.is_empty() { "no rejections".to_owned() } else { rejected.join(", ") },
        s.retried_requests,
        if failed.is_empty() { "none".to_owned() } else { failed.join(", ") },
        readyz.join("; "),
    );
    if let Ok(path) = std::env::var("ALLEYCAT_FAULTS_ROW") {
        std::fs::write(path, &row).unwrap();
    }
    assert!(s.acknowledged > 0, "{s:?}");
    assert!(check.is_ok(s.failed), "acknowledged events not stored once: {check:?}\n{row}");

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
