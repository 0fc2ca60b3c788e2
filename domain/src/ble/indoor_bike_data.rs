//! Indoor Bike Data (0x2AD2), Fitness Machine Service 1.0, section 4.9.
//!
//! Layout: a u16 of flags, then the fields the flags name, in this order:
//!
//! | flag bit | field                      | type | unit                  |
//! |----------|----------------------------|------|-----------------------|
//! | 0 = **0**| instantaneous speed        | u16  | 0.01 km/h             |
//! | 1        | average speed              | u16  | 0.01 km/h             |
//! | 2        | instantaneous cadence      | u16  | **0.5 rpm**           |
//! | 3        | average cadence            | u16  | 0.5 rpm               |
//! | 4        | total distance             | u24  | m                     |
//! | 5        | resistance level           | s16  | unitless              |
//! | 6        | instantaneous power        | s16  | W                     |
//! | 7        | average power              | s16  | W                     |
//! | 8        | expended energy: total, per hour, per minute | u16, u16, u8 | kcal |
//! | 9        | heart rate                 | u8   | bpm                   |
//! | 10       | metabolic equivalent       | u8   | 0.1                   |
//! | 11       | elapsed time               | u16  | s                     |
//! | 12       | remaining time             | u16  | s                     |
//!
//! Bit 0 is inverted: it is "More Data", and the instantaneous speed is present when it is
//! **clear**. So flags `0x0000` are a valid two-byte-plus-speed packet, and a machine that
//! splits its data over several notifications sets bit 0 on all but the last. Bits 13 to 15
//! are reserved and ignored.

use super::{bit, BleError, Reader};

const NAME: &str = "Indoor Bike Data";

/// One Indoor Bike Data notification: what the flags said was present.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndoorBikeData {
    /// Instantaneous speed, km/h.
    pub speed_kmh: Option<f64>,
    /// Average speed, km/h.
    pub average_speed_kmh: Option<f64>,
    /// Instantaneous cadence, rpm (sent in half revolutions per minute).
    pub cadence_rpm: Option<f64>,
    /// Average cadence, rpm.
    pub average_cadence_rpm: Option<f64>,
    /// Total distance, metres.
    pub total_distance_m: Option<u32>,
    /// Resistance level, in the machine's own unit (see its Supported Resistance Level Range).
    pub resistance_level: Option<i16>,
    /// Instantaneous power, watts.
    pub power_w: Option<i16>,
    /// Average power, watts.
    pub average_power_w: Option<i16>,
    /// Total expended energy, kcal.
    pub total_energy_kcal: Option<u16>,
    /// Heart rate, bpm (from a strap paired with the machine).
    pub heart_rate_bpm: Option<u8>,
    /// Elapsed time, seconds.
    pub elapsed_s: Option<u16>,
    /// Remaining time, seconds.
    pub remaining_s: Option<u16>,
}

impl IndoorBikeData {
    /// Parses one notification. A packet shorter than its flags promise is
    /// [`BleError::Truncated`]; extra bytes after the last field are ignored.
    pub fn parse(bytes: &[u8]) -> Result<Self, BleError> {
        let mut r = Reader::new(NAME, bytes);
        let flags = r.u16("flags")?;
        let mut data = Self::default();
        // Inverted: "More Data" clear means the speed is here.
        if !bit(flags, 0) {
            data.speed_kmh = Some(f64::from(r.u16("instantaneous speed")?) / 100.0);
        }
        if bit(flags, 1) {
            data.average_speed_kmh = Some(f64::from(r.u16("average speed")?) / 100.0);
        }
        if bit(flags, 2) {
            data.cadence_rpm = Some(f64::from(r.u16("instantaneous cadence")?) / 2.0);
        }
        if bit(flags, 3) {
            data.average_cadence_rpm = Some(f64::from(r.u16("average cadence")?) / 2.0);
        }
        if bit(flags, 4) {
            data.total_distance_m = Some(r.u24("total distance")?);
        }
        if bit(flags, 5) {
            data.resistance_level = Some(r.i16("resistance level")?);
        }
        if bit(flags, 6) {
            data.power_w = Some(r.i16("instantaneous power")?);
        }
        if bit(flags, 7) {
            data.average_power_w = Some(r.i16("average power")?);
        }
        if bit(flags, 8) {
            data.total_energy_kcal = Some(r.u16("total energy")?);
            r.skip(2, "energy per hour")?;
            r.skip(1, "energy per minute")?;
        }
        if bit(flags, 9) {
            data.heart_rate_bpm = Some(r.u8("heart rate")?);
        }
        if bit(flags, 10) {
            r.skip(1, "metabolic equivalent")?;
        }
        if bit(flags, 11) {
            data.elapsed_s = Some(r.u16("elapsed time")?);
        }
        if bit(flags, 12) {
            data.remaining_s = Some(r.u16("remaining time")?);
        }
        Ok(data)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An iConsole+ exercise bike's 21-byte notification (flags 0x0B74: speed, cadence,
    /// distance, resistance, power, energy, heart rate, elapsed time), as its owners have
    /// documented it byte by byte: 13.40 km/h, 36 rpm, 33 m, level 1, 24 W, 2 kcal, 86 bpm, 16 s.
    pub(crate) const ICONSOLE_PLUS: [u8; 21] = [
        0x74, 0x0B, // flags
        0x3C, 0x05, // speed 1340 → 13.40 km/h
        0x48, 0x00, // cadence 72 half-rpm → 36 rpm
        0x21, 0x00, 0x00, // distance 33 m
        0x01, 0x00, // resistance level 1
        0x18, 0x00, // power 24 W
        0x02, 0x00, 0x00, 0x00, 0x00, // energy: 2 kcal total, 0 per hour, 0 per minute
        0x56, // heart rate 86
        0x10, 0x00, // elapsed 16 s
    ];

    #[test]
    fn an_iconsole_plus_packet_reads_every_field_its_flags_name() {
        let data = IndoorBikeData::parse(&ICONSOLE_PLUS).unwrap();
        assert_eq!(
            data,
            IndoorBikeData {
                speed_kmh: Some(13.4),
                cadence_rpm: Some(36.0),
                total_distance_m: Some(33),
                resistance_level: Some(1),
                power_w: Some(24),
                total_energy_kcal: Some(2),
                heart_rate_bpm: Some(86),
                elapsed_s: Some(16),
                ..IndoorBikeData::default()
            }
        );
    }

    #[test]
    fn cadence_is_sent_in_half_revolutions_per_minute() {
        // Flags 0x0044 (speed, cadence, power): the common trainer layout. 181 half-rpm.
        let data =
            IndoorBikeData::parse(&[0x44, 0x00, 0xC4, 0x09, 0xB5, 0x00, 0xFA, 0x00]).unwrap();
        assert_eq!(data.cadence_rpm, Some(90.5));
        assert_eq!(data.speed_kmh, Some(25.0));
        assert_eq!(data.power_w, Some(250));
    }

    #[test]
    fn bit_zero_is_inverted_more_data_so_speed_is_present_only_when_it_is_clear() {
        // Bit 0 set ("more data"): no speed, the cadence comes right after the flags.
        let more = IndoorBikeData::parse(&[0x45, 0x00, 0xB4, 0x00, 0x2C, 0x01]).unwrap();
        assert_eq!((more.speed_kmh, more.cadence_rpm, more.power_w), (None, Some(90.0), Some(300)));
        // Bit 0 clear: the first two bytes after the flags are the speed.
        let speed =
            IndoorBikeData::parse(&[0x44, 0x00, 0xB4, 0x00, 0x2C, 0x01, 0x64, 0x00]).unwrap();
        assert_eq!(
            (speed.speed_kmh, speed.cadence_rpm, speed.power_w),
            (Some(1.8), Some(150.0), Some(100))
        );
    }

    #[test]
    fn flags_zero_is_a_valid_packet_holding_only_the_speed() {
        let data = IndoorBikeData::parse(&[0x00, 0x00, 0x10, 0x27]).unwrap();
        assert_eq!(data, IndoorBikeData { speed_kmh: Some(100.0), ..IndoorBikeData::default() });
    }

    #[test]
    fn flags_zero_without_its_speed_is_truncated_not_empty() {
        let err = IndoorBikeData::parse(&[0x00, 0x00]).unwrap_err();
        assert_eq!(
            err,
            BleError::Truncated {
                characteristic: NAME,
                field: "instantaneous speed",
                needed: 4,
                len: 2
            }
        );
    }

    #[test]
    fn more_data_alone_is_an_empty_reading() {
        assert_eq!(IndoorBikeData::parse(&[0x01, 0x00]).unwrap(), IndoorBikeData::default());
    }

    #[test]
    fn negative_power_and_resistance_are_signed() {
        // Flags 0x0061: more data, resistance, power. Resistance -5, power -12 W (braking).
        let data = IndoorBikeData::parse(&[0x61, 0x00, 0xFB, 0xFF, 0xF4, 0xFF]).unwrap();
        assert_eq!((data.resistance_level, data.power_w), (Some(-5), Some(-12)));
    }

    #[test]
    fn every_optional_field_is_read_in_order_when_all_flags_are_set() {
        // Flags 0x1FFF: everything but speed (bit 0 set: more data).
        let bytes = [
            0xFF, 0x1F, // flags
            0xE8, 0x03, // average speed 10.00
            0xA0, 0x00, // cadence 80
            0x96, 0x00, // average cadence 75
            0x40, 0x42, 0x0F, // distance 1,000,000 m
            0x0A, 0x00, // resistance 10
            0xC8, 0x00, // power 200
            0xB4, 0x00, // average power 180
            0x64, 0x00, 0x58, 0x02, 0x0A, // energy 100 kcal, 600/h, 10/min
            0x8C, // heart rate 140
            0x50, // MET 8.0
            0x2C, 0x01, // elapsed 300 s
            0x3C, 0x00, // remaining 60 s
        ];
        let data = IndoorBikeData::parse(&bytes).unwrap();
        assert_eq!(
            data,
            IndoorBikeData {
                speed_kmh: None,
                average_speed_kmh: Some(10.0),
                cadence_rpm: Some(80.0),
                average_cadence_rpm: Some(75.0),
                total_distance_m: Some(1_000_000),
                resistance_level: Some(10),
                power_w: Some(200),
                average_power_w: Some(180),
                total_energy_kcal: Some(100),
                heart_rate_bpm: Some(140),
                elapsed_s: Some(300),
                remaining_s: Some(60),
            }
        );
    }

    #[test]
    fn a_packet_cut_inside_a_field_names_that_field() {
        let err = IndoorBikeData::parse(&ICONSOLE_PLUS[..12]).unwrap_err();
        assert!(
            matches!(err, BleError::Truncated { field: "instantaneous power", len: 12, .. }),
            "{err}"
        );
        assert!(matches!(
            IndoorBikeData::parse(&[0x44]).unwrap_err(),
            BleError::Truncated { field: "flags", .. }
        ));
    }
}
