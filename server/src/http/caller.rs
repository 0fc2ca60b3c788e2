//! Who is calling: `Authorization: Bearer <token or API key>`, read by the extractor
//! [`Authenticated`]. Never from the URL, where secrets end up in logs (the live WebSocket,
//! whose browsers cannot set headers, proves itself in its first message instead).

use axum::{
    extract::FromRequestParts,
    http::{header, request::Parts, HeaderMap},
};

use super::error::ApiError;
use crate::{auth::Caller, AppState};

/// The credential in the request, if any.
pub fn credential(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// A caller with a valid racer token or the API key; refuses the request (403) otherwise.
#[derive(Debug, Clone, Copy)]
pub struct Authenticated(pub Caller);

fn identify(parts: &Parts, state: &AppState) -> Option<Caller> {
    credential(&parts.headers).and_then(|c| state.keys().identify(c, state.now_ms()))
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        identify(parts, state).map(Self).ok_or_else(|| {
            ApiError::Forbidden(
                "Send a racer token (from POST /api/session) or the API key as \
                 'Authorization: Bearer …'."
                    .into(),
            )
        })
    }
}

/// A person signed in with their racer token (not the API key, not a simulated racer); refuses
/// the request otherwise (401).
#[derive(Debug, Clone, Copy)]
pub struct SignedIn(pub u64);

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match identify(parts, state) {
            Some(Caller::Racer(id)) if !alleycat_domain::racer::is_simulated(id) => Ok(Self(id)),
            Some(_) => Err(ApiError::Forbidden(
                "Only a person's racer has passkeys and devices: send your racer token.".into(),
            )),
            None => Err(ApiError::Unauthorized(
                "Sign in first: send your racer token (from POST /api/session) as \
                 'Authorization: Bearer …'."
                    .into(),
            )),
        }
    }
}
