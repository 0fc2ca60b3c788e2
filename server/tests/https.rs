//! HTTPS served directly (`--tls-cert`, `--tls-key`), over real TLS on port 0 with a throwaway
//! certificate for `localhost` made here: the clients trust only it, so every request proves
//! the server presents the configured certificate. The API, the app's files and the live
//! WebSocket (wss) work as over HTTP; the connection limits hold during the handshake; a bad
//! file stops the binary with a message naming it.

mod support;

use std::{net::SocketAddr, sync::Arc, time::Duration};

use alleycat_server::config::TlsArgs;
use futures::SinkExt;
use rustls::pki_types::ServerName;
use serde_json::{json, Value};
use support::{event, next_of, to_json, TestServer, API_KEY};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::timeout,
};
use tokio_tungstenite::tungstenite::Message;

/// Every wait for something that must happen has this deadline.
const DEADLINE: Duration = Duration::from_secs(10);

/// A server on HTTPS and what a client needs to trust it.
struct Https {
    server: TestServer,
    address: SocketAddr,
    /// A client configuration whose only root is the server's certificate.
    tls: Arc<rustls::ClientConfig>,
    /// An HTTPS client with that configuration, reaching `localhost` at `address`.
    client: reqwest_tls::Client,
    _files: tempfile::TempDir,
}

impl Https {
    /// A test server serving HTTPS with a new self-signed certificate for `localhost`, with
    /// `adjust` applied to its settings.
    async fn start_with(adjust: impl FnOnce(&mut alleycat_server::ServeConfig)) -> Self {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let files = tempfile::tempdir().unwrap();
        let (cert, key) = (files.path().join("cert.pem"), files.path().join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        let server = TestServer::start_with(|config| {
            config.tls = TlsArgs { cert: Some(cert), key: Some(key) };
            adjust(config);
        })
        .await;
        let address: SocketAddr = server
            .base
            .strip_prefix("https://")
            .expect("the test server's base URL says https")
            .parse()
            .unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(made.cert.der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"http/1.1".to_vec()];
        let client = reqwest_tls::Client::builder()
            .use_preconfigured_tls(tls.clone())
            .resolve("localhost", address)
            .timeout(DEADLINE)
            .build()
            .unwrap();
        Self { server, address, tls: Arc::new(tls), client, _files: files }
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.address.port())
    }

    async fn get(&self, path: &str) -> reqwest_tls::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// A TLS connection to the server, verified against its certificate for `localhost`.
    async fn tls_connect(&self) -> tokio_rustls::client::TlsStream<TcpStream> {
        let tcp = TcpStream::connect(self.address).await.unwrap();
        let connector = tokio_rustls::TlsConnector::from(self.tls.clone());
        let name = ServerName::try_from("localhost").unwrap();
        timeout(DEADLINE, connector.connect(name, tcp))
            .await
            .expect("the handshake finishes in time")
            .expect("the server's certificate is the one configured")
    }
}

#[tokio::test]
async fn health_the_api_and_the_app_answer_over_https() {
    let https = Https::start_with(|_| {}).await;
    let health = https.get("/healthz").await;
    assert_eq!(health.status(), 200);
    assert_eq!(health.version(), reqwest_tls::Version::HTTP_11, "ALPN settles on http/1.1");
    assert_eq!(health.text().await.unwrap(), "ok");

    let config = https.get("/api/config").await;
    assert_eq!(config.status(), 200);
    let config: Value = serde_json::from_slice(&config.bytes().await.unwrap()).unwrap();
    assert!(config["raceSeconds"].is_number(), "{config}");

    let (race, second) = https.server.race_now();
    let events = [to_json(&event(race, 7, 2, second, 60.0))];
    let answer = https
        .client
        .post(https.url("/api/events"))
        .bearer_auth(API_KEY)
        .header("content-type", "application/json")
        .body(json!({ "events": events }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let answer: Value = serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
    assert!(answer["records"][0]["sequenceNumber"].is_string(), "{answer}");

    let page = https.get("/").await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("<title>Alleycat</title>"));
    https.server.stop().await;
}

#[tokio::test]
async fn the_live_socket_works_over_wss() {
    let https = Https::start_with(|_| {}).await;
    let (race, second) = https.server.race_now();
    let url = format!("wss://localhost:{}/api/live?classId=3", https.address.port());
    let (mut socket, _) =
        timeout(DEADLINE, tokio_tungstenite::client_async(url, https.tls_connect().await))
            .await
            .expect("upgrades in time")
            .expect("the upgrade succeeds over TLS");
    assert_eq!(next_of(&mut socket, "ranking").await["classId"], 3);
    let hello = json!({"type": "hello", "token": API_KEY}).to_string();
    socket.send(Message::Text(hello.into())).await.unwrap();
    next_of(&mut socket, "welcome").await;
    let events = [to_json(&event(race, 21, 3, second, 50.0))];
    let frame = json!({"type": "events", "events": events}).to_string();
    socket.send(Message::Text(frame.into())).await.unwrap();
    let acks = next_of(&mut socket, "acks").await;
    assert!(acks["records"][0]["sequenceNumber"].is_string(), "{acks}");
    drop(socket);
    https.server.stop().await;
}

#[tokio::test]
async fn plain_http_on_the_https_port_is_not_served_and_the_server_carries_on() {
    let https = Https::start_with(|_| {}).await;
    let mut plain = TcpStream::connect(https.address).await.unwrap();
    plain.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    // The handshake fails: the server closes (perhaps after a TLS alert), never answers HTTP.
    let _ = timeout(DEADLINE, plain.read_to_end(&mut answer)).await.expect("closed in time");
    assert!(!answer.starts_with(b"HTTP/"), "{}", String::from_utf8_lossy(&answer));
    assert_eq!(https.get("/healthz").await.status(), 200);
    https.server.stop().await;
}

#[tokio::test]
async fn a_client_that_stalls_in_the_handshake_loses_its_connection_and_its_permit() {
    // One connection at a time: while the silent one holds the permit nobody else is served.
    let https = Https::start_with(|c| {
        c.max_connections = 1;
        c.header_read_timeout_ms = 300;
    })
    .await;
    let started = std::time::Instant::now();
    let mut silent = TcpStream::connect(https.address).await.unwrap();
    let mut rest = Vec::new();
    let read = timeout(DEADLINE, silent.read_to_end(&mut rest)).await.expect("closed in time");
    let elapsed = started.elapsed();
    assert!(read.is_ok() && rest.is_empty(), "{read:?} {rest:?}");
    assert!(elapsed >= Duration::from_millis(250), "closed before the timeout: {elapsed:?}");
    // The permit went with it: a real client is served.
    let health = timeout(DEADLINE, https.client.get(https.url("/healthz")).send())
        .await
        .expect("served once the stalled handshake was dropped")
        .unwrap();
    assert_eq!(health.status(), 200);
    https.server.stop().await;
}

#[test]
fn the_binary_refuses_a_missing_certificate_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_owned();
    let missing = dir.path().join("nowhere.pem").to_str().unwrap().to_owned();
    let key = dir.path().join("key.pem");
    std::fs::write(&key, "-----BEGIN PRIVATE KEY-----\n").unwrap();
    let output = support::run_alleycat(
        &["serve", "--port", "0", "--tls-cert", &missing, "--tls-key", key.to_str().unwrap()],
        &[("ALLEYCAT_DATA_DIR", data)],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("cannot read --tls-cert {missing}")), "{stderr}");
    let output = support::run_alleycat(&["serve", "--tls-key", "k.pem"], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("--tls-cert"), "{stderr}");
}

#[tokio::test]
async fn the_demo_field_rides_a_server_that_serves_https() {
    // Its client speaks plain HTTP, so it rides through a loopback listener of its own.
    let https = Https::start_with(|c| c.demo_racers = 2).await;
    support::eventually(Duration::from_secs(30), "the demo field's events", || async {
        let text = https.get("/metrics").await.text().await.ok()?;
        support::metric(&text, "alleycat_events_accepted_total").filter(|&n| n > 0.0)
    })
    .await;
    https.server.stop().await;
}
