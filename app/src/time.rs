//! The browser's clock, corrected to the server's.

/// The browser's wall clock in epoch milliseconds.
pub fn browser_now_ms() -> f64 {
    js_sys::Date::now()
}

/// Milliseconds to add to the browser's clock to get the server's, measured from one answer
/// that carried the server's time.
pub fn clock_offset_ms(server_time_ms: u64, browser_time_ms: f64) -> f64 {
    server_time_ms as f64 - browser_time_ms
}

/// `ms` as `m:ss`.
pub fn format_countdown(ms: u64) -> String {
    let seconds = ms.div_ceil(1000);
    format!("{}:{:02}", seconds / 60, seconds % 60)
}
