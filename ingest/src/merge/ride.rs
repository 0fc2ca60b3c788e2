//! One racer's ride through one race of one class: the output of every second, kept so that
//! merging the same second again is a no-op and the results are derived, never accumulated;
//! each second's cadence and heart rate ([`Detail`]), kept for the ride's FIT file; and whether
//! any second was measured on a real bike.

use super::record::Detail;
use crate::db::StoredBlobs;

/// The per-second outputs of one ride, in hundredths; 0 where the racer sent nothing.
#[derive(Debug, Clone)]
pub struct Ride {
    outputs: Vec<u32>,
    /// Each second's cadence and heart rate: those of the record with the highest output (the
    /// larger detail on a tie), so merging stays idempotent and order-independent.
    details: Vec<Detail>,
    /// Some second was measured by a trainer or a power meter (an "or" over every record
    /// merged, so idempotent and order-independent too).
    real_bike: bool,
    /// Changed since the last commit.
    dirty: bool,
}

pub use crate::db::RideSummary;

impl Ride {
    /// A ride with nothing yet, of a race of `race_seconds`.
    pub fn new(race_seconds: u32) -> Self {
        Self {
            outputs: vec![0; race_seconds as usize],
            details: vec![Detail::UNKNOWN; race_seconds as usize],
            real_bike: false,
            dirty: false,
        }
    }

    /// Reads a ride as the database stores it (see [`Ride::from_blob`]).
    pub fn from_stored(stored: &StoredBlobs, race_seconds: u32) -> Self {
        Self {
            real_bike: stored.real_bike,
            ..Self::from_blob(&stored.outputs, &stored.details, race_seconds)
        }
    }

    /// Reads a stored ride (outputs: little-endian u32 per second; details: two bytes per
    /// second, empty for rides stored before details were kept), fitted to `race_seconds`.
    pub fn from_blob(blob: &[u8], details: &[u8], race_seconds: u32) -> Self {
        let mut outputs: Vec<u32> =
            blob.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        outputs.resize(race_seconds as usize, 0);
        let mut details: Vec<Detail> =
            details.chunks_exact(2).map(|c| Detail::from_bytes([c[0], c[1]])).collect();
        details.resize(race_seconds as usize, Detail::UNKNOWN);
        Self { outputs, details, real_bike: false, dirty: false }
    }

    /// The stored form of the outputs.
    pub fn to_blob(&self) -> Vec<u8> {
        self.outputs.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// The stored form of the details.
    pub fn details_blob(&self) -> Vec<u8> {
        self.details.iter().flat_map(|d| d.to_bytes()).collect()
    }

    /// Records `centi` and `detail` at `second` (1-based), `measured` on a real bike. A second
    /// seen twice keeps the higher output and its detail (the larger detail on a tie), so
    /// merging is idempotent and order-independent even if two deliveries disagree. Returns
    /// whether anything changed.
    pub fn apply(&mut self, second: u32, centi: u32, detail: Detail, measured: bool) -> bool {
        let Some(i) = (second as usize).checked_sub(1).filter(|&i| i < self.outputs.len()) else {
            return false;
        };
        let newly_real = measured && !self.real_bike;
        if newly_real {
            self.real_bike = true;
            self.dirty = true;
        }
        let (slot, kept) = (&mut self.outputs[i], &mut self.details[i]);
        let better = centi > *slot || (centi == *slot && centi > 0 && detail > *kept);
        if better {
            *slot = centi;
            *kept = detail;
            self.dirty = true;
        }
        better || newly_real
    }

    /// Every second of the race: its number (1-based), output in hundredths (0 where nothing
    /// was sent) and detail.
    pub fn seconds(&self) -> impl Iterator<Item = (u32, u32, Detail)> + '_ {
        self.outputs.iter().zip(&self.details).enumerate().map(|(i, (&c, &d))| (i as u32 + 1, c, d))
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
        let mut s = RideSummary { real_bike: self.real_bike, ..RideSummary::default() };
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

    const NONE: Detail = Detail::UNKNOWN;

    #[test]
    fn a_second_merged_twice_counts_once_and_keeps_the_higher_output() {
        let mut ride = Ride::new(5);
        assert!(ride.apply(2, 100, NONE, false));
        assert!(!ride.apply(2, 100, NONE, false));
        assert!(!ride.apply(2, 90, NONE, false));
        assert!(ride.apply(4, 300, NONE, false));
        assert!(!ride.apply(6, 300, NONE, false));
        assert!(!ride.apply(0, 300, NONE, false));
        let s = ride.summary();
        assert_eq!((s.seconds, s.total_centi, s.best_centi), (2, 400, 300));
        assert_eq!((s.final_second, s.final_centi), (4, 300));
        assert_eq!(Ride::from_blob(&ride.to_blob(), &[], 5).summary(), ride.summary());
        assert!(ride.is_dirty());
        ride.mark_clean();
        assert!(!ride.is_dirty());
    }

    #[test]
    fn each_second_keeps_the_detail_of_its_highest_output_whatever_the_order() {
        let strong = Detail::new(Some(95.0), Some(150.0));
        let weak = Detail::new(Some(60.0), Some(110.0));
        let records = [(3, 200, weak), (3, 250, strong), (3, 250, NONE), (1, 80, weak)];
        let mut forward = Ride::new(4);
        let mut backward = Ride::new(4);
        for &(second, centi, detail) in &records {
            forward.apply(second, centi, detail, false);
        }
        for &(second, centi, detail) in records.iter().rev() {
            backward.apply(second, centi, detail, false);
        }
        let seconds: Vec<_> = forward.seconds().collect();
        assert_eq!(seconds, backward.seconds().collect::<Vec<_>>());
        assert_eq!(seconds, [(1, 80, weak), (2, 0, NONE), (3, 250, strong), (4, 0, NONE)]);
        let stored = Ride::from_blob(&forward.to_blob(), &forward.details_blob(), 4);
        assert_eq!(stored.seconds().collect::<Vec<_>>(), seconds);
    }

    #[test]
    fn a_ride_stored_before_details_were_kept_reads_them_as_unknown() {
        let mut ride = Ride::new(3);
        ride.apply(2, 500, Detail::new(Some(90.0), Some(140.0)), false);
        let old = Ride::from_blob(&ride.to_blob(), &[], 3);
        assert_eq!(old.seconds().nth(1), Some((2, 500, NONE)));
    }

    #[test]
    fn one_measured_second_makes_the_ride_a_real_bike_ride_whatever_the_order() {
        let mut ride = Ride::new(3);
        assert!(ride.apply(1, 100, NONE, false));
        assert!(!ride.summary().real_bike);
        ride.mark_clean();
        // The same second again, measured: nothing better, but the ride is now on a real bike.
        assert!(ride.apply(1, 100, NONE, true));
        assert!(ride.is_dirty() && ride.summary().real_bike);
        assert!(!ride.apply(1, 100, NONE, true), "a second merge of it changes nothing");
        assert!(!ride.apply(2, 0, NONE, false) && ride.summary().real_bike);
        let stored =
            StoredBlobs { outputs: ride.to_blob(), details: ride.details_blob(), real_bike: true };
        assert!(Ride::from_stored(&stored, 3).summary().real_bike);
    }
}
