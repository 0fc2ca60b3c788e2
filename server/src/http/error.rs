//! The API's error type: every failure a client can see, with its status and code.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};

/// An API error. Internal causes are logged, never sent to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed: not JSON, wrong shape, a bad parameter.
    #[error("{0}")]
    BadRequest(String),
    /// The caller did not prove who they are (no proof, or a proof that is not valid).
    #[error("{0}")]
    Unauthorized(String),
    /// No valid credential was given, or it does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// No such resource.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the server's state (e.g. a racer the demo field rides as).
    #[error("{0}")]
    Conflict(String),
    /// The client asked too often; it may try again after `retry_after`.
    #[error("{message}")]
    TooManyRequests {
        /// What was refused and why, for people.
        message: String,
        /// How long to wait (sent as `Retry-After`, whole seconds rounded up).
        retry_after: std::time::Duration,
    },
    /// The body is larger than the limit.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The stream refused the whole call (e.g. it is shutting down); try again.
    #[error("{0}")]
    Unavailable(String),
    /// Something failed inside the server; the cause is logged.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// The HTTP status for this error.
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "bad_request",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = match &self {
            Self::Internal(cause) => {
                tracing::error!(error = ?cause, "Request failed.");
                "Something went wrong on our side. Please try again.".to_owned()
            }
            other => other.to_string(),
        };
        let body = alleycat_domain::api::ApiError { error: self.code().to_owned(), message };
        let mut response = (self.status_code(), Json(body)).into_response();
        if let Self::TooManyRequests { retry_after, .. } = &self {
            let seconds =
                (retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0)).max(1);
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<crate::identity::passkey::PasskeyError> for ApiError {
    fn from(error: crate::identity::passkey::PasskeyError) -> Self {
        use crate::identity::passkey::PasskeyError as E;
        match error {
            E::UnknownCeremony
            | E::Expired
            | E::WrongCeremony
            | E::Malformed(_)
            | E::Invalid(_) => Self::BadRequest(error.to_string()),
            E::Refused(_) | E::UnknownCredential | E::PossiblyCloned => {
                Self::Unauthorized(error.to_string())
            }
            E::AlreadyRegistered => Self::Conflict(error.to_string()),
            E::Database(cause) => cause.into(),
            E::Internal(cause) => Self::Internal(anyhow::anyhow!(cause)),
        }
    }
}

impl From<crate::identity::invite::InviteError> for ApiError {
    fn from(error: crate::identity::invite::InviteError) -> Self {
        use crate::identity::invite::InviteError as E;
        match error {
            E::Count(_) => Self::BadRequest(error.to_string()),
            E::Database(cause) => cause.into(),
            E::Random(cause) => Self::Internal(cause.into()),
        }
    }
}

impl From<crate::intake::IntakeError> for ApiError {
    fn from(error: crate::intake::IntakeError) -> Self {
        match error {
            crate::intake::IntakeError::TooManyEvents { .. } => Self::BadRequest(error.to_string()),
            crate::intake::IntakeError::StreamUnavailable => Self::Unavailable(error.to_string()),
        }
    }
}

impl From<alleycat_ingest::db::DbError> for ApiError {
    fn from(error: alleycat_ingest::db::DbError) -> Self {
        match error {
            alleycat_ingest::db::DbError::InviteUnusable => Self::Forbidden(
                "This invitation is unknown or was used already: ask for a new invitation link."
                    .into(),
            ),
            other => Self::Internal(other.into()),
        }
    }
}

impl From<object_store::Error> for ApiError {
    fn from(error: object_store::Error) -> Self {
        Self::Internal(error.into())
    }
}

/// The answer to an unknown `/api/...` path (rather than the app's `index.html`).
pub async fn api_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("There is no API at {}.", uri.path()))
}

/// A JSON body parsed by hand, so that bad JSON gets our error shape instead of axum's text.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::BadRequest(format!("The body is not valid JSON for this request: {e}."))
    })
}

/// Maps a body-reading failure: over the limit is 413, anything else 400.
pub fn body_error(rejection: axum::extract::rejection::BytesRejection, limit: usize) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge { limit }
    } else {
        ApiError::BadRequest(rejection.body_text())
    }
}

/// Parses a `classId` query value into a class id, 1 to 6.
pub fn class_id(raw: Option<i64>) -> Result<u8, ApiError> {
    let raw = raw.ok_or_else(|| ApiError::BadRequest("classId is required (1 to 6).".into()))?;
    alleycat_domain::Class::checked_id(raw)
        .ok_or_else(|| ApiError::BadRequest(format!("classId {raw} is not a class (1 to 6).")))
}

/// Parses a racer id from a path segment.
pub fn racer_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse().map_err(|_| ApiError::BadRequest(format!("Racer id {raw:?} is not a number.")))
}
