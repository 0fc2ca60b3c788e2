//! The marks a board puts beside a racer's name, one component for every board (here now, all
//! time, race results, the class leaderboard, the racer search and the racer's page): a small
//! icon for a simulated racer (the generated field, `alleycat_domain::racer::is_simulated`),
//! and a tag for a ride on a real bike.

use alleycat_domain::racer::is_simulated;
use leptos::prelude::*;

/// What the simulated mark says to screen readers and on hover.
pub const SIMULATED: &str = "Simulated racer";

/// The marks of `racer_id`: simulated (by id), and on a real bike when `real_bike` says so.
#[component]
pub fn RacerMarks(
    /// The racer.
    racer_id: u64,
    /// The ride was measured by a trainer or a power meter (where the board knows it).
    #[prop(optional, into)]
    real_bike: Signal<bool>,
    /// Whether to mark a simulated racer (off where the racer is already marked nearby, as on
    /// each race of their own page).
    #[prop(default = true)]
    simulated: bool,
) -> impl IntoView {
    view! {
        {(simulated && is_simulated(racer_id)).then(|| view! {
            <span class="mark simulated" role="img" aria-label=SIMULATED title=SIMULATED>
                // A small robot: generated, not a person.
                <svg width="14" height="14" viewBox="0 0 16 16" aria-hidden="true" focusable="false">
                    <path fill="currentColor" d="M7.25 1h1.5v2H12a2 2 0 0 1 2 2v6a2 2 0 0 1-2 2H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h3.25V1ZM4 4.5a.5.5 0 0 0-.5.5v6a.5.5 0 0 0 .5.5h8a.5.5 0 0 0 .5-.5V5a.5.5 0 0 0-.5-.5H4Zm1.5 2a1 1 0 1 1 0 2 1 1 0 0 1 0-2Zm5 0a1 1 0 1 1 0 2 1 1 0 0 1 0-2ZM5.5 9.5h5V11h-5V9.5ZM0 6h1v4H0V6Zm15 0h1v4h-1V6Zm-9 8h4v1H6v-1Z"/>
                </svg>
            </span>
        })}
        {move || real_bike.get().then(|| view! {
            <span class="tag real-bike" title="Riding a real bike (measured power)">"Real bike"</span>
        })}
    }
}
