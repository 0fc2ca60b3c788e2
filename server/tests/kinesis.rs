//! `alleycat serve` with the Kinesis API on: a signed PutRecords into stream `alleycat` is
//! acknowledged, delivered and merged like `/api/events`, and the Kinesis listener stops with
//! the server.

mod support;

use std::time::Duration;

use alleycat_kinesis::sigv4::{self, Credentials};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use support::{event, race_now, test_config, to_json, write_fake_dist};
use tokio::{net::TcpListener, sync::oneshot};

fn credentials() -> Credentials {
    Credentials { access_key_id: "AKIDSERVERTEST".into(), secret_access_key: "s".into() }
}

async fn kinesis(
    client: &reqwest::Client,
    endpoint: &str,
    action: &str,
    body: &Value,
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
        support::now_ms(),
    );
    let response =
        client.post(format!("{endpoint}/")).headers(headers).body(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn events_put_through_kinesis_reach_the_race_results_and_the_listener_stops_with_the_server()
{
    let data = tempfile::tempdir().unwrap();
    let dist = tempfile::tempdir().unwrap();
    write_fake_dist(dist.path());
    let mut config = test_config(data.path(), dist.path());
    config.kinesis_access_key_id = credentials().access_key_id;
    config.kinesis_secret_access_key = credentials().secret_access_key;
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", http.local_addr().unwrap());
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let server =
        tokio::spawn(alleycat_server::run_with_kinesis(http, Some(listener), config, async {
            let _ = stopped.await;
        }));
    let client = support::client();

    let (race, _) = race_now();
    let records: Vec<Value> = (1..=3u32)
        .map(|second| {
            let data = serde_json::to_vec(&to_json(&event(race - 1, 9, 4, second, 60.0))).unwrap();
            json!({"PartitionKey": "9", "Data": base64_encode(&data)})
        })
        .collect();
    let (status, answer) = kinesis(
        &client,
        &endpoint,
        "PutRecords",
        &json!({"StreamName": "alleycat", "Records": records}),
    )
    .await;
    assert_eq!((status, &answer["FailedRecordCount"]), (200, &json!(0)), "{answer}");

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
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(
        client.post(format!("{endpoint}/")).send().await.is_err(),
        "the Kinesis listener must be closed"
    );
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
