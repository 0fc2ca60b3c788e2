//! Cycling Power Measurement (0x2A63), Cycling Power Service 1.1, and cadence from its crank
//! revolution data.
//!
//! Layout: a u16 of flags, the instantaneous power (s16, watts, always present), then the
//! fields the flags name, in this order:
//!
//! | flag bit | field                            | type          | unit          |
//! |----------|----------------------------------|---------------|---------------|
//! | 0        | pedal power balance              | u8            | 0.5 %         |
//! | 1        | (balance reference: left/unknown, no field) |    |               |
//! | 2        | accumulated torque               | u16           | 1/32 N·m      |
//! | 3        | (torque source, no field)        |               |               |
//! | 4        | wheel revolutions, last wheel event time | u32, u16 | 1/2048 s  |
//! | 5        | crank revolutions, last crank event time | u16, u16 | **1/1024 s** |
//! | 6        | extreme force magnitudes: max, min | s16, s16    | N             |
//! | 7        | extreme torque magnitudes: max, min | s16, s16   | 1/32 N·m      |
//! | 8        | extreme angles: max, min         | u24 (12 + 12 bits) | degrees  |
//! | 9        | top dead spot angle              | u16           | degrees       |
//! | 10       | bottom dead spot angle           | u16           | degrees       |
//! | 11       | accumulated energy               | u16           | kJ            |
//! | 12       | (offset compensation indicator, no field) |      |               |
//!
//! Cadence is not sent: it is derived by [`CadenceMeter`] from two crank samples, as
//! `Δrevolutions / Δevent time`. Both counters are u16 and wrap **independently**: the
//! revolutions after 65,536 turns, the event time every 64 s (65,536 / 1024). The event time is
//! the time of the last crank event, so a packet whose time moved but whose revolutions did not
//! carries no new crank event.

use super::{bit, BleError, Reader};

const NAME: &str = "Cycling Power Measurement";

/// Crank revolution data: cumulative revolutions and the time of the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrankRevolutions {
    /// Cumulative crank revolutions (wraps at 65,536).
    pub revolutions: u16,
    /// When the last revolution ended, in 1/1024 s (wraps every 64 s).
    pub event_time: u16,
}

/// One Cycling Power Measurement notification.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CyclingPowerMeasurement {
    /// Instantaneous power, watts.
    pub power_w: i16,
    /// Pedal power balance, percent (of the reference pedal, usually the left one).
    pub pedal_power_balance: Option<f64>,
    /// Crank revolution data, when the meter measures the crank.
    pub crank: Option<CrankRevolutions>,
    /// Accumulated energy, kJ.
    pub accumulated_energy_kj: Option<u16>,
}

impl CyclingPowerMeasurement {
    /// Parses one notification. A packet shorter than its flags promise is
    /// [`BleError::Truncated`]; extra bytes after the last field are ignored.
    pub fn parse(bytes: &[u8]) -> Result<Self, BleError> {
        let mut r = Reader::new(NAME, bytes);
        let flags = r.u16("flags")?;
        let mut m = Self { power_w: r.i16("instantaneous power")?, ..Self::default() };
        if bit(flags, 0) {
            m.pedal_power_balance = Some(f64::from(r.u8("pedal power balance")?) / 2.0);
        }
        if bit(flags, 2) {
            r.skip(2, "accumulated torque")?;
        }
        if bit(flags, 4) {
            r.u32("cumulative wheel revolutions")?;
            r.u16("last wheel event time")?;
        }
        if bit(flags, 5) {
            m.crank = Some(CrankRevolutions {
                revolutions: r.u16("cumulative crank revolutions")?,
                event_time: r.u16("last crank event time")?,
            });
        }
        if bit(flags, 6) {
            r.skip(4, "extreme force magnitudes")?;
        }
        if bit(flags, 7) {
            r.skip(4, "extreme torque magnitudes")?;
        }
        if bit(flags, 8) {
            r.skip(3, "extreme angles")?;
        }
        if bit(flags, 9) {
            r.skip(2, "top dead spot angle")?;
        }
        if bit(flags, 10) {
            r.skip(2, "bottom dead spot angle")?;
        }
        if bit(flags, 11) {
            m.accumulated_energy_kj = Some(r.u16("accumulated energy")?);
        }
        Ok(m)
    }
}

/// With no new crank event for this long, the crank has stopped: cadence is 0. (Three seconds
/// is one revolution at 20 rpm, slower than anyone races.)
pub const CRANK_STOPPED_AFTER_MS: u64 = 3_000;
/// Two crank samples further apart than this (by the receiver's clock) cannot be compared: the
/// event time wraps every 64 s, so its difference would be ambiguous. Kept under 64 s so that
/// the two clocks' drift does not matter.
pub const CRANK_COMPARABLE_WITHIN_MS: u64 = 60_000;
/// The 1/1024 s ticks in a minute.
const TICKS_PER_MINUTE: f64 = 60.0 * 1024.0;

/// Derives cadence (rpm) from successive crank revolution samples.
///
/// It keeps the last sample that carried a crank event and compares each new one with it:
///
/// - both counters are subtracted modulo 2¹⁶, so each may wrap on its own;
/// - no new revolution means no new crank event, whatever the time did: the kept sample stays,
///   so the next real event is measured over its whole interval (re-basing on a moved time
///   would shorten it and read too high);
/// - a sample more than [`CRANK_COMPARABLE_WITHIN_MS`] after the kept one (an idle gap, a
///   dropped connection) starts afresh instead of giving a cadence: the event time may have
///   wrapped, and a burst of revolutions over a wrapped, short-looking interval would be a
///   spike of hundreds of rpm;
/// - an implausible result (above the event's cadence bound) is dropped the same way;
/// - with no new event for [`CRANK_STOPPED_AFTER_MS`], the cadence is 0.
#[derive(Debug, Clone, Default)]
pub struct CadenceMeter {
    /// The last sample with a crank event, and when it arrived (receiver's clock, ms).
    kept: Option<(CrankRevolutions, u64)>,
    /// When a cadence was last derived (receiver's clock, ms).
    last_event_ms: Option<u64>,
    cadence: f64,
}

impl CadenceMeter {
    /// Folds in one packet's crank data (`None` when the packet had none) received at `now_ms`
    /// (the receiver's clock, milliseconds) and returns the cadence in rpm.
    pub fn update(&mut self, crank: Option<CrankRevolutions>, now_ms: u64) -> f64 {
        if let Some(sample) = crank {
            self.fold(sample, now_ms);
        }
        self.cadence_at(now_ms)
    }

    /// The cadence at `now_ms`: the last one derived, or 0 once the crank has stopped.
    pub fn cadence_at(&self, now_ms: u64) -> f64 {
        match self.last_event_ms {
            Some(at) if now_ms.saturating_sub(at) <= CRANK_STOPPED_AFTER_MS => self.cadence,
            _ => 0.0,
        }
    }

    fn fold(&mut self, sample: CrankRevolutions, now_ms: u64) {
        let Some((kept, kept_at)) = self.kept else {
            self.kept = Some((sample, now_ms));
            return;
        };
        if now_ms.saturating_sub(kept_at) > CRANK_COMPARABLE_WITHIN_MS {
            self.kept = Some((sample, now_ms));
            return;
        }
        let revolutions = sample.revolutions.wrapping_sub(kept.revolutions);
        let ticks = sample.event_time.wrapping_sub(kept.event_time);
        if revolutions == 0 || ticks == 0 {
            // No new crank event (or revolutions with no time, which no crank can do): keep
            // measuring from the last real event.
            return;
        }
        let cadence = f64::from(revolutions) * TICKS_PER_MINUTE / f64::from(ticks);
        self.kept = Some((sample, now_ms));
        if cadence <= *crate::CADENCE_RANGE.end() {
            self.cadence = cadence;
            self.last_event_ms = Some(now_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a crank-only packet (flags 0x0020), the layout of crank-arm power meters.
    fn crank_packet(power: i16, revolutions: u16, event_time: u16) -> Vec<u8> {
        let mut p = vec![0x20, 0x00];
        p.extend_from_slice(&power.to_le_bytes());
        p.extend_from_slice(&revolutions.to_le_bytes());
        p.extend_from_slice(&event_time.to_le_bytes());
        p
    }

    fn crank(revolutions: u16, event_time: u16) -> Option<CrankRevolutions> {
        Some(CrankRevolutions { revolutions, event_time })
    }

    #[test]
    fn a_power_only_packet_reads_the_power() {
        let m = CyclingPowerMeasurement::parse(&[0x00, 0x00, 0xF0, 0x00]).unwrap();
        assert_eq!(m, CyclingPowerMeasurement { power_w: 240, ..Default::default() });
    }

    #[test]
    fn a_crank_packet_reads_power_revolutions_and_event_time() {
        let m = CyclingPowerMeasurement::parse(&crank_packet(215, 1234, 0xFC00)).unwrap();
        assert_eq!((m.power_w, m.crank), (215, crank(1234, 0xFC00)));
    }

    #[test]
    fn pedal_balance_then_crank_data_are_read_in_order() {
        // Flags 0x0023: balance present, reference left, crank data (dual-sided pedals).
        let bytes = [0x23, 0x00, 0x2C, 0x01, 0x64, 0x0A, 0x00, 0x00, 0x04];
        let m = CyclingPowerMeasurement::parse(&bytes).unwrap();
        assert_eq!(m.power_w, 300);
        assert_eq!(m.pedal_power_balance, Some(50.0));
        assert_eq!(m.crank, crank(10, 0x0400));
    }

    #[test]
    fn wheel_and_torque_fields_before_the_crank_are_skipped_by_their_size() {
        // Flags 0x0834: torque, wheel, crank, accumulated energy.
        let mut bytes = vec![0x34, 0x08, 0x96, 0x00];
        bytes.extend_from_slice(&[0x20, 0x03]); // torque
        bytes.extend_from_slice(&[0x10, 0x27, 0x00, 0x00, 0x00, 0x08]); // wheel revs, time
        bytes.extend_from_slice(&[0x07, 0x00, 0x00, 0x10]); // crank 7 at 4 s
        bytes.extend_from_slice(&[0x2A, 0x00]); // energy 42 kJ
        let m = CyclingPowerMeasurement::parse(&bytes).unwrap();
        assert_eq!(
            (m.power_w, m.crank, m.accumulated_energy_kj),
            (150, crank(7, 0x1000), Some(42))
        );
    }

    #[test]
    fn every_flagged_field_shifts_the_ones_after_it() {
        // Flags 0x0FE5: balance, torque, crank, forces, torques, angles, dead spots, energy.
        let mut bytes = vec![0xE5, 0x0F, 0x64, 0x00, 0x60];
        bytes.extend_from_slice(&[0, 0]); // torque
        bytes.extend_from_slice(&[0x03, 0x00, 0x00, 0x02]); // crank
        bytes.extend_from_slice(&[0; 4 + 4 + 3 + 2 + 2]);
        bytes.extend_from_slice(&[0x05, 0x00]);
        let m = CyclingPowerMeasurement::parse(&bytes).unwrap();
        assert_eq!(
            (m.pedal_power_balance, m.crank, m.accumulated_energy_kj),
            (Some(48.0), crank(3, 0x200), Some(5))
        );
        let err = CyclingPowerMeasurement::parse(&bytes[..bytes.len() - 1]).unwrap_err();
        assert!(matches!(err, BleError::Truncated { field: "accumulated energy", .. }), "{err}");
    }

    #[test]
    fn a_crank_flag_without_its_data_is_truncated() {
        let err = CyclingPowerMeasurement::parse(&[0x20, 0x00, 0x10, 0x00, 0x01]).unwrap_err();
        assert!(
            matches!(err, BleError::Truncated { field: "cumulative crank revolutions", .. }),
            "{err}"
        );
        let err = CyclingPowerMeasurement::parse(&[0x00, 0x00, 0x10]).unwrap_err();
        assert!(matches!(err, BleError::Truncated { field: "instantaneous power", .. }), "{err}");
    }

    #[test]
    fn cadence_is_revolutions_over_event_time() {
        let mut meter = CadenceMeter::default();
        assert_eq!(meter.update(crank(100, 0), 0), 0.0);
        // 3 revolutions in 2 s (2048 ticks) → 90 rpm.
        assert_eq!(meter.update(crank(103, 2048), 2_000), 90.0);
    }

    #[test]
    fn crank_revolutions_and_event_time_wrap_independently() {
        let mut meter = CadenceMeter::default();
        // Revolutions wrap (65,534 → 1: 3 turns) while the time does not.
        meter.update(crank(65_534, 10_000), 0);
        assert_eq!(meter.update(crank(1, 12_048), 2_000), 90.0);
        // Now the time wraps (64 s) while the revolutions do not: 2 turns in 1 s → 120 rpm.
        let mut meter = CadenceMeter::default();
        meter.update(crank(500, 65_000), 0);
        assert_eq!(meter.update(crank(502, 65_000u16.wrapping_add(1024)), 1_000), 120.0);
        // Both at once.
        let mut meter = CadenceMeter::default();
        meter.update(crank(65_535, 65_535), 0);
        assert_eq!(meter.update(crank(1, 1023), 1_000), 120.0);
    }

    #[test]
    fn a_power_meter_whose_crank_wraps_during_a_race_reads_steady_cadence() {
        // 85 rpm for 5 minutes, one packet a second, starting near both wrap points.
        let mut meter = CadenceMeter::default();
        let (mut revolutions, ticks) = (65_500.0_f64, 60_000.0_f64);
        let per_second = 85.0 / 60.0;
        meter.update(crank(revolutions as u16, ticks as u16), 0);
        let mut last_event = (revolutions, ticks);
        for second in 1..=300u64 {
            revolutions += per_second;
            // A crank event happens only at whole revolutions: report the last one.
            let whole = revolutions.floor();
            if whole > last_event.0 {
                let at = last_event.1 + (whole - last_event.0) / per_second * 1024.0;
                last_event = (whole, at);
            }
            let sample =
                crank((last_event.0 as u64 % 65_536) as u16, (last_event.1 as u64 % 65_536) as u16);
            let cadence = meter.update(sample, second * 1_000);
            if second > 1 {
                assert!((cadence - 85.0).abs() < 1.0, "second {second}: {cadence} rpm");
            }
        }
    }

    #[test]
    fn time_moved_but_revolutions_did_not_is_no_new_crank_event() {
        let mut meter = CadenceMeter::default();
        meter.update(crank(10, 0), 0);
        assert_eq!(meter.update(crank(12, 1024), 1_000), 120.0);
        // A meter that stamps the packet, not the event: time moves, revolutions do not.
        assert_eq!(meter.update(crank(12, 1536), 1_500), 120.0);
        // The next real event is measured from the last one (1024), not from 1536: one turn in
        // 1 s is 60 rpm, where re-basing on the moved time would read 120.
        assert_eq!(meter.update(crank(13, 2048), 2_000), 60.0);
    }

    #[test]
    fn cadence_falls_to_zero_when_the_crank_stops() {
        let mut meter = CadenceMeter::default();
        meter.update(crank(10, 0), 0);
        assert_eq!(meter.update(crank(12, 1024), 1_000), 120.0);
        assert_eq!(meter.update(crank(12, 1024), 3_000), 120.0);
        assert_eq!(meter.update(crank(12, 1024), 4_001), 0.0);
        assert_eq!(meter.update(None, 10_000), 0.0);
    }

    #[test]
    fn an_idle_gap_then_a_burst_gives_no_cadence_spike() {
        let mut meter = CadenceMeter::default();
        meter.update(crank(10, 0), 0);
        assert_eq!(meter.update(crank(11, 1024), 1_000), 60.0);
        // 70 s without packets (out of range, or the app in the background) while the rider
        // turned the crank 20 times: the event time wrapped, so 20 turns over what looks like
        // 6 s would read 200 rpm. The meter starts afresh instead.
        let after = crank(31, (1024u32 + 70 * 1024) as u16);
        assert_eq!(meter.update(after, 71_000), 0.0);
        // Then the burst of queued packets: each a real event, each measured from the one before.
        assert_eq!(
            meter.update(crank(32, (1024u32 + 70 * 1024 + 683) as u16), 71_010),
            60.0 * 1024.0 / 683.0
        );
        assert!(meter.update(crank(33, (1024u32 + 70 * 1024 + 1366) as u16), 71_020) < 95.0);
    }

    #[test]
    fn a_short_idle_gap_reads_low_never_high() {
        let mut meter = CadenceMeter::default();
        meter.update(crank(10, 0), 0);
        meter.update(crank(12, 1024), 1_000);
        // Stopped for 20 s, then one turn: measured over the gap, 60 / 21 rpm.
        let cadence = meter.update(crank(13, 1024 + 21 * 1024), 22_000);
        assert!(cadence < 3.0, "{cadence}");
    }

    #[test]
    fn an_implausible_jump_is_dropped() {
        let mut meter = CadenceMeter::default();
        meter.update(crank(10, 0), 0);
        meter.update(crank(11, 1024), 1_000);
        // 50 turns in half a second (a counter reset or a glitch): 6,000 rpm is not a cadence.
        assert_eq!(meter.update(crank(61, 1536), 1_500), 60.0);
        // Measured afresh from the glitch: the next turn is normal again.
        assert_eq!(meter.update(crank(62, 2560), 2_500), 60.0);
    }
}
