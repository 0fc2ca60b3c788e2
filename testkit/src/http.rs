//! The HTTP client tests use: every request has a deadline, so a server that stops answering
//! fails the test instead of hanging it.

use std::time::Duration;

/// The longest a test's request may take, connecting included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A client whose every request gives up after [`REQUEST_TIMEOUT`].
///
/// # Panics
/// When the client cannot be built (no TLS backend is needed, so never in practice).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(Duration::from_secs(5))
        .build()
        .expect("an HTTP client")
}
