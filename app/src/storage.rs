//! What the app remembers between visits, in localStorage: the class, the ride under way (so
//! that a reload comes back to it) and each ride's outbox (so that nothing ridden is lost). Who
//! rides is the server's to say, from the device cookie (`hooks::use_session`).
//!
//! Keys: `alleycat.class` (a class id), `alleycat.ride`
//! (`{"racerId", "classId", "raceId"}`: the ride under way, cleared when the rider leaves it)
//! and `alleycat.outbox.<racerId>.<raceId>` (an outbox in the saved format of
//! `logic::outbox`), removed once its race can no longer take events ([`prune_outboxes`]).

use alleycat_domain::{ClassId, RaceId};
use serde::{Deserialize, Serialize};

use crate::logic::outbox::Outbox;

const CLASS_KEY: &str = "alleycat.class";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The class chosen last time.
pub fn class() -> Option<ClassId> {
    storage()?.get_item(CLASS_KEY).ok()??.parse().ok()
}

/// Remembers the class.
pub fn set_class(class: ClassId) {
    if let Some(storage) = storage() {
        let _ = storage.set_item(CLASS_KEY, &class.to_string());
    }
}

/// The ride under way: who rides which race in which class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentRide {
    /// The racer.
    pub racer_id: u64,
    /// Their class.
    pub class_id: ClassId,
    /// Their race.
    pub race_id: RaceId,
}

const RIDE_KEY: &str = "alleycat.ride";
const OUTBOX_PREFIX: &str = "alleycat.outbox.";

/// The ride under way when the page was last left.
pub fn current_ride() -> Option<CurrentRide> {
    let text = storage()?.get_item(RIDE_KEY).ok()??;
    serde_json::from_str(&text).ok()
}

/// Remembers the ride under way.
pub fn set_current_ride(ride: CurrentRide) {
    if let (Some(storage), Ok(text)) = (storage(), serde_json::to_string(&ride)) {
        let _ = storage.set_item(RIDE_KEY, &text);
    }
}

/// Forgets the ride under way (the rider left it).
pub fn clear_current_ride() {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(RIDE_KEY);
    }
}

fn outbox_key(racer_id: u64, race_id: RaceId) -> String {
    format!("{OUTBOX_PREFIX}{racer_id}.{race_id}")
}

/// The outbox saved for `racer_id`'s race `race_id`, if there is a usable one (an unusable one
/// is reported on the console and left out).
pub fn outbox(racer_id: u64, race_id: RaceId) -> Option<Outbox> {
    let text = storage()?.get_item(&outbox_key(racer_id, race_id)).ok()??;
    Outbox::from_saved(&text)
        .inspect_err(|e| leptos::logging::warn!("storage: {e}; the ride starts afresh"))
        .ok()
}

/// Saves `outbox` for `racer_id`'s race `race_id`. A browser that refuses (private browsing, a
/// full storage) keeps it in memory only: a reload then loses what was not sent yet.
pub fn save_outbox(racer_id: u64, race_id: RaceId, outbox: &Outbox) {
    if let Some(storage) = storage() {
        if storage.set_item(&outbox_key(racer_id, race_id), &outbox.to_saved()).is_err() {
            leptos::logging::warn!("storage: the outbox could not be saved");
        }
    }
}

/// The (racer, race) of every saved outbox.
pub fn saved_outboxes() -> Vec<(u64, RaceId)> {
    outbox_keys().into_iter().filter_map(|(_, ride)| ride).collect()
}

/// Removes the saved outboxes for which `keep(racer_id, race_id)` is false (and any whose key
/// does not parse).
pub fn prune_outboxes(keep: impl Fn(u64, RaceId) -> bool) {
    let Some(storage) = storage() else { return };
    for (key, ride) in outbox_keys() {
        if ride.is_none_or(|(racer, race)| !keep(racer, race)) {
            let _ = storage.remove_item(&key);
        }
    }
}

/// Every outbox key, with the (racer, race) it names when it parses.
fn outbox_keys() -> Vec<(String, Option<(u64, RaceId)>)> {
    let Some(storage) = storage() else { return Vec::new() };
    let count = storage.length().unwrap_or(0);
    (0..count)
        .filter_map(|i| storage.key(i).ok().flatten())
        .filter_map(|key| {
            let rest = key.strip_prefix(OUTBOX_PREFIX)?;
            let ride = rest
                .split_once('.')
                .and_then(|(racer, race)| Some((racer.parse().ok()?, race.parse().ok()?)));
            Some((key, ride))
        })
        .collect()
}

/// Whether the person asked their system for less motion.
pub fn prefers_reduced_motion() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media("(prefers-reduced-motion: reduce)").ok().flatten())
        .is_some_and(|m| m.matches())
}
