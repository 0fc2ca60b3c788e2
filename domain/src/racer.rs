//! Who a racer is: a person with their own racer, or one of the generated (simulated) field.
//!
//! # Ids
//!
//! The generated roster holds racers `1` to the roster size (at most 40,000); they are
//! **simulated**: the load generator and the demo field ride them with the API key, and nobody
//! can get a session for them. People create their own racers (`POST /api/racers`), whose ids
//! start at [`FIRST_PERSON_ID`]. The id alone says which is which, so every board (the here-now
//! ranking, results, and the all-time board the browser ranks from a history file that holds only
//! ids) can mark simulated racers without another lookup: [`is_simulated`].
//!
//! # Names
//!
//! A person's display name is 1 to [`MAX_NAME_CHARS`] characters after trimming: letters of any
//! script (with their combining marks), digits, spaces and `.'-`; no control characters, and
//! nothing else (so no markup: `<script>` is refused, and a name is always shown as text anyway).
//! Runs of spaces inside are kept as one. The server checks every name with [`validate_name`];
//! the app runs the same function as the racer types.

use thiserror::Error;

/// The first id of a person's racer; every id below it belongs to the generated roster.
pub const FIRST_PERSON_ID: u64 = 1_000_000;

/// The longest display name, in characters after trimming.
pub const MAX_NAME_CHARS: usize = 40;

/// Whether `racer_id` is one of the generated (simulated) field rather than a person.
pub fn is_simulated(racer_id: u64) -> bool {
    racer_id < FIRST_PERSON_ID
}

/// Why a display name was refused (the message is shown to the person as it is).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NameError {
    /// Nothing but spaces.
    #[error("Choose a name: it cannot be empty.")]
    Empty,
    /// Over [`MAX_NAME_CHARS`] characters.
    #[error("A name is at most {MAX_NAME_CHARS} characters; this one has {0}.")]
    TooLong(usize),
    /// A control character (a line break, a tab, a NUL, …).
    #[error("A name cannot hold control characters such as line breaks or tabs.")]
    ControlCharacter,
    /// A character that is not a letter, a digit, a space or `.'-`.
    #[error("A name may hold letters, digits, spaces and . ' - only, not {0:?}.")]
    NotAllowed(char),
}

/// Checks a display name and returns it trimmed, with inner runs of spaces made one space.
pub fn validate_name(raw: &str) -> Result<String, NameError> {
    let trimmed = raw.trim();
    if trimmed.chars().any(char::is_control) {
        return Err(NameError::ControlCharacter);
    }
    let mut name = String::with_capacity(trimmed.len());
    for word in trimmed.split(' ').filter(|w| !w.is_empty()) {
        if !name.is_empty() {
            name.push(' ');
        }
        name.push_str(word);
    }
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if let Some(c) = name.chars().find(|&c| !is_name_char(c)) {
        return Err(NameError::NotAllowed(c));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(NameError::TooLong(chars));
    }
    Ok(name)
}

/// A letter of any script, a combining mark that belongs to one, a digit, a space or `.'-`.
fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || is_combining_mark(c) || matches!(c, ' ' | '.' | '\'' | '-')
}

/// The combining-mark blocks that letters of common scripts are written with (a decomposed
/// "é", Devanagari vowel signs, Thai tone marks), which `char::is_alphanumeric` does not count.
fn is_combining_mark(c: char) -> bool {
    matches!(c as u32,
        0x0300..=0x036F // Combining Diacritical Marks
        | 0x0483..=0x0489 // Cyrillic
        | 0x0591..=0x05C7 // Hebrew
        | 0x0610..=0x061A | 0x064B..=0x065F | 0x0670 | 0x06D6..=0x06ED // Arabic
        | 0x0900..=0x0DFF // Indic scripts (their signs; letters pass is_alphanumeric)
        | 0x0E31 | 0x0E34..=0x0E3A | 0x0E47..=0x0E4E // Thai
        | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F
        | 0x3099..=0x309A // Japanese kana voicing marks
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_any_script_are_taken_trimmed_with_single_spaces() {
        assert_eq!(validate_name("  Ada   Lovelace ").unwrap(), "Ada Lovelace");
        for name in ["Zoë O'Neil-Smith", "Jr. Dev", "李小龍", "Ахмед", "नमस्ते", "ศิริ", "Ev 2"]
        {
            assert_eq!(validate_name(name).as_deref(), Ok(name), "{name}");
        }
        assert_eq!(validate_name(&"é".repeat(40)).unwrap().chars().count(), 40);
    }

    #[test]
    fn bad_names_are_refused_with_the_reason() {
        assert_eq!(validate_name(""), Err(NameError::Empty));
        assert_eq!(validate_name("    "), Err(NameError::Empty));
        assert_eq!(validate_name(&"a".repeat(41)), Err(NameError::TooLong(41)));
        assert_eq!(validate_name("Ada\nLovelace"), Err(NameError::ControlCharacter));
        assert_eq!(validate_name("Ada\u{0}"), Err(NameError::ControlCharacter));
        assert_eq!(validate_name("<script>alert(1)</script>"), Err(NameError::NotAllowed('<')));
        assert_eq!(validate_name("Ada_L"), Err(NameError::NotAllowed('_')));
        assert_eq!(validate_name("🚴 Ada"), Err(NameError::NotAllowed('🚴')));
    }

    #[test]
    fn the_roster_is_simulated_and_people_are_not() {
        assert!(is_simulated(1));
        assert!(is_simulated(40_000));
        assert!(!is_simulated(FIRST_PERSON_ID));
        assert!(!is_simulated(FIRST_PERSON_ID + 12));
    }
}
