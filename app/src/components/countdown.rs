//! A live countdown to the next race start, ticking on the server-corrected clock.

use std::time::Duration;

use leptos::prelude::*;

use crate::{logic::format, time::Clock};

/// The server's time, refreshed four times a second, for anything that counts down.
pub fn ticking_now(clock: Clock) -> ReadSignal<u64> {
    let (now_ms, set_now_ms) = signal(clock.now_ms());
    if let Ok(handle) =
        set_interval_with_handle(move || set_now_ms.set(clock.now_ms()), Duration::from_millis(250))
    {
        on_cleanup(move || handle.clear());
    }
    now_ms
}

/// The countdown to the next race and the progress of the one running now.
#[component]
pub fn Countdown(
    /// The server's race clock.
    clock: Clock,
) -> impl IntoView {
    let now_ms = ticking_now(clock);
    let remaining = move || clock.race.ms_until_next_start(now_ms.get());
    let running_second = move || clock.race.second_at(now_ms.get());
    view! {
        <div class="countdown">
            <p class="eyebrow" id="next-race">"Next race starts in"</p>
            <p class="countdown-value" role="timer" aria-labelledby="next-race" aria-live="off" data-testid="countdown">
                {move || format::countdown(remaining())}
            </p>
            <p class="muted small">
                {move || format!("Race now running: second {} of {}", running_second(), clock.race.race_seconds)}
            </p>
        </div>
    }
}
