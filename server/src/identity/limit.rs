//! The limit on racer creation per client address: at most N new racers an hour from one
//! address (`--racer-creations-per-hour`), with a burst of N, so a script cannot fill the racer
//! list. governor's GCRA limiter keyed by address, reading the server's injected clock.

use std::{net::IpAddr, num::NonZeroU32, sync::Arc, time::Duration};

use alleycat_domain::Clock;
use governor::{clock::Clock as _, Quota, RateLimiter};

/// governor's view of the server's [`Clock`]: the time since the epoch.
#[derive(Clone)]
struct InjectedClock(Arc<dyn Clock>);

impl governor::clock::Clock for InjectedClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        Duration::from_millis(self.0.now_ms())
    }
}

type Limiter = RateLimiter<
    IpAddr,
    governor::state::keyed::HashMapStateStore<IpAddr>,
    InjectedClock,
    governor::middleware::NoOpMiddleware<Duration>,
>;

/// Addresses remembered before the limiter forgets those that are back to a full allowance.
const PRUNE_ABOVE: usize = 10_000;

/// Racer creations per client address.
pub struct CreationLimit {
    limiter: Limiter,
    clock: InjectedClock,
}

impl std::fmt::Debug for CreationLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CreationLimit { .. }")
    }
}

impl CreationLimit {
    /// At most `per_hour` creations an hour per address, on `clock`.
    pub fn new(per_hour: NonZeroU32, clock: Arc<dyn Clock>) -> Self {
        let clock = InjectedClock(clock);
        let limiter = RateLimiter::hashmap_with_clock(Quota::per_hour(per_hour), clock.clone());
        Self { limiter, clock }
    }

    /// Counts a creation from `address`: `Err` with how long to wait when it is over the limit.
    pub fn check(&self, address: IpAddr) -> Result<(), Duration> {
        if self.limiter.len() > PRUNE_ABOVE {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&address)
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alleycat_domain::ManualClock;

    #[test]
    fn each_address_gets_its_own_allowance_which_comes_back_with_time() {
        let clock = ManualClock::new(1_000_000);
        let limit = CreationLimit::new(NonZeroU32::new(2).unwrap(), Arc::new(clock.clone()));
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        assert!(limit.check(a).is_ok() && limit.check(a).is_ok());
        let wait = limit.check(a).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1800), "one more every half hour");
        assert!(limit.check(b).is_ok(), "another address is not held back");
        clock.advance(wait);
        assert!(limit.check(a).is_ok());
        assert!(limit.check(a).is_err());
    }
}
