//! Avatars drawn from a racer id: a symmetric 5×5 pattern on a coloured tile, so every racer is
//! recognisable at a glance without any image from outside the server.

use alleycat_domain::hash::splitmix64 as mix;

/// What an avatar looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Avatar {
    /// Hue of the tile, degrees.
    pub hue: u16,
    /// Filled cells of the 5×5 grid, `(column, row)`, mirrored left to right.
    pub cells: Vec<(u8, u8)>,
    /// The initial shown for screen readers and as a fallback, from the name.
    pub initial: char,
}

impl Avatar {
    /// The avatar of racer `id` called `name`.
    pub fn new(id: u64, name: &str) -> Self {
        let h = mix(id);
        let hue = (h % 360) as u16;
        let mut cells = Vec::with_capacity(15);
        let mut bits = h >> 9;
        for row in 0..5u8 {
            for col in 0..3u8 {
                if bits & 1 == 1 {
                    cells.push((col, row));
                    if col < 2 {
                        cells.push((4 - col, row));
                    }
                }
                bits >>= 1;
            }
        }
        if cells.is_empty() {
            cells.push((2, 2));
        }
        let initial = name.chars().find(|c| c.is_alphanumeric()).unwrap_or('?');
        Self { hue, cells, initial: initial.to_ascii_uppercase() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avatars_are_deterministic_symmetric_and_differ_between_racers() {
        let a = Avatar::new(42, "ada lovelace");
        assert_eq!(a, Avatar::new(42, "ada lovelace"));
        assert_eq!(a.initial, 'A');
        for &(c, r) in &a.cells {
            assert!(a.cells.contains(&(4 - c, r)), "{a:?} is not mirrored");
        }
        let distinct: std::collections::HashSet<_> =
            (1..200).map(|id| Avatar::new(id, "x").cells).collect();
        assert!(distinct.len() > 150);
    }
}
