//! A virtualised leaderboard: rows are absolutely placed by their slot and only those in view
//! are in the DOM, so 6,668 rows cost what 20 do. Rows keep their node across updates (keyed by
//! racer) and glide to their new place with a CSS transition.

use std::ops::Range;

use leptos::{html, prelude::*};

use super::{avatar::Avatar, racer_link::RacerLink, racer_marks::RacerMarks};
use crate::logic::{
    board::{centre_on, window, BoardRow},
    format,
};

/// Height of one row in CSS pixels (the stylesheet's `.board-row` matches).
pub const ROW_HEIGHT: f64 = 44.0;
/// Rows rendered beyond each edge of the viewport.
const OVERSCAN: usize = 4;

/// A leaderboard of `total` rows of which `rows` are given (at least those in `window`).
#[component]
pub fn Board(
    /// Accessible name of the list.
    #[prop(into)]
    label: String,
    /// The rows known now; those outside the window are not rendered.
    #[prop(into)]
    rows: Signal<Vec<BoardRow>>,
    /// How many rows the board has in all.
    #[prop(into)]
    total: Signal<usize>,
    /// The slots on screen, kept up to date by the board for whoever builds `rows`.
    window_slots: RwSignal<Range<usize>>,
    /// The rider's slot, which the board keeps in view while `follow` is on.
    #[prop(into)]
    me_slot: Signal<Option<usize>>,
    /// Whether to keep the rider's row in view.
    follow: RwSignal<bool>,
    /// Whether to show the race total column.
    show_total: bool,
) -> impl IntoView {
    // Memos, so that the effects below run when the count or the rider's slot changes, not on
    // every new set of rows (which a window change itself produces).
    let total = Memo::new(move |_| total.get());
    let me_slot = Memo::new(move |_| me_slot.get());
    let viewport = NodeRef::<html::Div>::new();
    let height = RwSignal::new(440.0);
    let update_window = move || {
        if let Some(el) = viewport.get_untracked() {
            let h = f64::from(el.client_height()).max(ROW_HEIGHT);
            height.set(h);
            let next =
                window(f64::from(el.scroll_top()), h, ROW_HEIGHT, total.get_untracked(), OVERSCAN);
            if window_slots.get_untracked() != next {
                window_slots.set(next);
            }
        }
    };
    // Keep the window right as the board grows or shrinks.
    Effect::new(move |_| {
        total.track();
        update_window();
    });
    // Follow the rider: centre their row whenever it moves.
    Effect::new(move |_| {
        let (Some(slot), true) = (me_slot.get(), follow.get()) else { return };
        if let Some(el) = viewport.get() {
            let top = centre_on(slot, height.get_untracked(), ROW_HEIGHT, total.get_untracked());
            if (f64::from(el.scroll_top()) - top).abs() >= 1.0 {
                el.set_scroll_top(top as i32);
            }
            update_window();
        }
    });
    let visible = move || {
        let slots = window_slots.get();
        rows.get().into_iter().filter(|r| slots.contains(&r.slot)).collect::<Vec<_>>()
    };
    let region_label = format!("{label} (scrollable)");
    view! {
        <div class="board-viewport" node_ref=viewport
            style:height=move || format!("min({}px, clamp(320px, 58vh, 640px))", total.get().max(4) as f64 * ROW_HEIGHT) tabindex="0" role="region" aria-label=region_label
            on:scroll=move |_| update_window()>
            <ol class="board-list" aria-label=label style:height=move || format!("{}px", total.get() as f64 * ROW_HEIGHT)>
                <For each=visible key=|r| r.key let:first>
                    {
                        let key = first.key;
                        // The latest version of this racer's row; kept when it scrolls out of the
                        // window so the node can leave without flicker.
                        let row = Memo::new(move |prev: Option<&BoardRow>| {
                            rows.with(|all| all.iter().find(|r| r.key == key).cloned())
                                .or_else(|| prev.cloned())
                                .unwrap_or_else(|| first.clone())
                        });
                        view! { <BoardLine row=row show_total=show_total/> }
                    }
                </For>
            </ol>
        </div>
    }
}

/// One row of the board.
#[component]
fn BoardLine(
    /// The row, updated in place.
    row: Memo<BoardRow>,
    /// Whether to show the race total column.
    show_total: bool,
) -> impl IntoView {
    let r = move || row.get();
    let initial = row.get_untracked();
    view! {
        <li class="board-row" class:me=move || r().is_me class:my-best=move || r().is_my_best
            style:transform=move || format!("translateY({}px)", r().slot as f64 * ROW_HEIGHT)
            aria-current=move || r().is_me.then_some("true")
            data-racer=initial.racer_id>
            <span class="place">{move || r().place}</span>
            <Avatar racer_id=initial.racer_id name=initial.name.clone()/>
            <span class="name">
                <span class="name-text"><RacerLink racer_id=initial.racer_id name=Signal::derive(move || r().name)/></span>
                {move || r().is_me.then(|| view! { <span class="tag you">"You"</span> })}
                {move || r().is_my_best.then(|| view! { <span class="tag">"Your best"</span> })}
                <RacerMarks racer_id=initial.racer_id real_bike=Signal::derive(move || r().real_bike)/>
            </span>
            <span class="out num">{move || format::output(r().output)}</span>
            {show_total.then(|| view! { <span class="tot num">{move || r().total.map(format::total).unwrap_or_default()}</span> })}
        </li>
    }
}
