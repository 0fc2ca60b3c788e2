//! Reading the caller's credential: `Authorization: Bearer <token or API key>`, or `?token=`
//! for WebSockets (browsers cannot set their headers).

use axum::http::{header, HeaderMap};

use crate::{auth::Caller, AppState};

/// The credential in the request, if any.
pub fn credential<'a>(headers: &'a HeaderMap, query_token: Option<&'a str>) -> Option<&'a str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .or(query_token)
}

/// Who sent the request; `None` when no valid credential was given.
pub fn identify(
    state: &AppState,
    headers: &HeaderMap,
    query_token: Option<&str>,
) -> Option<Caller> {
    credential(headers, query_token).and_then(|c| state.keys().identify(c, crate::now_ms()))
}
