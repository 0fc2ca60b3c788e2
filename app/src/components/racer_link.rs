//! A racer's name as a link to their page (`/racers/<id>`, see `logic::route`). On the ride
//! screen the link opens a new tab, so that looking someone up does not leave the race: the
//! ride provides [`OpenRacersInNewTab`].

use leptos::prelude::*;

use crate::logic::route::Route;

/// Provided as context by a screen whose racer links must not navigate away from it.
#[derive(Debug, Clone, Copy)]
pub struct OpenRacersInNewTab;

/// `name`, linking to racer `racer_id`'s page.
#[component]
pub fn RacerLink(
    /// The racer.
    racer_id: u64,
    /// What to show (their name).
    #[prop(into)]
    name: Signal<String>,
) -> impl IntoView {
    let new_tab = use_context::<OpenRacersInNewTab>().is_some();
    view! {
        <a class="racer-link" href=Route::Racer(racer_id).path()
            target=new_tab.then_some("_blank") rel=new_tab.then_some("noopener")>
            {move || name.get()}
        </a>
    }
}
