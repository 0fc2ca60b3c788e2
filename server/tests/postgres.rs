//! Several servers over one PostgreSQL database (started by the testkit): the schema migrates on
//! start, tokens signed by one server verify on another, the generated API key is shared, and
//! exactly one server runs delivery and merge; when its lease session is terminated it stops and
//! counts the loss; when it stops or is SIGKILLed, another takes over within seconds.

mod support;

use std::time::Duration;

use alleycat_testkit::postgres::Postgres;
use serde_json::Value;
use support::{event, eventually, run_alleycat, to_json, TestServer, RACE_SECONDS};

/// How long a takeover may take ("within seconds").
const TAKEOVER: Duration = Duration::from_secs(10);

async fn is_leader(client: &reqwest::Client, base: &str) -> Option<bool> {
    let response = client.get(format!("{base}/api/metrics")).send().await.ok()?;
    let body: Value = response.json().await.ok()?;
    body["pipelineLeader"].as_bool()
}

async fn lease_losses(client: &reqwest::Client, base: &str) -> Option<u64> {
    let response = client.get(format!("{base}/api/metrics")).send().await.ok()?;
    let body: Value = response.json().await.ok()?;
    body["pipelineLeaseLosses"].as_u64()
}

async fn shared_server(url: &str) -> TestServer {
    let url = url.parse().unwrap();
    TestServer::start_with(|c| {
        c.database.url = Some(url);
        c.api_key = None;
    })
    .await
}

#[tokio::test]
async fn two_servers_on_one_database_share_tokens_and_the_api_key_and_one_runs_the_pipeline() {
    let postgres = Postgres::start().unwrap();
    let url = postgres.url();
    let a = shared_server(&url).await;
    assert!(
        eventually(TAKEOVER, "a leads", || async {
            is_leader(&a.client, &a.base).await.filter(|l| *l)
        })
        .await
    );
    let b = shared_server(&url).await;
    let racer = a.create_racer("Ada Lovelace").await;
    let (race, second) = b.race_now();
    let ridden = [to_json(&event(race, racer.id, 1, second, 80.0))];
    let (status, body) = b.post_events(&racer.token, &ridden).await;
    assert_eq!(status, 200, "a token from server a is accepted by server b: {body}");
    let api_key = postgres.psql("SELECT value FROM shared_keys WHERE name = 'api-key'").unwrap();
    assert_eq!(api_key.len(), 64, "one generated API key in the database");
    for server in [&a, &b] {
        let (status, body) =
            server.post_events(&api_key, &[to_json(&event(race, 6, 2, second, 70.0))]).await;
        assert_eq!(status, 200, "the shared API key works on {}: {body}", server.base);
    }
    assert_eq!(is_leader(&b.client, &b.base).await, Some(false), "one leader at a time");
    assert_eq!(is_leader(&a.client, &a.base).await, Some(true));

    // PostgreSQL ends the leader's lease session: it sees the loss, stops its pipeline and asks
    // again; one of the two leads again.
    // At least the holder's session; b's short-lived try may be caught as well (it just retries).
    assert!(postgres.terminate("alleycat-lease").unwrap() >= 1);
    assert_eq!(
        eventually(TAKEOVER, "a sees its lease lost", || async {
            lease_losses(&a.client, &a.base).await.filter(|n| *n > 0)
        })
        .await,
        1
    );
    eventually(TAKEOVER, "one leader again", || async {
        let a_leads = is_leader(&a.client, &a.base).await?;
        let b_leads = is_leader(&b.client, &b.base).await?;
        (a_leads != b_leads).then_some(())
    })
    .await;
    // The leader (whichever it is now) stops and gives the lease up: the other takes over.
    let (a, b) = if is_leader(&a.client, &a.base).await == Some(true) { (a, b) } else { (b, a) };
    a.stop().await;
    assert!(
        eventually(TAKEOVER, "b leads", || async {
            is_leader(&b.client, &b.base).await.filter(|l| *l)
        })
        .await
    );
    b.stop().await;
}

#[tokio::test]
async fn alleycat_serve_with_a_database_url_migrates_serves_and_hands_the_pipeline_over_when_killed(
) {
    let postgres = Postgres::start().unwrap();
    let url = postgres.create_database("alleycat").unwrap();
    let (data, dist) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    support::write_fake_dist(dist.path());
    let (mut child, base) = support::spawn_server(
        data.path(),
        dist.path(),
        &[("ALLEYCAT_DATABASE_URL", url.clone()), ("ALLEYCAT_API_KEY", String::new())],
    );
    let client = support::client();
    let created = client
        .post(format!("{base}/api/racers"))
        .json(&serde_json::json!({ "name": "Ada Lovelace" }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let session = created.json::<Value>().await.unwrap();
    let token = session["token"].as_str().unwrap().to_owned();
    let me = session["racer"]["id"].as_u64().unwrap();
    assert!(
        eventually(TAKEOVER, "the binary leads", || async {
            is_leader(&client, &base).await.filter(|l| *l)
        })
        .await
    );
    let migrations = postgres
        .psql_in("alleycat", "SELECT count(*) FROM _sqlx_migrations WHERE success")
        .unwrap();
    let embedded = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ingest/src/db/migrations_postgres"
    ))
    .unwrap()
    .count();
    assert_eq!(migrations, embedded.to_string(), "the binary applied every migration");
    let racers = postgres.psql_in("alleycat", "SELECT count(*) FROM roster").unwrap();
    assert_eq!(racers, "200");
    assert!(
        !data.path().join("secret").exists(),
        "with a database URL the token secret is in the database, not the data directory"
    );

    let other = shared_server(&url).await;
    let (race, second) = other.race_now();
    let (status, body) =
        other.post_events(&token, &[to_json(&event(race, me, 3, second, 90.0))]).await;
    assert_eq!(status, 200, "the binary's token verifies on the other server: {body}");
    assert_eq!(is_leader(&other.client, &other.base).await, Some(false));

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    child.wait().unwrap();
    assert!(
        eventually(TAKEOVER, "the survivor leads", || async {
            is_leader(&other.client, &other.base).await.filter(|l| *l)
        })
        .await,
        "the surviving server takes over delivery and merge"
    );
    other.stop().await;
}

#[tokio::test]
async fn results_merged_by_the_leader_are_served_by_every_server_and_rebuild_refills_the_database()
{
    let postgres = Postgres::start().unwrap();
    let url = postgres.url();
    let data = tempfile::tempdir().unwrap();
    let a = {
        let (url, dir) = (url.parse().unwrap(), data.path().to_owned());
        TestServer::start_with(|c| {
            c.database.url = Some(url);
            c.data_dir = dir;
        })
        .await
    };
    assert!(
        eventually(TAKEOVER, "a leads", || async {
            is_leader(&a.client, &a.base).await.filter(|l| *l)
        })
        .await
    );
    let b = shared_server(&url).await;
    let (race, _) = b.race_now();
    let past = race - 1;
    let events: Vec<Value> = (1..=3u64)
        .flat_map(|racer| (1..=5u32).map(move |s| to_json(&event(past, racer, 2, s, 60.0))))
        .collect();
    let (status, body) = a.post_events(support::API_KEY, &events).await;
    assert_eq!((status, &body["failedRecordCount"]), (200, &Value::from(0)), "{body}");

    // Server a delivers and merges; server b answers from the same database.
    let results: Value = eventually(TAKEOVER, "b serves the results", || async {
        let response = b.get(&format!("/api/races/{past}?classId=2")).await;
        let body: Value = response.json().await.ok()?;
        (body["results"].as_array()?.len() == 3).then_some(body)
    })
    .await;
    assert_eq!(results["results"][0]["seconds"], 5);
    a.stop().await;
    b.stop().await;

    // `alleycat rebuild --database-url` refills the shared tables from a's delivered objects.
    postgres
        .psql("DELETE FROM rides; DELETE FROM class_records; DELETE FROM merged_objects")
        .unwrap();
    let rebuilt = run_alleycat(
        &["rebuild"],
        &[
            ("ALLEYCAT_DATA_DIR", data.path().display().to_string()),
            ("ALLEYCAT_DATABASE_URL", url.clone()),
            ("ALLEYCAT_RACE_SECONDS", RACE_SECONDS.to_string()),
        ],
    );
    assert!(rebuilt.status.success(), "{}", String::from_utf8_lossy(&rebuilt.stderr));
    assert_eq!(postgres.psql("SELECT count(*) FROM rides").unwrap(), "3");
    assert!(!data.path().join(alleycat_ingest::db::DATABASE_FILE).exists(), "no SQLite file");
}

/// A server on the shared database at `url`, reached by people at one public URL (as behind a
/// load balancer), so a passkey made through one server signs in through another.
async fn public_server(url: &str) -> TestServer {
    let url = url.parse().unwrap();
    TestServer::start_with(|c| {
        c.database.url = Some(url);
        c.api_key = None;
        c.public_url = Some(PUBLIC_URL.parse().unwrap());
    })
    .await
}

const PUBLIC_URL: &str = "https://alleycat.example.org";

async fn ceremony(server: &TestServer, path: &str, token: Option<&str>) -> Value {
    let mut request = server.client.post(server.url(path)).json(&serde_json::json!({}));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

async fn finish(
    server: &TestServer,
    path: &str,
    token: Option<&str>,
    started: &Value,
    credential: Value,
) -> reqwest::Response {
    let body = serde_json::json!({"challengeId": started["challengeId"], "credential": credential});
    let mut request = server.client.post(server.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn people_devices_passkeys_and_ceremonies_are_shared_by_every_server_on_the_database() {
    use futures::StreamExt;
    use support::passkey::SoftPasskey;
    let postgres = Postgres::start().unwrap();
    let url = postgres.create_database("identity").unwrap();
    let (a, b) = (public_server(&url).await, public_server(&url).await);

    // Created on a, Ada is the same racer on b: session by her cookie, lookup and search.
    let ada = a.create_racer("Ada Lovelace").await;
    let session: Value = b.session(Some(&ada.cookie)).await.json().await.unwrap();
    assert_eq!(session["racer"]["id"], ada.id, "{session}");
    let found: Value = b.get(&format!("/api/racers/{}", ada.id)).await.json().await.unwrap();
    assert_eq!(found["name"], "Ada Lovelace");
    let searched: Value = b.get("/api/racers?q=lovel").await.json().await.unwrap();
    assert_eq!(searched["racers"][0]["id"], ada.id, "{searched}");
    assert_eq!(b.create_racer("Grace Hopper").await.id, ada.id + 1, "one sequence of ids");

    // Riding through b, whose board never saw her created, she shows by name.
    let socket_url = b.url("/api/live?classId=2").replace("http://", "ws://");
    let (mut socket, _) = tokio_tungstenite::connect_async(socket_url).await.unwrap();
    let (race, second) = b.race_now();
    let (status, body) =
        b.post_events(&ada.token, &[to_json(&event(race, ada.id, 2, second, 70.0))]).await;
    assert_eq!((status, &body["failedRecordCount"]), (200, &serde_json::json!(0)), "{body}");
    let named = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text))) = socket.next().await
            else {
                panic!("the socket closed")
            };
            let ranking: Value = serde_json::from_str(&text).unwrap();
            if ranking["racerCount"] == 1 {
                return ranking["entries"][0]["name"].clone();
            }
        }
    })
    .await
    .expect("Ada on b's board within the deadline");
    assert_eq!(named, "Ada Lovelace");

    // A passkey ceremony started on one server finishes on the other, both ways.
    let mut passkey = SoftPasskey::new("ada");
    let started = ceremony(&a, "/api/passkeys/register/start", Some(&ada.token)).await;
    let credential = passkey.register(&started["options"], PUBLIC_URL, None);
    let added = finish(&b, "/api/passkeys/register/finish", Some(&ada.token), &started, credential);
    assert_eq!(added.await.status(), 201);
    let started = ceremony(&b, "/api/passkeys/login/start", None).await;
    let credential = passkey.login(&started["options"], PUBLIC_URL, None);
    let signed_in = finish(&a, "/api/passkeys/login/finish", None, &started, credential).await;
    assert_eq!(signed_in.status(), 200);
    let new_device = support::device_cookie(&signed_in).unwrap();
    assert_eq!(b.session(Some(&new_device)).await.status(), 200);
    // Single use across servers: the challenge a took is gone for b too.
    let replay = finish(
        &b,
        "/api/passkeys/login/finish",
        None,
        &started,
        passkey.login(&started["options"], PUBLIC_URL, None),
    );
    assert_eq!(replay.await.status(), 400);
    // The counter b stored is the one a checks: an older copy of the key is refused.
    let mut clone = SoftPasskey::new("ada");
    clone.user_handle = passkey.user_handle.clone();
    let started = ceremony(&a, "/api/passkeys/login/start", None).await;
    let credential = clone.login(&started["options"], PUBLIC_URL, None);
    assert_eq!(
        finish(&a, "/api/passkeys/login/finish", None, &started, credential).await.status(),
        401
    );

    // Signing out on a is refused on b.
    let signed_out =
        a.client.delete(a.url("/api/session")).header("cookie", &ada.cookie).send().await.unwrap();
    assert_eq!(signed_out.status(), 204);
    assert_eq!(b.session(Some(&ada.cookie)).await.status(), 401);
    assert_eq!(b.session(Some(&new_device)).await.status(), 200, "her other device stays");
    let tables = postgres
        .psql_in("identity", "SELECT (SELECT count(*) FROM people) || ' ' || (SELECT count(*) FROM passkeys) || ' ' || (SELECT count(*) FROM ceremonies WHERE expires_at_ms > 0)")
        .unwrap();
    assert_eq!(tables, "2 1 0", "two people, one passkey, and every ceremony was used up");
    a.stop().await;
    b.stop().await;
}
