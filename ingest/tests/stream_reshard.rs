//! Resharding the embedded engine: parents close with their records, children take the later
//! ones, readers go from a parent's end to its children, and the shard map survives a reopen
//! and a crash, on the real disk and in memory.

mod stream_support;

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use alleycat_ingest::stream::{
    lineage::{self, Lineage, ShardRead},
    Reshard, SequenceNumber, ShardId, StartingPosition, Stream, StreamError,
};
use stream_support::{rec, small_config, Env};

/// Every record of `shard` and, once it is read to its end, its children's ids.
async fn read_to_end(stream: &dyn Stream, shard: ShardId) -> (Vec<String>, Option<Vec<ShardId>>) {
    let mut iterator = stream.shard_iterator(shard, StartingPosition::TrimHorizon).await.unwrap();
    let mut data = Vec::new();
    loop {
        let out = stream.get_records(&iterator, 3, Duration::ZERO).await.unwrap();
        data.extend(out.records.iter().map(|r| String::from_utf8_lossy(&r.data).into_owned()));
        if let Some(children) = out.child_shards {
            return (data, Some(children.iter().map(|c| c.shard_id).collect()));
        }
        if out.records.is_empty() {
            return (data, None);
        }
        iterator = out.next_iterator;
    }
}

async fn put(stream: &dyn Stream, key: &str, data: &str) -> ShardId {
    let out = stream.put_records(vec![rec(key, data)]).await.unwrap();
    out.records[0].as_ref().unwrap().shard_id
}

#[tokio::test]
async fn a_split_closes_the_parent_with_its_records_and_routes_later_ones_to_the_children() {
    for env in Env::both() {
        let stream = env.open(small_config(1));
        for i in 0..10 {
            put(&stream, &format!("k{i}"), &format!("before-{i}")).await;
        }
        stream
            .reshard(Reshard::Split { shard: ShardId(0), new_starting_hash_key: 1u128 << 127 })
            .await
            .unwrap();
        let mut later = BTreeMap::new();
        for i in 0..10 {
            let shard = put(&stream, &format!("k{i}"), &format!("after-{i}")).await;
            assert_ne!(shard, ShardId(0), "{}: a closed shard takes no records", env.kind());
            later.entry(shard).or_insert_with(Vec::new).push(format!("after-{i}"));
        }
        let shards = stream.shards();
        assert_eq!(shards.len(), 3);
        assert_eq!(shards[0].ending_sequence_number, Some(SequenceNumber(9)));
        assert_eq!(shards[1].parent_shard_id, Some(ShardId(0)));
        assert_eq!(shards[2].starting_hash_key, 1u128 << 127);
        assert!(shards[1].is_open() && shards[2].is_open() && !shards[0].is_open());

        let (parent, children) = read_to_end(&stream, ShardId(0)).await;
        assert_eq!(parent.len(), 10);
        assert_eq!(children, Some(vec![ShardId(1), ShardId(2)]));
        for (shard, expected) in &later {
            assert_eq!(read_to_end(&stream, *shard).await, (expected.clone(), None));
        }
        // A reader waiting at the closed parent's tip is not kept waiting.
        let end = stream.shard_iterator(ShardId(0), StartingPosition::Latest).await.unwrap();
        let out = tokio::time::timeout(
            Duration::from_secs(5),
            stream.get_records(&end, 10, Duration::from_secs(30)),
        )
        .await
        .expect("no wait at a closed shard's end");
        assert!(out.unwrap().child_shards.is_some());
        stream.checkpoint("c", ShardId(0), SequenceNumber(9)).await.unwrap();
        stream.checkpoint("c", ShardId(2), shards[2].starting_sequence_number).await.ok();
        drop(stream);

        // The map, the closed parent and the checkpoints survive a reopen.
        let stream = env.open(small_config(1));
        assert_eq!(stream.shards(), shards, "{}", env.kind());
        assert_eq!(read_to_end(&stream, ShardId(0)).await.0, parent);
        assert_eq!(stream.checkpoints("c").await.unwrap()[&ShardId(0)], SequenceNumber(9));
        assert_ne!(put(&stream, "k1", "again").await, ShardId(0));
    }
}

#[tokio::test]
async fn merges_and_uniform_scaling_keep_one_open_shard_per_hash_key() {
    let env = Env::mem();
    let stream = env.open(small_config(4));
    stream.reshard(Reshard::Scale { target: 8 }).await.unwrap();
    assert_eq!(stream.shards().iter().filter(|s| s.is_open()).count(), 8);
    stream.reshard(Reshard::Scale { target: 5 }).await.unwrap();
    assert_eq!(stream.shards().iter().filter(|s| s.is_open()).count(), 5);
    let open: Vec<ShardId> =
        stream.shards().iter().filter(|s| s.is_open()).map(|s| s.shard_id).collect();
    let not_adjacent = Reshard::Merge { shard: open[0], adjacent: open[2] };
    assert!(matches!(stream.reshard(not_adjacent).await, Err(StreamError::InvalidArgument(_))));
    stream.reshard(Reshard::Merge { shard: open[0], adjacent: open[1] }).await.unwrap();
    assert_eq!(stream.shards().iter().filter(|s| s.is_open()).count(), 4);
    for i in 0..50 {
        put(&stream, &format!("key-{i}"), "x").await;
    }
    drop(stream);
    let stream = env.open(small_config(4));
    assert_eq!(stream.shards().iter().filter(|s| s.is_open()).count(), 4);
}

#[tokio::test]
async fn lineage_order_reads_every_record_once_and_each_key_in_order_across_reshards() {
    let env = Env::mem();
    let stream: Arc<dyn Stream> = Arc::new(env.open(small_config(2)));
    let keys = 40;
    let mut expected: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for round in 0..4u32 {
        for k in 0..keys {
            let key = format!("racer-{k}");
            put(&*stream, &key, &format!("{key}:{round}")).await;
            expected.entry(key).or_default().push(round);
        }
        let change = match round {
            0 => Reshard::Scale { target: 4 },
            1 => Reshard::Scale { target: 3 },
            _ => Reshard::Scale { target: 6 },
        };
        stream.reshard(change).await.unwrap();
    }
    let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
    let reader = stream.clone();
    lineage::read_all(stream.clone(), Lineage::new(), move |shard| {
        let (stream, seen) = (reader.clone(), seen_tx.clone());
        async move {
            let (data, children) = read_to_end(&*stream, shard).await;
            for d in data {
                let _ = seen.send(d);
            }
            if children.is_some() {
                ShardRead::Finished
            } else {
                ShardRead::Stopped
            }
        }
    })
    .await;
    let mut got: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    while let Ok(d) = seen_rx.try_recv() {
        let (key, round) = d.split_once(':').unwrap();
        got.entry(key.to_owned()).or_default().push(round.parse().unwrap());
    }
    assert_eq!(got, expected, "each key's records, once each and in order");
}
