//! Object names, as Firehose names its S3 objects:
//! `<prefix>/YYYY/MM/DD/HH/<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>.gz`, the time being the
//! UTC arrival time of the oldest record in the object.

use chrono::{DateTime, Utc};
use object_store::path::Path;
use uuid::Uuid;

/// The object name for a batch whose oldest record arrived at `oldest_arrival_ms`.
pub fn object_path(
    prefix: &str,
    stream: &str,
    version: u32,
    oldest_arrival_ms: u64,
    id: Uuid,
) -> Path {
    let at = DateTime::<Utc>::from_timestamp_millis(oldest_arrival_ms.min(i64::MAX as u64) as i64)
        .unwrap_or_default();
    Path::from(format!(
        "{prefix}/{}/{stream}-{version}-{}-{id}.gz",
        at.format("%Y/%m/%d/%H"),
        at.format("%Y-%m-%d-%H-%M-%S"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_firehose_with_the_oldest_arrival_in_utc() {
        // 2025-11-25T18:00:05.123Z
        let path = object_path("delivery", "alleycat", 1, 1_764_093_605_123, Uuid::nil());
        assert_eq!(
            path.as_ref(),
            "delivery/2025/11/25/18/alleycat-1-2025-11-25-18-00-05-00000000-0000-0000-0000-000000000000.gz"
        );
    }
}
