//! Where a request comes from: [`ClientAddr`], the one place that decides a client's address
//! (for per-client limits such as racer creation, and for logs).
//!
//! Today it is the TCP peer. Behind a reverse proxy every request comes from the proxy, so the
//! client's own address is in the forwarded headers, which must be trusted only when the peer is
//! a configured proxy (anyone can send the headers).

use std::{convert::Infallible, net::IpAddr, net::SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::request::Parts,
};

/// The address of the client that sent a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(peer)| peer.ip());
        Ok(Self(peer))
    }
}
