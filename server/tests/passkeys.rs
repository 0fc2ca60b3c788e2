//! Passkeys over real HTTP, with a software authenticator written independently of the server's
//! WebAuthn library ([`support::passkey::SoftPasskey`]): adding one, signing in with it on a
//! browser that has no cookie, and every refusal (replayed or expired challenge, wrong origin,
//! wrong relying party, unknown credential, a counter going backwards).

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::{device_cookie, passkey::SoftPasskey, set_cookie, TestRacer, TestServer};

/// The origin the default public URL gives a test server: `http://localhost:<port>`.
fn origin(server: &TestServer) -> String {
    format!("http://localhost:{}", server.base.rsplit(':').next().unwrap())
}

async fn post(
    server: &TestServer,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let mut request = server.client.post(server.url(path)).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

async fn start(server: &TestServer, path: &str, token: Option<&str>) -> Value {
    let response = post(server, path, token, json!({})).await;
    assert_eq!(response.status(), 200, "{path}");
    response.json().await.unwrap()
}

/// Adds `passkey` to `racer`; returns the answer of the finish.
async fn register(
    server: &TestServer,
    racer: &TestRacer,
    passkey: &mut SoftPasskey,
) -> reqwest::Response {
    let started = start(server, "/api/passkeys/register/start", Some(&racer.token)).await;
    let credential = passkey.register(&started["options"], &origin(server), None);
    let finish = json!({"challengeId": started["challengeId"], "credential": credential});
    post(server, "/api/passkeys/register/finish", Some(&racer.token), finish).await
}

/// Signs in with `passkey` as a browser at `origin` claiming the RP id `rp_id`.
/// `GET path` as the racer holding `token`: the JSON answer.
async fn get_as(server: &TestServer, path: &str, token: &str) -> Value {
    let response = server.client.get(server.url(path)).bearer_auth(token).send().await.unwrap();
    response.json().await.unwrap()
}

async fn login_as(
    server: &TestServer,
    passkey: &mut SoftPasskey,
    origin: &str,
    rp_id: Option<&str>,
) -> reqwest::Response {
    let started = start(server, "/api/passkeys/login/start", None).await;
    let credential = passkey.login(&started["options"], origin, rp_id);
    let finish = json!({"challengeId": started["challengeId"], "credential": credential});
    post(server, "/api/passkeys/login/finish", None, finish).await
}

async fn login(server: &TestServer, passkey: &mut SoftPasskey) -> reqwest::Response {
    login_as(server, passkey, &origin(server), None).await
}

async fn refusal(response: reqwest::Response, status: u16) -> String {
    assert_eq!(response.status(), status);
    assert!(set_cookie(&response).is_none(), "no device for a refused sign-in");
    let body: Value = response.json().await.unwrap();
    body["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_passkey_added_to_a_racer_signs_in_on_a_browser_without_a_cookie() {
    let server = TestServer::start().await;
    let ada = server.create_racer("Ada Lovelace").await;
    let started = start(&server, "/api/passkeys/register/start", Some(&ada.token)).await;
    let options = &started["options"]["publicKey"];
    assert_eq!(options["rp"]["id"], "localhost");
    assert_eq!(options["user"]["displayName"], "Ada Lovelace");
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(options["authenticatorSelection"]["userVerification"], "preferred");
    assert_eq!(options["timeout"], 300_000);

    let mut passkey = SoftPasskey::new("ada");
    let added = register(&server, &ada, &mut passkey).await;
    assert_eq!(added.status(), 201);
    let added: Value = added.json().await.unwrap();
    assert_eq!(added["id"], passkey.id());
    assert!(added["label"].as_str().unwrap().starts_with("Passkey added "), "{added}");

    let login_options = start(&server, "/api/passkeys/login/start", None).await;
    assert_eq!(login_options["options"]["publicKey"]["rpId"], "localhost");
    assert_eq!(
        login_options["options"]["publicKey"]["allowCredentials"],
        json!([]),
        "discoverable: the browser offers what it has"
    );
    let response = login(&server, &mut passkey).await;
    assert_eq!(response.status(), 200);
    let cookie = device_cookie(&response).expect("signing in gives this browser a device");
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["racer"]["id"], ada.id);
    assert_eq!(session["racer"]["name"], "Ada Lovelace");
    // The new device gets sessions of its own, and counts among Ada's devices.
    let again = server.session(Some(&cookie)).await;
    assert_eq!(again.json::<Value>().await.unwrap()["racer"]["id"], ada.id);
    let devices = get_as(&server, "/api/devices", &ada.token).await;
    assert_eq!(devices["credentials"].as_array().unwrap().len(), 2, "{devices}");
    // Used again (the counter moves on), it still works.
    assert_eq!(login(&server, &mut passkey).await.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn a_racer_lists_and_removes_their_passkeys_and_a_removed_one_no_longer_signs_in() {
    let server = TestServer::start().await;
    let ada = server.create_racer("Ada Lovelace").await;
    let grace = server.create_racer("Grace Hopper").await;
    let mut first = SoftPasskey::new("ada-phone");
    let mut second = SoftPasskey::new("ada-laptop");
    assert_eq!(register(&server, &ada, &mut first).await.status(), 201);
    assert_eq!(register(&server, &ada, &mut second).await.status(), 201);
    // The same authenticator again is excluded in the options and refused at the finish.
    let started = start(&server, "/api/passkeys/register/start", Some(&ada.token)).await;
    let excluded = started["options"]["publicKey"]["excludeCredentials"].as_array().unwrap();
    assert_eq!(excluded.len(), 2, "{started}");
    assert_eq!(register(&server, &grace, &mut first).await.status(), 409, "another racer's key");

    let listed = get_as(&server, "/api/passkeys", &ada.token).await;
    let ids: Vec<&str> = listed["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&first.id().as_str()) && ids.contains(&second.id().as_str()));
    let graces = get_as(&server, "/api/passkeys", &grace.token).await;
    assert_eq!(graces["credentials"], json!([]), "each racer sees their own");
    assert_eq!(server.get("/api/passkeys").await.status(), 401);

    let remove = |token: &str, id: &str| {
        server.client.delete(server.url(&format!("/api/passkeys/{id}"))).bearer_auth(token).send()
    };
    assert_eq!(remove(&grace.token, &first.id()).await.unwrap().status(), 404, "not hers");
    assert_eq!(remove(&ada.token, &first.id()).await.unwrap().status(), 204);
    let text = refusal(login(&server, &mut first).await, 401).await;
    assert!(text.contains("not known here"), "{text}");
    assert_eq!(login(&server, &mut second).await.status(), 200, "the other one still works");
    server.stop().await;
}

#[tokio::test]
async fn a_replayed_or_expired_challenge_is_refused() {
    let server = TestServer::start().await;
    let ada = server.create_racer("Ada Lovelace").await;
    let mut passkey = SoftPasskey::new("ada");
    assert_eq!(register(&server, &ada, &mut passkey).await.status(), 201);

    let started = start(&server, "/api/passkeys/login/start", None).await;
    let credential = passkey.login(&started["options"], &origin(&server), None);
    let finish = json!({"challengeId": started["challengeId"], "credential": credential});
    let first = post(&server, "/api/passkeys/login/finish", None, finish.clone()).await;
    assert_eq!(first.status(), 200);
    let replayed = post(&server, "/api/passkeys/login/finish", None, finish).await;
    assert!(refusal(replayed, 400).await.contains("used already"));

    let started = start(&server, "/api/passkeys/login/start", None).await;
    server.clock.advance(Duration::from_secs(5 * 60));
    let credential = passkey.login(&started["options"], &origin(&server), None);
    let finish = json!({"challengeId": started["challengeId"], "credential": credential});
    let expired = post(&server, "/api/passkeys/login/finish", None, finish).await;
    assert!(refusal(expired, 400).await.contains("expired"));

    // A registration expires the same way.
    let started = start(&server, "/api/passkeys/register/start", Some(&ada.token)).await;
    server.clock.advance(Duration::from_secs(5 * 60 + 1));
    let mut late = SoftPasskey::new("late");
    let credential = late.register(&started["options"], &origin(&server), None);
    let finish = json!({"challengeId": started["challengeId"], "credential": credential});
    let expired = post(&server, "/api/passkeys/register/finish", Some(&ada.token), finish).await;
    assert!(refusal(expired, 400).await.contains("expired"));
    server.stop().await;
}

#[tokio::test]
async fn an_assertion_for_another_origin_or_relying_party_is_refused() {
    let server = TestServer::start().await;
    let ada = server.create_racer("Ada Lovelace").await;
    let mut passkey = SoftPasskey::new("ada");
    assert_eq!(register(&server, &ada, &mut passkey).await.status(), 201);
    let port = server.base.rsplit(':').next().unwrap().to_owned();
    for wrong in ["http://evil.example", "http://localhost:1", "https://localhost"] {
        let wrong =
            if wrong == "http://evil.example" { format!("{wrong}:{port}") } else { wrong.into() };
        let text = refusal(login_as(&server, &mut passkey, &wrong, None).await, 401).await;
        assert!(text.contains("refused"), "{wrong}: {text}");
    }
    let text =
        refusal(login_as(&server, &mut passkey, &origin(&server), Some("evil.example")).await, 401)
            .await;
    assert!(text.contains("refused"), "{text}");

    // A registration made for another origin or relying party is refused too.
    for (origin, rp_id) in
        [(format!("http://evil.example:{port}"), None), (origin(&server), Some("evil.example"))]
    {
        let started = start(&server, "/api/passkeys/register/start", Some(&ada.token)).await;
        let mut other = SoftPasskey::new("other");
        let credential = other.register(&started["options"], &origin, rp_id);
        let finish = json!({"challengeId": started["challengeId"], "credential": credential});
        let refused =
            post(&server, "/api/passkeys/register/finish", Some(&ada.token), finish).await;
        assert!(refusal(refused, 400).await.contains("could not be added"), "{origin} {rp_id:?}");
    }
    assert_eq!(login(&server, &mut passkey).await.status(), 200, "the right one still works");
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_credential_and_a_user_handle_that_is_not_its_owner_are_refused() {
    let server = TestServer::start().await;
    let ada = server.create_racer("Ada Lovelace").await;
    let grace = server.create_racer("Grace Hopper").await;
    let mut adas = SoftPasskey::new("ada");
    assert_eq!(register(&server, &ada, &mut adas).await.status(), 201);
    let mut stranger = SoftPasskey::new("stranger");
    stranger.user_handle = adas.user_handle.clone();
    let text = refusal(login(&server, &mut stranger).await, 401).await;
    assert!(text.contains("not known here"), "{text}");
    // Ada's key claiming to be Grace's.
    let mut graces = SoftPasskey::new("grace");
    assert_eq!(register(&server, &grace, &mut graces).await.status(), 201);
    adas.user_handle = graces.user_handle.clone();
    assert_eq!(login(&server, &mut adas).await.status(), 401);
    let bad = json!({"challengeId": "nope", "credential": {"id": "x"}});
    assert_eq!(post(&server, "/api/passkeys/login/finish", None, bad).await.status(), 400);
    let started = start(&server, "/api/passkeys/login/start", None).await;
    let malformed = json!({"challengeId": started["challengeId"], "credential": {"id": 3}});
    let text =
        refusal(post(&server, "/api/passkeys/login/finish", None, malformed).await, 400).await;
    assert!(text.contains("toJSON"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn a_signature_counter_going_backwards_is_refused_as_a_possibly_cloned_key() {
    let server = TestServer::start().await;
    let ada = server.create_racer("Ada Lovelace").await;
    let mut passkey = SoftPasskey::new("ada");
    assert_eq!(register(&server, &ada, &mut passkey).await.status(), 201);
    assert_eq!(login(&server, &mut passkey).await.status(), 200);
    assert_eq!(login(&server, &mut passkey).await.status(), 200);
    // A copy of the key, made before those two sign-ins, counts from where it was.
    let mut clone = SoftPasskey::new("ada");
    clone.user_handle = passkey.user_handle.clone();
    let text = refusal(login(&server, &mut clone).await, 401).await;
    assert!(text.contains("counter went backwards"), "{text}");
    assert_eq!(login(&server, &mut passkey).await.status(), 200, "the original goes on");
    server.stop().await;
}

#[tokio::test]
async fn only_a_signed_in_person_adds_passkeys_and_only_to_their_own_racer() {
    let server = TestServer::start().await;
    let ada = server.create_racer("Ada Lovelace").await;
    let grace = server.create_racer("Grace Hopper").await;
    assert_eq!(post(&server, "/api/passkeys/register/start", None, json!({})).await.status(), 401);
    let key = support::API_KEY;
    assert_eq!(
        post(&server, "/api/passkeys/register/start", Some(key), json!({})).await.status(),
        403
    );
    // A ceremony started by Ada cannot be finished by Grace.
    let started = start(&server, "/api/passkeys/register/start", Some(&ada.token)).await;
    let mut passkey = SoftPasskey::new("ada");
    let credential = passkey.register(&started["options"], &origin(&server), None);
    let finish = json!({"challengeId": started["challengeId"], "credential": credential});
    let refused = post(&server, "/api/passkeys/register/finish", Some(&grace.token), finish).await;
    assert_eq!(refused.status(), 400);
    let listed = get_as(&server, "/api/passkeys", &grace.token).await;
    assert_eq!(listed["credentials"], json!([]));
    server.stop().await;
}
