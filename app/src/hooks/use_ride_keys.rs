//! The keyboard rides the bike (`logic::keys`): arrows step cadence and resistance, A toggles
//! the autopilot.

use leptos::{ev, prelude::*};
use wasm_bindgen::JsCast;

use crate::logic::{
    keys::{action, KeyAction, KeyPress},
    ride::Bike,
};

/// Listens for ride keys on the window until the component is dropped.
pub fn use_ride_keys(bike: RwSignal<Bike>, autopilot: RwSignal<bool>) {
    let keys = window_event_listener(ev::keydown, move |e| {
        let tag =
            e.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()).map(|el| el.tag_name());
        let key = e.key();
        let press = KeyPress {
            key: &key,
            target_tag: tag.as_deref(),
            modified: e.alt_key() || e.ctrl_key() || e.meta_key(),
        };
        match action(press) {
            Some(KeyAction::ToggleAutopilot) => autopilot.update(|a| *a = !*a),
            Some(KeyAction::Nudge { cadence, resistance }) => {
                // The arrows would scroll the page.
                e.prevent_default();
                autopilot.set(false);
                bike.update(|b| *b = b.nudge(cadence, resistance));
            }
            None => {}
        }
    });
    on_cleanup(move || keys.remove());
}
