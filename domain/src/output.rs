//! The output formula: how hard a racer is riding, from cadence and resistance; and the unit
//! outputs are stored, ranked and summed in, hundredths ([`to_centi`]).

/// A racer's output for one second: `((cadence + 35) * (resistance + 65)) / 100`.
///
/// `cadence` is in revolutions per minute and `resistance` in percent. The formula is the
/// original Alleycat's and is shared by the browser (what the racer sees), the delivery stage
/// (what is stored) and the load generator, so that all three always agree.
pub fn output(cadence: f64, resistance: f64) -> f64 {
    ((cadence + 35.0) * (resistance + 65.0)) / 100.0
}

/// An output as hundredths (two decimals): the one unit outputs are stored, summed and ranked in
/// (delivered objects, history files, results, the here-now board), so that every place shows
/// the same figures and the same order. Negative, non-finite or absurdly large outputs are
/// clamped into `1..=u32::MAX` so that a real output never reads as
/// [`crate::history::NO_BEST`].
pub fn to_centi(output: f64) -> u32 {
    if !output.is_finite() {
        return 1;
    }
    (output * 100.0).round().clamp(1.0, f64::from(u32::MAX)) as u32
}

/// Hundredths back to an output, or a sum of them (a race total) back to a total.
pub fn from_centi(centi: impl Into<u64>) -> f64 {
    centi.into() as f64 / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_at_rest_is_the_formula_constant() {
        assert_eq!(output(0.0, 0.0), 22.75);
    }

    #[test]
    fn output_matches_the_formula_for_typical_riding() {
        assert_eq!(output(80.0, 50.0), 132.25);
        assert_eq!(output(90.0, 86.0), 188.75);
        assert_eq!(output(30.0, 33.0), 63.7);
    }

    #[test]
    fn output_grows_with_cadence_and_with_resistance() {
        assert!(output(61.0, 50.0) > output(60.0, 50.0));
        assert!(output(60.0, 51.0) > output(60.0, 50.0));
    }

    #[test]
    fn outputs_become_hundredths() {
        assert_eq!(to_centi(63.7), 6370);
        assert_eq!(to_centi(132.25), 13225);
        assert_eq!(to_centi(0.0), 1);
        assert_eq!(to_centi(f64::NAN), 1);
        assert_eq!(from_centi(13225u32), 132.25);
        assert_eq!(from_centi(5_000_000_000u64), 50_000_000.0);
    }
}
