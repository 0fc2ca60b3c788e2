//! Where a request comes from: [`ClientAddr`], the one place that decides a client's address
//! (for per-client limits such as racer creation, and for logs).
//!
//! It is the TCP peer, unless the peer is a trusted reverse proxy (`--trusted-proxy`, see
//! [`crate::config::ProxyArgs`]). Behind a proxy every request comes from the proxy, and the
//! client's own address is in the forwarded headers, which anyone can send: they are read only
//! when the peer is trusted, and then only as far as trusted hops vouch for them.
//!
//! The rule (the "rightmost untrusted hop"): each proxy appends the address it received the
//! request from, so the hops are read right to left, starting after the peer; every hop that
//! is itself a trusted proxy is passed over, and the first one that is not is the client. What
//! lies left of it was written by the client and is never read. The hops come from
//! `X-Forwarded-For` (`client, proxy1, proxy2`; what Caddy, nginx and most proxies send), or,
//! when a request has none, from `Forwarded` (RFC 7239: `for=` of each element). Each header
//! may appear several times; its lines are read in order. A hop that is not an address (`unknown`,
//! an obfuscated name, garbage) stops the walk: the client is then the last trusted hop read,
//! so a proxy that cannot name its client counts as the client itself. When every hop is
//! trusted, the leftmost is the client.

use std::{convert::Infallible, net::IpAddr, net::SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRef, FromRequestParts},
    http::{request::Parts, HeaderMap},
};
use ipnet::IpNet;

use crate::AppState;

/// The address of the client that sent a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl<S> FromRequestParts<S> for ClientAddr
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([0, 0, 0, 0]), |ConnectInfo(peer)| peer.ip());
        let state = AppState::from_ref(state);
        Ok(Self(client_address(peer, &parts.headers, &state.config().proxies.trusted)))
    }
}

/// The client of a request that arrived from `peer` with `headers`, believing forwarded
/// headers only as far as `trusted` proxies vouch for them (see the module docs).
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |address: &IpAddr| trusted.iter().any(|net| net.contains(address));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops = forwarded_hops(headers);
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(address) = hop else { break };
        client = *address;
        if !is_trusted(address) {
            break;
        }
    }
    client
}

/// The hops the forwarded headers name, leftmost (the farthest from us) first; `None` for a hop
/// that is not an address.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let x_forwarded_for: Vec<_> = header_elements(headers, "x-forwarded-for")
        .map(|hop| parse_node(hop.trim_matches('"')))
        .collect();
    if !x_forwarded_for.is_empty() {
        return x_forwarded_for;
    }
    header_elements(headers, "forwarded").map(|element| forwarded_for(&element)).collect()
}

/// The comma-separated elements of every line of header `name`, in order, trimmed; commas
/// inside quoted strings do not separate. A line that is not text is one unreadable element.
fn header_elements<'a>(headers: &'a HeaderMap, name: &str) -> impl Iterator<Item = String> + 'a {
    headers.get_all(name).iter().flat_map(|value| match value.to_str() {
        Ok(text) => split_outside_quotes(text, ','),
        Err(_) => vec![String::new()],
    })
}

/// `text` split at `separator` where it is not inside a quoted string, each part trimmed.
fn split_outside_quotes(text: &str, separator: char) -> Vec<String> {
    let (mut parts, mut part, mut quoted, mut escaped) = (Vec::new(), String::new(), false, false);
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(part.trim().to_owned());
                part.clear();
                continue;
            }
            _ => {}
        }
        part.push(c);
    }
    parts.push(part.trim().to_owned());
    parts
}

/// The `for=` address of one `Forwarded` element (`for=192.0.2.60;proto=https;by=…`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    split_outside_quotes(element, ';').iter().find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("for")
            .then(|| parse_node(value.trim().trim_matches('"')))?
    })
}

/// An address as proxies write it: `192.0.2.60`, `2001:db8::1`, with or without a port
/// (`192.0.2.60:4711`, `[2001:db8::1]:4711`, `[2001:db8::1]`).
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    let address = node
        .parse::<IpAddr>()
        .or_else(|_| node.parse::<SocketAddr>().map(|socket| socket.ip()))
        .or_else(|_| node.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>())
        .ok()?;
    Some(address.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROXY: &str = "10.0.0.5";
    const CLIENT: &str = "203.0.113.7";
    const SPOOFED: &str = "198.51.100.1";

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn without_trusted_proxies_the_client_is_the_peer_whatever_the_headers_say() {
        let spoofed = headers(&[("x-forwarded-for", SPOOFED), ("forwarded", "for=198.51.100.1")]);
        assert_eq!(client_address(ip(CLIENT), &spoofed, &[]), ip(CLIENT));
    }

    #[test]
    fn a_spoofed_header_from_an_untrusted_peer_is_ignored() {
        let spoofed = headers(&[("x-forwarded-for", SPOOFED)]);
        assert_eq!(client_address(ip(CLIENT), &spoofed, &nets(&["10.0.0.0/8"])), ip(CLIENT));
    }

    #[test]
    fn behind_a_trusted_proxy_the_client_is_the_rightmost_untrusted_hop() {
        let trusted = nets(&["10.0.0.0/8", "127.0.0.1/32"]);
        // The client sent its own X-Forwarded-For; the proxy appended the real address.
        let forwarded = headers(&[("x-forwarded-for", &format!("{SPOOFED}, {CLIENT}"))]);
        assert_eq!(client_address(ip(PROXY), &forwarded, &trusted), ip(CLIENT));
        // Two trusted proxies in a row, the header split over two lines.
        let chained = headers(&[
            ("x-forwarded-for", SPOOFED),
            ("x-forwarded-for", &format!("{CLIENT}, 10.1.1.1")),
        ]);
        assert_eq!(client_address(ip("127.0.0.1"), &chained, &trusted), ip(CLIENT));
    }

    #[test]
    fn a_trusted_peer_without_forwarded_headers_is_the_client() {
        assert_eq!(
            client_address(ip(PROXY), &HeaderMap::new(), &nets(&["10.0.0.5/32"])),
            ip(PROXY)
        );
    }

    #[test]
    fn a_hop_that_is_not_an_address_stops_at_the_last_trusted_hop() {
        let trusted = nets(&["10.0.0.0/8"]);
        let garbled = headers(&[("x-forwarded-for", &format!("{CLIENT}, nonsense, 10.1.1.1"))]);
        assert_eq!(client_address(ip(PROXY), &garbled, &trusted), ip("10.1.1.1"));
        let all_trusted = headers(&[("x-forwarded-for", "10.9.9.9, 10.1.1.1")]);
        assert_eq!(client_address(ip(PROXY), &all_trusted, &trusted), ip("10.9.9.9"));
    }

    #[test]
    fn the_forwarded_header_is_read_when_there_is_no_x_forwarded_for() {
        let trusted = nets(&["10.0.0.0/8"]);
        let forwarded = headers(&[(
            "forwarded",
            r#"for=198.51.100.1;proto=http, For="[2001:db8:cafe::17]:4711";by=10.0.0.5"#,
        )]);
        assert_eq!(client_address(ip(PROXY), &forwarded, &trusted), ip("2001:db8:cafe::17"));
        let with_port = headers(&[("forwarded", r#"for="203.0.113.7:4711""#)]);
        assert_eq!(client_address(ip(PROXY), &with_port, &trusted), ip(CLIENT));
        let unknown = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(client_address(ip(PROXY), &unknown, &trusted), ip(PROXY));
        // X-Forwarded-For wins: the proxy appends to it, so a Forwarded line is the client's.
        let both = headers(&[("forwarded", "for=198.51.100.1"), ("x-forwarded-for", CLIENT)]);
        assert_eq!(client_address(ip(PROXY), &both, &trusted), ip(CLIENT));
    }

    #[test]
    fn ipv4_mapped_ipv6_peers_match_ipv4_ranges() {
        let forwarded = headers(&[("x-forwarded-for", CLIENT)]);
        let peer = ip("::ffff:10.0.0.5");
        assert_eq!(client_address(peer, &forwarded, &nets(&["10.0.0.0/8"])), ip(CLIENT));
    }
}
