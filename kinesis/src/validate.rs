//! Model-constraint checks with Kinesis' own messages.
//!
//! Kinesis reports every broken constraint of a request at once (up to ten), as
//! `N validation error(s) detected: Value '<v>' at '<path>' failed to satisfy constraint:
//! <rule>; ...`, where `<path>` is the member's name with a lower-case first letter
//! (`streamName`, `records.2.member.partitionKey`). [`Checks`] collects them in that form.

use std::borrow::Cow;

use crate::error::KinesisError;

/// The most violations one message lists.
const MAX_REPORTED: usize = 10;

/// Where a checked value is in the request (`streamName`, `records.2.member.partitionKey`),
/// spelled out only when a check fails: a PutRecords call checks the members of up to 500
/// records, and nearly always every check passes.
pub trait Member {
    /// The member's path.
    fn spell(&self) -> Cow<'_, str>;
}

impl Member for str {
    fn spell(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

impl Member for String {
    fn spell(&self) -> Cow<'_, str> {
        Cow::Borrowed(self)
    }
}

/// Violations found so far.
#[derive(Debug, Default)]
pub struct Checks {
    errors: Vec<String>,
}

impl Checks {
    /// No violations yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn fail(&mut self, value: Option<String>, at: &(impl Member + ?Sized), rule: &str) {
        if self.errors.len() < MAX_REPORTED {
            let value = value.map_or_else(|| "null".to_owned(), |v| format!("'{v}'"));
            let at = at.spell();
            self.errors
                .push(format!("Value {value} at '{at}' failed to satisfy constraint: {rule}"));
        }
    }

    /// `value` must be present. Returns whether it is.
    pub fn required<T>(&mut self, at: &(impl Member + ?Sized), value: &Option<T>) -> bool {
        if value.is_none() {
            self.fail(None, at, "Member must not be null");
        }
        value.is_some()
    }

    /// A string of `min` to `max` characters.
    pub fn length(
        &mut self,
        at: &(impl Member + ?Sized),
        value: Option<&str>,
        min: usize,
        max: usize,
    ) {
        let Some(value) = value else { return };
        let chars = value.chars().count();
        if chars < min {
            self.fail(
                Some(value.to_owned()),
                at,
                &format!("Member must have length greater than or equal to {min}"),
            );
        }
        if chars > max {
            self.fail(
                Some(value.to_owned()),
                at,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// A string matching the pattern Kinesis names `pattern`, as decided by `matches`.
    pub fn pattern(
        &mut self,
        at: &(impl Member + ?Sized),
        value: Option<&str>,
        pattern: &str,
        matches: fn(&str) -> bool,
    ) {
        if let Some(value) = value {
            if !matches(value) {
                self.fail(
                    Some(value.to_owned()),
                    at,
                    &format!("Member must satisfy regular expression pattern: {pattern}"),
                );
            }
        }
    }

    /// A stream name or shard id: 1 to 128 characters of `[a-zA-Z0-9_.-]`.
    pub fn stream_name(&mut self, at: &str, value: Option<&str>) {
        self.length(at, value, 1, 128);
        self.pattern(at, value, NAME_PATTERN, is_name);
    }

    /// A number from `min` to `max`.
    pub fn range(&mut self, at: &str, value: Option<i64>, min: i64, max: i64) {
        let Some(value) = value else { return };
        if value < min {
            self.fail(
                Some(value.to_string()),
                at,
                &format!("Member must have value greater than or equal to {min}"),
            );
        }
        if value > max {
            self.fail(
                Some(value.to_string()),
                at,
                &format!("Member must have value less than or equal to {max}"),
            );
        }
    }

    /// A blob of at most `max` bytes (shown as Kinesis' Java runtime shows a buffer).
    pub fn blob(&mut self, at: &(impl Member + ?Sized), value: Option<&[u8]>, max: usize) {
        if let Some(value) = value {
            if value.len() > max {
                let len = value.len();
                self.fail(
                    Some(format!("java.nio.HeapByteBuffer[pos=0 lim={len} cap={len}]")),
                    at,
                    &format!("Member must have length less than or equal to {max}"),
                );
            }
        }
    }

    /// A list or map of `min` to `max` entries, shown by `shown`.
    pub fn count(
        &mut self,
        at: &str,
        len: Option<usize>,
        shown: impl FnOnce() -> String,
        min: usize,
        max: usize,
    ) {
        let Some(len) = len else { return };
        if len < min {
            self.fail(
                Some(shown()),
                at,
                &format!("Member must have length greater than or equal to {min}"),
            );
        } else if len > max {
            self.fail(
                Some(shown()),
                at,
                &format!("Member must have length less than or equal to {max}"),
            );
        }
    }

    /// One of `allowed`.
    pub fn one_of(&mut self, at: &str, value: Option<&str>, allowed: &[&str]) {
        if let Some(value) = value {
            if !allowed.contains(&value) {
                self.fail(
                    Some(value.to_owned()),
                    at,
                    &format!("Member must satisfy enum value set: [{}]", allowed.join(", ")),
                );
            }
        }
    }

    /// `Ok` when nothing failed, else the [`KinesisError::Validation`] listing the violations.
    pub fn finish(self) -> Result<(), KinesisError> {
        match self.errors.len() {
            0 => Ok(()),
            n => Err(KinesisError::Validation(format!(
                "{n} validation error{} detected: {}",
                if n == 1 { "" } else { "s" },
                self.errors.join("; ")
            ))),
        }
    }
}

/// The pattern of stream names and shard ids.
pub const NAME_PATTERN: &str = "[a-zA-Z0-9_.-]+";
/// The pattern of sequence numbers.
pub const SEQUENCE_PATTERN: &str = "0|([1-9]\\d{0,128})";
/// The pattern of explicit hash keys.
pub const HASH_KEY_PATTERN: &str = "0|([1-9]\\d{0,38})";

/// Whether `s` matches [`NAME_PATTERN`].
pub fn is_name(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// Whether `s` is a decimal without leading zeros of at most `digits` digits.
pub fn is_decimal(s: &str, digits: usize) -> bool {
    s == "0"
        || (!s.is_empty()
            && s.len() <= digits
            && !s.starts_with('0')
            && s.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether `s` matches [`SEQUENCE_PATTERN`].
pub fn is_sequence(s: &str) -> bool {
    is_decimal(s, 129)
}

/// Whether `s` matches [`HASH_KEY_PATTERN`].
pub fn is_hash_key(s: &str) -> bool {
    is_decimal(s, 39)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_are_listed_together_in_kinesis_words() {
        let mut checks = Checks::new();
        checks.required::<u32>("shardCount", &None);
        checks.stream_name("streamName", Some("a b"));
        let message = checks.finish().unwrap_err().message();
        assert_eq!(
            message,
            "2 validation errors detected: Value null at 'shardCount' failed to satisfy \
             constraint: Member must not be null; Value 'a b' at 'streamName' failed to satisfy \
             constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
        );
    }

    #[test]
    fn one_violation_is_singular_and_none_is_ok() {
        let mut checks = Checks::new();
        checks.range("limit", Some(0), 1, 10_000);
        assert!(checks
            .finish()
            .unwrap_err()
            .message()
            .starts_with("1 validation error detected: Value '0' at 'limit'"));
        assert!(Checks::new().finish().is_ok());
    }

    #[test]
    fn patterns_match_like_the_model_regexes() {
        assert!(is_name("my.stream-1_x") && !is_name("") && !is_name("a/b"));
        assert!(
            is_sequence("0")
                && is_sequence("49590338271490256608559692538361571095921575989136588898")
        );
        assert!(!is_sequence("01") && !is_sequence("1a"));
        assert!(is_hash_key(&u128::MAX.to_string()) && !is_hash_key(&"9".repeat(40)));
    }
}
