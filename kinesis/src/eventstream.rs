//! The AWS event-stream encoding of SubscribeToShard's answer
//! (`Content-Type: application/vnd.amazon.eventstream`): a sequence of binary messages, each
//!
//! ```text
//! total length u32 | headers length u32 | prelude CRC32 u32 | headers | payload | message CRC32 u32
//! ```
//!
//! big-endian, the CRCs over the prelude and over everything before the last CRC. Headers are
//! `name length u8 | name | type u8 | value` (strings are type 7 with a u16 length). Kinesis
//! sends three kinds, told apart by the `:message-type` header:
//!
//! - `event` with `:event-type` `initial-response` (payload: an empty structure) first;
//! - `event` with `:event-type` `SubscribeToShardEvent` (payload: the event) for each push;
//! - `exception` with `:exception-type` naming the error (payload: `{"message": "..."}`), last.
//!
//! `:content-type` names the payload's encoding (the request's protocol). The framing itself is
//! smithy-rs' (`aws-smithy-eventstream`), the code the AWS SDK for Rust reads these frames with.

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::Bytes;

/// The content type of an event-stream answer.
pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

fn header(name: &'static str, value: &str) -> Header {
    Header::new(name, HeaderValue::String(value.to_owned().into()))
}

fn frame(headers: Vec<Header>, payload: Vec<u8>) -> Bytes {
    let message = Message::new_from_parts(headers, payload);
    let mut bytes = Vec::with_capacity(message.payload().len() + 128);
    // Only over-long headers or payloads (16 MiB) fail to encode; events are kept far smaller.
    if let Err(error) = write_message_to(&message, &mut bytes) {
        tracing::error!(%error, "Could not frame an event-stream message.");
        return Bytes::new();
    }
    bytes.into()
}

/// An `event` message of type `event_type` whose payload is encoded as `content_type`.
pub fn event(event_type: &str, content_type: &str, payload: Vec<u8>) -> Bytes {
    frame(
        vec![
            header(":message-type", "event"),
            header(":event-type", event_type),
            header(":content-type", content_type),
        ],
        payload,
    )
}

/// An `exception` message naming error `exception_type`.
pub fn exception(exception_type: &str, content_type: &str, payload: Vec<u8>) -> Bytes {
    frame(
        vec![
            header(":message-type", "exception"),
            header(":exception-type", exception_type),
            header(":content-type", content_type),
        ],
        payload,
    )
}

#[cfg(test)]
mod tests {
    use aws_smithy_eventstream::frame::read_message_from;

    use super::*;

    fn string<'a>(message: &'a Message, name: &str) -> &'a str {
        let header = message.headers().iter().find(|h| h.name().as_str() == name).unwrap();
        header.value().as_string().unwrap().as_str()
    }

    #[test]
    fn an_event_frame_carries_its_headers_and_payload_under_two_crcs() {
        let bytes = event("SubscribeToShardEvent", "application/x-amz-json-1.1", b"{}".to_vec());
        let total = u32::from_be_bytes(bytes[0..4].try_into().unwrap()) as usize;
        assert_eq!(total, bytes.len());
        let prelude_crc = u32::from_be_bytes(bytes[8..12].try_into().unwrap());
        assert_eq!(prelude_crc, crc32(&bytes[..8]));
        let message_crc = u32::from_be_bytes(bytes[total - 4..].try_into().unwrap());
        assert_eq!(message_crc, crc32(&bytes[..total - 4]));
        let message = read_message_from(bytes).unwrap();
        assert_eq!(string(&message, ":message-type"), "event");
        assert_eq!(string(&message, ":event-type"), "SubscribeToShardEvent");
        assert_eq!(&message.payload()[..], b"{}");
    }

    #[test]
    fn an_exception_frame_names_its_error() {
        let message = read_message_from(exception(
            "ResourceInUseException",
            "application/json",
            b"{\"message\":\"x\"}".to_vec(),
        ))
        .unwrap();
        assert_eq!(string(&message, ":message-type"), "exception");
        assert_eq!(string(&message, ":exception-type"), "ResourceInUseException");
    }

    /// CRC-32 (IEEE), bit by bit: an independent check of the framing's checksums.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
}
