//! Accepting and serving HTTP connections, with the limits `axum::serve` does not have.
//!
//! - **Connection limit**: at most [`Limits::max_connections`] connections are open at once,
//!   WebSockets included. The accept loop takes a permit *before* it accepts, so when the limit
//!   is reached further connections wait in the kernel's accept queue (and are refused by the
//!   kernel once that is full) while the open ones are served as usual. The permit travels
//!   with the socket ([`Counted`]), so a connection upgraded to a WebSocket keeps holding it
//!   until the socket is dropped.
//! - **Header-read timeout**: a connection must deliver a request's whole head within
//!   [`Limits::header_read_timeout`] from the moment the server waits for it, or it is closed
//!   without an answer (slowloris). The same clock runs while a keep-alive connection is idle
//!   between requests, so idle connections are closed after it too.
//! - **HTTP/1.1 only** (with upgrades, for WebSockets). Browsers speak HTTP/2 only over TLS,
//!   which Alleycat leaves to a proxy; serving HTTP/1 directly means the header timeout holds
//!   from the first byte (an HTTP/1-or-2 sniffer would wait for the first bytes with no limit).
//! - **Graceful shutdown**: when `closing` turns `true` the loop stops accepting (the listener
//!   is closed), every connection finishes its request in flight and closes, WebSockets close
//!   themselves on the same signal (see `http::live`); [`serve`] returns once every connection
//!   is gone, or after [`Limits::drain_timeout`] for connections that do not finish.

use std::{
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::Router;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{watch, OwnedSemaphorePermit, Semaphore},
};

use crate::metrics::Metrics;

/// How long the accept loop pauses after an accept error that is not the peer's fault (e.g. out
/// of file descriptors), so that it does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The connection-level limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Longest wait for a request's head (and for the next request on an idle connection).
    pub header_read_timeout: Duration,
    /// Longest wait, on shutdown, for open connections to finish.
    pub drain_timeout: Duration,
}

/// Serves `app` on `listener` within `limits` until `closing` becomes `true`, then drains the
/// open connections (see the module docs).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    closing: watch::Receiver<bool>,
    metrics: Metrics,
) {
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(max));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let stop = closed(closing.clone());
    tokio::pin!(stop);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            () = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    if !is_peer_error(&error) {
                        tracing::error!(%error, "Cannot accept a connection; pausing.");
                        tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    }
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // Answers are written whole; Nagle's algorithm would only delay them.
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(Counted { stream, _permit: permit, metrics: metrics.clone() });
        metrics.http_connections.inc();
        // Handlers learn who connected (`ConnectInfo`; see `http::client::ClientAddr`).
        let app = app.clone().layer(axum::Extension(axum::extract::ConnectInfo(peer)));
        let connection = http.serve_connection(io, TowerToHyperService::new(app)).with_upgrades();
        let closing = closing.clone();
        tokio::spawn(async move {
            tokio::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = closed(closing) => {
                    connection.as_mut().graceful_shutdown();
                    match tokio::time::timeout(limits.drain_timeout, connection).await {
                        Ok(result) => result,
                        Err(_) => return,
                    }
                }
            };
            if let Err(error) = result {
                // Timeouts, resets and malformed requests: the client's doing, not ours.
                tracing::debug!(%error, "A connection ended with an error.");
            }
        });
    }
    drop(listener);
    tracing::info!("Stopped accepting connections; waiting for open ones to finish.");
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.drain_timeout, permits.acquire_many(all)).await.is_err() {
        tracing::warn!(
            open = max - permits.available_permits(),
            "Connections still open after the drain timeout; leaving them."
        );
    }
}

/// Resolves once `closing` is `true` (or its sender is gone).
async fn closed(mut closing: watch::Receiver<bool>) {
    let _ = closing.wait_for(|&closing| closing).await;
}

/// Accept errors that concern one connection only (it was reset before we took it); the
/// listener is fine and the loop goes on at once.
fn is_peer_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// A socket that holds its connection permit until dropped (also after a WebSocket upgrade).
struct Counted {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
    metrics: Metrics,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.metrics.http_connections.dec();
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
