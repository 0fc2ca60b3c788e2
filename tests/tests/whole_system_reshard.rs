//! The whole system while the pipeline's own stream is resharded: 1,000 simulated racers ride a
//! 20-second race in class 1 against the `alleycat` binary with the Kinesis API on, and a few
//! seconds in the operator doubles the stream `alleycat` with UpdateShardCount (4 to 8 shards),
//! then takes it to 6 (splits and merges, with short-lived shards). Afterwards every event the
//! generator saw acknowledged is in the results, the delivered objects (exactly once) and the
//! history, as in `whole_system.rs`; and a watcher of the here-now board never saw a racer's
//! latest second or total go down. The same again with the stream on a three-node NATS
//! JetStream cluster.

mod support;

use std::{collections::HashMap, time::Duration};

use alleycat_kinesis::sigv4::{self, Credentials};
use alleycat_sim::ClassChoice;
use alleycat_testkit::nats::NatsCluster;
use futures::StreamExt;
use serde_json::{json, Value};
use support::{
    assert_stored_as_acknowledged, eventually, metric, ride, sim_config, Dirs, ServerProcess,
};
use tokio_tungstenite::tungstenite::Message;

const RACE_SECONDS: u32 = 20;
const RACERS: u32 = 1000;
const ROSTER: u32 = 2000;

fn credentials() -> Credentials {
    Credentials { access_key_id: "AKIDRESHARD".into(), secret_access_key: "reshard-secret".into() }
}

/// Calls Kinesis `action` at `endpoint`, signed now (the binary runs on the wall clock).
async fn kinesis(endpoint: &str, action: &str, body: Value) -> Value {
    let body = serde_json::to_vec(&body).unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("host", endpoint.trim_start_matches("http://").parse().unwrap());
    headers.insert("content-type", "application/x-amz-json-1.1".parse().unwrap());
    headers.insert("x-amz-target", format!("Kinesis_20131202.{action}").parse().unwrap());
    let now_ms =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
            as u64;
    let (method, uri) = ("POST".parse().unwrap(), "/".parse().unwrap());
    sigv4::sign(&credentials(), "us-east-1", &method, &uri, &mut headers, &body, now_ms);
    let response = reqwest::Client::new()
        .post(format!("{endpoint}/"))
        .headers(headers)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{action}: {answer}");
    answer
}

/// Watches class 1's here-now board until `stop`, checking that no racer's latest second or
/// total ever goes down within a race; returns how many rankings it saw.
async fn watch_board(base: &str, mut stop: tokio::sync::oneshot::Receiver<()>) -> usize {
    let url = format!("{}/api/live?classId=1&limit=10000", base.replace("http://", "ws://"));
    let (mut socket, _) = tokio_tungstenite::connect_async(url).await.expect("the live socket");
    let mut seen: HashMap<(u64, u64), (u64, f64)> = HashMap::new();
    let mut rankings = 0;
    loop {
        let message = tokio::select! {
            _ = &mut stop => return rankings,
            message = socket.next() => message,
        };
        let Some(Ok(Message::Text(text))) = message else { continue };
        let ranking: Value = serde_json::from_str(&text).unwrap();
        if ranking["type"] != "ranking" {
            continue;
        }
        rankings += 1;
        let race = ranking["raceId"].as_u64().unwrap();
        for entry in ranking["entries"].as_array().unwrap() {
            let racer = entry["racerId"].as_u64().unwrap();
            let now = (entry["second"].as_u64().unwrap(), entry["total"].as_f64().unwrap());
            if let Some(before) = seen.insert((race, racer), now) {
                assert!(
                    now.0 >= before.0 && now.1 >= before.1,
                    "racer {racer} went backwards on the board: {before:?} then {now:?}"
                );
            }
        }
    }
}

async fn open_shards(endpoint: &str) -> u64 {
    let summary =
        kinesis(endpoint, "DescribeStreamSummary", json!({"StreamName": "alleycat"})).await;
    summary["StreamDescriptionSummary"]["OpenShardCount"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resharding_the_pipeline_stream_mid_race_loses_duplicates_and_reverses_nothing() {
    ride_through_reshards(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resharding_the_pipeline_stream_on_nats_mid_race_loses_duplicates_and_reverses_nothing() {
    let nats = NatsCluster::start().await;
    ride_through_reshards(&[("ALLEYCAT_STREAM", nats.url())]).await;
}

/// The race, the reshards and the checks, on the stream the extra environment `env` chooses.
async fn ride_through_reshards(env: &[(&str, String)]) {
    let dirs = Dirs::new();
    let kinesis_port =
        std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut vars = vec![
        ("ALLEYCAT_KINESIS_PORT", kinesis_port.to_string()),
        ("ALLEYCAT_KINESIS_ACCESS_KEY_ID", credentials().access_key_id),
        ("ALLEYCAT_KINESIS_SECRET_ACCESS_KEY", credentials().secret_access_key),
    ];
    vars.extend(env.iter().cloned());
    let server = ServerProcess::spawn_with(&dirs, RACE_SECONDS, ROSTER, 0, &vars);
    let (base, endpoint) = (server.base.clone(), format!("http://127.0.0.1:{kinesis_port}"));
    assert_eq!(open_shards(&endpoint).await, 4);
    let (stop_watching, stop) = tokio::sync::oneshot::channel();
    let watcher = tokio::spawn({
        let base = base.clone();
        async move { watch_board(&base, stop).await }
    });
    let sim = tokio::spawn(ride(sim_config(&base, RACERS, ClassChoice::One(1))));

    let ridden = |seconds: u64| {
        let base = base.clone();
        eventually(Duration::from_secs(3 * u64::from(RACE_SECONDS)), "seconds ridden", move || {
            let base = base.clone();
            async move {
                (metric(&base, "events_accepted", "").await >= seconds * u64::from(RACERS))
                    .then_some(())
            }
        })
    };
    ridden(4).await;
    let scale = |target: u32| {
        kinesis(
            &endpoint,
            "UpdateShardCount",
            json!({"StreamName": "alleycat", "TargetShardCount": target, "ScalingType": "UNIFORM_SCALING"}),
        )
    };
    scale(8).await;
    assert_eq!(open_shards(&endpoint).await, 8);
    ridden(9).await;
    scale(6).await;
    assert_eq!(open_shards(&endpoint).await, 6);

    let report = sim.await.unwrap();
    assert_stored_as_acknowledged(&report, &base, dirs.data.path()).await;
    stop_watching.send(()).unwrap();
    let rankings = watcher.await.unwrap();
    assert!(rankings >= 10, "the board was watched through the race ({rankings} rankings)");
    server.terminate();
}
