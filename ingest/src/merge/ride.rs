//! One racer's ride through one race of one class: the output of every second, kept so that
//! merging the same second again is a no-op and the results are derived, never accumulated.

/// The per-second outputs of one ride, in hundredths; 0 where the racer sent nothing.
#[derive(Debug, Clone)]
pub struct Ride {
    outputs: Vec<u32>,
    /// Changed since the last commit.
    dirty: bool,
}

pub use crate::db::RideSummary;

impl Ride {
    /// A ride with nothing yet, of a race of `race_seconds`.
    pub fn new(race_seconds: u32) -> Self {
        Self { outputs: vec![0; race_seconds as usize], dirty: false }
    }

    /// Reads a stored ride (little-endian u32 per second), fitted to `race_seconds`.
    pub fn from_blob(blob: &[u8], race_seconds: u32) -> Self {
        let mut outputs: Vec<u32> =
            blob.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        outputs.resize(race_seconds as usize, 0);
        Self { outputs, dirty: false }
    }

    /// The stored form.
    pub fn to_blob(&self) -> Vec<u8> {
        self.outputs.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// Records `centi` at `second` (1-based). A second seen twice keeps the higher output, so
    /// merging is idempotent and order-independent even if two deliveries disagree. Returns
    /// whether anything changed.
    pub fn apply(&mut self, second: u32, centi: u32) -> bool {
        match (second as usize).checked_sub(1).and_then(|i| self.outputs.get_mut(i)) {
            Some(slot) if centi > *slot => {
                *slot = centi;
                self.dirty = true;
                true
            }
            _ => false,
        }
    }

    /// Whether the ride changed since [`Ride::mark_clean`].
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Marks the ride as committed.
    pub fn mark_clean(&mut self) {
        self.dirty = false;
    }

    /// The results of this ride.
    pub fn summary(&self) -> RideSummary {
        let mut s = RideSummary::default();
        for (i, &centi) in self.outputs.iter().enumerate() {
            if centi == 0 {
                continue;
            }
            s.seconds += 1;
            s.total_centi += u64::from(centi);
            s.best_centi = s.best_centi.max(centi);
            s.final_second = i as u32 + 1;
            s.final_centi = centi;
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_merged_twice_counts_once_and_keeps_the_higher_output() {
        let mut ride = Ride::new(5);
        assert!(ride.apply(2, 100));
        assert!(!ride.apply(2, 100));
        assert!(!ride.apply(2, 90));
        assert!(ride.apply(4, 300));
        assert!(!ride.apply(6, 300));
        assert!(!ride.apply(0, 300));
        let s = ride.summary();
        assert_eq!((s.seconds, s.total_centi, s.best_centi), (2, 400, 300));
        assert_eq!((s.final_second, s.final_centi), (4, 300));
        assert_eq!(Ride::from_blob(&ride.to_blob(), 5).summary(), ride.summary());
        assert!(ride.is_dirty());
        ride.mark_clean();
        assert!(!ride.is_dirty());
    }
}
