//! Who a client is behind a reverse proxy, over real HTTP: the per-address limit on racer
//! creation counts the address in `X-Forwarded-For` only when the TCP peer (here 127.0.0.1) is a
//! `--trusted-proxy`; from any other peer the header is ignored, so sending one does not escape
//! the limit.

mod support;

use serde_json::json;
use support::TestServer;

/// Creates a racer as a client at `forwarded_for` (sent as `X-Forwarded-For`) and returns the
/// answer's status.
async fn create_racer_as(server: &TestServer, forwarded_for: &str, name: &str) -> u16 {
    let response = server
        .client
        .post(server.url("/api/racers"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({ "name": name }))
        .send()
        .await
        .unwrap();
    response.status().as_u16()
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    let server = TestServer::start_with(|c| {
        c.racer_creations_per_hour = 1;
        c.proxies.trusted = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    assert_eq!(create_racer_as(&server, "203.0.113.1", "Ada").await, 201);
    assert_eq!(create_racer_as(&server, "203.0.113.1", "Ada Again").await, 429);
    // Another client behind the same proxy is another address.
    assert_eq!(create_racer_as(&server, "203.0.113.2", "Grace").await, 201);
    // A client's own X-Forwarded-For left of the proxy's entry counts for nothing.
    assert_eq!(create_racer_as(&server, "198.51.100.9, 203.0.113.1", "Sneaky").await, 429);
    server.stop().await;
}

#[tokio::test]
async fn a_spoofed_forwarded_header_from_an_untrusted_peer_is_ignored() {
    let server = TestServer::start_with(|c| c.racer_creations_per_hour = 1).await;
    assert_eq!(create_racer_as(&server, "203.0.113.1", "Ada").await, 201);
    // The peer is still 127.0.0.1, whatever the header says.
    assert_eq!(create_racer_as(&server, "203.0.113.2", "Grace").await, 429);
    server.stop().await;
}
