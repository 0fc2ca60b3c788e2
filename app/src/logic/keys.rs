//! The ride's keyboard: arrows ride, A toggles the autopilot.

/// What a key press does to the bike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    /// Steps cadence and resistance (positive up); takes the bike back from the autopilot.
    Nudge {
        /// Cadence steps.
        cadence: i32,
        /// Resistance steps.
        resistance: i32,
    },
    /// Turns the autopilot on or off.
    ToggleAutopilot,
}

/// A key press as the ride sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPress<'a> {
    /// `KeyboardEvent.key`.
    pub key: &'a str,
    /// The tag name of the focused element (`INPUT`, `BUTTON`, …), if any.
    pub target_tag: Option<&'a str>,
    /// Alt, Control or Meta is held.
    pub modified: bool,
}

/// What `press` does, if anything: nothing while the rider types in a field (the racer search,
/// a slider) or holds a modifier (browser shortcuts stay the browser's).
pub fn action(press: KeyPress<'_>) -> Option<KeyAction> {
    let typing = matches!(press.target_tag, Some("INPUT" | "SELECT" | "TEXTAREA"));
    if typing || press.modified {
        return None;
    }
    let (cadence, resistance) = match press.key {
        "ArrowUp" => (1, 0),
        "ArrowDown" => (-1, 0),
        "ArrowRight" => (0, 1),
        "ArrowLeft" => (0, -1),
        "a" | "A" => return Some(KeyAction::ToggleAutopilot),
        _ => return None,
    };
    Some(KeyAction::Nudge { cadence, resistance })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(key: &str) -> KeyPress<'_> {
        KeyPress { key, target_tag: Some("BODY"), modified: false }
    }

    #[test]
    fn arrows_step_cadence_and_resistance_and_a_toggles_the_autopilot() {
        let nudge = |cadence, resistance| Some(KeyAction::Nudge { cadence, resistance });
        assert_eq!(action(press("ArrowUp")), nudge(1, 0));
        assert_eq!(action(press("ArrowDown")), nudge(-1, 0));
        assert_eq!(action(press("ArrowRight")), nudge(0, 1));
        assert_eq!(action(press("ArrowLeft")), nudge(0, -1));
        assert_eq!(action(press("a")), Some(KeyAction::ToggleAutopilot));
        assert_eq!(action(press("A")), Some(KeyAction::ToggleAutopilot));
        assert_eq!(action(press("b")), None);
    }

    #[test]
    fn keys_typed_into_a_field_or_with_a_modifier_do_not_ride() {
        for tag in ["INPUT", "SELECT", "TEXTAREA"] {
            let typed = KeyPress { key: "ArrowUp", target_tag: Some(tag), modified: false };
            assert_eq!(action(typed), None, "{tag}");
        }
        let shortcut = KeyPress { key: "a", target_tag: None, modified: true };
        assert_eq!(action(shortcut), None);
        let on_a_button = KeyPress { key: "ArrowUp", target_tag: Some("BUTTON"), modified: false };
        assert!(action(on_a_button).is_some());
    }
}
