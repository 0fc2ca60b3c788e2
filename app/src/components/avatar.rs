//! A racer's avatar, drawn in SVG from their id.

use leptos::prelude::*;

use crate::logic::avatar::Avatar as Look;

/// A racer's generated avatar: decorative, the name beside it says who it is.
#[component]
pub fn Avatar(
    /// The racer's id, which decides the pattern and colour.
    racer_id: u64,
    /// The racer's name (its initial is the fallback).
    #[prop(into)]
    name: String,
    /// Edge length in CSS pixels.
    #[prop(default = 28)]
    size: u32,
) -> impl IntoView {
    let look = Look::new(racer_id, &name);
    let background = format!("hsl({} 55% 38%)", look.hue);
    let ink = format!("hsl({} 90% 85%)", (look.hue + 30) % 360);
    view! {
        <svg class="avatar" width=size height=size viewBox="0 0 7 7" aria-hidden="true" focusable="false">
            <rect width="7" height="7" rx="1.6" fill=background/>
            {look.cells.into_iter().map(|(c, r)| view! {
                <rect x=f64::from(c) + 1.0 y=f64::from(r) + 1.0 width="1" height="1" fill=ink.clone()/>
            }).collect_view()}
        </svg>
    }
}

/// A trophy, the mark of a personal best (drawn, so it looks the same on every system).
#[component]
pub fn TrophyIcon(
    /// Edge length in CSS pixels.
    #[prop(default = 22)]
    size: u32,
) -> impl IntoView {
    view! {
        <svg width=size height=size viewBox="0 0 24 24" aria-hidden="true" focusable="false">
            <path fill="currentColor" d="M7 3h10v2h3v3a4 4 0 0 1-4 4h-.35A5 5 0 0 1 13 14.9V17h3v2H8v-2h3v-2.1A5 5 0 0 1 8.35 12H8a4 4 0 0 1-4-4V5h3V3Zm0 4H6v1a2 2 0 0 0 1.2 1.83A5.1 5.1 0 0 1 7 8.5V7Zm10 0v1.5c0 .46-.06.9-.2 1.33A2 2 0 0 0 18 8V7h-1ZM6 20h12v1H6v-1Z"/>
        </svg>
    }
}
