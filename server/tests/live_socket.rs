//! The racer's one connection, over a real server on port 0: `GET /api/live` as a WebSocket that
//! carries the ranking out and the racer's events in, proving who it is in its first message.

mod support;

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use support::{event, next_of, to_json, TestServer, API_KEY};
use tokio::time::timeout;
use tokio_tungstenite::{
    tungstenite::{protocol::frame::coding::CloseCode, Message},
    MaybeTlsStream, WebSocketStream,
};

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Every wait on the socket has this deadline.
const WAIT: Duration = Duration::from_secs(10);

async fn connect(server: &TestServer, class: u8) -> Socket {
    let url = server.url(&format!("/api/live?classId={class}")).replace("http://", "ws://");
    let (socket, _) = timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("connects in time")
        .expect("the upgrade succeeds");
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    timeout(WAIT, socket.send(Message::Text(message.to_string().into())))
        .await
        .expect("sends in time")
        .expect("sent");
}

/// The close frame the server sends (other messages skipped).
async fn close_frame(socket: &mut Socket) -> (CloseCode, String) {
    timeout(WAIT, async {
        loop {
            match socket.next().await {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (frame.code, frame.reason.to_string())
                }
                Some(Ok(Message::Close(None))) | None => panic!("closed without a reason"),
                Some(Ok(_)) => {}
                Some(Err(e)) => panic!("the socket failed instead of closing: {e}"),
            }
        }
    })
    .await
    .expect("a close within the deadline")
}

async fn hello(socket: &mut Socket, token: &str) -> Value {
    send(socket, json!({"type": "hello", "token": token})).await;
    next_of(socket, "welcome").await
}

#[tokio::test]
async fn events_over_the_socket_are_acknowledged_in_the_order_sent() {
    let server = TestServer::start().await;
    let (race, second) = server.race_now();
    let racer = server.create_racer("Ada Lovelace").await;
    let (me, token) = (racer.id, racer.token);
    let mut socket = connect(&server, 2).await;
    let first = next_of(&mut socket, "ranking").await;
    assert_eq!(first["classId"], 2, "the ranking comes at once, typed: {first}");
    assert_eq!(hello(&mut socket, &token).await["racerId"], me);

    // Stored, refused (another racer's), stored: each answered in its place.
    let sent = [event(race, me, 2, second, 60.0), event(race, 99, 2, second, 60.0)];
    let events: Vec<Value> = sent.iter().map(to_json).collect();
    send(&mut socket, json!({"type": "events", "events": events})).await;
    let acks = next_of(&mut socket, "acks").await;
    let records = acks["records"].as_array().unwrap();
    assert_eq!(records.len(), 2, "{acks}");
    for (record, event) in records.iter().zip(&sent) {
        assert_eq!(record["uuid"], event.uuid.to_string(), "in the order sent: {acks}");
    }
    assert!(records[0]["sequenceNumber"].is_string(), "stored: {acks}");
    assert_eq!(records[1]["errorCode"], "WrongRacer", "{acks}");
    // The racer's own entry now rides along with the ranking.
    let mine = timeout(WAIT, async {
        loop {
            let ranking = next_of(&mut socket, "ranking").await;
            if ranking["me"]["racerId"] == me {
                return ranking;
            }
        }
    })
    .await
    .expect("the racer's entry within the deadline");
    assert_eq!(mine["me"]["second"], second);
    assert_eq!(mine["me"]["name"], "Ada Lovelace", "a person shows by their name: {mine}");
    server.stop().await;
}

#[tokio::test]
async fn nothing_is_taken_before_hello_and_a_token_in_the_url_counts_for_nothing() {
    let server = TestServer::start().await;
    let (race, second) = server.race_now();
    let racer = server.create_racer("Grace Hopper").await;
    let (me, token) = (racer.id, racer.token);
    let url = server.url(&format!("/api/live?classId=1&token={token}")).replace("http://", "ws://");
    let (mut socket, _) =
        timeout(WAIT, tokio_tungstenite::connect_async(url)).await.unwrap().unwrap();
    send(
        &mut socket,
        json!({"type": "events", "events": [to_json(&event(race, me, 1, second, 50.0))]}),
    )
    .await;
    let refused = next_of(&mut socket, "error").await;
    assert_eq!(refused["code"], "unauthenticated", "{refused}");
    assert!(refused["message"].as_str().unwrap().contains("hello"), "says what to do: {refused}");
    // Nothing was stored: the same event is taken once the socket says hello.
    hello(&mut socket, &token).await;
    send(
        &mut socket,
        json!({"type": "events", "events": [to_json(&event(race, me, 1, second, 50.0))]}),
    )
    .await;
    let acks = next_of(&mut socket, "acks").await;
    assert!(acks["records"][0]["sequenceNumber"].is_string(), "{acks}");
    server.stop().await;
}

#[tokio::test]
async fn a_token_for_one_racer_cannot_send_for_another_over_the_socket() {
    let server = TestServer::start().await;
    let (race, second) = server.race_now();
    let racer = server.create_racer("Katherine Johnson").await;
    let other = server.create_racer("Dorothy Vaughan").await;
    let token = racer.token;
    let mut socket = connect(&server, 3).await;
    hello(&mut socket, &token).await;
    send(
        &mut socket,
        json!({"type": "events", "events": [to_json(&event(race, other.id, 3, second, 50.0))]}),
    )
    .await;
    let acks = next_of(&mut socket, "acks").await;
    assert_eq!(acks["records"][0]["errorCode"], "WrongRacer", "{acks}");
    server.stop().await;
}

#[tokio::test]
async fn the_api_key_may_send_for_any_racer_over_the_socket() {
    let server = TestServer::start().await;
    let (race, second) = server.race_now();
    let mut socket = connect(&server, 3).await;
    let welcome = hello(&mut socket, API_KEY).await;
    assert_eq!(welcome["racerId"], Value::Null, "a producer, not a racer: {welcome}");
    let events: Vec<Value> =
        [21, 22].iter().map(|&r| to_json(&event(race, r, 3, second, 50.0))).collect();
    send(&mut socket, json!({"type": "events", "events": events})).await;
    let acks = next_of(&mut socket, "acks").await;
    assert!(
        acks["records"].as_array().unwrap().iter().all(|r| r["sequenceNumber"].is_string()),
        "{acks}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_bad_token_gets_an_error_and_the_socket_closes_with_the_reason() {
    let server = TestServer::start().await;
    let mut socket = connect(&server, 1).await;
    send(&mut socket, json!({"type": "hello", "token": "not-a-token"})).await;
    let refused = next_of(&mut socket, "error").await;
    assert_eq!(refused["code"], "unauthenticated");
    let (code, reason) = close_frame(&mut socket).await;
    assert_eq!(u16::from(code), 4401);
    assert_eq!(reason, "invalid token");
    server.stop().await;
}

#[tokio::test]
async fn a_malformed_frame_gets_a_clear_error_and_the_socket_stays_open() {
    let server = TestServer::start().await;
    let racer = server.create_racer("Hedy Lamarr").await;
    let (me, token) = (racer.id, racer.token);
    let mut socket = connect(&server, 1).await;
    for bad in ["not json", r#"{"type": "dance"}"#, r#"{"type": "events", "events": 3}"#] {
        timeout(WAIT, socket.send(Message::Text(bad.into()))).await.unwrap().unwrap();
        let error = next_of(&mut socket, "error").await;
        assert_eq!(error["code"], "bad_request", "{bad}: {error}");
    }
    timeout(WAIT, socket.send(Message::Binary(vec![1, 2, 3].into()))).await.unwrap().unwrap();
    assert_eq!(next_of(&mut socket, "error").await["code"], "bad_request");
    assert_eq!(hello(&mut socket, &token).await["racerId"], me, "still open and working");
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_frame_closes_the_socket_with_a_reason_and_the_server_stays_healthy() {
    let server = TestServer::start().await;
    let mut socket = connect(&server, 1).await;
    let huge = format!(r#"{{"type": "hello", "token": "{}"}}"#, "x".repeat(1024 * 1024 + 1));
    // The server may close before it has read the whole frame; the send itself may then fail.
    let _ = timeout(WAIT, socket.send(Message::Text(huge.into()))).await;
    let (code, reason) = close_frame(&mut socket).await;
    assert_eq!(code, CloseCode::Size, "{reason}");
    assert!(reason.contains("1 MiB"), "{reason}");
    assert_eq!(server.get("/healthz").await.status(), 200);
    let mut again = connect(&server, 1).await;
    assert_eq!(next_of(&mut again, "ranking").await["classId"], 1);
    server.stop().await;
}

#[tokio::test]
async fn a_flood_of_frames_closes_that_socket_only() {
    let server = TestServer::start().await;
    let mut socket = connect(&server, 1).await;
    let mut quiet = connect(&server, 1).await;
    for _ in 0..200 {
        if timeout(WAIT, socket.send(Message::Text(r#"{"type": "noise"}"#.into())))
            .await
            .unwrap()
            .is_err()
        {
            break;
        }
    }
    let (code, reason) = close_frame(&mut socket).await;
    assert_eq!(code, CloseCode::Policy, "{reason}");
    assert!(reason.contains("too many messages"), "{reason}");
    assert_eq!(next_of(&mut quiet, "ranking").await["classId"], 1, "others carry on");
    assert_eq!(server.get("/healthz").await.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn a_resent_event_is_answered_as_stored_and_another_event_for_its_second_is_refused() {
    let server = TestServer::start().await;
    let (race, second) = server.race_now();
    let racer = server.create_racer("Margaret Hamilton").await;
    let (me, token) = (racer.id, racer.token);
    let mut socket = connect(&server, 4).await;
    hello(&mut socket, &token).await;
    let ridden = event(race, me, 4, second, 70.0);
    send(&mut socket, json!({"type": "events", "events": [to_json(&ridden)]})).await;
    let stored = next_of(&mut socket, "acks").await;
    assert!(stored["records"][0]["sequenceNumber"].is_string(), "{stored}");

    // The acknowledgement was lost: the outbox sends the same event again, on a new socket.
    let mut again = connect(&server, 4).await;
    hello(&mut again, &token).await;
    let other = event(race, me, 4, second, 20.0);
    send(&mut again, json!({"type": "events", "events": [to_json(&ridden), to_json(&other)]}))
        .await;
    let acks = next_of(&mut again, "acks").await;
    let records = acks["records"].as_array().unwrap();
    assert_eq!(records[0]["uuid"], ridden.uuid.to_string());
    assert_eq!(records[0]["alreadyStored"], true, "a resend is a success: {acks}");
    assert!(records[0].get("errorCode").is_none(), "{acks}");
    assert_eq!(records[1]["errorCode"], "DuplicateEvent", "another event for the second: {acks}");
    server.stop().await;
}

#[tokio::test]
async fn late_events_over_the_socket_are_taken_within_the_grace_and_refused_after_it() {
    let server = TestServer::start().await;
    let config: Value = server.get("/api/config").await.json().await.unwrap();
    assert_eq!(config["lateSeconds"], 60, "the app learns the grace from the config: {config}");
    let (race, _) = server.race_now();
    let racer = server.create_racer("Marie Curie").await;
    let clock = alleycat_domain::RaceClock::new(server.config.race_seconds);
    let last = server.config.race_seconds;
    // The rider's last two seconds were ridden offline; the race ends, then the network returns.
    let (second_last, final_second) =
        (event(race, racer.id, 5, last - 1, 70.0), event(race, racer.id, 5, last, 70.0));
    server.clock.set(clock.end_ms(race) + 59_000);
    let mut socket = connect(&server, 5).await;
    hello(&mut socket, &racer.token).await;
    send(&mut socket, json!({"type": "events", "events": [to_json(&second_last)]})).await;
    let within = next_of(&mut socket, "acks").await;
    assert!(within["records"][0]["sequenceNumber"].is_string(), "59 s after the end: {within}");

    server.clock.set(clock.end_ms(race) + 61_000);
    send(&mut socket, json!({"type": "events", "events": [to_json(&final_second)]})).await;
    let after = next_of(&mut socket, "acks").await;
    assert_eq!(after["records"][0]["errorCode"], "RaceNotRunning", "61 s after the end: {after}");
    server.stop().await;
}

#[tokio::test]
async fn a_producer_socket_says_hello_with_the_api_key_sends_for_any_racer_and_gets_the_ranking() {
    let server = TestServer::start().await;
    let (race, second) = server.race_now();
    let mut socket = connect(&server, 5).await;
    send(&mut socket, json!({"type": "hello", "apiKey": API_KEY})).await;
    let welcome = next_of(&mut socket, "welcome").await;
    assert_eq!(welcome["racerId"], Value::Null, "a producer, not a racer: {welcome}");
    for racer in [31, 32, 33] {
        let events = [to_json(&event(race, racer, 5, second, 40.0 + racer as f64))];
        send(&mut socket, json!({"type": "events", "events": events})).await;
        let acks = next_of(&mut socket, "acks").await;
        assert!(acks["records"][0]["sequenceNumber"].is_string(), "racer {racer}: {acks}");
    }
    // The class's ranking keeps coming on the same socket, with every racer it rode for.
    let ranking = timeout(WAIT, async {
        loop {
            let ranking = next_of(&mut socket, "ranking").await;
            if ranking["racerCount"] == 3 {
                return ranking;
            }
        }
    })
    .await
    .expect("the three racers on the board within the deadline");
    let ranked: Vec<&Value> =
        ranking["entries"].as_array().unwrap().iter().map(|e| &e["racerId"]).collect();
    assert_eq!(ranked, [33, 32, 31], "{ranking}");
    assert!(ranking.get("me").is_none(), "a producer has no entry of its own: {ranking}");
    server.stop().await;
}

#[tokio::test]
async fn a_racer_token_is_not_an_api_key_and_that_hello_closes_the_socket() {
    let server = TestServer::start().await;
    let racer = server.create_racer("Rosalind Franklin").await;
    let mut socket = connect(&server, 1).await;
    send(&mut socket, json!({"type": "hello", "apiKey": racer.token})).await;
    let refused = next_of(&mut socket, "error").await;
    assert_eq!(refused["code"], "unauthenticated", "{refused}");
    let (code, reason) = close_frame(&mut socket).await;
    assert_eq!(u16::from(code), 4401);
    assert_eq!(reason, "invalid API key");
    server.stop().await;
}
