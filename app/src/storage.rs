//! What the app remembers between visits, in localStorage: the class. (Who rides is the
//! server's to say, from the device cookie: `hooks::use_session`.)

use alleycat_domain::ClassId;

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

/// Whether the person asked their system for less motion.
pub fn prefers_reduced_motion() -> bool {
    web_sys::window()
        .and_then(|w| w.match_media("(prefers-reduced-motion: reduce)").ok().flatten())
        .is_some_and(|m| m.matches())
}
