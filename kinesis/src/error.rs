//! The one error type of the Kinesis boundary: every way a call can fail, each with the
//! `__type` name and HTTP status that Amazon Kinesis Data Streams answers it with.
//!
//! The body is `{"__type": "<Name>", "message": "<sentence>"}` in the request's protocol.
//! Internal failures are logged where they happen and answered with a generic sentence, never
//! with their cause.

use axum::http::StatusCode;

/// Why a Kinesis call failed. Each variant says when it happens.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KinesisError {
    /// The stream (or the shard of an iterator) does not exist.
    #[error("{0}")]
    ResourceNotFound(String),
    /// The stream exists already (CreateStream), or cannot be changed in its state (deleting
    /// or reconfiguring the racing pipeline's own stream).
    #[error("{0}")]
    ResourceInUse(String),
    /// A value is well-formed but not acceptable: a sequence number of another shard, a
    /// retention shorter than allowed, a bad iterator, an over-large batch.
    #[error("{0}")]
    InvalidArgument(String),
    /// A field broke its model constraint (missing, too long, out of range, bad pattern); the
    /// message lists up to ten such violations as Kinesis does.
    #[error("{0}")]
    Validation(String),
    /// The shard iterator is older than five minutes.
    #[error("{0}")]
    ExpiredIterator(String),
    /// A ListShards NextToken is older than five minutes.
    #[error("{0}")]
    ExpiredNextToken(String),
    /// A single-record put hit the shard's write limit (throttling is on).
    #[error("{0}")]
    ProvisionedThroughputExceeded(String),
    /// The request would exceed a limit: shards per stream, tags per stream.
    #[error("{0}")]
    LimitExceeded(String),
    /// The body is not valid JSON/CBOR, or a field has the wrong type.
    #[error("{0}")]
    Serialization(String),
    /// `X-Amz-Target` is missing or names no Kinesis action.
    #[error("unknown operation")]
    UnknownOperation,
    /// The Content-Type is neither of the protocols served.
    #[error("unsupported content type")]
    UnsupportedContentType,
    /// The request carries no SigV4 `Authorization` header.
    #[error("Missing Authentication Token")]
    MissingAuthenticationToken,
    /// The `Authorization` header is malformed or lacks a part (credential, signed headers,
    /// signature, date).
    #[error("{0}")]
    IncompleteSignature(String),
    /// The access key id is not the configured one.
    #[error("The security token included in the request is invalid.")]
    UnrecognizedClient,
    /// The signature does not match, or its date is outside the allowed clock skew.
    #[error("{0}")]
    InvalidSignature(String),
    /// The server failed (storage error); the cause is logged, not sent.
    #[error("Internal service failure.")]
    InternalFailure,
    /// The server is shutting down.
    #[error("The service is unavailable.")]
    ServiceUnavailable,
}

impl KinesisError {
    /// The `__type` Kinesis names this error with.
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::ResourceNotFound(_) => "ResourceNotFoundException",
            Self::ResourceInUse(_) => "ResourceInUseException",
            Self::InvalidArgument(_) => "InvalidArgumentException",
            Self::Validation(_) => "ValidationException",
            Self::ExpiredIterator(_) => "ExpiredIteratorException",
            Self::ExpiredNextToken(_) => "ExpiredNextTokenException",
            Self::ProvisionedThroughputExceeded(_) => "ProvisionedThroughputExceededException",
            Self::LimitExceeded(_) => "LimitExceededException",
            Self::Serialization(_) => "SerializationException",
            Self::UnknownOperation | Self::UnsupportedContentType => "UnknownOperationException",
            Self::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            Self::IncompleteSignature(_) => "IncompleteSignatureException",
            Self::UnrecognizedClient => "UnrecognizedClientException",
            Self::InvalidSignature(_) => "InvalidSignatureException",
            Self::InternalFailure => "InternalFailure",
            Self::ServiceUnavailable => "ServiceUnavailable",
        }
    }

    /// The HTTP status: Kinesis answers every client error of its JSON and CBOR protocols with
    /// 400 (authentication errors included), an unsupported content type with 404, and its own
    /// failures with 500 and 503.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::UnsupportedContentType => StatusCode::NOT_FOUND,
            Self::InternalFailure => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// The sentence sent as `message`.
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// A resource-not-found error for stream `name`.
    pub fn stream_not_found(name: &str) -> Self {
        Self::ResourceNotFound(format!(
            "Stream {name} under account {} not found.",
            crate::ACCOUNT_ID
        ))
    }
}

impl From<alleycat_ingest::stream::StreamError> for KinesisError {
    fn from(error: alleycat_ingest::stream::StreamError) -> Self {
        use alleycat_ingest::stream::StreamError;
        match error {
            StreamError::InvalidArgument(message) | StreamError::Unsupported(message) => {
                Self::InvalidArgument(message)
            }
            StreamError::ExpiredIterator(message) => Self::ExpiredIterator(message),
            StreamError::Closed => Self::ServiceUnavailable,
            error @ (StreamError::Io(_) | StreamError::CorruptCheckpoint { .. }) => {
                tracing::error!(%error, "A Kinesis call failed in the stream.");
                Self::InternalFailure
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_are_400_and_named_as_kinesis_names_them() {
        let error = KinesisError::stream_not_found("x");
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        assert_eq!(error.type_name(), "ResourceNotFoundException");
        assert_eq!(error.message(), "Stream x under account 000000000000 not found.");
        assert_eq!(KinesisError::MissingAuthenticationToken.status(), StatusCode::BAD_REQUEST);
        assert_eq!(KinesisError::InternalFailure.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
