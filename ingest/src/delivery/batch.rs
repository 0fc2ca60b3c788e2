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

/// A page of records read from one shard, already transformed (by the shard's reader, so that
/// shards transform in parallel): every record's line, back to back in `bytes`.
#[derive(Debug, Default)]
pub struct Page {
    /// The records' positions and where their lines end.
    pub items: Vec<Item>,
    /// The lines (delivered or failed), back to back.
    pub bytes: Vec<u8>,
}

/// One transformed record of a [`Page`].
#[derive(Debug, Clone, Copy)]
pub struct Item {
    /// Its shard.
    pub shard_id: ShardId,
    /// Its sequence number.
    pub sequence_number: SequenceNumber,
    /// When the stream accepted it.
    pub arrival_ms: u64,
    /// Whether it passed the transform (else its line is a processing-failed record).
    pub ok: bool,
    /// Where its line ends in [`Page::bytes`].
    pub end: usize,
}

impl Page {
    /// Transforms `records` into a page.
    pub fn transform(records: &[Record], race_seconds: u32, now_ms: u64) -> Self {
        let mut page = Page {
            items: Vec::with_capacity(records.len()),
            bytes: Vec::with_capacity(records.iter().map(|r| r.data.len() + 24).sum()),
        };
        for record in records {
            let ok = match transform(record, race_seconds, now_ms, &mut page.bytes) {
                Ok(()) => true,
                Err(failed) => {
                    serde_json::to_writer(&mut page.bytes, &failed).expect("writing to memory");
                    page.bytes.push(b'\n');
                    false
                }
            };
            page.items.push(Item {
                shard_id: record.shard_id,
                sequence_number: record.sequence_number,
                arrival_ms: record.arrival_ms,
                ok,
                end: page.bytes.len(),
            });
        }
        page
    }
}

impl Batch {
    /// Adds one transformed record: `line` is its delivered or failed line.
    pub fn push(&mut self, item: &Item, line: &[u8]) {
        if item.ok {
            self.lines.extend_from_slice(line);
            self.records += 1;
        } else {
            self.failed.extend_from_slice(line);
            self.failed_records += 1;
        }
        self.oldest_arrival_ms =
            Some(self.oldest_arrival_ms.map_or(item.arrival_ms, |t| t.min(item.arrival_ms)));
        let position = self.positions.entry(item.shard_id).or_insert(item.sequence_number);
        *position = (*position).max(item.sequence_number);
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
