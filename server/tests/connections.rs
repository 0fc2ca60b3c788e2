//! Connection-level limits over real TCP: slow clients are dropped, the connection limit holds,
//! and the server stays responsive.

mod support;

use std::time::Duration;

use support::TestServer;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::timeout,
};

/// Longest wait for something that must happen.
const DEADLINE: Duration = Duration::from_secs(10);
/// How long a connection over the limit is watched for an answer that must not come. A wait
/// for something *not* to happen can only be bounded; the answer, once allowed, is awaited
/// with [`DEADLINE`].
const NOT_SERVED_WINDOW: Duration = Duration::from_millis(500);

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: alleycat\r\n\r\n";

async fn connect(server: &TestServer) -> TcpStream {
    TcpStream::connect(server.base.trim_start_matches("http://")).await.unwrap()
}

/// Reads one `/healthz` answer (status line to the `ok` body) from a keep-alive connection.
async fn read_answer(socket: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.ends_with(b"\r\n\r\nok") {
        let n = socket.read(&mut buf).await.unwrap();
        assert!(n > 0, "the connection closed before the answer: {answer:?}");
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(answer).unwrap()
}

/// Waits for the server to close `socket` (a 300 ms header timeout, waited for since `since`):
/// with no answer (end of file, or a reset if bytes we sent were still unread), not before the
/// timeout and well before the default one ([`alleycat_server::config::DEFAULT_HEADER_READ_TIMEOUT_MS`]).
async fn assert_closed_unanswered_by_the_header_timeout(
    socket: &mut TcpStream,
    since: std::time::Instant,
) {
    let mut rest = Vec::new();
    let read = timeout(DEADLINE, socket.read_to_end(&mut rest))
        .await
        .expect("the server closed the connection");
    let elapsed = since.elapsed();
    assert!(rest.is_empty(), "unexpected answer {:?}", String::from_utf8_lossy(&rest));
    if let Err(error) = read {
        assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "{error}");
    }
    assert!(elapsed >= Duration::from_millis(250), "closed before the timeout: {elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "closed long after the timeout: {elapsed:?}");
}

/// Sends `/healthz` on `socket` and waits for its answer.
async fn healthz(socket: &mut TcpStream) -> String {
    socket.write_all(HEALTHZ).await.unwrap();
    timeout(DEADLINE, read_answer(socket)).await.expect("an answer in time")
}

#[tokio::test]
async fn a_client_that_stalls_in_its_request_line_is_disconnected_after_the_header_timeout() {
    let server = TestServer::start_with(|c| c.header_read_timeout_ms = 300).await;
    let mut slow = connect(&server).await;
    slow.write_all(b"GET /healthz HT").await.unwrap();
    assert_closed_unanswered_by_the_header_timeout(&mut slow, std::time::Instant::now()).await;
    // Others are served meanwhile and afterwards.
    assert_eq!(server.get("/healthz").await.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_sends_nothing_is_disconnected_after_the_header_timeout() {
    let server = TestServer::start_with(|c| c.header_read_timeout_ms = 300).await;
    let started = std::time::Instant::now();
    let mut silent = connect(&server).await;
    assert_closed_unanswered_by_the_header_timeout(&mut silent, started).await;
    assert_eq!(server.get("/healthz").await.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn past_the_connection_limit_a_connection_waits_until_another_closes() {
    let server = TestServer::start_with(|c| c.max_connections = 2).await;
    let mut first = connect(&server).await;
    let mut second = connect(&server).await;
    assert!(healthz(&mut first).await.starts_with("HTTP/1.1 200"));
    assert!(healthz(&mut second).await.starts_with("HTTP/1.1 200"));

    // The third connects (the kernel queues it) but is not served while two are open.
    let mut third = connect(&server).await;
    third.write_all(HEALTHZ).await.unwrap();
    let early = timeout(NOT_SERVED_WINDOW, read_answer(&mut third)).await;
    assert!(early.is_err(), "the third connection was served past the limit: {early:?}");

    // The first closes: the third is accepted and answered.
    drop(first);
    let answer = timeout(DEADLINE, read_answer(&mut third)).await.expect("served once one closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // The kept-alive second is still served, and after both close a new client is too.
    assert!(healthz(&mut second).await.starts_with("HTTP/1.1 200"));
    drop((second, third));
    let response = timeout(DEADLINE, server.client.get(server.url("/healthz")).send())
        .await
        .expect("the server answers after the limit was reached")
        .unwrap();
    assert_eq!(response.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn open_connections_are_counted_in_the_metrics() {
    let server = TestServer::start().await;
    let mut open = connect(&server).await;
    healthz(&mut open).await;
    let text = server.get("/metrics").await.text().await.unwrap();
    let count: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("alleycat_http_connections "))
        .and_then(|v| v.trim().parse().ok())
        .expect("an open-connections gauge");
    // Ours, and the client's own connection for /metrics.
    assert!(count >= 2, "{count} connections counted:\n{text}");
    server.stop().await;
}
