//! The API's error type: every failure a client can see, with its status and code.

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};

/// An API error. Internal causes are logged, never sent to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No such API resource.
    #[error("{0}")]
    NotFound(String),
    /// Something failed inside the server; the cause is logged.
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    /// The HTTP status for this error.
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
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
        (self.status_code(), Json(body)).into_response()
    }
}

/// The answer to an unknown `/api/...` path (rather than the app's `index.html`).
pub async fn api_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("There is no API at {}.", uri.path()))
}
