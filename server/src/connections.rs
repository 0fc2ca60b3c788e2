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
//! - **HTTP/1.1 only** (with upgrades, for WebSockets). Serving HTTP/1 directly means the header
//!   timeout holds from the first byte (an HTTP/1-or-2 sniffer would wait for the first bytes
//!   with no limit); over TLS, ALPN offers only `http/1.1` (see `crate::tls`).
//! - **TLS** (with `--tls-cert`): each accepted connection is secured before its first request,
//!   in its own task so the accept loop never waits on a client. The handshake, too, must
//!   finish within [`Limits::header_read_timeout`] (a client that stalls in it would hold its
//!   permit forever), and is abandoned when the server closes; then the header timeout starts.
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
use tokio_rustls::{server::TlsStream, TlsAcceptor};

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
/// open connections (see the module docs); over TLS with `tls`, else plain HTTP.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    closing: watch::Receiver<bool>,
    metrics: Metrics,
    tls: Option<TlsAcceptor>,
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
        let socket = Counted { stream, _permit: permit, metrics: metrics.clone() };
        metrics.http_connections.inc();
        // Handlers learn who connected (`ConnectInfo`; see `http::client::ClientAddr`).
        let app = app.clone().layer(axum::Extension(axum::extract::ConnectInfo(peer)));
        let (http, tls, closing) = (http.clone(), tls.clone(), closing.clone());
        tokio::spawn(async move {
            match tls {
                None => serve_connection(&http, socket, app, limits, closing).await,
                Some(tls) => {
                    let limit = limits.header_read_timeout;
                    if let Some(secured) = handshake(&tls, socket, limit, closing.clone()).await {
                        serve_connection(&http, secured, app, limits, closing).await;
                    }
                }
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

/// Serves HTTP/1.1 requests (and upgrades) on one connection until it ends; when the server
/// closes, finishes the request in flight within [`Limits::drain_timeout`].
async fn serve_connection<S>(
    http: &hyper::server::conn::http1::Builder,
    socket: S,
    app: Router,
    limits: Limits,
    closing: watch::Receiver<bool>,
) where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let service = TowerToHyperService::new(app);
    let connection = http.serve_connection(TokioIo::new(socket), service).with_upgrades();
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
}

/// Secures `socket` with `tls`: the handshake must finish within `limit`, and is abandoned when
/// the server closes. `None` (the socket, and its permit, dropped) when it does not.
async fn handshake(
    tls: &TlsAcceptor,
    socket: Counted,
    limit: Duration,
    closing: watch::Receiver<bool>,
) -> Option<TlsStream<Counted>> {
    tokio::select! {
        secured = tokio::time::timeout(limit, tls.accept(socket)) => match secured {
            Ok(Ok(secured)) => Some(secured),
            // Plain HTTP on the HTTPS port, an unknown certificate authority, a scanner: the
            // client's doing, not ours.
            Ok(Err(error)) => {
                tracing::debug!(%error, "A TLS handshake failed.");
                None
            }
            Err(_) => {
                tracing::debug!(?limit, "A TLS handshake did not finish in time.");
                None
            }
        },
        () = closed(closing) => None,
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
