//! Supported Resistance Level Range (0x2AD6), Fitness Machine Service 1.0, section 4.14: the
//! resistance levels a trainer takes in Set Target Resistance Level (see [`super::control_point`]).
//!
//! Read once after connecting (it does not notify). Six bytes, little-endian:
//!
//! | bytes | field                      | type | resolution |
//! |-------|----------------------------|------|------------|
//! | 0-1   | Minimum Resistance Level   | s16  | 0.1        |
//! | 2-3   | Maximum Resistance Level   | s16  | 0.1        |
//! | 4-5   | Minimum Increment          | u16  | 0.1        |
//!
//! The levels are unitless, on the machine's own scale (0 to 20, 1 to 100, 0 to 200 …), in the
//! same tenths as the control point's parameter. A trainer that does not offer the
//! characteristic is driven on [`ResistanceRange::DEFAULT`].

use super::{control_point::ControlRequest, BleError, Reader};

const NAME: &str = "Supported Resistance Level Range";

/// The resistance levels a trainer supports, in its own unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResistanceRange {
    /// The lowest level.
    pub minimum: f64,
    /// The highest level.
    pub maximum: f64,
    /// The smallest step between levels (0 when the trainer says any level goes).
    pub increment: f64,
}

impl ResistanceRange {
    /// The range assumed when the trainer does not say: 0 to 100 in steps of 1 (a percent).
    pub const DEFAULT: Self = Self { minimum: 0.0, maximum: 100.0, increment: 1.0 };

    /// Parses the characteristic's value. A packet with the maximum below the minimum is read
    /// as given; [`ResistanceRange::request_for`] still clamps into it.
    pub fn parse(bytes: &[u8]) -> Result<Self, BleError> {
        let mut r = Reader::new(NAME, bytes);
        let minimum = f64::from(r.i16("minimum resistance level")?) / 10.0;
        let maximum = f64::from(r.i16("maximum resistance level")?) / 10.0;
        let increment = f64::from(r.u16("minimum increment")?) / 10.0;
        Ok(Self { minimum, maximum, increment })
    }

    /// Set Target Resistance Level for `percent` (0 to 100) of the slider: the same fraction
    /// of this range, on its increment.
    pub fn request_for(&self, percent: f64) -> ControlRequest {
        ControlRequest::resistance_for_percent(percent, self.minimum, self.maximum, self.increment)
    }
}

impl Default for ResistanceRange {
    fn default() -> Self {
        Self::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 0 to 20.0 in steps of 1.0 (0, 200 and 10 tenths), a range of the shape wheel-off trainers
    /// report.
    const ZERO_TO_TWENTY: [u8; 6] = [0x00, 0x00, 0xC8, 0x00, 0x0A, 0x00];

    #[test]
    fn the_range_is_read_in_tenths() {
        let range = ResistanceRange::parse(&ZERO_TO_TWENTY).unwrap();
        assert_eq!(range, ResistanceRange { minimum: 0.0, maximum: 20.0, increment: 1.0 });
        // 1.0 to 100.0 in steps of 0.1: (10, 1000, 1).
        let fine = ResistanceRange::parse(&[0x0A, 0x00, 0xE8, 0x03, 0x01, 0x00]).unwrap();
        assert_eq!(fine, ResistanceRange { minimum: 1.0, maximum: 100.0, increment: 0.1 });
        // A signed minimum: -10.0 to 10.0 in steps of 0.5 (-100, 100, 5).
        let signed = ResistanceRange::parse(&[0x9C, 0xFF, 0x64, 0x00, 0x05, 0x00]).unwrap();
        assert_eq!(signed, ResistanceRange { minimum: -10.0, maximum: 10.0, increment: 0.5 });
    }

    #[test]
    fn the_slider_maps_onto_the_trainers_range_and_is_written_in_tenths() {
        let range = ResistanceRange::parse(&ZERO_TO_TWENTY).unwrap();
        // 55 % of 0..20 is 11: tenths 110 = 0x006E.
        assert_eq!(range.request_for(55.0).encode(), vec![0x04, 0x6E, 0x00]);
        assert_eq!(range.request_for(100.0).encode(), vec![0x04, 0xC8, 0x00]);
        assert_eq!(range.request_for(0.0).encode(), vec![0x04, 0x00, 0x00]);
        // Without a range: the percent itself, 55.0 = 550 tenths.
        assert_eq!(ResistanceRange::DEFAULT.request_for(55.0).encode(), vec![0x04, 0x26, 0x02]);
    }

    #[test]
    fn a_short_range_is_truncated_not_guessed() {
        for cut in 0..6 {
            assert!(
                matches!(
                    ResistanceRange::parse(&ZERO_TO_TWENTY[..cut]),
                    Err(BleError::Truncated { .. })
                ),
                "{cut} bytes"
            );
        }
        let field = |cut| match ResistanceRange::parse(&ZERO_TO_TWENTY[..cut]) {
            Err(BleError::Truncated { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(3), "maximum resistance level");
        assert_eq!(field(5), "minimum increment");
    }
}
