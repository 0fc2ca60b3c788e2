//! A believable simulated ride: the cadence and resistance a racer holds second by second.
//!
//! Used by the load generator (thousands of simulated racers), the app's autopilot and the
//! benchmarks, so that all of them produce histories that look like real riding. Everything is a
//! pure function of `(seed, racer, race, second)`: any second can be computed on its own, in any
//! order, on any platform, and gives the same answer.
//!
//! The model:
//! - each racer has their own cadence range within 30..=90 rpm and resistance range within
//!   33..=86 %, fixed by `(seed, racer)`;
//! - each race the racer has a form (where in their range they sit) and a trend (building up or
//!   fading through the race), fixed by `(seed, racer, race)`;
//! - resistance moves in steps every 20 to 40 seconds, as riders shift;
//! - cadence follows the trend with a slow swell and ±3 rpm of second-to-second noise.
//!
//! Readings are whole numbers, as bikes report them, so outputs have at most two decimals.

use crate::hash::splitmix64 as mix;

/// Cadence bounds every simulated racer rides within, rpm.
pub const SIM_CADENCE: (u32, u32) = (30, 90);
/// Resistance bounds every simulated racer rides within, percent.
pub const SIM_RESISTANCE: (u32, u32) = (33, 86);

/// A uniform number in `[0, 1)` drawn from the given inputs.
fn unit(parts: &[u64]) -> f64 {
    let h = parts.iter().fold(0x5EED_u64, |acc, &p| mix(acc ^ p));
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// A whole number in `lo..=hi` drawn from the given inputs.
fn pick(parts: &[u64], lo: u32, hi: u32) -> u32 {
    lo + (unit(parts) * f64::from(hi - lo + 1)) as u32
}

/// One racer's riding style: their own cadence and resistance ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiderProfile {
    seed: u64,
    racer_id: u64,
    cadence: (u32, u32),
    resistance: (u32, u32),
}

impl RiderProfile {
    /// The profile of `racer_id` in the simulation seeded with `seed`.
    pub fn new(seed: u64, racer_id: u64) -> Self {
        let range = |salt: u64, (lo, hi): (u32, u32)| {
            let width = pick(&[seed, racer_id, salt], 12, (hi - lo) / 2);
            let start = pick(&[seed, racer_id, salt + 1], lo, hi - width);
            (start, start + width)
        };
        Self {
            seed,
            racer_id,
            cadence: range(1, SIM_CADENCE),
            resistance: range(3, SIM_RESISTANCE),
        }
    }

    /// The racer's cadence range, rpm (inclusive).
    pub fn cadence_range(&self) -> (u32, u32) {
        self.cadence
    }

    /// The racer's resistance range, percent (inclusive).
    pub fn resistance_range(&self) -> (u32, u32) {
        self.resistance
    }

    /// How this racer rides race `race_id` of `race_seconds` seconds.
    pub fn race(&self, race_id: u64, race_seconds: u32) -> RaceRide {
        let form = unit(&[self.seed, self.racer_id, race_id, 10]);
        let trend = unit(&[self.seed, self.racer_id, race_id, 11]) - 0.5;
        RaceRide { profile: *self, race_id, race_seconds: race_seconds.max(1), form, trend }
    }
}

/// One racer's ride through one race.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RaceRide {
    profile: RiderProfile,
    race_id: u64,
    race_seconds: u32,
    form: f64,
    trend: f64,
}

/// What the bike reads in one second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reading {
    /// Cadence, rpm.
    pub cadence: u32,
    /// Resistance, percent.
    pub resistance: u32,
}

impl Reading {
    /// This reading's output, by the shared formula.
    pub fn output(&self) -> f64 {
        crate::output(f64::from(self.cadence), f64::from(self.resistance))
    }
}

impl RaceRide {
    /// Where in the race `second` falls, 0 at the start and 1 at the end.
    fn progress(&self, second: u32) -> f64 {
        f64::from(second.saturating_sub(1)) / f64::from(self.race_seconds.max(2) - 1)
    }

    /// The level (0 to 1 within the racer's ranges) the racer is aiming for at `second`.
    fn level(&self, second: u32) -> f64 {
        let p = self.progress(second);
        let swell = 0.08 * (p * std::f64::consts::TAU * 2.0 + self.form * 6.0).sin();
        (0.25 + 0.5 * self.form + 0.4 * self.trend * (p - 0.5) + swell).clamp(0.0, 1.0)
    }

    /// The reading at `second` (1-based; seconds past the race end read as its last second).
    pub fn at(&self, second: u32) -> Reading {
        let second = second.clamp(1, self.race_seconds);
        let RiderProfile { seed, racer_id, cadence: (c_lo, c_hi), resistance: (r_lo, r_hi) } =
            self.profile;
        let level = self.level(second);

        let step = 20 + pick(&[seed, racer_id, self.race_id, 20], 0, 20);
        let shift = u64::from(second / step);
        let jitter = unit(&[seed, racer_id, self.race_id, 21, shift]) - 0.5;
        let r_level = (level + 0.3 * jitter).clamp(0.0, 1.0);
        let resistance = r_lo + (r_level * f64::from(r_hi - r_lo)).round() as u32;

        let noise = unit(&[seed, racer_id, self.race_id, 30, u64::from(second)]) * 7.0 - 3.5;
        let cadence = f64::from(c_lo) + level * f64::from(c_hi - c_lo) + noise;
        let cadence = cadence.round().clamp(f64::from(c_lo), f64::from(c_hi)) as u32;
        Reading { cadence, resistance }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_stay_within_the_simulated_bounds() {
        for racer in 1..2000 {
            let p = RiderProfile::new(7, racer);
            let (c_lo, c_hi) = p.cadence_range();
            let (r_lo, r_hi) = p.resistance_range();
            assert!(SIM_CADENCE.0 <= c_lo && c_lo < c_hi && c_hi <= SIM_CADENCE.1, "{p:?}");
            assert!(SIM_RESISTANCE.0 <= r_lo && r_lo < r_hi && r_hi <= SIM_RESISTANCE.1, "{p:?}");
        }
    }

    #[test]
    fn readings_stay_within_the_racers_own_ranges() {
        let p = RiderProfile::new(1, 42);
        for race in 0..20 {
            let ride = p.race(race, 300);
            for second in 1..=300 {
                let r = ride.at(second);
                assert!((p.cadence.0..=p.cadence.1).contains(&r.cadence));
                assert!((p.resistance.0..=p.resistance.1).contains(&r.resistance));
            }
        }
    }

    #[test]
    fn rides_are_deterministic_and_differ_between_races_and_seeds() {
        let a = RiderProfile::new(1, 42).race(100, 300);
        let b = RiderProfile::new(1, 42).race(100, 300);
        let seconds = |ride: RaceRide| (1..=300).map(|s| ride.at(s)).collect::<Vec<_>>();
        assert_eq!(seconds(a), seconds(b));
        assert_ne!(seconds(a), seconds(RiderProfile::new(1, 42).race(101, 300)));
        assert_ne!(seconds(a), seconds(RiderProfile::new(2, 42).race(100, 300)));
    }

    /// The mean output of `seconds` of `ride`.
    fn mean_output(ride: RaceRide, seconds: std::ops::RangeInclusive<u32>) -> f64 {
        let n = seconds.clone().count() as f64;
        seconds.map(|s| ride.at(s).output()).sum::<f64>() / n
    }

    #[test]
    fn a_racer_rides_each_race_differently() {
        let p = RiderProfile::new(4, 77);
        let means: Vec<f64> = (0..20).map(|race| mean_output(p.race(race, 300), 1..=300)).collect();
        let (lo, hi) = means.iter().fold((f64::MAX, f64::MIN), |(l, h), &m| (l.min(m), h.max(m)));
        assert!(hi - lo > 10.0, "race means barely differ: {lo:.1} to {hi:.1}");
    }

    #[test]
    fn races_trend_up_or_down_with_the_race_trend() {
        // Noise and the swell blur single rides, so the trend must show in nearly all of them.
        let (mut trended, mut agree) = (0, 0);
        for racer in 1..400 {
            let ride = RiderProfile::new(5, racer).race(9, 300);
            if ride.trend.abs() < 0.25 {
                continue;
            }
            trended += 1;
            let change = mean_output(ride, 241..=300) - mean_output(ride, 1..=60);
            if change.signum() == ride.trend.signum() {
                agree += 1;
            }
        }
        assert!(trended > 100, "only {trended} rides trend");
        assert!(agree * 10 >= trended * 9, "{agree} of {trended} rides follow their trend");
    }

    #[test]
    fn cadence_varies_second_to_second_but_smoothly() {
        let ride = RiderProfile::new(3, 9).race(5, 300);
        let cadences: Vec<i64> = (1..=300).map(|s| i64::from(ride.at(s).cadence)).collect();
        let changes = cadences.windows(2).filter(|w| w[0] != w[1]).count();
        let biggest = cadences.windows(2).map(|w| (w[0] - w[1]).abs()).max().unwrap();
        assert!(changes > 100, "cadence barely moves: {changes} changes");
        assert!(biggest <= 10, "cadence jumps by {biggest} rpm in a second");
    }
}
