//! The buffer: transformed lines and failed records waiting to be stored, with the positions
//! they cover in each shard.

use std::collections::BTreeMap;

use crate::stream::{Record, SequenceNumber, ShardId};

use super::transform::transform;

/// Records transformed since the last flush.
#[derive(Debug, Default)]
pub struct Batch {
    /// Delivered lines (NDJSON).
    pub lines: Vec<u8>,
    /// Processing-failed records (NDJSON).
    pub failed: Vec<u8>,
    /// How many records are in `lines`.
    pub records: usize,
    /// How many records are in `failed`.
    pub failed_records: usize,
    /// The arrival time of the oldest record, epoch milliseconds.
    pub oldest_arrival_ms: Option<u64>,
    /// Per shard, the last sequence number the batch holds: the checkpoint after it is stored.
    pub positions: BTreeMap<ShardId, SequenceNumber>,
}

impl Batch {
    /// Transforms `record` into the batch.
    pub fn push(&mut self, record: &Record, race_seconds: u32, now_ms: u64) {
        if let Err(failed) = transform(record, race_seconds, now_ms, &mut self.lines) {
            serde_json::to_writer(&mut self.failed, &failed).expect("writing to memory");
            self.failed.push(b'\n');
            self.failed_records += 1;
        } else {
            self.records += 1;
        }
        self.oldest_arrival_ms =
            Some(self.oldest_arrival_ms.map_or(record.arrival_ms, |t| t.min(record.arrival_ms)));
        let position = self.positions.entry(record.shard_id).or_insert(record.sequence_number);
        *position = (*position).max(record.sequence_number);
    }

    /// Bytes buffered (uncompressed), compared with the size hint.
    pub fn size(&self) -> usize {
        self.lines.len() + self.failed.len()
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }
}
