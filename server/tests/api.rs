//! The HTTP API against a real server on port 0 with a temporary data directory.

mod support;

use alleycat_domain::Clock;
use serde_json::{json, Value};
use support::{event, to_json, TestServer, API_KEY};

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response.headers().get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

#[tokio::test]
async fn healthz_answers_ok() {
    let server = TestServer::start().await;
    let response = server.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "ok");
    server.stop().await;
}

#[tokio::test]
async fn config_lists_six_classes_and_the_race_clock() {
    let server = TestServer::start_with(|c| c.race_seconds = 20).await;
    let body: Value = server.get("/api/config").await.json().await.unwrap();
    assert_eq!(body["classes"].as_array().unwrap().len(), 6);
    assert_eq!(body["raceSeconds"], 20);
    let now = body["serverTimeMs"].as_u64().unwrap();
    assert_eq!(now, server.clock.now_ms(), "the server tells the time on the clock it was given");
    let next = body["nextRaceStartMs"].as_u64().unwrap();
    assert!(next > now && next - now <= 20_000, "next start {next} is not within a race of {now}");
    assert_eq!(body["currentRaceId"].as_u64().unwrap(), now / 20_000);
    server.stop().await;
}

#[tokio::test]
async fn unknown_api_paths_get_a_json_404_not_the_app() {
    let server = TestServer::start().await;
    let response = server.get("/api/nope").await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    server.stop().await;
}

#[tokio::test]
async fn index_is_revalidated_secured_and_unknown_paths_fall_back_to_it() {
    let server = TestServer::start().await;
    for path in ["/", "/index.html", "/races/123"] {
        let response = server.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(header(&response, "cache-control"), "no-cache", "{path}");
        assert!(header(&response, "content-type").starts_with("text/html"), "{path}");
        let csp = header(&response, "content-security-policy");
        assert!(csp.contains("'wasm-unsafe-eval'") && csp.contains("'sha256-"), "{path}: {csp}");
        assert_eq!(header(&response, "x-content-type-options"), "nosniff");
        assert_eq!(header(&response, "referrer-policy"), "strict-origin-when-cross-origin");
        assert!(response.text().await.unwrap().contains("<title>Alleycat</title>"));
    }
    server.stop().await;
}

#[tokio::test]
async fn hashed_assets_are_immutable_and_precompressed_files_are_used() {
    let server = TestServer::start().await;
    let wasm = server.get("/alleycat-app-0123456789abcdef_bg.wasm").await;
    assert_eq!(wasm.status(), 200);
    assert_eq!(header(&wasm, "cache-control"), "public, max-age=31536000, immutable");
    assert_eq!(header(&wasm, "content-type"), "application/wasm");
    let js = server
        .client
        .get(server.url("/alleycat-app-0123456789abcdef.js"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(header(&js, "content-encoding"), "gzip");
    assert_eq!(js.bytes().await.unwrap().as_ref(), b"gz!");
    server.stop().await;
}

#[tokio::test]
async fn paths_cannot_escape_the_app_folder() {
    let server = TestServer::start().await;
    for path in ["/..%2f..%2f..%2fetc%2fpasswd", "/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd"] {
        let response = server.get(path).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(!body.contains("root:"), "{path} served a file outside dist");
        // Refused as a bad or unknown path, or answered with the app itself: never an error.
        let the_app = status == 200 && body.contains("<title>Alleycat</title>");
        assert!(the_app || [400, 404].contains(&status.as_u16()), "{path}: {status} {body:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn events_are_acknowledged_per_event_with_shard_and_sequence() {
    let server = TestServer::start().await;
    let (race, second) = server.race_now();
    let racer = server.create_racer("Ada Lovelace").await;
    let (me, token) = (racer.id, racer.token);
    let (status, body) =
        server.post_events(&token, &[to_json(&event(race, me, 1, second, 80.0))]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["failedRecordCount"], 0);
    let record = &body["records"][0];
    assert!(record["shardId"].as_str().unwrap().starts_with("shardId-"));
    assert_eq!(record["sequenceNumber"].as_str().unwrap().len(), 39);
    server.stop().await;
}

#[tokio::test]
async fn one_bad_event_fails_alone_with_its_own_error() {
    let server = TestServer::start().await;
    let (race, second) = server.race_now();
    let racer = server.create_racer("Ada Lovelace").await;
    let (me, token) = (racer.id, racer.token);
    let good = to_json(&event(race, me, 1, second, 80.0));
    let mut wrong_class = to_json(&event(race, me, 1, second, 80.0));
    wrong_class["classId"] = json!(9);
    let not_an_event = json!({"hello": "world"});
    let mut too_fast = to_json(&event(race, me, 1, second, 80.0));
    too_fast["cadence"] = json!(400);
    let (status, body) =
        server.post_events(&token, &[wrong_class, good, not_an_event, too_fast]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["failedRecordCount"], 3);
    let codes: Vec<&str> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["errorCode"].as_str().unwrap_or("ok"))
        .collect();
    assert_eq!(codes, ["InvalidClass", "ok", "MalformedEvent", "CadenceOutOfRange"]);
    assert!(body["records"][0]["errorMessage"].as_str().unwrap().contains("classId 9"));
    server.stop().await;
}

#[tokio::test]
async fn events_need_a_valid_credential() {
    let server = TestServer::start().await;
    let (race, second) = server.race_now();
    let racer = server.create_racer("Ada Lovelace").await;
    let (me, token) = (racer.id, racer.token);
    let events = [to_json(&event(race, me, 1, second, 80.0))];
    let forged = token.replacen(&format!("{me}."), &format!("{}.", me + 1), 1);
    for credential in ["", "not-a-token", forged.as_str(), "test-producer-ke"] {
        let (status, body) = server.post_events(credential, &events).await;
        assert_eq!(status, 403, "{credential:?}: {body}");
        assert_eq!(body["error"], "forbidden");
    }
    let anonymous = server
        .client
        .post(server.url("/api/events"))
        .json(&json!({"events": events}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 403);
    server.stop().await;
}

#[tokio::test]
async fn a_racer_token_cannot_send_for_another_racer_but_the_api_key_can() {
    let server = TestServer::start().await;
    let (race, second) = server.race_now();
    let a = server.create_racer("Ada Lovelace").await;
    let b = server.create_racer("Grace Hopper").await;
    for someone_else in [b.id, 6] {
        let theirs = [to_json(&event(race, someone_else, 1, second, 80.0))];
        let (status, body) = server.post_events(&a.token, &theirs).await;
        assert_eq!(
            (status, &body["records"][0]["errorCode"]),
            (200, &json!("WrongRacer")),
            "{body}"
        );
        let (_, body) = server.post_events(API_KEY, &theirs).await;
        assert_eq!(body["failedRecordCount"], 0, "{body}");
    }
    server.stop().await;
}

#[tokio::test]
async fn a_replayed_event_is_answered_as_stored_and_another_for_its_second_is_a_duplicate() {
    let server = TestServer::start().await;
    let (race, second) = server.race_now();
    let racer = server.create_racer("Ada Lovelace").await;
    let (me, token) = (racer.id, racer.token);
    let first = to_json(&event(race, me, 1, second, 80.0));
    let (_, body) = server.post_events(&token, std::slice::from_ref(&first)).await;
    assert_eq!(body["failedRecordCount"], 0);
    let (_, body) = server.post_events(&token, &[first]).await;
    assert_eq!(body["failedRecordCount"], 0, "the same event again is not a failure: {body}");
    assert_eq!(body["records"][0]["alreadyStored"], true, "{body}");
    // Same racer and second with a fresh uuid is still the same second.
    let (_, body) =
        server.post_events(API_KEY, &[to_json(&event(race, me, 1, second, 90.0))]).await;
    assert_eq!(body["records"][0]["errorCode"], "DuplicateEvent");
    server.stop().await;
}

#[tokio::test]
async fn stale_races_and_future_seconds_are_refused_for_racers() {
    let server = TestServer::start().await;
    // Second 100 of the race: a minute ahead is still in this race, refused only for being
    // ahead (at second 3,590 it would be past the race's end: refused for another reason).
    server.set_second(100);
    let (race, second) = server.race_now();
    let racer = server.create_racer("Ada Lovelace").await;
    let (me, token) = (racer.id, racer.token);
    let stale = to_json(&event(race - 3, me, 1, 10, 80.0));
    let ahead = to_json(&event(race, me, 1, second + 60, 80.0));
    let future = to_json(&event(race + 2, me, 1, 1, 80.0));
    let (_, body) = server.post_events(&token, &[stale.clone(), ahead, future]).await;
    let codes: Vec<&str> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["errorCode"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["RaceNotRunning", "SecondAhead", "RaceNotRunning"]);
    // A producer may backfill a past race.
    let (_, body) = server.post_events(API_KEY, &[stale]).await;
    assert_eq!(body["failedRecordCount"], 0, "{body}");
    server.stop().await;
}

#[tokio::test]
async fn a_racer_sending_more_than_three_events_a_second_is_rate_limited() {
    let server = TestServer::start().await;
    // Second 10: five distinct seconds (6 to 10) ridden and due, sent within one second.
    server.set_second(10);
    let (race, second) = server.race_now();
    let racer = server.create_racer("Ada Lovelace").await;
    let (me, token) = (racer.id, racer.token);
    let events: Vec<Value> =
        (0..5).map(|i| to_json(&event(race, me, 1, second - i, 80.0))).collect();
    let (_, body) = server.post_events(&token, &events).await;
    let codes: Vec<&str> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["errorCode"].as_str().unwrap_or("ok"))
        .collect();
    assert_eq!(codes, ["ok", "ok", "ok", "RateLimited", "RateLimited"], "{body}");
    server.stop().await;
}

#[tokio::test]
async fn oversized_and_malformed_bodies_are_refused_whole() {
    let server = TestServer::start_with(|c| c.max_body_bytes = 4096).await;
    let big = "x".repeat(10_000);
    let response = server
        .client
        .post(server.url("/api/events"))
        .bearer_auth(API_KEY)
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(response.json::<Value>().await.unwrap()["error"], "payload_too_large");

    for body in ["{", "[]", "{\"events\": 3}", "{\"evnts\": []}"] {
        let response = server
            .client
            .post(server.url("/api/events"))
            .bearer_auth(API_KEY)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        assert_eq!(response.json::<Value>().await.unwrap()["error"], "bad_request", "{body}");
    }
    server.stop().await;
}

#[tokio::test]
async fn more_than_500_events_in_one_call_are_refused() {
    let server = TestServer::start().await;
    let (race, _) = server.race_now();
    let events: Vec<Value> = (0..501)
        .map(|i| to_json(&event(race - 5, 1 + i % 100, 1, 1 + (i / 100) as u32, 80.0)))
        .collect();
    let (status, body) = server.post_events(API_KEY, &events).await;
    assert_eq!(status, 400, "{body}");
    server.stop().await;
}

#[tokio::test]
async fn racers_can_be_looked_up_and_searched() {
    let server = TestServer::start().await;
    let racer: Value = server.get("/api/racers/42").await.json().await.unwrap();
    assert_eq!(racer["id"], 42);
    let name = racer["name"].as_str().unwrap().to_owned();
    let last = name.rsplit(' ').next().unwrap();
    let found: Value = server.get(&format!("/api/racers?q={last}")).await.json().await.unwrap();
    assert!(found["racers"].as_array().unwrap().iter().any(|r| r["id"] == 42), "{found}");
    assert_eq!(server.get("/api/racers/0").await.status(), 404);
    assert_eq!(server.get("/api/racers/abc").await.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn a_class_without_history_gets_an_empty_history_file_and_bad_names_are_404() {
    let server = TestServer::start().await;
    let response = server.get("/api/history/class-2.gz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/gzip");
    assert!(response.headers().get("etag").is_none(), "an empty file is not a version");
    let bytes = response.bytes().await.unwrap();
    let empty = alleycat_domain::history::decode(&bytes).expect("a valid history file");
    assert_eq!((empty.class_id(), empty.racer_count()), (2, 0));
    let config: Value = server.get("/api/config").await.json().await.unwrap();
    assert_eq!(u64::from(empty.race_seconds()), config["raceSeconds"].as_u64().unwrap());
    for bad in ["class-9.gz", "class-0.gz", "class-2", "..%2Fclass-2.gz"] {
        assert_eq!(server.get(&format!("/api/history/{bad}")).await.status(), 404, "{bad}");
    }
    for path in [
        "/api/races?classId=0",
        "/api/leaderboard",
        "/api/leaderboard?classId=x",
        "/api/live?classId=7",
    ] {
        assert_eq!(server.get(path).await.status(), 400, "{path}");
    }
    server.stop().await;
}

#[tokio::test]
async fn metrics_are_served_in_the_prometheus_text_format() {
    let server = TestServer::start().await;
    let (race, second) = server.race_now();
    server.post_events(API_KEY, &[to_json(&event(race, 3, 1, second, 80.0))]).await;
    let (_, _) = server.post_events(API_KEY, &[to_json(&event(race, 3, 1, second, 80.0))]).await;
    let text = server.get("/metrics").await.text().await.unwrap();
    assert_eq!(support::metric(&text, "alleycat_events_accepted_total"), Some(1.0), "{text}");
    assert_eq!(
        support::metric(&text, "alleycat_events_rejected_total{reason=\"DuplicateEvent\"}"),
        Some(1.0),
        "{text}"
    );
    assert!(text.contains("alleycat_stream_records_total{shard=\"shardId-"), "{text}");
    assert!(text.contains("alleycat_consumer_lag_records{consumer=\"delivery\"}"), "{text}");
    assert!(text.contains("alleycat_http_request_duration_seconds_bucket"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn the_demo_fields_racers_are_left_out_of_the_search_and_no_roster_racer_gets_a_session() {
    let server = TestServer::start_with(|c| c.demo_racers = 5).await;
    let found: Value = server.get("/api/racers?q=&limit=100").await.json().await.unwrap();
    let ids: Vec<u64> =
        found["racers"].as_array().unwrap().iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids.len(), 95, "everyone but the demo's five: {ids:?}");
    assert!(ids.iter().all(|&id| id <= 95));
    for racer in [98, 95] {
        let refused = server
            .client
            .post(server.url("/api/session"))
            .json(&json!({ "racerId": racer }))
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 401, "racer {racer}");
    }
    server.stop().await;
}
