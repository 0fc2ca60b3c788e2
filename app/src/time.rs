//! The browser's clock, corrected to the server's.

use alleycat_domain::RaceClock;

/// The browser's wall clock in epoch milliseconds.
pub fn browser_now_ms() -> f64 {
    js_sys::Date::now()
}

/// A high-resolution timestamp for measuring, ms.
pub fn perf_now() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or_else(browser_now_ms, |p| p.now())
}

/// The race clock as the server keeps it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    /// The race length and alignment.
    pub race: RaceClock,
    /// Milliseconds to add to the browser's clock to get the server's.
    pub offset_ms: f64,
}

impl Clock {
    /// The clock of a server that said `server_time_ms` when the browser read `browser_time_ms`.
    pub fn new(race_seconds: u32, server_time_ms: u64, browser_time_ms: f64) -> Self {
        Self {
            race: RaceClock::new(race_seconds),
            offset_ms: server_time_ms as f64 - browser_time_ms,
        }
    }

    /// The server's time now, epoch ms.
    pub fn now_ms(&self) -> u64 {
        (browser_now_ms() + self.offset_ms).max(0.0) as u64
    }
}
