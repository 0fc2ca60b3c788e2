//! Heart Rate Measurement (0x2A37), Heart Rate Service 1.0, section 3.1.
//!
//! Layout: a u8 of flags, then:
//!
//! | flag bit | field                          | type          | unit      |
//! |----------|--------------------------------|---------------|-----------|
//! | 0        | heart rate is u16 (else u8)    | u8 or u16     | bpm       |
//! | 1, 2     | sensor contact: bit 2 supported, bit 1 detected | (no field) | |
//! | 3        | energy expended                | u16           | kJ        |
//! | 4        | RR intervals, as many as fit   | u16 each      | 1/1024 s  |
//!
//! The heart rate is always present (its width set by bit 0). The RR intervals come **after**
//! the energy field when that is present, and fill the rest of the packet: a strap sends
//! several when beats come faster than notifications.

use super::{bit, BleError, Reader};

const NAME: &str = "Heart Rate Measurement";

/// One Heart Rate Measurement notification.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeartRateMeasurement {
    /// Heart rate, bpm.
    pub bpm: u16,
    /// Whether the strap touches skin; `None` when it cannot tell.
    pub sensor_contact: Option<bool>,
    /// Energy expended since the last reset, kJ.
    pub energy_expended_kj: Option<u16>,
    /// Beat-to-beat intervals, 1/1024 s, oldest first.
    pub rr_intervals: Vec<u16>,
}

impl HeartRateMeasurement {
    /// Parses one notification. A packet shorter than its flags promise, or with half an RR
    /// interval at its end, is [`BleError::Truncated`].
    pub fn parse(bytes: &[u8]) -> Result<Self, BleError> {
        let mut r = Reader::new(NAME, bytes);
        let flags = u16::from(r.u8("flags")?);
        let bpm =
            if bit(flags, 0) { r.u16("heart rate (u16)")? } else { u16::from(r.u8("heart rate")?) };
        let sensor_contact = bit(flags, 2).then(|| bit(flags, 1));
        let energy_expended_kj = if bit(flags, 3) { Some(r.u16("energy expended")?) } else { None };
        let mut rr_intervals = Vec::new();
        if bit(flags, 4) {
            while !r.rest().is_empty() {
                rr_intervals.push(r.u16("RR interval")?);
            }
        }
        Ok(Self { bpm, sensor_contact, energy_expended_kj, rr_intervals })
    }

    /// The RR intervals in milliseconds.
    pub fn rr_intervals_ms(&self) -> impl Iterator<Item = f64> + '_ {
        self.rr_intervals.iter().map(|&rr| f64::from(rr) * 1000.0 / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heart_rate_is_a_u8_when_bit_zero_is_clear() {
        let m = HeartRateMeasurement::parse(&[0x00, 0x48]).unwrap();
        assert_eq!(m, HeartRateMeasurement { bpm: 72, ..Default::default() });
    }

    #[test]
    fn heart_rate_is_a_u16_when_bit_zero_is_set() {
        // 0x0104 = 260 would not fit a u8; the second byte is not a separate field.
        let m = HeartRateMeasurement::parse(&[0x01, 0x04, 0x01]).unwrap();
        assert_eq!(m.bpm, 260);
        let m = HeartRateMeasurement::parse(&[0x01, 0x9B, 0x00]).unwrap();
        assert_eq!(m.bpm, 155);
    }

    #[test]
    fn sensor_contact_is_unknown_unless_supported() {
        assert_eq!(HeartRateMeasurement::parse(&[0x00, 60]).unwrap().sensor_contact, None);
        assert_eq!(HeartRateMeasurement::parse(&[0x04, 60]).unwrap().sensor_contact, Some(false));
        assert_eq!(HeartRateMeasurement::parse(&[0x06, 60]).unwrap().sensor_contact, Some(true));
    }

    #[test]
    fn several_rr_intervals_in_one_packet_are_all_read() {
        // Flags 0x16: u8 rate, contact detected, RR intervals: the chest-strap layout.
        let m =
            HeartRateMeasurement::parse(&[0x16, 0x8C, 0xB5, 0x01, 0xC0, 0x01, 0xA0, 0x01]).unwrap();
        assert_eq!(m.bpm, 140);
        assert_eq!(m.rr_intervals, vec![437, 448, 416]);
        let ms: Vec<f64> = m.rr_intervals_ms().collect();
        assert_eq!(ms[1], 437.5);
    }

    #[test]
    fn rr_intervals_start_after_the_energy_field_when_it_is_present() {
        // Flags 0x19: u16 rate, energy, RR intervals.
        let m =
            HeartRateMeasurement::parse(&[0x19, 0x96, 0x00, 0x10, 0x27, 0x00, 0x02, 0x00, 0x04])
                .unwrap();
        assert_eq!(m.bpm, 150);
        assert_eq!(m.energy_expended_kj, Some(10_000));
        assert_eq!(m.rr_intervals, vec![512, 1024]);
    }

    #[test]
    fn the_rr_flag_with_no_room_left_is_an_empty_list() {
        assert_eq!(
            HeartRateMeasurement::parse(&[0x10, 0x50]).unwrap().rr_intervals,
            Vec::<u16>::new()
        );
    }

    #[test]
    fn half_an_rr_interval_or_a_missing_rate_is_truncated() {
        let err = HeartRateMeasurement::parse(&[0x10, 0x50, 0x00, 0x04, 0x01]).unwrap_err();
        assert!(
            matches!(err, BleError::Truncated { field: "RR interval", needed: 6, len: 5, .. }),
            "{err}"
        );
        let err = HeartRateMeasurement::parse(&[0x01, 0x50]).unwrap_err();
        assert!(matches!(err, BleError::Truncated { field: "heart rate (u16)", .. }), "{err}");
        let err = HeartRateMeasurement::parse(&[0x08, 0x50, 0x01]).unwrap_err();
        assert!(matches!(err, BleError::Truncated { field: "energy expended", .. }), "{err}");
        assert!(HeartRateMeasurement::parse(&[]).is_err());
    }
}
