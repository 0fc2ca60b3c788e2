//! People's racers over real HTTP: creating one, the device cookie, sessions only with proof,
//! signing out, invitations, the limit per address, devices, and the search.

mod support;

use std::time::Duration;

use alleycat_domain::{racer::FIRST_PERSON_ID, Clock};
use serde_json::{json, Value};
use support::{device_cookie, set_cookie, TestServer, API_KEY};

const HOW_TO_GET_A_RACER: &str = "Create your racer or sign in with a passkey.";

async fn create(server: &TestServer, body: Value) -> reqwest::Response {
    server.client.post(server.url("/api/racers")).json(&body).send().await.unwrap()
}

async fn message(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["message"].as_str().unwrap_or_default().to_owned()
}

/// The ids of the people the search finds for `query`.
async fn people_found(server: &TestServer, query: &str) -> Vec<u64> {
    let found: Value =
        server.get(&format!("/api/racers?q={query}&limit=200")).await.json().await.unwrap();
    found["racers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_u64().unwrap())
        .filter(|&id| id >= FIRST_PERSON_ID)
        .collect()
}

#[tokio::test]
async fn a_new_racer_gets_a_session_and_a_device_cookie_kept_only_as_a_hash() {
    let server = TestServer::start().await;
    let response = create(&server, json!({"name": "  Ada   Lovelace "})).await;
    assert_eq!(response.status(), 201);
    let cookie = set_cookie(&response).expect("a device cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/api", "Max-Age=31536000"] {
        assert!(cookie.split("; ").any(|a| a == attribute), "{attribute} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain http://localhost: no Secure: {cookie}");
    let secret =
        device_cookie(&response).unwrap().trim_start_matches("alleycat_device=").to_owned();
    assert!(secret.len() >= 43, "a long random secret: {secret}");
    let session: Value = response.json().await.unwrap();
    let id = session["racer"]["id"].as_u64().unwrap();
    assert!(id >= FIRST_PERSON_ID, "people's ids start at 1,000,000: {session}");
    assert_eq!(session["racer"]["name"], "Ada Lovelace", "trimmed, one space inside");
    assert_eq!(session["racer"]["simulated"], false);
    assert!(session["token"].as_str().unwrap().starts_with(&format!("{id}.")));
    assert!(session["expiresAtMs"].as_u64().unwrap() > server.clock.now_ms());

    let second = server.create_racer("Grace Hopper").await;
    assert_eq!(second.id, id + 1, "ids count up");
    // The database holds the secret's hash, never the secret.
    let mut stored = Vec::new();
    for file in ["results.sqlite", "results.sqlite-wal"] {
        stored.extend(std::fs::read(server.config.data_dir.join(file)).unwrap_or_default());
    }
    assert!(!stored.is_empty());
    let holds = |needle: &[u8]| stored.windows(needle.len()).any(|w| w == needle);
    assert!(!holds(secret.as_bytes()), "the cookie's secret is not stored");
    let hash = alleycat_server::identity::sha256_hex(&secret);
    assert!(holds(hash.as_bytes()), "its SHA-256 is");
    server.stop().await;
}

#[tokio::test]
async fn the_device_cookie_is_secure_when_the_public_url_is_https() {
    let server = TestServer::start_with(|c| {
        c.public_url = Some("https://alleycat.example.org".parse().unwrap());
    })
    .await;
    let response = create(&server, json!({"name": "Ada"})).await;
    assert_eq!(response.status(), 201);
    assert!(set_cookie(&response).unwrap().ends_with("; Secure"));
    let signed_out = server
        .client
        .delete(server.url("/api/session"))
        .header("cookie", device_cookie(&response).unwrap())
        .send()
        .await
        .unwrap();
    assert!(set_cookie(&signed_out).unwrap().contains("Max-Age=0; Secure"));
    server.stop().await;
}

#[tokio::test]
async fn bad_names_are_refused_with_the_reason_and_nothing_is_stored() {
    let server = TestServer::start().await;
    let cases = [
        ("", "cannot be empty"),
        ("     ", "cannot be empty"),
        (&"a".repeat(41), "at most 40 characters"),
        ("Ada\nLovelace", "control characters"),
        ("Ada\u{0}", "control characters"),
        ("<script>alert(1)</script>", "letters, digits, spaces"),
    ];
    for (name, reason) in cases {
        let response = create(&server, json!({ "name": name })).await;
        assert_eq!(response.status(), 400, "{name:?}");
        assert!(set_cookie(&response).is_none(), "no device for {name:?}");
        let text = message(response).await;
        assert!(text.contains(reason), "{name:?}: {text}");
    }
    for body in [json!({}), json!({"name": 7}), json!("Ada")] {
        assert_eq!(create(&server, body.clone()).await.status(), 400, "{body}");
    }
    assert!(people_found(&server, "").await.is_empty(), "no racer was created");
    server.stop().await;
}

#[tokio::test]
async fn a_session_is_given_for_the_device_cookie_and_a_racer_id_alone_proves_nothing() {
    let server = TestServer::start().await;
    let ada = server.create_racer("Ada Lovelace").await;

    let response = server.session(Some(&ada.cookie)).await;
    assert_eq!(response.status(), 200);
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["racer"]["id"], ada.id);
    assert_eq!(session["racer"]["name"], "Ada Lovelace");
    let (status, body) = server.post_events(session["token"].as_str().unwrap(), &[]).await;
    assert_eq!(status, 200, "the token works: {body}");
    let with_body = server
        .client
        .post(server.url("/api/session"))
        .header("cookie", &ada.cookie)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(with_body.status(), 200, "{{}} is an empty request too");

    for (cookie, body) in [
        (None, None),
        (Some("alleycat_device=not-a-device"), None),
        (Some("theme=dark"), None),
        (None, Some(json!({ "racerId": ada.id }))),
        (Some(ada.cookie.as_str()), Some(json!({ "racerId": ada.id }))),
        (None, Some(json!({ "racerId": 5 }))),
    ] {
        let mut request = server.client.post(server.url("/api/session"));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        if let Some(body) = &body {
            request = request.json(body);
        }
        let refused = request.send().await.unwrap();
        assert_eq!(refused.status(), 401, "{cookie:?} {body:?}");
        let error: Value = refused.json().await.unwrap();
        assert_eq!(error["error"], "unauthorized");
        let text = error["message"].as_str().unwrap();
        assert!(text.ends_with(HOW_TO_GET_A_RACER), "{cookie:?} {body:?}: {text}");
    }
    server.stop().await;
}

#[tokio::test]
async fn signing_out_revokes_the_device_on_the_server_and_clears_the_cookie() {
    let server = TestServer::start().await;
    let ada = server.create_racer("Ada Lovelace").await;
    let response = server
        .client
        .delete(server.url("/api/session"))
        .header("cookie", &ada.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let cleared = set_cookie(&response).unwrap();
    assert!(cleared.starts_with("alleycat_device=;") && cleared.contains("Max-Age=0"), "{cleared}");
    // A copy of the cookie kept elsewhere is refused from now on.
    let refused = server.session(Some(&ada.cookie)).await;
    assert_eq!(refused.status(), 401);
    assert!(message(refused).await.contains("signed out"));
    // Signing out twice, or without a cookie, is no error.
    let again = server.client.delete(server.url("/api/session")).send().await.unwrap();
    assert_eq!(again.status(), 204);
    server.stop().await;
}

#[tokio::test]
async fn a_racer_lists_their_devices_and_removing_one_signs_it_out() {
    let server = TestServer::start().await;
    let created = server
        .client
        .post(server.url("/api/racers"))
        .header("user-agent", "  Mozilla/5.0 (X11; Linux) Firefox/140.0 \t")
        .json(&json!({"name": "Ada Lovelace"}))
        .send()
        .await
        .unwrap();
    let cookie = device_cookie(&created).unwrap();
    let session: Value = created.json().await.unwrap();
    let token = session["token"].as_str().unwrap().to_owned();
    let ada = support::TestRacer {
        id: session["racer"]["id"].as_u64().unwrap(),
        token,
        session: serde_json::from_value(session).unwrap(),
        cookie,
    };
    let list = |token: Option<String>| {
        let mut request =
            server.client.get(server.url("/api/devices")).header("cookie", &ada.cookie);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let devices: Value = list(Some(ada.token.clone())).await.unwrap().json().await.unwrap();
    let devices = devices["credentials"].as_array().unwrap().clone();
    assert_eq!(devices.len(), 1, "{devices:?}");
    assert_eq!(devices[0]["current"], true, "the device asking: {devices:?}");
    assert_eq!(devices[0]["label"], "Mozilla/5.0 (X11; Linux) Firefox/140.0", "{devices:?}");
    assert_eq!(devices[0]["createdAtMs"], server.clock.now_ms());

    assert_eq!(list(None).await.unwrap().status(), 401, "only the signed-in racer");
    assert_eq!(list(Some(API_KEY.into())).await.unwrap().status(), 403, "not the API key");
    let grace = server.create_racer("Grace Hopper").await;
    let id = devices[0]["id"].as_str().unwrap();
    let theirs = server
        .client
        .delete(server.url(&format!("/api/devices/{id}")))
        .bearer_auth(&grace.token)
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), 404, "nobody removes another racer's device");
    assert_eq!(server.session(Some(&ada.cookie)).await.status(), 200);

    let removed = server
        .client
        .delete(server.url(&format!("/api/devices/{id}")))
        .bearer_auth(&ada.token)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    assert_eq!(server.session(Some(&ada.cookie)).await.status(), 401, "that browser is out");
    let devices: Value = list(Some(ada.token.clone())).await.unwrap().json().await.unwrap();
    assert_eq!(devices["credentials"], json!([]));
    server.stop().await;
}

#[tokio::test]
async fn people_are_found_by_name_and_id_and_every_racer_says_whether_it_is_simulated() {
    let server = TestServer::start().await;
    let zoe = server.create_racer("Zoë Quintana").await;
    let other = server.create_racer("Ada Zoë").await;
    let found: Value = server.get("/api/racers?q=ZOË").await.json().await.unwrap();
    let ids: Vec<u64> =
        found["racers"].as_array().unwrap().iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids[..2], [zoe.id, other.id], "names starting with it first: {found}");
    assert_eq!(found["racers"][0]["simulated"], false);
    let by_id: Value =
        server.get(&format!("/api/racers?q={}", other.id)).await.json().await.unwrap();
    assert_eq!(by_id["racers"][0]["id"], other.id);
    let wildcard: Value = server.get("/api/racers?q=%25").await.json().await.unwrap();
    assert_eq!(wildcard["racers"], json!([]), "% matches only a % (no name has one)");

    let person: Value = server.get(&format!("/api/racers/{}", zoe.id)).await.json().await.unwrap();
    assert_eq!(
        person,
        json!({"id": zoe.id, "name": "Zoë Quintana", "avatarSeed": zoe.session.racer.avatar_seed, "simulated": false})
    );
    let roster: Value = server.get("/api/racers/5").await.json().await.unwrap();
    assert_eq!(roster["simulated"], true, "{roster}");
    let simulated: Value = server.get("/api/racers?q=&limit=200").await.json().await.unwrap();
    for racer in simulated["racers"].as_array().unwrap() {
        let id = racer["id"].as_u64().unwrap();
        assert_eq!(racer["simulated"], id < FIRST_PERSON_ID, "{racer}");
    }
    assert_eq!(server.get(&format!("/api/racers/{}", other.id + 1)).await.status(), 404);
    server.stop().await;
}

#[tokio::test]
async fn too_many_racers_from_one_address_get_429_with_retry_after_until_the_allowance_returns() {
    let server = TestServer::start_with(|c| c.racer_creations_per_hour = 2).await;
    server.create_racer("One").await;
    server.create_racer("Two").await;
    let refused = create(&server, json!({"name": "Three"})).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1800", "one more every half hour");
    assert!(set_cookie(&refused).is_none());
    let text = message(refused).await;
    assert!(text.contains("Too many racers") && text.contains("30 minutes"), "{text}");
    // Bad names do not use the allowance up, and are still told what is wrong.
    assert_eq!(create(&server, json!({"name": ""})).await.status(), 400);
    server.clock.advance(Duration::from_secs(1800));
    assert_eq!(create(&server, json!({"name": "Three"})).await.status(), 201);
    assert_eq!(create(&server, json!({"name": "Four"})).await.status(), 429);
    server.stop().await;
}

#[tokio::test]
async fn with_invitations_a_racer_is_created_only_with_an_unused_code() {
    let server =
        TestServer::start_with(|c| c.registration = alleycat_server::config::Registration::Invite)
            .await;
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    let refused = create(&server, json!({"name": "Ada"})).await;
    assert_eq!(refused.status(), 403);
    assert!(message(refused).await.contains("invitation"));

    let invites = |credential: &str, body: Value| {
        server.client.post(server.url("/api/invites")).bearer_auth(credential).json(&body).send()
    };
    let made = invites(API_KEY, json!({"count": 2})).await.unwrap();
    assert_eq!(made.status(), 201);
    let links: Vec<String> =
        serde_json::from_value(made.json::<Value>().await.unwrap()["links"].clone()).unwrap();
    assert_eq!(links.len(), 2);
    let prefix = format!("http://localhost:{port}/?invite=");
    let codes: Vec<&str> = links.iter().map(|l| l.strip_prefix(&prefix).expect(l)).collect();
    assert_ne!(codes[0], codes[1]);

    let wrong = create(&server, json!({"name": "Ada", "invite": "made-up"})).await;
    assert_eq!(wrong.status(), 403);
    assert!(message(wrong).await.contains("unknown or was used"));
    let ada = create(&server, json!({"name": "Ada", "invite": codes[0]})).await;
    assert_eq!(ada.status(), 201);
    let again = create(&server, json!({"name": "Grace", "invite": codes[0]})).await;
    assert_eq!(again.status(), 403, "single use");
    assert_eq!(people_found(&server, "grace").await, Vec::<u64>::new(), "nothing stored");
    assert_eq!(create(&server, json!({"name": "Grace", "invite": codes[1]})).await.status(), 201);

    // Only the API key makes invitations.
    let token = ada.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_owned();
    assert_eq!(invites(&token, json!({})).await.unwrap().status(), 403);
    assert_eq!(invites(API_KEY, json!({"count": 0})).await.unwrap().status(), 400);

    // The offline command works beside the running server, on its data directory.
    let output = support::run_alleycat(
        &["invite", "--count", "2", "--public-url", "https://alleycat.example.org"],
        &[("ALLEYCAT_DATA_DIR", server.config.data_dir.display().to_string())],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8(output.stdout).unwrap();
    let offline: Vec<&str> = printed.lines().collect();
    assert_eq!(offline.len(), 2, "{printed}");
    let code = offline[0].strip_prefix("https://alleycat.example.org/?invite=").expect(offline[0]);
    assert_eq!(create(&server, json!({"name": "Hedy", "invite": code})).await.status(), 201);
    assert_eq!(create(&server, json!({"name": "Hedy", "invite": code})).await.status(), 403);
    server.stop().await;
}
