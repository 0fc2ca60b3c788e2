//! The app's files: Trunk's `dist` folder.
//!
//! - Hashed assets (`name-<16 hex>.js`, `…_bg.wasm`, `.css`) never change under their name, so
//!   they are cached for a year as `immutable`.
//! - `index.html` (and every unknown path, which falls back to it so the app can route) is
//!   `no-cache`: browsers revalidate it and pick up new builds at once.
//! - Other files get a short cache.
//! - Precompressed `.br` / `.gz` siblings are served when the browser accepts them.
//!
//! `ServeDir` already refuses paths that escape the folder (`..`, absolute paths).

use std::path::Path;

use axum::{
    body::Body,
    extract::Request,
    http::{header, HeaderValue},
    middleware::{self, Next},
    response::Response,
    Router,
};
use tower_http::services::{ServeDir, ServeFile};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";
const SHORT: &str = "public, max-age=300";

/// A router serving `dist`, with cache headers.
pub fn service(dist: &Path) -> Router {
    let files = ServeDir::new(dist)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(ServeFile::new(dist.join("index.html")).precompressed_gzip());
    Router::new().fallback_service(files).layer(middleware::from_fn(cache_headers))
}

async fn cache_headers(request: Request, next: Next) -> Response<Body> {
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
    response
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
    use super::is_hashed_asset;

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
}
