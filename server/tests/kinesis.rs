//! `alleycat serve` with the Kinesis API on: a signed PutRecords into stream `alleycat` is
//! acknowledged, delivered and merged like `/api/events`, a producer's retried records count once
//! on the here-now board, and the Kinesis listener stops with the server.

mod support;

use std::{sync::Arc, time::Duration};

use alleycat_domain::{Clock, ManualClock, RaceClock, RacerEvent};
use alleycat_kinesis::sigv4::{self, Credentials};
use alleycat_server::{RunOptions, ServeConfig};
use futures::StreamExt;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use support::{event, test_config, to_json, write_fake_dist};
use tokio::{net::TcpListener, sync::oneshot};
use tokio_tungstenite::tungstenite::Message;

fn credentials() -> Credentials {
    Credentials { access_key_id: "AKIDSERVERTEST".into(), secret_access_key: "s".into() }
}

/// Calls `action` signed at `now_ms` (the server's clock: it refuses signatures far from it).
async fn kinesis(
    client: &reqwest::Client,
    endpoint: &str,
    action: &str,
    body: &Value,
    now_ms: u64,
) -> (u16, Value) {
    let body = serde_json::to_vec(body).unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("host", endpoint.trim_start_matches("http://").parse().unwrap());
    headers.insert("content-type", "application/x-amz-json-1.1".parse().unwrap());
    headers.insert("x-amz-target", format!("Kinesis_20131202.{action}").parse().unwrap());
    let uri = "/".parse().unwrap();
    sigv4::sign(
        &credentials(),
        "us-east-1",
        &"POST".parse().unwrap(),
        &uri,
        &mut headers,
        &body,
        now_ms,
    );
    let response =
        client.post(format!("{endpoint}/")).headers(headers).body(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// `alleycat serve` with the Kinesis API on, each on its own port 0.
struct KinesisServer {
    base: String,
    endpoint: String,
    client: reqwest::Client,
    clock: ManualClock,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dirs: [tempfile::TempDir; 2],
}

impl KinesisServer {
    async fn start(adjust: impl FnOnce(&mut ServeConfig)) -> Self {
        let data = tempfile::tempdir().unwrap();
        let dist = tempfile::tempdir().unwrap();
        write_fake_dist(dist.path());
        let mut config = test_config(data.path(), dist.path());
        config.kinesis_access_key_id = credentials().access_key_id;
        config.kinesis_secret_access_key = credentials().secret_access_key;
        adjust(&mut config);
        let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", http.local_addr().unwrap());
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let clock = ManualClock::new(support::test_start_ms());
        let options = RunOptions { kinesis: Some(listener), clock: Arc::new(clock.clone()) };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(alleycat_server::run_with(http, config, options, async {
            let _ = stopped.await;
        }));
        let client = support::client();
        Self { base, endpoint, client, clock, stop, task, _dirs: [data, dist] }
    }

    /// The race running on this server's clock, for races of `race_seconds`.
    fn race_now(&self, race_seconds: u32) -> u64 {
        RaceClock::new(race_seconds).race_at(self.clock.now_ms())
    }

    /// PutRecords of `events` into stream `alleycat` under one partition key (so one shard, read
    /// in this order); asserts every record was acknowledged.
    async fn put_records(&self, partition_key: &str, events: &[RacerEvent]) {
        let records: Vec<Value> = events
            .iter()
            .map(|e| {
                let data = serde_json::to_vec(&to_json(e)).unwrap();
                json!({"PartitionKey": partition_key, "Data": base64_encode(&data)})
            })
            .collect();
        let (status, answer) = kinesis(
            &self.client,
            &self.endpoint,
            "PutRecords",
            &json!({"StreamName": "alleycat", "Records": records}),
            self.clock.now_ms(),
        )
        .await;
        assert_eq!((status, &answer["FailedRecordCount"]), (200, &json!(0)), "{answer}");
    }

    async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn events_put_through_kinesis_reach_the_race_results_and_the_listener_stops_with_the_server()
{
    let server = KinesisServer::start(|_| {}).await;
    let (client, base, endpoint) =
        (server.client.clone(), server.base.clone(), server.endpoint.clone());
    let race = server.race_now(support::RACE_SECONDS);
    let events: Vec<RacerEvent> =
        (1..=3u32).map(|second| event(race - 1, 9, 4, second, 60.0)).collect();
    server.put_records("9", &events).await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let results = loop {
        let response =
            client.get(format!("{base}/api/races/{}?classId=4", race - 1)).send().await.unwrap();
        if response.status() == 200 {
            break response.json::<Value>().await.unwrap();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Kinesis records never reached the results"
        );
        tokio::time::sleep(Duration::from_millis(50)).await; // polling the public API, with a deadline
    };
    assert_eq!(results["results"][0]["racerId"], 9);
    assert_eq!(results["results"][0]["seconds"], 3);
    server.stop().await;
    assert!(
        client.post(format!("{endpoint}/")).send().await.is_err(),
        "the Kinesis listener must be closed"
    );
}

/// A Kinesis producer retries a PutRecords whose answer it lost, so the stream holds the same
/// (race, racer, second) twice; the here-now board must count it once, in a race of any length.
/// (Its duplicate check once covered seconds below 512 only.)
#[tokio::test]
async fn a_producers_retried_records_count_once_on_the_board_of_a_900_second_race() {
    const RACE_SECONDS: u32 = 900;
    let server = KinesisServer::start(|config| config.race_seconds = RACE_SECONDS).await;
    let ws = format!("{}/api/live?classId=5", server.base.replace("http://", "ws://"));
    let (mut socket, _) = tokio_tungstenite::connect_async(ws).await.unwrap();

    let race = server.race_now(RACE_SECONDS);
    // Cadence 65, resistance 50: an output of 115.00 each second.
    let ride: Vec<RacerEvent> =
        [100, 600, 900].iter().map(|&second| event(race, 7, 5, second, 65.0)).collect();
    server.put_records("7", &ride).await;
    server.put_records("7", &ride).await; // the retry
                                          // A last record behind them in the same shard: once the board shows it, it has read both
                                          // copies of the ride. Racer 8 rides slower (40.25), so racer 7 stays first.
    server.put_records("7", &[event(race, 8, 5, 1, 0.0)]).await;

    // Wait for a tick with both racers (in this race, or as the finished race if the race
    // ended meanwhile).
    let entry = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let Some(Ok(Message::Text(text))) = socket.next().await else {
                panic!("the live socket closed")
            };
            let ranking: Value = serde_json::from_str(&text).unwrap();
            if ranking["raceId"] == race && ranking["racerCount"] == 2 {
                return ranking["entries"][0].clone();
            }
        }
    })
    .await
    .expect("both racers on the board within five seconds");
    assert_eq!((&entry["racerId"], &entry["second"]), (&json!(7), &json!(900)), "{entry}");
    assert_eq!(entry["total"], 345.0, "three seconds of 115.00, each counted once: {entry}");
    server.stop().await;
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
