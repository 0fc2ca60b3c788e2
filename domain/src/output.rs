//! The output formula: how hard a racer is riding, from cadence and resistance.

/// A racer's output for one second: `((cadence + 35) * (resistance + 65)) / 100`.
///
/// `cadence` is in revolutions per minute and `resistance` in percent. The formula is the
/// original Alleycat's and is shared by the browser (what the racer sees), the delivery stage
/// (what is stored) and the load generator, so that all three always agree.
pub fn output(cadence: f64, resistance: f64) -> f64 {
    ((cadence + 35.0) * (resistance + 65.0)) / 100.0
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
}
