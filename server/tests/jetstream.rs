//! `alleycat serve --stream nats://…`: the real binary on a real three-node NATS JetStream
//! cluster takes events on `/api/events`, acknowledges them once JetStream has, and delivers
//! and merges them into the race results, with nothing of the stream in its data directory.

mod support;

use std::time::Duration;

use alleycat_testkit::nats::NatsCluster;
use serde_json::Value;
use support::{eventually, post_events, spawn_server, terminate, three_racers_ride, to_json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_jetstream_accepts_events_and_delivers_them_into_the_results() {
    let cluster = NatsCluster::start().await;
    let ([data, _dist], mut child, base) = serve_on(&cluster);
    let client = support::client();

    let (race, _) = support::wall_race_now();
    let past = race - 1;
    let events: Vec<Value> = three_racers_ride(past, 4).iter().map(to_json).collect();
    let body = post_events(&client, &base, &events).await;
    assert_eq!(body["failedRecordCount"], 0, "{body}");

    // Delivery reads them back from JetStream, stores the objects, and the merge folds them.
    let results: Value = eventually(Duration::from_secs(30), "the race results", || async {
        let response =
            client.get(format!("{base}/api/races/{past}?classId=4")).send().await.ok()?;
        (response.status() == 200).then_some(())?;
        let results: Value = response.json().await.ok()?;
        (results["results"].as_array()?.len() == 3).then_some(results)
    })
    .await;
    let rows = results["results"].as_array().unwrap();
    assert_eq!(rows[0]["racerId"], 3);
    assert_eq!(rows[0]["seconds"], 5);
    assert!(data.path().join("delivery").exists(), "the delivered objects are in the data dir");
    assert!(
        !data.path().join("stream").exists(),
        "with --stream nats://… the data directory holds no stream"
    );
    assert!(terminate(&mut child).success());
}

#[tokio::test]
async fn a_server_refuses_to_start_on_a_stream_that_is_not_there() {
    // Nothing listens on the port: a clear error at start, not a hang.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path().display().to_string();
    let output = support::run_alleycat(
        &["serve", "--port", "0", "--stream", &format!("nats://127.0.0.1:{port}")],
        &[("ALLEYCAT_DATA_DIR", data_dir), ("ALLEYCAT_API_KEY", support::API_KEY.into())],
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot connect to NATS"), "{stderr}");
}

/// `/readyz`'s status and its `stream` component, or `None` when it does not answer.
async fn readyz_stream(client: &reqwest::Client, base: &str) -> Option<(u16, Value)> {
    let response = client.get(format!("{base}/readyz")).send().await.ok()?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.ok()?;
    Some((status, body["components"]["stream"].clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_turns_503_while_jetstream_has_lost_its_quorum_and_200_once_it_is_back() {
    let mut cluster = NatsCluster::start().await;
    let (_dirs, mut child, base) = serve_on(&cluster);
    let client = support::client();
    let (race, _) = support::wall_race_now();
    let events: Vec<Value> = three_racers_ride(race - 1, 4).iter().map(to_json).collect();
    assert_eq!(post_events(&client, &base, &events).await["failedRecordCount"], 0);
    eventually(Duration::from_secs(20), "/readyz 200 with the stream writing", || async {
        let (status, stream) = readyz_stream(&client, &base).await?;
        (status == 200 && stream["state"] == "writing").then_some(())
    })
    .await;

    // Two of three nodes gone: the stream has no quorum, so no leader, and cannot store.
    cluster.kill(1);
    cluster.kill(2);
    let stream = eventually(Duration::from_secs(40), "/readyz 503 for the stream", || async {
        let (status, stream) = readyz_stream(&client, &base).await?;
        (status == 503 && stream["ready"] == false).then_some(stream)
    })
    .await;
    assert!(["noLeader", "unreachable"].contains(&stream["state"].as_str().unwrap()), "{stream}");
    assert!(stream["sinceMs"].as_u64().is_some(), "{stream}");
    assert!(!stream["error"].as_str().unwrap_or_default().is_empty(), "{stream}");

    // Back by itself once the nodes are, with no put needed.
    cluster.restart(1).await;
    cluster.restart(2).await;
    eventually(Duration::from_secs(30), "/readyz 200 again", || async {
        let (status, stream) = readyz_stream(&client, &base).await?;
        (status == 200 && stream["state"] == "writing").then_some(())
    })
    .await;
    assert!(terminate(&mut child).success());
}

/// `alleycat serve` on `cluster`'s stream: its data and app directories (to keep while it
/// runs), the process and its URL.
fn serve_on(cluster: &NatsCluster) -> ([tempfile::TempDir; 2], std::process::Child, String) {
    let data = tempfile::tempdir().unwrap();
    let dist = tempfile::tempdir().unwrap();
    support::write_fake_dist(dist.path());
    let (child, base) =
        spawn_server(data.path(), dist.path(), &[("ALLEYCAT_STREAM", cluster.url())]);
    ([data, dist], child, base)
}
