//! Which seconds of one racer's race were already counted: the one duplicate check of (race,
//! racer, second), shared by the server's admission (which refuses a second sent twice) and its
//! here-now board (which must not count a replayed second twice).
//!
//! A race may be up to a day long ([`crate::history::MAX_RACE_SECONDS`]), so the set grows with
//! the highest second it holds instead of having a fixed size: one bit per second, 38 bytes for
//! a 300-second race. (The board once had its own fixed copy covering seconds below 512, and
//! counted later seconds twice when they were replayed.)

/// A set of seconds (any `u32`; a race's are 1 to its length), one bit each.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SecondSet {
    /// Bit `s % 64` of word `s / 64` is second `s`; no trailing zero words are needed.
    words: Vec<u64>,
}

impl SecondSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    fn word_and_bit(second: u32) -> (usize, u64) {
        ((second / 64) as usize, 1 << (second % 64))
    }

    /// Adds `second`; returns whether it was new (`false`: a duplicate).
    pub fn insert(&mut self, second: u32) -> bool {
        let (word, bit) = Self::word_and_bit(second);
        if self.words.len() <= word {
            self.words.resize(word + 1, 0);
        }
        let fresh = self.words[word] & bit == 0;
        self.words[word] |= bit;
        fresh
    }

    /// Removes `second` (a reservation given back); returns whether it was there.
    pub fn remove(&mut self, second: u32) -> bool {
        let (word, bit) = Self::word_and_bit(second);
        match self.words.get_mut(word) {
            Some(w) if *w & bit != 0 => {
                *w &= !bit;
                true
            }
            _ => false,
        }
    }

    /// Whether `second` is in the set.
    pub fn contains(&self, second: u32) -> bool {
        let (word, bit) = Self::word_and_bit(second);
        self.words.get(word).is_some_and(|w| w & bit != 0)
    }

    /// How many seconds the set holds.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set holds no second.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn a_second_is_new_once_and_a_duplicate_after() {
        let mut set = SecondSet::new();
        assert!(set.is_empty());
        assert!(set.insert(3));
        assert!(!set.insert(3));
        assert!(set.contains(3));
        assert!(!set.contains(4));
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn seconds_of_a_long_race_are_deduplicated_like_the_first_ones() {
        let mut set = SecondSet::new();
        for second in [1, 511, 512, 513, 900, 3_600, 86_400] {
            assert!(set.insert(second), "{second} is new");
            assert!(!set.insert(second), "{second} again is a duplicate");
        }
        assert_eq!(set.len(), 7);
        assert!(!set.contains(899) && !set.contains(901));
    }

    #[test]
    fn a_removed_second_may_be_inserted_again() {
        let mut set = SecondSet::new();
        set.insert(700);
        assert!(set.remove(700));
        assert!(!set.remove(700));
        assert!(!set.remove(100_000), "removing past the end is a no-op");
        assert!(set.is_empty());
        assert!(set.insert(700));
    }

    proptest! {
        /// The set answers as a `BTreeSet` of the same operations would.
        #[test]
        fn the_set_behaves_as_a_set(ops in prop::collection::vec((any::<bool>(), 0u32..2_000), 0..300)) {
            let (mut set, mut model) = (SecondSet::new(), BTreeSet::new());
            for (add, second) in ops {
                if add {
                    prop_assert_eq!(set.insert(second), model.insert(second));
                } else {
                    prop_assert_eq!(set.remove(second), model.remove(&second));
                }
                prop_assert_eq!(set.contains(second), model.contains(&second));
                prop_assert_eq!(set.len(), model.len());
                prop_assert_eq!(set.is_empty(), model.is_empty());
            }
        }
    }
}
