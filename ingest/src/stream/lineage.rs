//! Reading a resharded stream in the order the Kinesis Client Library does: a shard is read only
//! once each of its parents has been read to its end, so the records of one partition key come
//! in order across splits and merges (they were in the parent before they were in a child).
//!
//! [`Lineage`] is the bookkeeping; [`read_all`] runs one reader task per shard in that order,
//! starting children as their parents finish. The pipeline's own readers (delivery, the here-now
//! board) both use it.

use std::{collections::BTreeSet, future::Future, sync::Arc};

use tokio::task::JoinSet;

use super::{ShardDescription, ShardId, Stream};

/// Which shards have been started and finished, and so which may start now.
#[derive(Debug, Default, Clone)]
pub struct Lineage {
    started: BTreeSet<ShardId>,
    finished: BTreeSet<ShardId>,
}

impl Lineage {
    /// Nothing started yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The shards of `shards` that may be read now, marked started: not started before, and
    /// every parent finished or no longer in the stream (its records expired).
    pub fn ready(&mut self, shards: &[ShardDescription]) -> Vec<ShardId> {
        let known: BTreeSet<ShardId> = shards.iter().map(|s| s.shard_id).collect();
        let ready: Vec<ShardId> = shards
            .iter()
            .filter(|s| !self.started.contains(&s.shard_id))
            .filter(|s| {
                [s.parent_shard_id, s.adjacent_parent_shard_id]
                    .into_iter()
                    .flatten()
                    .all(|p| self.finished.contains(&p) || !known.contains(&p))
            })
            .map(|s| s.shard_id)
            .collect();
        self.started.extend(&ready);
        ready
    }

    /// Notes that `shard` was read to its end (it is closed and has nothing more); it is not
    /// started again.
    pub fn finish(&mut self, shard: ShardId) {
        self.started.insert(shard);
        self.finished.insert(shard);
    }
}

/// How one shard's reader ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardRead {
    /// It read the closed shard to its end: its children may start.
    Finished,
    /// It stopped (shutdown, the stream closed).
    Stopped,
}

/// Runs `read(shard)` for every shard of `stream` in lineage order: at once for the shards
/// whose parents are done, and for each child as soon as its last parent's reader returns
/// [`ShardRead::Finished`]. Returns when every reader has returned.
pub async fn read_all<F, Fut>(stream: Arc<dyn Stream>, lineage: Lineage, mut read: F)
where
    F: FnMut(ShardId) -> Fut,
    Fut: Future<Output = ShardRead> + Send + 'static,
{
    let mut lineage = lineage;
    let mut readers = JoinSet::new();
    let mut start = |lineage: &mut Lineage, readers: &mut JoinSet<(ShardId, ShardRead)>| {
        for shard in lineage.ready(&stream.shards()) {
            let reading = read(shard);
            readers.spawn(async move { (shard, reading.await) });
        }
    };
    start(&mut lineage, &mut readers);
    while let Some(ended) = readers.join_next().await {
        if let Ok((shard, ShardRead::Finished)) = ended {
            tracing::info!(shard = %shard, "Read a closed shard to its end; reading its children next.");
            lineage.finish(shard);
            start(&mut lineage, &mut readers);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::{Reshard, SequenceNumber, ShardMap};

    fn describe(map: &ShardMap) -> Vec<ShardDescription> {
        crate::stream::describe_map(map, |_| SequenceNumber(0), |_| SequenceNumber(0))
    }

    #[test]
    fn children_wait_for_every_parent_and_start_once() {
        let map = ShardMap::even(2, 0)
            .apply(Reshard::Merge { shard: ShardId(0), adjacent: ShardId(1) }, 1)
            .unwrap();
        let shards = describe(&map);
        let mut lineage = Lineage::new();
        assert_eq!(lineage.ready(&shards), [ShardId(0), ShardId(1)]);
        lineage.finish(ShardId(0));
        assert!(lineage.ready(&shards).is_empty(), "the merged child waits for both parents");
        lineage.finish(ShardId(1));
        assert_eq!(lineage.ready(&shards), [ShardId(2)]);
        assert!(lineage.ready(&shards).is_empty());
        // A parent whose records expired (no longer listed) does not hold its child back.
        let mut fresh = Lineage::new();
        assert_eq!(fresh.ready(&shards[2..]), [ShardId(2)]);
    }
}
