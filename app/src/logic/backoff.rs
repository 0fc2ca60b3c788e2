//! Reconnection delays: exponential with jitter, capped, reset once a connection works.

/// The first delay after a lost connection, ms.
pub const FIRST_DELAY_MS: f64 = 500.0;
/// The longest delay between attempts, ms.
pub const MAX_DELAY_MS: f64 = 8_000.0;

/// Exponential backoff with ±25 % jitter so that many browsers do not reconnect in step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    /// How many attempts have failed since the last success.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The delay before the next attempt, given a uniform random number in `[0, 1)`, and counts
    /// the attempt.
    pub fn next_delay_ms(&mut self, unit: f64) -> f64 {
        let base = (FIRST_DELAY_MS * 2f64.powi(self.attempt.min(16) as i32)).min(MAX_DELAY_MS);
        self.attempt = self.attempt.saturating_add(1);
        base * (0.75 + 0.5 * unit.clamp(0.0, 1.0))
    }

    /// A connection worked: start again from the first delay.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_and_reset_after_success() {
        let mut b = Backoff::default();
        let delays: Vec<f64> = (0..7).map(|_| b.next_delay_ms(0.5)).collect();
        assert_eq!(delays, [500.0, 1000.0, 2000.0, 4000.0, 8000.0, 8000.0, 8000.0]);
        assert_eq!(b.attempt(), 7);
        b.reset();
        assert_eq!(b.next_delay_ms(0.5), 500.0);
    }

    #[test]
    fn jitter_stays_within_a_quarter_either_way() {
        let mut low = Backoff::default();
        let mut high = Backoff::default();
        assert_eq!(low.next_delay_ms(0.0), 375.0);
        assert_eq!(high.next_delay_ms(1.0), 625.0);
    }
}
