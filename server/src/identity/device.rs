//! The device cookie: proof that this browser may ride as a person's racer.
//!
//! `alleycat_device=<secret>; HttpOnly; SameSite=Strict; Path=/api; Max-Age=31536000`, plus
//! `Secure` when the public URL is https. The secret is [`random_secret`](super::random_secret);
//! the `devices` table keeps its SHA-256 with the racer, the browser's user agent as a label, and
//! when it was made, last used and revoked. `HttpOnly` keeps it from scripts (an injected script
//! cannot steal it), `SameSite=Strict` from other sites' requests, `Path=/api` from the app's
//! files.

use axum::http::{header, HeaderMap, HeaderValue};

/// The cookie's name.
pub const COOKIE_NAME: &str = "alleycat_device";

/// How long a browser keeps the cookie: a year, renewed at every sign-in.
pub const COOKIE_MAX_AGE_SECONDS: u64 = 365 * 24 * 3600;

/// The longest device label kept (a user agent is rarely longer).
pub const MAX_LABEL_CHARS: usize = 200;

/// The `Set-Cookie` value that gives a browser `secret`.
pub fn set_cookie(secret: &str, secure: bool) -> HeaderValue {
    cookie(secret, COOKIE_MAX_AGE_SECONDS, secure)
}

/// The `Set-Cookie` value that makes a browser forget the cookie (signing out).
pub fn clear_cookie(secure: bool) -> HeaderValue {
    cookie("", 0, secure)
}

fn cookie(value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE_NAME}={value}; HttpOnly; SameSite=Strict; Path=/api; Max-Age={max_age}{secure}"
    ))
    .expect("a base64url secret makes a valid header")
}

/// The device secret the request's `Cookie` headers carry, if any.
pub fn secret(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE_NAME && !value.is_empty())
        .map(|(_, value)| value)
}

/// What a device is called in the racer's list: the browser's user agent, trimmed and without
/// control characters, at most [`MAX_LABEL_CHARS`].
pub fn label(headers: &HeaderMap) -> String {
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let label: String =
        agent.trim().chars().filter(|c| !c.is_control()).take(MAX_LABEL_CHARS).collect();
    if label.is_empty() {
        "A browser".to_owned()
    } else {
        label
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_found_among_other_cookies_and_headers() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("theme=dark"));
        headers
            .append(header::COOKIE, HeaderValue::from_static("a=1; alleycat_device=s3cret; b=2"));
        assert_eq!(secret(&headers), Some("s3cret"));
        assert_eq!(secret(&HeaderMap::new()), None);
        let mut cleared = HeaderMap::new();
        cleared.insert(header::COOKIE, HeaderValue::from_static("alleycat_device="));
        assert_eq!(secret(&cleared), None);
    }

    #[test]
    fn the_label_is_the_user_agent_trimmed() {
        let mut headers = HeaderMap::new();
        assert_eq!(label(&headers), "A browser");
        headers.insert(
            header::USER_AGENT,
            HeaderValue::from_str(&format!(" {} ", "x".repeat(300))).unwrap(),
        );
        assert_eq!(label(&headers), "x".repeat(MAX_LABEL_CHARS));
    }
}
