//! The two value types whose wire form differs between Kinesis' protocols: blobs (base64
//! strings in JSON, byte strings in CBOR) and timestamps (epoch seconds with a fraction in
//! JSON, the same number under CBOR tag 1 in CBOR). Each picks its form from the serializer's
//! `is_human_readable`, so one set of request and response structs serves both protocols.

use base64::{engine::general_purpose::STANDARD, Engine};
use bytes::Bytes;
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

/// A binary value (`Data`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Blob(pub Bytes);

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&base64_simd::STANDARD.encode_to_string(&self.0))
        } else {
            serializer.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Blob;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a base64 string or a byte string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Blob, E> {
                base64_simd::STANDARD.decode_to_vec(v).map(|bytes| Blob(bytes.into())).map_err(
                    |_| {
                        // base64-simd's error says only "invalid"; base64's says where.
                        let why = STANDARD.decode(v).err().map(|e| e.to_string());
                        let why = why.as_deref().unwrap_or("not canonical base64");
                        E::custom(format_args!("'{v}' can not be converted to a Blob: {why}"))
                    },
                )
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Blob, E> {
                Ok(Blob(Bytes::copy_from_slice(v)))
            }
            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(v.into()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A point in time, in epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub u64);

impl Timestamp {
    fn seconds(self) -> f64 {
        self.0 as f64 / 1000.0
    }
}

/// CBOR's tag for epoch-based date/time (RFC 8949, 3.4.2).
const EPOCH_TAG: u64 = 1;

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_f64(self.seconds())
        } else {
            ciborium::tag::Required::<f64, EPOCH_TAG>(self.seconds()).serialize(serializer)
        }
    }
}

/// Epoch seconds as a float or an integer (SDKs send either).
struct Seconds(f64);

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl de::Visitor<'_> for Visitor {
            type Value = Seconds;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("epoch seconds")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Seconds, E> {
                Ok(Seconds(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Seconds, E> {
                Ok(Seconds(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Seconds, E> {
                Ok(Seconds(v as f64))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let seconds = if deserializer.is_human_readable() {
            Seconds::deserialize(deserializer)?.0
        } else {
            // Tag 1 when the SDK sets it; a bare number is taken too.
            ciborium::tag::Captured::<Seconds>::deserialize(deserializer)?.1 .0
        };
        if !seconds.is_finite() || seconds < 0.0 {
            return Err(de::Error::custom(format_args!("{seconds} is not a timestamp")));
        }
        Ok(Timestamp((seconds * 1000.0).round() as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_blobs_are_base64_and_timestamps_are_seconds_with_a_fraction() {
        assert_eq!(serde_json::to_string(&Blob(Bytes::from_static(b"hi"))).unwrap(), "\"aGk=\"");
        let blob: Blob = serde_json::from_str("\"aGk=\"").unwrap();
        assert_eq!(&blob.0[..], b"hi");
        assert!(serde_json::from_str::<Blob>("\"not base64!\"").is_err());
        assert_eq!(serde_json::to_string(&Timestamp(1_700_000_000_123)).unwrap(), "1700000000.123");
        let t: Timestamp = serde_json::from_str("1700000000.5").unwrap();
        assert_eq!(t, Timestamp(1_700_000_000_500));
    }
}
