//! Fitness Machine Control Point (0x2AD9), Fitness Machine Service 1.0, section 4.16.
//!
//! The app writes a request (an op code, then its parameter) and the machine indicates a
//! response on the same characteristic: `0x80`, the request's op code, a result code.
//!
//! | request                     | op code | parameter                          |
//! |-----------------------------|---------|------------------------------------|
//! | Request Control             | 0x00    | none                               |
//! | Set Target Resistance Level | 0x04    | s16, resolution 0.1, unitless      |
//!
//! The machine answers every request; until Request Control succeeds, it refuses the others
//! with "control not permitted". The resistance level is the machine's own scale: its
//! Supported Resistance Level Range (0x2AD6) gives the minimum, maximum and increment, so
//! [`ControlRequest::resistance_for_percent`] maps Alleycat's 0-100 % slider onto it. (The
//! parameter is a 16-bit value with a resolution of 0.1, the same type as that range; the
//! first edition of the specification printed it as a u8, which trainers read as 16 bits.)

use super::{BleError, Reader};

const NAME: &str = "Fitness Machine Control Point";

/// Op code of Request Control.
pub const REQUEST_CONTROL: u8 = 0x00;
/// Op code of Set Target Resistance Level.
pub const SET_TARGET_RESISTANCE_LEVEL: u8 = 0x04;
/// First byte of every response.
pub const RESPONSE_CODE: u8 = 0x80;

/// A request the app writes to the control point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ControlRequest {
    /// Ask to control the machine (needed before any other request).
    RequestControl,
    /// Set the resistance, in the machine's unit (resolution 0.1).
    SetTargetResistanceLevel(f64),
}

impl ControlRequest {
    /// The bytes to write.
    pub fn encode(&self) -> Vec<u8> {
        match *self {
            Self::RequestControl => vec![REQUEST_CONTROL],
            Self::SetTargetResistanceLevel(level) => {
                // `as` saturates at the s16 bounds and maps NaN to 0: no panic on bad input.
                let tenths = (level * 10.0).round() as i16;
                let [lo, hi] = tenths.to_le_bytes();
                vec![SET_TARGET_RESISTANCE_LEVEL, lo, hi]
            }
        }
    }

    /// Set Target Resistance Level for `percent` (0 to 100, clamped) of the machine's range
    /// `min..=max`, rounded to its `increment`.
    pub fn resistance_for_percent(percent: f64, min: f64, max: f64, increment: f64) -> Self {
        let fraction = if percent.is_finite() { percent.clamp(0.0, 100.0) / 100.0 } else { 0.0 };
        let mut level = min + fraction * (max - min);
        if increment > 0.0 {
            level = min + ((level - min) / increment).round() * increment;
        }
        Self::SetTargetResistanceLevel(level.clamp(min.min(max), max.max(min)))
    }
}

/// What the machine answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultCode {
    /// 0x01: done.
    Success,
    /// 0x02: the machine does not support this request.
    NotSupported,
    /// 0x03: the parameter is out of the machine's range.
    InvalidParameter,
    /// 0x04: the machine tried and failed.
    OperationFailed,
    /// 0x05: Request Control first (or another app holds control).
    ControlNotPermitted,
    /// A code the specification reserves.
    Reserved(u8),
}

impl ResultCode {
    fn from_byte(b: u8) -> Self {
        match b {
            0x01 => Self::Success,
            0x02 => Self::NotSupported,
            0x03 => Self::InvalidParameter,
            0x04 => Self::OperationFailed,
            0x05 => Self::ControlNotPermitted,
            other => Self::Reserved(other),
        }
    }

    /// Words for the racer's screen.
    pub fn describe(&self) -> &'static str {
        match self {
            Self::Success => "done",
            Self::NotSupported => "the trainer does not support this",
            Self::InvalidParameter => "the trainer refused the value",
            Self::OperationFailed => "the trainer could not do it",
            Self::ControlNotPermitted => "another app is controlling the trainer",
            Self::Reserved(_) => "the trainer gave an unknown answer",
        }
    }
}

/// A response indicated on the control point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlResponse {
    /// The op code of the request this answers.
    pub request_op_code: u8,
    /// The answer.
    pub result: ResultCode,
}

impl ControlResponse {
    /// Parses an indication: `0x80`, request op code, result code (any parameter after it is
    /// ignored).
    pub fn parse(bytes: &[u8]) -> Result<Self, BleError> {
        let mut r = Reader::new(NAME, bytes);
        let op_code = r.u8("response op code")?;
        if op_code != RESPONSE_CODE {
            return Err(BleError::NotAResponse { op_code });
        }
        let request_op_code = r.u8("request op code")?;
        let result = ResultCode::from_byte(r.u8("result code")?);
        Ok(Self { request_op_code, result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_control_is_its_op_code_alone() {
        assert_eq!(ControlRequest::RequestControl.encode(), vec![0x00]);
    }

    #[test]
    fn set_target_resistance_level_is_tenths_as_s16_little_endian() {
        assert_eq!(ControlRequest::SetTargetResistanceLevel(12.5).encode(), vec![0x04, 0x7D, 0x00]);
        assert_eq!(
            ControlRequest::SetTargetResistanceLevel(100.0).encode(),
            vec![0x04, 0xE8, 0x03]
        );
        assert_eq!(ControlRequest::SetTargetResistanceLevel(-1.0).encode(), vec![0x04, 0xF6, 0xFF]);
        assert_eq!(ControlRequest::SetTargetResistanceLevel(f64::NAN).encode(), vec![0x04, 0, 0]);
        assert_eq!(ControlRequest::SetTargetResistanceLevel(1e9).encode(), vec![0x04, 0xFF, 0x7F]);
    }

    #[test]
    fn the_slider_percent_maps_onto_the_trainers_range_and_increment() {
        let at = |p| ControlRequest::resistance_for_percent(p, 0.0, 20.0, 1.0);
        assert_eq!(at(0.0), ControlRequest::SetTargetResistanceLevel(0.0));
        assert_eq!(at(55.0), ControlRequest::SetTargetResistanceLevel(11.0));
        assert_eq!(at(100.0), ControlRequest::SetTargetResistanceLevel(20.0));
        assert_eq!(at(150.0), ControlRequest::SetTargetResistanceLevel(20.0));
        assert_eq!(at(f64::NAN), ControlRequest::SetTargetResistanceLevel(0.0));
        let fine = ControlRequest::resistance_for_percent(33.0, 1.0, 100.0, 0.1);
        let ControlRequest::SetTargetResistanceLevel(level) = fine else { unreachable!() };
        assert!((level - 33.67).abs() < 0.051, "{level}");
    }

    #[test]
    fn responses_name_the_request_and_the_result() {
        let ok = ControlResponse::parse(&[0x80, 0x00, 0x01]).unwrap();
        assert_eq!(ok, ControlResponse { request_op_code: 0x00, result: ResultCode::Success });
        let refused = ControlResponse::parse(&[0x80, 0x04, 0x05]).unwrap();
        assert_eq!(refused.result, ResultCode::ControlNotPermitted);
        assert_eq!(refused.result.describe(), "another app is controlling the trainer");
        assert_eq!(
            ControlResponse::parse(&[0x80, 0x04, 0x03]).unwrap().result,
            ResultCode::InvalidParameter
        );
        assert_eq!(
            ControlResponse::parse(&[0x80, 0x04, 0x09]).unwrap().result,
            ResultCode::Reserved(9)
        );
    }

    #[test]
    fn a_non_response_or_a_short_one_is_an_error() {
        assert_eq!(
            ControlResponse::parse(&[0x04, 0x00, 0x01]),
            Err(BleError::NotAResponse { op_code: 0x04 })
        );
        assert!(matches!(
            ControlResponse::parse(&[0x80, 0x04]),
            Err(BleError::Truncated { field: "result code", .. })
        ));
    }
}
