//! `/healthz` and `/readyz` over real HTTP: readiness names every component, turns 503 while
//! the data disk is full (saying why and since when), and comes back by itself once there is
//! space again, with no restart and no put needed. The same for the results database alone on
//! a full disk: the merge retries, and every event is in the results once when space is back.

mod support;

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use alleycat_testkit::eventually;
use serde_json::Value;
use support::{event, to_json, TestServer, API_KEY};

const COMPONENTS: [&str; 6] =
    ["database", "delivery", "merge", "objectStore", "pipeline", "stream"];

async fn readyz(server: &TestServer) -> (u16, Value) {
    let response = server.get("/readyz").await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Polls `/readyz` until it answers `status`, with a deadline; returns its body.
async fn until_readyz(server: &TestServer, status: u16) -> Value {
    let polled = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let (got, body) = readyz(server).await;
            if got == status {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    polled.unwrap_or_else(|_| panic!("/readyz never answered {status}"))
}

/// Posts `n` events with the API key; returns how many were acknowledged.
async fn post(server: &TestServer, first_racer: u64, n: u64) -> usize {
    let (race, second) = server.race_now();
    let events: Vec<Value> =
        (first_racer..first_racer + n).map(|r| to_json(&event(race, r, 1, second, 80.0))).collect();
    let (status, body) = server.post_events(API_KEY, &events).await;
    assert!(status == 200 || status == 503, "{status}: {body}");
    body["records"]
        .as_array()
        .map_or(0, |results| results.iter().filter(|r| r["errorCode"].is_null()).count())
}

#[tokio::test]
async fn readyz_answers_200_naming_every_component_and_the_gauges_agree() {
    let server = TestServer::start().await;
    assert_eq!(server.get("/healthz").await.text().await.unwrap(), "ok");
    let body = until_readyz(&server, 200).await;
    assert_eq!(body["ready"], true);
    for name in COMPONENTS {
        let component = &body["components"][name];
        assert_eq!(component["ready"], true, "{name}: {component}");
        assert!(component["state"].is_string(), "{name}: {component}");
    }
    assert_eq!(body["components"]["pipeline"]["state"], "running");
    assert_eq!(body["components"]["database"]["state"], "ok");
    assert_eq!(post(&server, 1, 3).await, 3);
    let (_, body) = readyz(&server).await;
    assert_eq!(body["components"]["stream"]["state"], "writing");
    assert!(body["components"]["stream"]["lastOkMs"].as_u64().is_some(), "{body}");

    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(metrics.lines().any(|l| l == "alleycat_ready 1"), "{metrics}");
    assert!(
        metrics.lines().any(|l| l == "alleycat_component_ready{component=\"stream\"} 1"),
        "{metrics}"
    );
    server.stop().await;
}

/// A tmpfs of `size` mounted on `dir` (the test runs as root, as CI does); unmounted on drop.
struct Tmpfs<'a>(&'a Path);

impl<'a> Tmpfs<'a> {
    fn mount(dir: &'a Path, size: &str) -> Self {
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .expect("run mount");
        assert!(status.success(), "mounting a tmpfs needs root (CI runs as root)");
        Self(dir)
    }
}

impl Drop for Tmpfs<'_> {
    fn drop(&mut self) {
        // Lazy, so that a server a failed test left running cannot keep it mounted.
        let _ = Command::new("umount").arg("-l").arg(self.0).status();
    }
}

#[tokio::test]
async fn a_full_data_disk_makes_readyz_503_with_the_stream_error_and_it_comes_back_by_itself() {
    let disk = tempfile::tempdir().unwrap();
    let _tmpfs = Tmpfs::mount(disk.path(), "16m");
    let data = disk.path().join("data");
    let server = TestServer::start_with(|config| config.data_dir = data.clone()).await;
    until_readyz(&server, 200).await;
    assert_eq!(post(&server, 1, 5).await, 5);

    // Fill the disk (dd stops at ENOSPC).
    let filler = disk.path().join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=4k", "status=none"])
        .arg(format!("of={}", filler.display()))
        .status();
    // More than the pages each shard's segment already holds.
    assert_eq!(post(&server, 10, 400).await, 0, "acknowledged on a full disk");
    let body = until_readyz(&server, 503).await;
    let stream = &body["components"]["stream"];
    assert_eq!(stream["state"], "failing", "{body}");
    assert_eq!(stream["ready"], false);
    assert!(stream["error"].as_str().unwrap().contains("No space left on device"), "{stream}");
    assert!(stream["sinceMs"].as_u64().is_some(), "{stream}");
    assert_eq!(server.get("/healthz").await.status(), 200, "liveness stays up");
    let metrics = server.get("/metrics").await.text().await.unwrap();
    assert!(metrics.lines().any(|l| l == "alleycat_ready 0"), "{metrics}");

    // Space back: readiness returns by itself (the stream probes), then puts are stored.
    std::fs::remove_file(&filler).unwrap();
    let body = until_readyz(&server, 200).await;
    assert_eq!(body["components"]["stream"]["state"], "writing");
    assert_eq!(post(&server, 10, 400).await, 400);
    server.stop().await;
}

/// Each racer's (seconds, total) in `race`'s class 1 results, by racer; empty before any.
async fn results(server: &TestServer, race: u64) -> BTreeMap<u64, (u64, f64)> {
    let response = server.get(&format!("/api/races/{race}?classId=1")).await;
    if response.status() != 200 {
        return BTreeMap::new();
    }
    let body: Value = response.json().await.unwrap();
    let rows = body["results"].as_array().unwrap();
    rows.iter()
        .map(|r| {
            let racer = r["racerId"].as_u64().unwrap();
            (racer, (r["seconds"].as_u64().unwrap(), r["total"].as_f64().unwrap()))
        })
        .collect()
}

#[tokio::test]
async fn results_database_writes_failing_on_a_full_disk_are_retried_and_readyz_says_so_meanwhile() {
    // `results.sqlite` alone on a small disk; the stream and the object store on disks of their
    // own, so that only the database's writes fail.
    let disk = tempfile::tempdir().unwrap();
    let data = disk.path().join("data");
    let roomy: Vec<PathBuf> = ["stream", "delivery", "history"].map(|d| data.join(d)).into();
    std::fs::create_dir(&data).unwrap();
    let _small = Tmpfs::mount(&data, "2m");
    let _roomy: Vec<Tmpfs> = roomy
        .iter()
        .map(|dir| {
            std::fs::create_dir(dir).unwrap();
            Tmpfs::mount(dir, "64m")
        })
        .collect();
    let server = TestServer::start_with(|config| config.data_dir = data.clone()).await;
    until_readyz(&server, 200).await;
    let (race, _) = server.race_now();
    const RACERS: u64 = 50;
    server.set_second(1);
    assert_eq!(post(&server, 1, RACERS).await, RACERS as usize);
    eventually(Duration::from_secs(20), "second 1 in the results", || async {
        (results(&server, race).await.len() == RACERS as usize).then_some(())
    })
    .await;

    // Fill the database's disk (dd stops at ENOSPC): the next events are acknowledged (the
    // stream has room), delivered, and their merge fails.
    let filler = data.join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=4k", "status=none"])
        .arg(format!("of={}", filler.display()))
        .status();
    server.set_second(2);
    assert_eq!(post(&server, 1, RACERS).await, RACERS as usize);
    let body = until_readyz(&server, 503).await;
    let merge = &body["components"]["merge"];
    assert_eq!(merge["state"], "failing", "{body}");
    assert!(merge["error"].as_str().unwrap().contains("full"), "{merge}");
    assert!(merge["sinceMs"].as_u64().is_some(), "{merge}");
    assert_eq!(body["components"]["stream"]["state"], "writing", "{body}");
    assert!(results(&server, race).await.values().all(|&(seconds, _)| seconds == 1));

    // Space back: the merge's next retry commits second 2, once.
    std::fs::remove_file(&filler).unwrap();
    let body = until_readyz(&server, 200).await;
    assert_eq!(body["components"]["merge"]["state"], "ok", "{body}");
    let output = alleycat_domain::output(80.0, 50.0);
    let rows = eventually(Duration::from_secs(20), "second 2 in the results", || async {
        let rows = results(&server, race).await;
        rows.values().all(|&(seconds, _)| seconds == 2).then_some(rows)
    })
    .await;
    assert_eq!(rows.len(), RACERS as usize);
    for (racer, (_, total)) in rows {
        assert!((total - 2.0 * output).abs() < 0.005, "racer {racer}'s total {total}");
    }
    server.stop().await;
}
