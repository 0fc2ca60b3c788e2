//! What the app remembers between visits, in localStorage: the racer and the class.

use alleycat_domain::{api::RacerInfo, ClassId};

const RACER_KEY: &str = "alleycat.racer";
const CLASS_KEY: &str = "alleycat.class";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The racer chosen last time.
pub fn racer() -> Option<RacerInfo> {
    let text = storage()?.get_item(RACER_KEY).ok()??;
    serde_json::from_str(&text).ok()
}

/// Remembers the racer.
pub fn set_racer(racer: &RacerInfo) {
    if let (Some(storage), Ok(text)) = (storage(), serde_json::to_string(racer)) {
        // Private browsing may refuse to store; the app works without it.
        let _ = storage.set_item(RACER_KEY, &text);
    }
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

/// Whether the person asked their system for less motion.
pub fn prefers_reduced_motion() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media("(prefers-reduced-motion: reduce)").ok().flatten())
        .is_some_and(|m| m.matches())
}
