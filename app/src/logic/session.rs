//! When a racer token is due for renewal. Tokens are short-lived (`--token-hours`, 12 by
//! default) and the device cookie renews them (`POST /api/session`), ahead of their expiry so
//! that no event is sent with a token about to run out.

/// Renew a token this long before it expires, ms.
pub const RENEW_BEFORE_EXPIRY_MS: f64 = 10.0 * 60_000.0;

/// Keep a token at least this long before asking for another, ms: with a browser clock far
/// ahead of the server's a token looks almost expired on arrival, and the app would otherwise
/// ask again on every event.
pub const MIN_TOKEN_USE_MS: f64 = 60_000.0;

/// The browser time (epoch ms) at which to renew a token received at browser time
/// `received_ms` that the server says expires at `expires_at_ms`.
pub fn renew_at(received_ms: f64, expires_at_ms: u64) -> f64 {
    let lifetime = expires_at_ms as f64 - received_ms;
    received_ms + (lifetime - RENEW_BEFORE_EXPIRY_MS).max(MIN_TOKEN_USE_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_renewed_ten_minutes_before_it_expires() {
        let received = 1_000_000.0;
        let twelve_hours = 12 * 3_600_000;
        assert_eq!(
            renew_at(received, 1_000_000 + twelve_hours),
            received + twelve_hours as f64 - RENEW_BEFORE_EXPIRY_MS
        );
    }

    #[test]
    fn a_clock_far_ahead_still_keeps_a_token_a_minute() {
        let received = 10_000_000.0;
        assert_eq!(renew_at(received, 9_000_000), received + MIN_TOKEN_USE_MS);
        assert_eq!(renew_at(received, 10_000_000 + 5 * 60_000), received + MIN_TOKEN_USE_MS);
    }
}
