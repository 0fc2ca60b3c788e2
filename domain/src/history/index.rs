//! The reader: [`History`], a decoded history file indexed for ranking one second against every
//! racer, and [`decode`], what the browser does with the download.

use std::sync::OnceLock;

use bit_vec::BitVec;

use super::{gzip::gunzip, parse_json, ClassBests, Flat, HistoryError, MAX_DECODED_BYTES, NO_BEST};
use crate::ClassId;

/// A decoded history file, indexed for ranking: per second, every racer with a best there,
/// ordered from the highest best to the lowest, so that the rank of any output is a binary
/// search.
///
/// Each second's order is built the first time that second is asked for (one radix sort of its
/// column, well under a millisecond for thousands of racers), or ahead of time with
/// [`History::prepare`]: a racer needs one second at a time, so a history is ready to rank as soon
/// as it is parsed, instead of after sorting every second of the race up front.
///
/// Memory: two `u32` per racer and second once every second is indexed (the bests, and the
/// per-second order), about 16 MB for 6,667 racers × 300 seconds, and one bit per racer and
/// second for the real-bike marks (250 KB).
#[derive(Debug, Clone)]
pub struct History {
    class_id: ClassId,
    race_seconds: u32,
    /// Racer ids, increasing.
    racers: Vec<u64>,
    /// Row-major bests: `racers.len() × race_seconds`, [`NO_BEST`] where none.
    bests: Vec<u32>,
    /// Row-major like `bests`: the best was ridden on a real bike.
    real_bike: BitVec,
    /// For second `s` (1-based), once built, `orders[s-1]` holds the indices (into `racers`) of
    /// the racers with a best at `s`, highest best first (ties by racer id).
    orders: Vec<OnceLock<Vec<u32>>>,
}

/// Two histories are equal when they hold the same bests and marks, whichever seconds each has
/// indexed.
impl PartialEq for History {
    fn eq(&self, other: &Self) -> bool {
        (self.class_id, self.race_seconds, &self.racers, &self.bests, &self.real_bike)
            == (other.class_id, other.race_seconds, &other.racers, &other.bests, &other.real_bike)
    }
}

impl Eq for History {}

/// One row of a per-second ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RankedBest {
    /// 1-based place (ties share the racer-id order).
    pub place: usize,
    /// The racer.
    pub racer_id: u64,
    /// Their best at that second, hundredths.
    pub centi: u32,
    /// That best was ridden on a real bike.
    pub real_bike: bool,
}

/// Gunzips and parses a history file: what the browser does with the download. Each second is
/// indexed when first ranked (see [`History`]).
pub fn decode(gz: &[u8]) -> Result<History, HistoryError> {
    decode_json(&gunzip(gz, MAX_DECODED_BYTES)?)
}

/// Parses a history file already gunzipped (by a [`GunzipStream`]).
pub fn decode_json(json: &[u8]) -> Result<History, HistoryError> {
    Ok(History::index(parse_json(json)?))
}

/// Sorts `keys` by their high 32 bits, stably (LSD radix, 11-bit digits; a pass where every key
/// has the same digit is skipped).
fn radix_sort_high32(keys: &mut Vec<u64>, spare: &mut Vec<u64>) {
    spare.clear();
    spare.resize(keys.len(), 0);
    for shift in [32u32, 43, 54] {
        let mut counts = [0usize; 2048];
        for &k in keys.iter() {
            counts[((k >> shift) & 2047) as usize] += 1;
        }
        if counts.contains(&keys.len()) {
            continue;
        }
        let mut sum = 0;
        for c in counts.iter_mut() {
            let here = *c;
            *c = sum;
            sum += here;
        }
        for &k in keys.iter() {
            let digit = ((k >> shift) & 2047) as usize;
            spare[counts[digit]] = k;
            counts[digit] += 1;
        }
        std::mem::swap(keys, spare);
    }
}

impl History {
    /// Indexes `bests` for ranking.
    pub fn from_bests(bests: &ClassBests) -> Self {
        let mut flat = Flat {
            class_id: bests.class_id,
            race_seconds: bests.race_seconds,
            racers: Vec::with_capacity(bests.racers.len()),
            bests: Vec::with_capacity(bests.racers.len() * bests.race_seconds as usize),
            real_bike: BitVec::with_capacity(bests.racers.len() * bests.race_seconds as usize),
        };
        for (&id, row) in &bests.racers {
            flat.racers.push(id);
            flat.bests.extend_from_slice(&row.centi);
            flat.real_bike.extend(row.real_bike.iter());
        }
        Self::index(flat)
    }

    fn index(flat: Flat) -> Self {
        Self {
            class_id: flat.class_id,
            race_seconds: flat.race_seconds,
            racers: flat.racers,
            bests: flat.bests,
            real_bike: flat.real_bike,
            orders: (0..flat.race_seconds).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Indexes `second` now if it is not yet, so that ranking it later costs only the binary
    /// search (the app prepares the next second after each step).
    pub fn prepare(&self, second: u32) {
        let _ = self.column(second);
    }

    /// Second `s`'s (0-based) racers, highest best first: a stable sort on `!best` keeps racer
    /// order among ties.
    fn sort_column(&self, s: usize) -> Vec<u32> {
        let seconds = self.race_seconds as usize;
        let mut keys: Vec<u64> = self
            .bests
            .iter()
            .skip(s)
            .step_by(seconds)
            .enumerate()
            .filter(|&(_, &centi)| centi != NO_BEST)
            .map(|(i, &centi)| (u64::from(!centi) << 32) | i as u64)
            .collect();
        let mut spare = Vec::new();
        radix_sort_high32(&mut keys, &mut spare);
        keys.into_iter().map(|key| key as u32).collect()
    }

    /// The class.
    pub fn class_id(&self) -> ClassId {
        self.class_id
    }

    /// The race length.
    pub fn race_seconds(&self) -> u32 {
        self.race_seconds
    }

    /// How many racers the history knows.
    pub fn racer_count(&self) -> usize {
        self.racers.len()
    }

    /// Second `second`'s (1-based) index and its order, built on first use; `None` outside
    /// the race.
    fn column(&self, second: u32) -> Option<(usize, &[u32])> {
        let s = usize::try_from(second).ok()?.checked_sub(1)?;
        let order = self.orders.get(s)?.get_or_init(|| self.sort_column(s));
        Some((s, order))
    }

    fn best_at(&self, index: u32, s: usize) -> u32 {
        self.bests[index as usize * self.race_seconds as usize + s]
    }

    fn real_bike_at(&self, index: u32, s: usize) -> bool {
        self.real_bike.get(index as usize * self.race_seconds as usize + s).unwrap_or(false)
    }

    /// `racer`'s best at `second`, hundredths.
    pub fn best(&self, racer: u64, second: u32) -> Option<u32> {
        let i = self.racers.binary_search(&racer).ok()?;
        let s = usize::try_from(second).ok()?.checked_sub(1)?;
        if s >= self.race_seconds as usize {
            return None;
        }
        let centi = self.best_at(i as u32, s);
        (centi != NO_BEST).then_some(centi)
    }

    /// Whether `racer`'s best at `second` was ridden on a real bike.
    pub fn real_bike(&self, racer: u64, second: u32) -> bool {
        let Ok(i) = self.racers.binary_search(&racer) else { return false };
        let s = usize::try_from(second).ok().and_then(|s| s.checked_sub(1));
        s.filter(|&s| s < self.race_seconds as usize)
            .is_some_and(|s| self.real_bike_at(i as u32, s))
    }

    /// `racer`'s bests, second 1 first, in hundredths ([`NO_BEST`] where none): the chart of
    /// their personal bests.
    pub fn row(&self, racer: u64) -> Option<&[u32]> {
        let i = self.racers.binary_search(&racer).ok()?;
        let seconds = self.race_seconds as usize;
        Some(&self.bests[i * seconds..(i + 1) * seconds])
    }

    /// How many racers have a best at `second`.
    pub fn field(&self, second: u32) -> usize {
        self.column(second).map_or(0, |(_, order)| order.len())
    }

    /// The place an output of `centi` hundredths takes at `second` among every best there:
    /// 1 + the number of bests strictly higher. A binary search.
    pub fn rank(&self, second: u32, centi: u32) -> usize {
        match self.column(second) {
            Some((s, order)) => order.partition_point(|&i| self.best_at(i, s) > centi) + 1,
            None => 1,
        }
    }

    /// The bests at `second` at places `places` (1-based, clamped to the field), highest first.
    pub fn ranked(
        &self,
        second: u32,
        places: std::ops::Range<usize>,
    ) -> impl Iterator<Item = RankedBest> + '_ {
        let (s, order) = self.column(second).unwrap_or((0, &[]));
        let len = order.len();
        let from = places.start.max(1).min(len + 1) - 1;
        let to = places.end.max(1).min(len + 1) - 1;
        (from..to.max(from)).map(move |k| {
            let i = order[k];
            RankedBest {
                place: k + 1,
                racer_id: self.racers[i as usize],
                centi: self.best_at(i, s),
                real_bike: self.real_bike_at(i, s),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::tests::{gz, sample};

    #[test]
    fn a_small_history_round_trips_and_ranks() {
        let h = decode(&gz(&sample().to_json())).unwrap();
        assert_eq!(h.class_id(), 3);
        assert_eq!(h.racer_count(), 3);
        assert_eq!(h.best(42, 1), Some(13225));
        assert_eq!(h.best(42, 3), None);
        assert_eq!(h.best(5, 1), None);
        assert_eq!(h.row(42), Some(&[13225, 13000, 0, 0, 0][..]));
        assert_eq!(h.row(5), None);
        assert_eq!(h.field(1), 3);
        assert_eq!(h.rank(1, 15000), 1);
        assert_eq!(h.rank(1, 14000), 1);
        assert_eq!(h.rank(1, 13999), 2);
        assert_eq!(h.rank(1, 13225), 2);
        assert_eq!(h.rank(1, 100), 4);
        let top: Vec<_> = h.ranked(1, 1..10).map(|r| (r.place, r.racer_id, r.centi)).collect();
        assert_eq!(top, vec![(1, 7, 14000), (2, 42, 13225), (3, 1000, 13225)]);
        assert!(h.ranked(1, 1..10).all(|r| !r.real_bike));
        assert_eq!(h.ranked(1, 2..3).count(), 1);
        assert_eq!(h.rank(0, 1), 1);
        assert_eq!(h.rank(6, 1), 1);
    }

    #[test]
    fn ranked_rows_say_which_bests_were_ridden_on_a_real_bike() {
        let mut b = sample();
        b.improve_ridden(1000, 1, 13225, true);
        b.improve_ridden(7, 5, 9000, true);
        let h = decode(&gz(&b.to_json())).unwrap();
        let marks: Vec<_> = h.ranked(1, 1..10).map(|r| (r.racer_id, r.real_bike)).collect();
        assert_eq!(marks, vec![(7, false), (42, false), (1000, true)]);
        assert!(h.ranked(5, 1..2).all(|r| r.racer_id == 7 && r.real_bike));
        assert!(h.real_bike(7, 5) && !h.real_bike(7, 1) && !h.real_bike(7, 6));
        assert!(!h.real_bike(8, 5));
    }
}
