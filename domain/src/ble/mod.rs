//! Bluetooth Low Energy fitness characteristics: the bytes a smart trainer, a power meter or a
//! heart-rate strap notifies, parsed into typed readings, and the few control-point requests
//! the app writes back. Pure functions of bytes, so they are tested natively and run in the
//! browser (wasm32) alike.
//!
//! One file per characteristic, each with its layout in its module docs:
//!
//! - [`indoor_bike_data`]: Fitness Machine Service, Indoor Bike Data (0x2AD2);
//! - [`cycling_power`]: Cycling Power Service, Cycling Power Measurement (0x2A63), and
//!   [`cycling_power::CadenceMeter`], which derives cadence from crank revolution data;
//! - [`heart_rate`]: Heart Rate Service, Heart Rate Measurement (0x2A37);
//! - [`control_point`]: Fitness Machine Control Point (0x2AD9), Request Control and Set Target
//!   Resistance Level, and the machine's responses;
//! - [`resistance_range`]: Supported Resistance Level Range (0x2AD6), the levels the trainer
//!   takes, onto which the resistance slider is mapped.
//!
//! Every multi-byte field is little-endian (Bluetooth Core, Vol 3, Part G). A packet shorter
//! than its flags promise is a [`BleError::Truncated`], never a panic; bytes after the last
//! field the flags name are ignored (later revisions of a characteristic append fields).

pub mod control_point;
pub mod cycling_power;
pub mod heart_rate;
pub mod indoor_bike_data;
pub mod resistance_range;

pub use control_point::{ControlRequest, ControlResponse, ResultCode};
pub use cycling_power::{CadenceMeter, CrankRevolutions, CyclingPowerMeasurement};
pub use heart_rate::HeartRateMeasurement;
pub use indoor_bike_data::IndoorBikeData;
pub use resistance_range::ResistanceRange;

/// 16-bit UUID of the Fitness Machine Service.
pub const FITNESS_MACHINE_SERVICE: u16 = 0x1826;
/// 16-bit UUID of Indoor Bike Data (notify).
pub const INDOOR_BIKE_DATA: u16 = 0x2AD2;
/// 16-bit UUID of Supported Resistance Level Range (read).
pub const SUPPORTED_RESISTANCE_LEVEL_RANGE: u16 = 0x2AD6;
/// 16-bit UUID of the Fitness Machine Control Point (write, indicate).
pub const FITNESS_MACHINE_CONTROL_POINT: u16 = 0x2AD9;
/// 16-bit UUID of the Cycling Power Service.
pub const CYCLING_POWER_SERVICE: u16 = 0x1818;
/// 16-bit UUID of Cycling Power Measurement (notify).
pub const CYCLING_POWER_MEASUREMENT: u16 = 0x2A63;
/// 16-bit UUID of the Heart Rate Service.
pub const HEART_RATE_SERVICE: u16 = 0x180D;
/// 16-bit UUID of Heart Rate Measurement (notify).
pub const HEART_RATE_MEASUREMENT: u16 = 0x2A37;

/// Why a packet could not be read. Each variant names what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BleError {
    /// The packet ended inside a field its flags say is present (or before the flags).
    #[error("{characteristic}: packet of {len} bytes ends inside {field} (needs {needed} bytes)")]
    Truncated {
        /// The characteristic, e.g. `"Indoor Bike Data"`.
        characteristic: &'static str,
        /// The field that did not fit.
        field: &'static str,
        /// How many bytes the packet needed to hold that field.
        needed: usize,
        /// How many it had.
        len: usize,
    },
    /// A control-point indication that is not a response (its first byte is not 0x80).
    #[error("control point: {op_code:#04x} is not a response op code (0x80)")]
    NotAResponse {
        /// The first byte received.
        op_code: u8,
    },
}

/// A cursor over a packet that reads little-endian fields or says which one did not fit.
pub(crate) struct Reader<'a> {
    characteristic: &'static str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `bytes`, naming `characteristic` in its errors.
    pub(crate) fn new(characteristic: &'static str, bytes: &'a [u8]) -> Self {
        Self { characteristic, bytes, at: 0 }
    }

    /// The next `n` bytes, or the error naming `field`.
    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], BleError> {
        let end = self.at + n;
        let slice = self.bytes.get(self.at..end).ok_or(BleError::Truncated {
            characteristic: self.characteristic,
            field,
            needed: end,
            len: self.bytes.len(),
        })?;
        self.at = end;
        Ok(slice)
    }

    /// An unsigned byte.
    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, BleError> {
        Ok(self.take(1, field)?[0])
    }

    /// An unsigned 16-bit field.
    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, BleError> {
        let b = self.take(2, field)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    /// A signed 16-bit field.
    pub(crate) fn i16(&mut self, field: &'static str) -> Result<i16, BleError> {
        let b = self.take(2, field)?;
        Ok(i16::from_le_bytes([b[0], b[1]]))
    }

    /// An unsigned 24-bit field.
    pub(crate) fn u24(&mut self, field: &'static str) -> Result<u32, BleError> {
        let b = self.take(3, field)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], 0]))
    }

    /// An unsigned 32-bit field.
    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, BleError> {
        let b = self.take(4, field)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Skips a field of `n` bytes that Alleycat does not use (it must still be there).
    pub(crate) fn skip(&mut self, n: usize, field: &'static str) -> Result<(), BleError> {
        self.take(n, field).map(|_| ())
    }

    /// The bytes not read yet.
    pub(crate) fn rest(&self) -> &'a [u8] {
        &self.bytes[self.at.min(self.bytes.len())..]
    }
}

/// Whether bit `bit` of `flags` is set.
pub(crate) fn bit(flags: u16, bit: u8) -> bool {
    flags & (1 << bit) != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever a radio delivers, every parser answers with a reading or an error.
        #[test]
        fn arbitrary_bytes_never_panic_any_parser(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = IndoorBikeData::parse(&bytes);
            let _ = CyclingPowerMeasurement::parse(&bytes);
            let _ = HeartRateMeasurement::parse(&bytes);
            let _ = ControlResponse::parse(&bytes);
            let _ = ResistanceRange::parse(&bytes);
        }

        /// Every strict prefix of a full packet is a typed error, never a panic nor a reading
        /// that made up the missing fields.
        #[test]
        fn every_prefix_of_a_full_packet_is_truncated(cut in 0usize..21) {
            let full = indoor_bike_data::tests::ICONSOLE_PLUS;
            let truncated = matches!(IndoorBikeData::parse(&full[..cut]), Err(BleError::Truncated { .. }));
            prop_assert!(truncated, "a {}-byte prefix was not truncated", cut);
        }

        /// Arbitrary crank data in any order never panics the cadence meter, and the cadence
        /// it reports is always a plausible number.
        #[test]
        fn the_cadence_meter_never_panics_and_stays_plausible(
            samples in proptest::collection::vec((any::<u16>(), any::<u16>(), 0u64..70_000), 0..50),
        ) {
            let mut meter = CadenceMeter::default();
            let mut now = 0u64;
            for (revolutions, event_time, step) in samples {
                now += step;
                let cadence = meter.update(Some(CrankRevolutions { revolutions, event_time }), now);
                prop_assert!(cadence.is_finite() && (0.0..=crate::CADENCE_RANGE.end().to_owned()).contains(&cadence));
            }
        }
    }
}
