//! The app's files: Trunk's `dist` folder.
//!
//! - Hashed assets (`name-<16 hex>.js`, `…_bg.wasm`, `.css`) never change under their name, so
//!   they are cached for a year as `immutable`.
//! - `index.html` (and every unknown path, which falls back to it so the app can route) is
//!   `no-cache`: browsers revalidate it and pick up new builds at once. It carries the
//!   Content-Security-Policy, which allows the app's own scripts, its WebAssembly, and the
//!   inline start-up script Trunk writes (by its SHA-256), and nothing else.
//! - Other files get a short cache.
//! - Precompressed `.br` / `.gz` siblings are served when the browser accepts them.
//!
//! `ServeDir` refuses paths that escape the folder (`..`, absolute paths).

use std::path::{Path, PathBuf};

use axum::{
    body::Body,
    extract::Request,
    http::{header, HeaderValue},
    middleware::{self, Next},
    response::Response,
    Router,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use sha2::{Digest, Sha256};
use tower_http::services::{ServeDir, ServeFile};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";
const SHORT: &str = "public, max-age=300";

/// A router serving `dist`, with cache and security headers.
pub fn service(dist: &Path) -> Router {
    let files = ServeDir::new(dist)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(ServeFile::new(dist.join("index.html")).precompressed_gzip());
    let dist = dist.to_owned();
    Router::new()
        .fallback_service(files)
        .layer(middleware::from_fn(move |request, next| headers(dist.clone(), request, next)))
}

async fn headers(dist: PathBuf, request: Request, next: Next) -> Response<Body> {
    let hashed = is_hashed_asset(request.uri().path());
    let mut response = next.run(request).await;
    let is_html = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let policy = match (is_html, hashed, response.status().is_success()) {
        (_, _, false) | (true, _, _) => REVALIDATE,
        (false, true, true) => IMMUTABLE,
        (false, false, true) => SHORT,
    };
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(policy));
    if is_html {
        let index = tokio::fs::read_to_string(dist.join("index.html")).await.unwrap_or_default();
        if let Ok(csp) = HeaderValue::from_str(&content_security_policy(&index)) {
            response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, csp);
        }
    }
    response
}

/// The page's Content-Security-Policy: its own origin only, WebAssembly compilation, and the
/// inline scripts of `html` by hash. Inline `style` attributes are allowed (the app animates
/// rows with them); inline scripts other than these are not.
pub fn content_security_policy(html: &str) -> String {
    let hashes: String = inline_scripts(html)
        .map(|script| format!(" 'sha256-{}'", STANDARD.encode(Sha256::digest(script.as_bytes()))))
        .collect();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
         form-action 'self'"
    )
}

/// The bodies of `<script>` elements without a `src`.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (attributes, after) = rest.split_once('>')?;
        let (body, _) = after.split_once("</script>")?;
        (!attributes.contains("src=")).then_some(body)
    })
}

/// Whether the file name carries Trunk's content hash: `-` then 16 hex digits, then `.` or `_`.
fn is_hashed_asset(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    name.match_indices('-').any(|(i, _)| {
        let rest = &name[i + 1..];
        rest.len() > 16
            && rest.as_bytes()[..16].iter().all(u8::is_ascii_hexdigit)
            && matches!(rest.as_bytes()[16], b'.' | b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_hashed_names_are_recognised() {
        assert!(is_hashed_asset("/alleycat-app-3f2a9c1d0b7e6a54.js"));
        assert!(is_hashed_asset("/alleycat-app-3f2a9c1d0b7e6a54_bg.wasm"));
        assert!(is_hashed_asset("/main-0123456789abcdef.css"));
        assert!(!is_hashed_asset("/index.html"));
        assert!(!is_hashed_asset("/favicon.svg"));
        assert!(!is_hashed_asset("/race-results"));
        assert!(!is_hashed_asset("/a-0123456789abcdef"));
    }

    #[test]
    fn the_policy_allows_exactly_the_inline_start_up_script() {
        let html = "<script type=\"module\">init()</script><script src=\"/x.js\"></script>";
        let csp = content_security_policy(html);
        let expected = STANDARD.encode(Sha256::digest(b"init()"));
        assert!(csp.contains(&format!("'sha256-{expected}'")), "{csp}");
        assert_eq!(csp.matches("'sha256-").count(), 1);
        assert!(csp.contains("'wasm-unsafe-eval'") && !csp.contains("'unsafe-eval'"));
    }
}
