//! Shard iterators and ListShards page tokens as clients see them: opaque base64 strings.
//!
//! An iterator carries everything GetRecords needs, so the server keeps no per-reader state:
//!
//! ```text
//! version u8 = 1 | issued_ms u64 | stream created_ms u64 | shard u32 | position u128 | name
//! ```
//!
//! big-endian, then standard base64. `issued_ms` makes it expire after [`ITERATOR_TTL_MS`] (as
//! in Kinesis); `created_ms` ties it to one incarnation of the stream, so an iterator of a
//! deleted stream does not read a new stream of the same name. Anything that does not decode
//! is "Invalid ShardIterator.", as in Kinesis. The iterator is not secret: it only names a
//! position that its holder could ask for anyway.

use alleycat_ingest::stream::ShardId;
use base64::{engine::general_purpose::STANDARD, Engine};

/// How long a shard iterator (or a ListShards token) stays valid: five minutes, as Kinesis.
pub const ITERATOR_TTL_MS: u64 = 5 * 60 * 1000;

const VERSION: u8 = 1;
const FIXED: usize = 1 + 8 + 8 + 4 + 16;

/// A decoded shard iterator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Iterator {
    /// When it was handed out, epoch ms.
    pub issued_ms: u64,
    /// The creation time of the stream it reads, epoch ms.
    pub created_ms: u64,
    /// The stream's name.
    pub stream: String,
    /// The shard.
    pub shard: ShardId,
    /// The engine's position in the shard.
    pub position: u128,
}

impl Iterator {
    /// The opaque string form.
    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(FIXED + self.stream.len());
        bytes.push(VERSION);
        bytes.extend_from_slice(&self.issued_ms.to_be_bytes());
        bytes.extend_from_slice(&self.created_ms.to_be_bytes());
        bytes.extend_from_slice(&self.shard.0.to_be_bytes());
        bytes.extend_from_slice(&self.position.to_be_bytes());
        bytes.extend_from_slice(self.stream.as_bytes());
        STANDARD.encode(bytes)
    }

    /// Reads the string form back; `None` when it is not one.
    pub fn decode(text: &str) -> Option<Self> {
        let bytes = STANDARD.decode(text).ok()?;
        if bytes.len() <= FIXED || bytes[0] != VERSION {
            return None;
        }
        let u64_at = |i: usize| u64::from_be_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        let stream = String::from_utf8(bytes[FIXED..].to_vec()).ok()?;
        Some(Self {
            issued_ms: u64_at(1),
            created_ms: u64_at(9),
            shard: ShardId(u32::from_be_bytes(bytes[17..21].try_into().expect("4 bytes"))),
            position: u128::from_be_bytes(bytes[21..37].try_into().expect("16 bytes")),
            stream,
        })
        .filter(|it| crate::validate::is_name(&it.stream))
    }
}

/// A ListShards page token: the stream, the next shard index to list, and its issue time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageToken {
    /// The stream listed.
    pub stream: String,
    /// The first shard index of the next page.
    pub next: u32,
    /// When it was handed out, epoch ms.
    pub issued_ms: u64,
    /// The ShardFilter of the listing, in its compact form (`TYPE` or `TYPE:value`), if any.
    pub filter: Option<String>,
}

impl PageToken {
    /// The opaque string form.
    pub fn encode(&self) -> String {
        let filter = self.filter.as_deref().map_or_else(String::new, |f| format!("|{f}"));
        STANDARD.encode(format!("{}|{}|{}{filter}", self.issued_ms, self.next, self.stream))
    }

    /// Reads the string form back; `None` when it is not one.
    pub fn decode(text: &str) -> Option<Self> {
        let text = String::from_utf8(STANDARD.decode(text).ok()?).ok()?;
        let mut parts = text.splitn(4, '|');
        let issued_ms = parts.next()?.parse().ok()?;
        let next = parts.next()?.parse().ok()?;
        let stream = parts.next()?.to_owned();
        let filter = parts.next().map(str::to_owned);
        crate::validate::is_name(&stream).then_some(Self { stream, next, issued_ms, filter })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_iterator_survives_its_round_trip_and_garbage_does_not_decode() {
        let it = Iterator {
            issued_ms: 1_700_000_000_000,
            created_ms: 1_600_000_000_000,
            stream: "alleycat".into(),
            shard: ShardId(3),
            position: (3u128 << 64) | 42,
        };
        let text = it.encode();
        assert!(text.len() <= 512, "Kinesis' limit on the iterator's length");
        assert_eq!(Iterator::decode(&text), Some(it));
        assert_eq!(Iterator::decode("AAAA"), None);
        assert_eq!(Iterator::decode("not base64"), None);
    }

    #[test]
    fn a_page_token_survives_its_round_trip() {
        let token = PageToken { stream: "s.1".into(), next: 7, issued_ms: 5, filter: None };
        assert_eq!(PageToken::decode(&token.encode()), Some(token.clone()));
        let filtered = PageToken { filter: Some("AT_TIMESTAMP:12".into()), ..token };
        assert_eq!(PageToken::decode(&filtered.encode()), Some(filtered));
        assert_eq!(PageToken::decode("eA=="), None);
    }
}
