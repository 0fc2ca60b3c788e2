//! A ride as a FIT activity file: the file Strava, intervals.icu and Garmin Connect import.
//!
//! Written by hand against the FIT protocol (2.0) because no crate fits: `rustyfit`, the one
//! maintained FIT writer on crates.io, calls itself a learning project and brings 65,000 lines
//! of generated profile to compile for the six messages written here. The files are checked
//! against an independent decoder (`fitparser`) in the server's tests.
//!
//! # Layout
//!
//! ```text
//! header (14 bytes)   size 14 | protocol 0x20 | profile version u16 | data size u32 | ".FIT" | CRC u16
//! records             definition and data messages (below), data size bytes in all
//! CRC (2 bytes)       over the header and the records
//! ```
//!
//! A **definition message** (record header `0x40 | local type`) says what the data messages of
//! that local type hold: a reserved byte, the architecture (0, little-endian), the global
//! message number (u16), the field count, then per field its number, size and base type. A
//! **data message** (record header `local type`) is the field values in that order. Every
//! integer is little-endian; a field's "invalid" value (all ones for unsigned, 0 for the `z`
//! types) means unknown. Times are seconds since 1989-12-31T00:00:00Z (`date_time`).
//!
//! # What is written
//!
//! | local | message (global) | fields                                                        |
//! |-------|------------------|---------------------------------------------------------------|
//! | 0     | file_id (0)      | type = activity, manufacturer = development, product, serial number, time created |
//! | 1     | event (21)       | timestamp, event = timer, event type = start, then stop_all   |
//! | 2     | record (20)      | timestamp, power (W), cadence (rpm), heart rate (bpm): one per second of the race up to the last second ridden, power 0 where nothing was sent |
//! | 3     | lap (19)         | the whole race as one lap (totals as the session's)            |
//! | 4     | session (18)     | sport cycling, sub-sport indoor cycling, start time, elapsed and timer time (ms), avg/max power, total work (J), avg/max cadence, avg/max heart rate |
//! | 5     | activity (34)    | timer time, one session, manual, activity stop                 |
//!
//! Totals follow the race results: the seconds ridden are the seconds with an output, the
//! timer time is their count, average power is their total over their count, maximum power the
//! best second, total work their sum in joules. Averages of cadence and heart rate are over the
//! seconds where they are known. Power is written in whole watts (FIT's unit), rounded.

/// Seconds from the Unix epoch to FIT's (1989-12-31T00:00:00Z).
pub const FIT_EPOCH_UNIX_SECONDS: u64 = 631_065_600;
/// FIT protocol version 2.0.
const PROTOCOL_VERSION: u8 = 0x20;
/// The profile version the messages follow (21.40).
const PROFILE_VERSION: u16 = 2140;
/// `manufacturer` = development.
const MANUFACTURER_DEVELOPMENT: u16 = 255;

// Base types.
const ENUM: u8 = 0x00;
const UINT8: u8 = 0x02;
const UINT16: u8 = 0x84;
const UINT32: u8 = 0x86;
const UINT32Z: u8 = 0x8C;

/// One second of a ride.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Second {
    /// The second of the race, 1-based.
    pub second: u32,
    /// The output: measured power in watts on a real bike, the formula's output otherwise.
    /// 0 where nothing was sent.
    pub output: f64,
    /// Cadence, rpm, when known.
    pub cadence: Option<u8>,
    /// Heart rate, bpm, when known.
    pub heart_rate: Option<u8>,
}

/// A racer's race, ready to write as a FIT activity.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    /// When the race started, Unix seconds.
    pub start_unix_seconds: u64,
    /// The file's serial number (the racer id, truncated to 32 bits; FIT wants one per device).
    pub serial_number: u32,
    /// The race's seconds, in order.
    pub seconds: Vec<Second>,
}

/// What the lap and session messages say, derived from the seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Seconds with an output.
    pub seconds_ridden: u32,
    /// The last second written (the record count).
    pub last_second: u32,
    /// Average power over the seconds ridden, whole watts.
    pub avg_power: u16,
    /// The best second, whole watts.
    pub max_power: u16,
    /// Sum of the outputs, joules (watt-seconds), rounded.
    pub total_work: u32,
    /// Average cadence where known.
    pub avg_cadence: Option<u8>,
    /// Highest cadence where known.
    pub max_cadence: Option<u8>,
    /// Average heart rate where known.
    pub avg_heart_rate: Option<u8>,
    /// Highest heart rate where known.
    pub max_heart_rate: Option<u8>,
}

impl Activity {
    /// The seconds written: up to the last second ridden.
    fn written(&self) -> impl Iterator<Item = &Second> {
        let last = self.summary().last_second;
        self.seconds.iter().filter(move |s| s.second >= 1 && s.second <= last)
    }

    /// The totals the lap and the session carry.
    pub fn summary(&self) -> Summary {
        let ridden: Vec<&Second> = self.seconds.iter().filter(|s| s.output > 0.0).collect();
        let total: f64 = ridden.iter().map(|s| s.output).sum();
        let mean = |values: Vec<u8>| {
            (!values.is_empty()).then(|| {
                let sum: u32 = values.iter().map(|&v| u32::from(v)).sum();
                (f64::from(sum) / values.len() as f64).round() as u8
            })
        };
        let cadences: Vec<u8> = ridden.iter().filter_map(|s| s.cadence).collect();
        let pulses: Vec<u8> = ridden.iter().filter_map(|s| s.heart_rate).collect();
        Summary {
            seconds_ridden: ridden.len() as u32,
            last_second: ridden.iter().map(|s| s.second).max().unwrap_or(0),
            avg_power: if ridden.is_empty() { 0 } else { watts(total / ridden.len() as f64) },
            max_power: ridden.iter().map(|s| watts(s.output)).max().unwrap_or(0),
            total_work: total.round().clamp(0.0, f64::from(u32::MAX - 1)) as u32,
            avg_cadence: mean(cadences.clone()),
            max_cadence: cadences.iter().copied().max(),
            avg_heart_rate: mean(pulses.clone()),
            max_heart_rate: pulses.iter().copied().max(),
        }
    }

    /// The FIT file.
    pub fn encode(&self) -> Vec<u8> {
        let summary = self.summary();
        let start = fit_time(self.start_unix_seconds);
        let end = start.saturating_add(summary.last_second);
        let mut w = Writer::default();

        w.define(
            0,
            0,
            &[(0, 1, ENUM), (1, 2, UINT16), (2, 2, UINT16), (3, 4, UINT32Z), (4, 4, UINT32)],
        );
        w.data(0)
            .u8(4)
            .u16(MANUFACTURER_DEVELOPMENT)
            .u16(1)
            .u32(self.serial_number.max(1))
            .u32(start);

        w.define(1, 21, &[(253, 4, UINT32), (0, 1, ENUM), (1, 1, ENUM)]);
        w.data(1).u32(start).u8(0).u8(0); // timer, start

        w.define(2, 20, &[(253, 4, UINT32), (7, 2, UINT16), (4, 1, UINT8), (3, 1, UINT8)]);
        for s in self.written() {
            w.data(2)
                .u32(start.saturating_add(s.second))
                .u16(watts(s.output))
                .u8(s.cadence.unwrap_or(u8::MAX))
                .u8(s.heart_rate.unwrap_or(u8::MAX));
        }

        w.data(1).u32(end).u8(0).u8(4); // timer, stop_all

        let elapsed_ms = summary.last_second.saturating_mul(1000);
        let timer_ms = summary.seconds_ridden.saturating_mul(1000);
        // Lap and session share their totals; each lists them under its own field numbers.
        let totals = |w: &mut Writer| {
            w.u32(elapsed_ms)
                .u32(timer_ms)
                .u16(summary.avg_power)
                .u16(summary.max_power)
                .u32(summary.total_work)
                .u8(summary.avg_cadence.unwrap_or(u8::MAX))
                .u8(summary.max_cadence.unwrap_or(u8::MAX))
                .u8(summary.avg_heart_rate.unwrap_or(u8::MAX))
                .u8(summary.max_heart_rate.unwrap_or(u8::MAX));
        };
        #[rustfmt::skip]
        w.define(3, 19, &[
            (254, 2, UINT16), (253, 4, UINT32), (0, 1, ENUM), (1, 1, ENUM), (2, 4, UINT32),
            (25, 1, ENUM), (7, 4, UINT32), (8, 4, UINT32), (19, 2, UINT16), (20, 2, UINT16),
            (41, 4, UINT32), (17, 1, UINT8), (18, 1, UINT8), (15, 1, UINT8), (16, 1, UINT8),
        ]);
        w.data(3).u16(0).u32(end).u8(9).u8(1).u32(start).u8(2); // lap, stop; cycling
        totals(&mut w);

        #[rustfmt::skip]
        w.define(4, 18, &[
            (254, 2, UINT16), (253, 4, UINT32), (0, 1, ENUM), (1, 1, ENUM), (2, 4, UINT32),
            (5, 1, ENUM), (6, 1, ENUM), (25, 2, UINT16), (26, 2, UINT16),
            (7, 4, UINT32), (8, 4, UINT32), (20, 2, UINT16), (21, 2, UINT16),
            (48, 4, UINT32), (18, 1, UINT8), (19, 1, UINT8), (16, 1, UINT8), (17, 1, UINT8),
        ]);
        // session, stop; cycling, indoor cycling; first lap 0, one lap.
        w.data(4).u16(0).u32(end).u8(8).u8(1).u32(start).u8(2).u8(6).u16(0).u16(1);
        totals(&mut w);

        w.define(
            5,
            34,
            &[
                (253, 4, UINT32),
                (0, 4, UINT32),
                (1, 2, UINT16),
                (2, 1, ENUM),
                (3, 1, ENUM),
                (4, 1, ENUM),
            ],
        );
        w.data(5).u32(end).u32(timer_ms).u16(1).u8(0).u8(26).u8(1); // manual; activity, stop

        w.finish()
    }
}

/// Unix seconds as a FIT `date_time` (saturating: FIT's clock ends in 2126).
fn fit_time(unix_seconds: u64) -> u32 {
    unix_seconds.saturating_sub(FIT_EPOCH_UNIX_SECONDS).min(u64::from(u32::MAX - 1)) as u32
}

/// An output as FIT power: whole watts, never the "invalid" 0xFFFF.
fn watts(output: f64) -> u16 {
    if output.is_finite() {
        output.round().clamp(0.0, f64::from(u16::MAX - 1)) as u16
    } else {
        0
    }
}

/// Builds the records, then frames them with the header and CRC.
#[derive(Default)]
struct Writer {
    records: Vec<u8>,
}

impl Writer {
    /// A definition message: local type `local` is global message `global` with `fields`
    /// (number, size, base type).
    fn define(&mut self, local: u8, global: u16, fields: &[(u8, u8, u8)]) {
        self.records.extend_from_slice(&[0x40 | local, 0, 0]);
        self.records.extend_from_slice(&global.to_le_bytes());
        self.records.push(fields.len() as u8);
        for &(number, size, base) in fields {
            self.records.extend_from_slice(&[number, size, base]);
        }
    }

    /// Starts a data message of local type `local`; chain the field values after it.
    fn data(&mut self, local: u8) -> &mut Self {
        self.records.push(local);
        self
    }

    fn u8(&mut self, v: u8) -> &mut Self {
        self.records.push(v);
        self
    }

    fn u16(&mut self, v: u16) -> &mut Self {
        self.records.extend_from_slice(&v.to_le_bytes());
        self
    }

    fn u32(&mut self, v: u32) -> &mut Self {
        self.records.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Header, records, CRC.
    fn finish(self) -> Vec<u8> {
        let mut file = Vec::with_capacity(14 + self.records.len() + 2);
        file.extend_from_slice(&[14, PROTOCOL_VERSION]);
        file.extend_from_slice(&PROFILE_VERSION.to_le_bytes());
        file.extend_from_slice(&(self.records.len() as u32).to_le_bytes());
        file.extend_from_slice(b".FIT");
        let header_crc = crc16(&file);
        file.extend_from_slice(&header_crc.to_le_bytes());
        file.extend_from_slice(&self.records);
        let crc = crc16(&file);
        file.extend_from_slice(&crc.to_le_bytes());
        file
    }
}

/// FIT's CRC-16 (polynomial 0xA001 reflected, initial 0: CRC-16/ARC), a nibble at a time as the
/// protocol describes it.
pub fn crc16(bytes: &[u8]) -> u16 {
    const TABLE: [u16; 16] = [
        0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401, 0xA001, 0x6C00, 0x7800,
        0xB401, 0x5000, 0x9C01, 0x8801, 0x4400,
    ];
    bytes.iter().fold(0u16, |mut crc, &byte| {
        for nibble in [byte & 0x0F, byte >> 4] {
            let low = TABLE[usize::from(crc as u8 & 0x0F)];
            crc = ((crc >> 4) & 0x0FFF) ^ low ^ TABLE[usize::from(nibble)];
        }
        crc
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ride() -> Activity {
        Activity {
            start_unix_seconds: 1_764_093_600,
            serial_number: 42,
            seconds: vec![
                Second { second: 1, output: 180.4, cadence: Some(80), heart_rate: Some(120) },
                Second { second: 2, output: 0.0, cadence: None, heart_rate: None },
                Second { second: 3, output: 320.6, cadence: Some(90), heart_rate: None },
                Second { second: 4, output: 0.0, cadence: None, heart_rate: None },
            ],
        }
    }

    #[test]
    fn the_crc_is_crc16_arc() {
        assert_eq!(crc16(b"123456789"), 0xBB3D);
        assert_eq!(crc16(&[]), 0);
    }

    #[test]
    fn the_file_has_a_14_byte_header_its_data_size_and_a_crc_over_everything() {
        let file = ride().encode();
        assert_eq!(&file[8..12], b".FIT");
        assert_eq!((file[0], file[1]), (14, 0x20));
        let data_size = u32::from_le_bytes([file[4], file[5], file[6], file[7]]) as usize;
        assert_eq!(file.len(), 14 + data_size + 2);
        assert_eq!(crc16(&file[..12]), u16::from_le_bytes([file[12], file[13]]));
        // The CRC over a file including its own CRC is 0.
        assert_eq!(crc16(&file), 0);
    }

    #[test]
    fn the_summary_counts_seconds_ridden_like_the_race_results() {
        let s = ride().summary();
        assert_eq!((s.seconds_ridden, s.last_second), (2, 3));
        assert_eq!((s.avg_power, s.max_power, s.total_work), (251, 321, 501));
        assert_eq!((s.avg_cadence, s.max_cadence), (Some(85), Some(90)));
        assert_eq!((s.avg_heart_rate, s.max_heart_rate), (Some(120), Some(120)));
    }

    #[test]
    fn an_empty_ride_still_makes_a_valid_file() {
        let empty = Activity { seconds: vec![], ..ride() };
        assert_eq!(empty.summary(), Summary::default());
        assert_eq!(crc16(&empty.encode()), 0);
    }

    #[test]
    fn times_before_the_fit_epoch_and_huge_outputs_saturate_instead_of_wrapping() {
        assert_eq!(fit_time(0), 0);
        assert_eq!(fit_time(FIT_EPOCH_UNIX_SECONDS + 7), 7);
        assert_eq!(watts(1e9), u16::MAX - 1);
        assert_eq!(watts(f64::NAN), 0);
        assert_eq!(watts(-3.0), 0);
    }
}
