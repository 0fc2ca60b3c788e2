//! The whole pipeline behind the API: events posted over HTTP reach the here-now WebSocket,
//! the delivered objects, the history file and the race results; and survive a SIGKILL.

mod support;

use std::{
    collections::BTreeSet,
    time::{Duration, Instant},
};

use alleycat_testkit::alleycat::delivered;
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use support::{event, eventually, post_events, three_racers_ride, to_json, TestServer, API_KEY};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn two_racers_appear_ranked_on_the_live_board_within_two_ticks() {
    let server = TestServer::start().await;
    let (race, second) = server.race_now();
    let first_racer = server.create_racer("Ada Lovelace").await;
    let (one, token) = (first_racer.id, first_racer.token);
    let ws_url = server.url("/api/live?classId=3").replace("http://", "ws://");
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url).await.unwrap();
    let first: Value = match socket.next().await.unwrap().unwrap() {
        Message::Text(text) => serde_json::from_str(&text).unwrap(),
        other => panic!("unexpected {other:?}"),
    };
    assert_eq!(first["classId"], 3, "the current state comes at once: {first}");
    let hello = serde_json::json!({"type": "hello", "token": token}).to_string();
    socket.send(Message::Text(hello.into())).await.unwrap();

    server.post_events(&token, &[to_json(&event(race, one, 3, second, 60.0))]).await;
    let second_racer = server.create_racer("Grace Hopper").await;
    let two = second_racer.id;
    server.post_events(&second_racer.token, &[to_json(&event(race, two, 3, second, 90.0))]).await;

    let ranking = tokio::time::timeout(Duration::from_secs(3), async {
        loop {
            let Some(Ok(Message::Text(text))) = socket.next().await else {
                panic!("socket closed")
            };
            let message: Value = serde_json::from_str(&text).unwrap();
            if message["racerCount"] == 2 {
                return message;
            }
        }
    })
    .await
    .expect("both racers within two ticks");
    assert_eq!(ranking["raceId"], race);
    assert_eq!(ranking["entries"][0]["racerId"], two);
    assert_eq!(ranking["entries"][1]["racerId"], one);
    assert_eq!(ranking["entries"][0]["total"], 143.75); // (90 + 35) * (50 + 65) / 100
    assert_eq!(ranking["me"]["racerId"], one);
    assert_eq!(ranking["me"]["rank"], 2);
    assert_eq!(ranking["entries"][0]["name"], "Grace Hopper");
    server.stop().await;
}

#[tokio::test]
async fn posted_events_reach_the_history_file_results_and_leaderboard() {
    let server = TestServer::start().await;
    let (race, _) = server.race_now();
    let past = race - 1;
    let events: Vec<Value> = three_racers_ride(past, 2).iter().map(to_json).collect();
    let (_, body) = server.post_events(API_KEY, &events).await;
    assert_eq!(body["failedRecordCount"], 0, "{body}");

    let results: Value = eventually(Duration::from_secs(10), "the race results", || async {
        let response = server.get(&format!("/api/races/{past}?classId=2")).await;
        (response.status() == 200).then_some(())?;
        response.json::<Value>().await.ok()
    })
    .await;
    let rows = results["results"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0]["racerId"], 3);
    assert_eq!(rows[0]["seconds"], 5);
    assert_eq!(rows[0]["total"], 5.0 * 105.0 * 115.0 / 100.0); // cadence 70

    let history = server.get("/api/history/class-2.gz").await;
    assert_eq!(history.status(), 200);
    assert_eq!(history.headers()["content-type"], "application/gzip");
    assert!(history.headers().get("content-encoding").is_none());
    let etag = history.headers()["etag"].to_str().unwrap().to_owned();
    assert!(history.headers().contains_key("last-modified"));
    let bytes = history.bytes().await.unwrap();
    let decoded = alleycat_domain::history::decode(&bytes).expect("a valid history file");
    assert_eq!(decoded.racer_count(), 3);
    let again = server
        .client
        .get(server.url("/api/history/class-2.gz"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);

    let board: Value = server.get("/api/leaderboard?classId=2").await.json().await.unwrap();
    assert_eq!(board["entries"][0]["racerId"], 3);
    assert_eq!(board["entries"][0]["raceId"], past);
    let races: Value = server.get("/api/races?classId=2").await.json().await.unwrap();
    assert_eq!(races["races"][0]["raceId"], past);
    assert_eq!(races["races"][0]["racers"], 3);
    server.stop().await;
}

#[tokio::test]
async fn after_sigkill_every_acknowledged_event_is_delivered_merged_and_live_again() {
    let data = tempfile::tempdir().unwrap();
    let dist = tempfile::tempdir().unwrap();
    support::write_fake_dist(dist.path());
    // The binary runs on the wall clock.
    let (race, second) = support::wall_race_now();
    let past = race - 1;
    let client = support::client();
    let mut acked: BTreeSet<(u64, u64, u64)> = BTreeSet::new();
    let mut sent = 0usize;

    for round in 0..3u64 {
        let (mut child, base) = support::spawn_server(data.path(), dist.path(), &[]);
        // One racer in the current race, for the live board.
        if round == 0 {
            let live = [to_json(&event(race, 150, 4, second, 70.0))];
            let body = post_events(&client, &base, &live).await;
            assert_eq!(body["failedRecordCount"], 0, "{body}");
        }
        // Post batches of backfill; kill the server while a batch is in flight.
        let kill_after = Duration::from_millis(150 + round * 97);
        let started = Instant::now();
        let mut batch_no = 0u64;
        while started.elapsed() < kill_after {
            let racer_base = 1 + (round * 40 + batch_no % 40);
            let events: Vec<Value> = (0..50u32)
                .map(|i| {
                    to_json(&event(past, racer_base, 1, 1 + (batch_no / 40 * 50) as u32 + i, 60.0))
                })
                .collect();
            sent += events.len();
            let body = post_events(&client, &base, &events).await;
            for (record, event) in body["records"].as_array().unwrap().iter().zip(&events) {
                if record["sequenceNumber"].is_string() {
                    acked.insert((
                        past,
                        event["racerId"].as_u64().unwrap(),
                        event["second"].as_u64().unwrap(),
                    ));
                }
            }
            batch_no += 1;
        }
        // A batch in flight at the moment of the kill.
        let in_flight = {
            let events: Vec<Value> = (0..50u32)
                .map(|i| to_json(&event(past, 199, 1, 1 + round as u32 * 50 + i, 60.0)))
                .collect();
            sent += events.len();
            let request = client
                .post(format!("{base}/api/events"))
                .bearer_auth(API_KEY)
                .json(&serde_json::json!({"events": events}))
                .send();
            tokio::spawn(request)
        };
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        child.wait().unwrap();
        let _ = in_flight.await; // its answer, if any, was never seen as an acknowledgement
    }
    assert!(acked.len() > 100, "too few events acknowledged to test anything: {}", acked.len());

    let (mut child, base) = support::spawn_server(data.path(), dist.path(), &[]);
    // Every acknowledged event is delivered, exactly as acknowledged (duplicates harmless).
    let delivered_set =
        eventually(Duration::from_secs(20), "every acknowledged event delivered", || async {
            let set: BTreeSet<_> = delivered(data.path()).into_iter().collect();
            acked.is_subset(&set).then_some(set)
        })
        .await;
    assert!(delivered_set.len() <= sent + 1);
    // And merged: each racer's seconds in the results equal what was delivered for them.
    let results: Value =
        eventually(Duration::from_secs(20), "the delivered events merged", || async {
            let response =
                client.get(format!("{base}/api/races/{past}?classId=1")).send().await.ok()?;
            let body: Value = response.json().await.ok()?;
            let merged: u64 =
                body["results"].as_array()?.iter().map(|r| r["seconds"].as_u64().unwrap()).sum();
            let expected = delivered_set.iter().filter(|(r, _, _)| *r == past).count() as u64;
            (merged == expected).then_some(body)
        })
        .await;
    assert!(!results["results"].as_array().unwrap().is_empty());
    // The live board resumed from the stream: the current-race racer is back at once.
    let ws = format!("{}/api/live?classId=4", base.replace("http://", "ws://"));
    let (mut socket, _) = tokio_tungstenite::connect_async(ws).await.unwrap();
    let Some(Ok(Message::Text(text))) = socket.next().await else { panic!("no live message") };
    let live: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(live["entries"][0]["racerId"], 150, "{live}");
    assert!(support::terminate(&mut child).success(), "SIGTERM exits cleanly");
}
