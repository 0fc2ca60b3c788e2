//! Real servers for the whole-system tests, and what they stored, read back the way users and
//! operators read it: over HTTP, and from the delivered objects in the data directory.
//!
//! A server runs either in this process ([`Server`], on port 0, stopped gracefully) or as the
//! `alleycat` binary ([`ServerProcess`], to kill it with SIGKILL). The binary is the one Cargo
//! built next to this test (`cargo test --workspace` builds it; alone, `cargo build -p
//! alleycat-server` first).
#![allow(dead_code, missing_docs)]

use std::{
    collections::BTreeSet,
    future::Future,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Child,
    time::Duration,
};

use alleycat_domain::{
    api::{RaceResultRow, RaceResultsResponse},
    history::History,
    output::to_centi,
    ClassId, RaceId,
};
use alleycat_server::ServeConfig;
use alleycat_sim::{ClassChoice, Report, SimConfig};
use alleycat_testkit::alleycat::delivered;
pub use alleycat_testkit::{eventually, http::client};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

pub const API_KEY: &str = "whole-system-producer-key";

/// A data directory and an (empty) app folder, kept across server restarts.
pub struct Dirs {
    pub data: tempfile::TempDir,
    pub dist: tempfile::TempDir,
}

impl Dirs {
    pub fn new() -> Self {
        Self { data: tempfile::tempdir().unwrap(), dist: tempfile::tempdir().unwrap() }
    }
}

/// The settings of a test server: short races, a 1-second delivery interval.
pub fn serve_config(dirs: &Dirs, race_seconds: u32, roster: u32) -> ServeConfig {
    ServeConfig {
        port: 0,
        data_dir: dirs.data.path().to_owned(),
        dist: dirs.dist.path().to_owned(),
        race_seconds,
        roster_size: roster,
        api_key: Some(API_KEY.into()),
        delivery_interval_ms: 1000,
        ..ServeConfig::default()
    }
}

/// A server running in this process.
pub struct Server {
    pub base: String,
    pub address: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Server {
    /// Starts `config` on `address` (port 0 for any free port).
    pub async fn start(config: ServeConfig, address: SocketAddr) -> Self {
        let listener = TcpListener::bind(address).await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(alleycat_server::run(listener, config, async {
            let _ = stopped.await;
        }));
        Self { base: format!("http://{address}"), address, stop, task }
    }

    /// Stops it gracefully and waits until it has flushed everything.
    pub async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

/// The `alleycat` binary Cargo built beside this test.
pub fn server_binary() -> PathBuf {
    workspace_binary("alleycat", "alleycat-server")
}

/// The `alleycat-sim` binary Cargo built beside this test.
pub fn sim_binary() -> PathBuf {
    workspace_binary("alleycat-sim", "alleycat-sim")
}

/// The binary `name` of package `package`, built beside this test (a workspace build builds
/// every binary; `-p alleycat-tests` alone does not).
fn workspace_binary(name: &str, package: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).unwrap();
    let binary = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} is missing: build it with `cargo build -p {package}` (a workspace test run does)",
        binary.display()
    );
    binary
}

/// The `alleycat` binary, serving.
pub struct ServerProcess {
    pub child: Child,
    pub base: String,
    pub port: u16,
}

impl ServerProcess {
    /// Starts the binary on `dirs` with `race_seconds` races, on `port` (0: any free port).
    pub fn spawn(dirs: &Dirs, race_seconds: u32, roster: u32, port: u16) -> Self {
        Self::spawn_with(dirs, race_seconds, roster, port, &[])
    }

    /// [`ServerProcess::spawn`] with more `ALLEYCAT_*` settings in `extra`.
    pub fn spawn_with(
        dirs: &Dirs,
        race_seconds: u32,
        roster: u32,
        port: u16,
        extra: &[(&str, String)],
    ) -> Self {
        let settings = [
            ("ALLEYCAT_PORT", port.to_string()),
            ("ALLEYCAT_DATA_DIR", dirs.data.path().display().to_string()),
            ("ALLEYCAT_DIST", dirs.dist.path().display().to_string()),
            ("ALLEYCAT_RACE_SECONDS", race_seconds.to_string()),
            ("ALLEYCAT_API_KEY", API_KEY.to_owned()),
            ("ALLEYCAT_ROSTER_SIZE", roster.to_string()),
            ("ALLEYCAT_DELIVERY_INTERVAL_MS", "1000".to_owned()),
        ];
        let env = settings.iter().chain(extra).map(|(k, v)| (*k, v.as_str()));
        let (child, address) = alleycat_testkit::alleycat::serve(&server_binary(), env);
        Self { child, base: format!("http://{address}"), port: address.port() }
    }

    /// Kills it with SIGKILL and reaps it.
    pub fn kill(mut self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        self.child.wait().unwrap();
    }

    /// Stops it with SIGTERM and checks it exits cleanly.
    pub fn terminate(mut self) {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .unwrap();
        assert!(self.child.wait().unwrap().success(), "SIGTERM exits cleanly");
    }
}

/// The sim's settings for a test: `racers` in `class` against `base`, with every detail kept.
pub fn sim_config(base: &str, racers: u32, class: ClassChoice) -> SimConfig {
    SimConfig {
        servers: vec![base.to_owned()],
        racers,
        class,
        api_key: Some(API_KEY.into()),
        backoff_ms: 20,
        progress: false,
        keep_details: true,
        ..SimConfig::default()
    }
}

/// Runs the sim to its end.
pub async fn ride(config: SimConfig) -> Report {
    alleycat_sim::run(config, std::future::pending()).await.expect("the sim runs")
}

/// A race's results, once the server has them.
pub async fn results(base: &str, race: RaceId, class: ClassId) -> Option<Vec<RaceResultRow>> {
    let url = format!("{base}/api/races/{race}?classId={class}");
    let response = client().get(url).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    Some(response.json::<RaceResultsResponse>().await.ok()?.results)
}

/// Waits until race `race` of `class` has results for `seconds` racer-seconds in all.
pub async fn results_with(
    base: &str,
    race: RaceId,
    class: ClassId,
    seconds: u64,
) -> Vec<RaceResultRow> {
    eventually(Duration::from_secs(30), "the race results", || async {
        let rows = results(base, race, class).await?;
        let merged: u64 = rows.iter().map(|r| u64::from(r.seconds)).sum();
        (merged == seconds).then_some(rows)
    })
    .await
}

/// The class's history file, decoded.
pub async fn history(base: &str, class: ClassId) -> Option<History> {
    let response =
        client().get(format!("{base}/api/history/class-{class}.gz")).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    alleycat_domain::history::decode(&response.bytes().await.ok()?).ok()
}

/// Checks that each racer of `report` has a row in `rows` of class `class` in race `race`, with
/// the seconds and total the sim saw acknowledged, and that no one else has.
pub fn assert_results_match(report: &Report, race: RaceId, class: ClassId, rows: &[RaceResultRow]) {
    let field = report.field;
    let expected: BTreeSet<u64> = (0..field.racers)
        .filter(|&i| field.class_of(i) == class)
        .map(|i| field.racer_id(i))
        .collect();
    let got: BTreeSet<u64> = rows.iter().map(|r| r.racer_id).collect();
    assert_eq!(got, expected, "the racers of race {race} in class {class}");
    for row in rows {
        let total = report.totals[&(race, row.racer_id)];
        assert_eq!(row.seconds, total.seconds, "racer {}'s seconds", row.racer_id);
        assert_eq!(
            (row.total * 100.0).round() as u64,
            total.total_centi,
            "racer {}'s total",
            row.racer_id
        );
    }
}

/// A counter of the server's Prometheus metrics, summed over the label sets containing `label`.
pub async fn metric(base: &str, name: &str, label: &str) -> u64 {
    let text = client().get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && l.contains(label))
        .filter(|l| l.split(['{', ' ']).next().is_some_and(|metric| metric.contains(name)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// Everything a fresh server stored of `report`'s one race, in class 1, matches what the
/// generator saw: every event acknowledged, in the results with the generator's totals, in the
/// delivered objects exactly once, and in the class history as each racer's bests.
pub async fn assert_stored_as_acknowledged(report: &Report, base: &str, data: &Path) {
    assert_stored(report, base, async { delivered(data) }).await;
}

/// [`assert_stored_as_acknowledged`] with the delivered events read by `delivered` (from any
/// store), once the results are complete (so everything has been delivered).
pub async fn assert_stored(
    report: &Report,
    base: &str,
    delivered: impl Future<Output = Vec<(u64, u64, u64)>>,
) {
    let (racers, race_seconds) = (report.field.racers, report.race_seconds);
    let s = &report.summary;
    let [race] = s.races[..] else { panic!("one race ridden: {s:?}") };
    let total = u64::from(racers) * u64::from(race_seconds);
    assert_eq!((s.sent, s.acknowledged, s.failed), (total, total, 0), "{s:?}");

    // The results: every racer, with the seconds and totals the generator computed.
    let rows = results_with(base, race, 1, total).await;
    assert_eq!(rows.len(), racers as usize);
    assert_results_match(report, race, 1, &rows);

    // The delivered objects: exactly the distinct events acknowledged.
    let acknowledged = report.acknowledged.as_ref().expect("the sim kept its acknowledgements");
    let acknowledged: BTreeSet<(u64, u64, u64)> =
        acknowledged.iter().map(|k| (k.race_id, k.racer_id, u64::from(k.second))).collect();
    let distinct: BTreeSet<_> = delivered.await.into_iter().collect();
    assert_eq!(distinct.len() as u64, s.acknowledged);
    assert_eq!(distinct, acknowledged);

    // The history file: every racer's best at every second is what they rode (a fresh server).
    let field = report.field;
    let history = eventually(Duration::from_secs(30), "the class history", || async {
        history(base, 1).await.filter(|h| h.racer_count() == racers as usize)
    })
    .await;
    for i in 0..racers {
        for second in 1..=race_seconds {
            let output = field.reading(i, race, race_seconds, second).output();
            assert_eq!(
                history.best(field.racer_id(i), second),
                Some(to_centi(output)),
                "racer {}'s best at second {second}",
                field.racer_id(i)
            );
        }
    }
}
