//! A live countdown to the next race start, ticking on the server-corrected clock.

use std::time::Duration;

use alleycat_domain::RaceClock;
use leptos::prelude::*;

use crate::time::{browser_now_ms, format_countdown};

/// The countdown to the next race and the progress of the one running now.
#[component]
pub fn Countdown(
    /// Length of each race, seconds.
    race_seconds: u32,
    /// Milliseconds to add to the browser's clock to match the server's.
    clock_offset_ms: f64,
) -> impl IntoView {
    let clock = RaceClock::new(race_seconds);
    let now = move || (browser_now_ms() + clock_offset_ms).max(0.0) as u64;
    let (now_ms, set_now_ms) = signal(now());
    if let Ok(handle) =
        set_interval_with_handle(move || set_now_ms.set(now()), Duration::from_millis(250))
    {
        on_cleanup(move || handle.clear());
    }
    let remaining = move || clock.ms_until_next_start(now_ms.get());
    let running_second = move || clock.second_at(now_ms.get());
    view! {
        <section class="countdown" aria-labelledby="next-race">
            <h1 id="next-race">"Next race starts in"</h1>
            <p class="countdown-value" role="timer" aria-live="off" data-testid="countdown">
                {move || format_countdown(remaining())}
            </p>
            <p class="muted">
                {move || format!("Race now running: second {} of {}", running_second(), race_seconds)}
            </p>
        </section>
    }
}
