//! Model-based property tests: random sequences of puts, reads, checkpoints, restarts, power
//! cuts, clock moves and retention passes, checked against a plain in-memory model, in memory
//! and on the real disk.

mod stream_support;

use std::{collections::BTreeMap, time::Duration};

use alleycat_ingest::stream::{
    hash_key, route, DiskStream, SequenceNumber, ShardId, StartingPosition, Stream, StreamConfig,
};
use proptest::{prelude::*, test_runner::FileFailurePersistence};
use stream_support::{rec, Env};

const SHARDS: u32 = 3;
const RETENTION_SECS: u64 = 100;
/// Failing cases found so far, replayed first on every run (relative to the package root).
const REGRESSIONS: &str = "proptest-regressions/stream_model.txt";

#[derive(Debug, Clone)]
enum Action {
    /// Records as (partition key number, data length).
    Put(Vec<(u8, usize)>),
    /// Read `limit` records of a shard from a point between the trim horizon (0.0) and the tip.
    Read { shard: u32, from: f64, limit: usize },
    /// Checkpoint a consumer at a point between the trim horizon and the newest record.
    Checkpoint { consumer: u8, shard: u32, at: f64 },
    /// Close and reopen.
    Restart,
    /// Power cut (memory only): unsynced bytes are lost but for a torn prefix of `keep` bytes.
    Crash { keep: usize },
    /// Move the clock forward.
    Advance(u64),
    /// Run retention now.
    Retention,
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        6 => prop::collection::vec((0u8..24, 0usize..300), 1..40).prop_map(Action::Put),
        4 => (0..SHARDS, 0.0..1.0f64, 1usize..60)
            .prop_map(|(shard, from, limit)| Action::Read { shard, from, limit }),
        2 => (0u8..3, 0..SHARDS, 0.0..1.0f64)
            .prop_map(|(consumer, shard, at)| Action::Checkpoint { consumer, shard, at }),
        1 => Just(Action::Restart),
        1 => (0usize..200).prop_map(|keep| Action::Crash { keep }),
        2 => (0u64..70).prop_map(Action::Advance),
        1 => Just(Action::Retention),
    ]
}

/// What the stream must hold: per shard, every record ever acknowledged, by counter.
#[derive(Debug, Default)]
struct Model {
    shards: Vec<Vec<(String, Vec<u8>, u64)>>,
    /// Per shard, the lowest counter that may still be read.
    trimmed: Vec<usize>,
    checkpoints: BTreeMap<String, BTreeMap<ShardId, SequenceNumber>>,
}

fn seq(shard: u32, counter: usize) -> SequenceNumber {
    SequenceNumber((u128::from(shard) << 64) | counter as u128)
}

fn config() -> StreamConfig {
    StreamConfig {
        shards: SHARDS,
        segment_bytes: 2048,
        retention: Duration::from_secs(RETENTION_SECS),
        ..StreamConfig::default()
    }
}

async fn check_everything(stream: &DiskStream, model: &Model) {
    for shard in 0..SHARDS {
        let records = stream_support::read_all(stream, ShardId(shard)).await;
        let expected = &model.shards[shard as usize][model.trimmed[shard as usize]..];
        assert_eq!(records.len(), expected.len(), "shard {shard}");
        for (i, (record, (key, data, arrival))) in records.iter().zip(expected).enumerate() {
            let counter = model.trimmed[shard as usize] + i;
            assert_eq!(record.sequence_number, seq(shard, counter));
            assert_eq!((&record.partition_key, &record.data[..]), (key, &data[..]));
            assert_eq!(record.arrival_ms, *arrival);
        }
    }
    for (consumer, checkpoints) in &model.checkpoints {
        assert_eq!(&stream.checkpoints(consumer).await.unwrap(), checkpoints);
    }
}

async fn run(env: Env, actions: Vec<Action>) {
    let mut model = Model {
        shards: vec![Vec::new(); SHARDS as usize],
        trimmed: vec![0; SHARDS as usize],
        ..Model::default()
    };
    let mut stream = Some(env.open(config()));
    for action in actions {
        let s = stream.as_ref().unwrap();
        match action {
            Action::Put(records) => {
                let batch: Vec<_> = records
                    .iter()
                    .map(|&(key, len)| rec(&format!("racer-{key}"), &"e".repeat(len)))
                    .collect();
                let out = s.put_records(batch.clone()).await.unwrap();
                assert_eq!(out.failed_record_count, 0);
                let now = alleycat_ingest::stream::Clock::now_ms(&env.clock);
                for (put, result) in batch.into_iter().zip(out.records) {
                    let ok = result.unwrap();
                    let shard = route(hash_key(&put.partition_key), SHARDS);
                    assert_eq!(ok.shard_id, shard);
                    let stored = &mut model.shards[shard.0 as usize];
                    assert_eq!(ok.sequence_number, seq(shard.0, stored.len()));
                    stored.push((put.partition_key, put.data.to_vec(), now));
                }
            }
            Action::Read { shard, from, limit } => {
                let (low, high) =
                    (model.trimmed[shard as usize], model.shards[shard as usize].len());
                let start = low + ((high - low) as f64 * from) as usize;
                let position = if start < high {
                    StartingPosition::AtSequenceNumber(seq(shard, start))
                } else {
                    StartingPosition::Latest
                };
                let it = s.shard_iterator(ShardId(shard), position).await.unwrap();
                let out = s.get_records(&it, limit, Duration::ZERO).await.unwrap();
                let expected = &model.shards[shard as usize][start..high.min(start + limit)];
                let got: Vec<_> = out.records.iter().map(|r| r.data.to_vec()).collect();
                let want: Vec<_> = expected.iter().map(|(_, d, _)| d.clone()).collect();
                assert_eq!(got, want);
                assert_eq!(out.next_iterator.position, seq(shard, start + got.len()).0);
                let now = alleycat_ingest::stream::Clock::now_ms(&env.clock);
                let behind = match expected.last() {
                    Some((_, _, arrival)) if start + got.len() < high => now - arrival,
                    _ => 0,
                };
                assert_eq!(out.millis_behind_latest, behind);
            }
            Action::Checkpoint { consumer, shard, at } => {
                let (low, high) =
                    (model.trimmed[shard as usize], model.shards[shard as usize].len());
                if high > low {
                    let counter = low + ((high - low - 1) as f64 * at) as usize;
                    let name = format!("consumer-{consumer}");
                    s.checkpoint(&name, ShardId(shard), seq(shard, counter)).await.unwrap();
                    model
                        .checkpoints
                        .entry(name)
                        .or_default()
                        .insert(ShardId(shard), seq(shard, counter));
                }
            }
            Action::Restart => {
                stream.take().unwrap().close().await;
                stream = Some(env.open(config()));
                check_everything(stream.as_ref().unwrap(), &model).await;
            }
            Action::Crash { keep } => {
                if let Some(mem) = &env.mem {
                    stream.take().unwrap().close().await;
                    mem.crash(|_, unsynced| unsynced.min(keep));
                    stream = Some(env.open(config()));
                    check_everything(stream.as_ref().unwrap(), &model).await;
                }
            }
            Action::Advance(secs) => env.clock.advance(Duration::from_secs(secs)),
            Action::Retention => {
                s.enforce_retention().await.unwrap();
                let now = alleycat_ingest::stream::Clock::now_ms(&env.clock);
                for shard in 0..SHARDS {
                    let it = s.shard_iterator(ShardId(shard), StartingPosition::TrimHorizon).await;
                    let horizon = (it.unwrap().position as u64) as usize;
                    let records = &model.shards[shard as usize];
                    assert!(horizon >= model.trimmed[shard as usize]);
                    // Only expired records are gone, and every unexpired one is kept.
                    for (_, _, arrival) in &records[..horizon] {
                        assert!(arrival + RETENTION_SECS * 1000 <= now, "unexpired record trimmed");
                    }
                    model.trimmed[shard as usize] = horizon;
                }
            }
        }
    }
    let s = stream.take().unwrap();
    check_everything(&s, &model).await;
    s.close().await;
}

fn block_on(future: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_stream_in_memory_behaves_like_the_model(actions in prop::collection::vec(action(), 1..60)) {
        block_on(run(Env::mem(), actions));
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 16,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(REGRESSIONS))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_stream_on_disk_behaves_like_the_model(actions in prop::collection::vec(action(), 1..40)) {
        block_on(run(Env::disk(), actions));
    }
}
