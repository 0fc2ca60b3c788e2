//! The stream contract through the `Stream` trait, each test on every engine: the disk engine in
//! memory and on the real disk, and JetStream on a real three-node NATS cluster. Where a test
//! runs the embedded engines on the manual clock, its JetStream variant checks the same rule
//! against JetStream's real timestamps. Resharding too: parents close with their records,
//! children take the later ones, readers go from a parent's end to its children, and the shard
//! map survives a reopen.

mod stream_support;

use std::{collections::BTreeMap, time::Duration};

use alleycat_ingest::stream::{
    hash_key,
    lineage::{self, Lineage, ShardRead},
    route, Clock, PutRecord, PutRecordOk, RecordErrorCode, Reshard, SequenceNumber, ShardId,
    ShardIterator, StartingPosition, Stream, StreamConfig, StreamError, MAX_PUT_BYTES,
    MAX_RECORD_BYTES, SHARD_RECORDS_PER_SECOND,
};
use bytes::Bytes;
use stream_support::{read_all, read_everything, read_to_end, rec, small_config, Engine, Kind, T0};

#[tokio::test]
async fn records_come_back_in_shard_order_with_the_shard_their_key_hashes_to() {
    for env in Engine::all().await {
        let stream = env.open(small_config(4)).await;
        let batch: Vec<_> =
            (0..300).map(|i| rec(&format!("racer-{}", i % 17), &format!("event {i}"))).collect();
        let before = env.now_ms();
        let out = stream.put_records(batch.clone()).await.unwrap();
        let after = env.now_ms();
        assert_eq!(out.failed_record_count, 0, "{}", env.kind());
        for (put, result) in batch.iter().zip(&out.records) {
            let ok = result.as_ref().unwrap();
            assert_eq!(ok.shard_id, route(hash_key(&put.partition_key), 4));
        }
        let shards = read_everything(&*stream).await;
        assert_eq!(shards.iter().map(Vec::len).sum::<usize>(), 300);
        for (i, records) in shards.iter().enumerate() {
            let expected: Vec<_> = batch
                .iter()
                .filter(|r| route(hash_key(&r.partition_key), 4) == ShardId(i as u32))
                .map(|r| r.data.clone())
                .collect();
            let got: Vec<_> = records.iter().map(|r| r.data.clone()).collect();
            assert_eq!(got, expected, "{} shard {i}", env.kind());
            assert!(records.windows(2).all(|w| w[0].sequence_number < w[1].sequence_number));
            // Stamped when the stream took them: T0 on the manual clock.
            assert!(records.iter().all(|r| (before..=after).contains(&r.arrival_ms)));
            assert!(records.iter().all(|r| r.partition_key.starts_with("racer-")));
        }
    }
}

#[tokio::test]
async fn sequence_numbers_keep_increasing_across_restarts() {
    for env in Engine::all().await {
        let mut last = None;
        for round in 0..3 {
            let stream = env.open(small_config(1)).await;
            for _ in 0..5 {
                let out =
                    stream.put_records(vec![rec("k", &format!("round {round}"))]).await.unwrap();
                let seq = out.records[0].as_ref().unwrap().sequence_number;
                assert!(last < Some(seq), "{}: {seq} after {last:?}", env.kind());
                assert!(last.is_none_or(|l: SequenceNumber| l.to_string() < seq.to_string()));
                last = Some(seq);
            }
            stream.close().await;
        }
        let stream = env.open(small_config(1)).await;
        assert_eq!(read_all(&*stream, ShardId(0)).await.len(), 15);
    }
}

#[tokio::test]
async fn a_put_of_more_than_500_records_or_5_mib_is_refused_whole() {
    for env in Engine::all().await {
        let stream = env.open(small_config(2)).await;
        let too_many: Vec<_> = (0..501).map(|i| rec(&i.to_string(), "x")).collect();
        assert!(matches!(stream.put_records(too_many).await, Err(StreamError::InvalidArgument(_))));
        assert!(matches!(stream.put_records(vec![]).await, Err(StreamError::InvalidArgument(_))));
        let big = "x".repeat(MAX_RECORD_BYTES - 10);
        let too_big: Vec<_> =
            (0..=MAX_PUT_BYTES / big.len()).map(|i| rec(&i.to_string(), &big)).collect();
        assert!(matches!(stream.put_records(too_big).await, Err(StreamError::InvalidArgument(_))));
        assert!(read_everything(&*stream).await.iter().all(Vec::is_empty));
    }
}

#[tokio::test]
async fn an_invalid_record_fails_alone_and_the_rest_of_the_call_succeeds() {
    for env in Engine::all().await {
        let stream = env.open(small_config(2)).await;
        let out = stream
            .put_records(vec![
                rec("ok-1", "a"),
                rec("", "empty key"),
                rec(&"k".repeat(257), "long key"),
                PutRecord {
                    partition_key: "huge".into(),
                    explicit_hash_key: None,
                    data: Bytes::from(vec![0; MAX_RECORD_BYTES]),
                },
                rec(&"é".repeat(256), "256 characters are fine even as 512 bytes"),
            ])
            .await
            .unwrap();
        assert_eq!(out.failed_record_count, 3);
        assert!(out.records[0].is_ok());
        for i in 1..4 {
            let error = out.records[i].as_ref().unwrap_err();
            assert_eq!(error.code, RecordErrorCode::InvalidArgument, "record {i}");
            assert!(!error.code.is_retryable());
        }
        assert!(out.records[4].is_ok());
        let kept: Vec<_> = read_everything(&*stream).await.into_iter().flatten().collect();
        assert_eq!(kept.len(), 2, "{}", env.kind());
        assert!(kept.iter().any(|r| r.partition_key == "é".repeat(256)), "keys come back as put");
    }
}

#[tokio::test]
async fn an_explicit_hash_key_overrides_the_partition_key() {
    for env in Engine::all().await {
        let stream = env.open(small_config(4)).await;
        let out = stream
            .put_records(vec![PutRecord {
                partition_key: "anything".into(),
                explicit_hash_key: Some(u128::MAX),
                data: Bytes::from_static(b"x"),
            }])
            .await
            .unwrap();
        assert_eq!(out.records[0].as_ref().unwrap().shard_id, ShardId(3));
        assert_eq!(read_all(&*stream, ShardId(3)).await.len(), 1);
    }
}

#[tokio::test]
async fn throttling_fails_records_over_the_shard_limit_and_the_rest_succeed() {
    // The throttle reads the manual clock on every engine.
    for env in Engine::all().await {
        let stream = env.open(StreamConfig { throttle: true, ..small_config(1) }).await;
        let mut ok = 0;
        let mut throttled = 0;
        for _ in 0..3 {
            let batch: Vec<_> = (0..500).map(|i| rec(&i.to_string(), "x")).collect();
            let out = stream.put_records(batch).await.unwrap();
            for result in &out.records {
                match result {
                    Ok(_) => ok += 1,
                    Err(e) => {
                        assert_eq!(e.code, RecordErrorCode::ProvisionedThroughputExceeded);
                        assert_eq!(e.code.as_str(), "ProvisionedThroughputExceededException");
                        throttled += 1;
                    }
                }
            }
        }
        assert_eq!((ok, throttled), (SHARD_RECORDS_PER_SECOND, 1500 - SHARD_RECORDS_PER_SECOND));
        // A new second, a new allowance.
        env.clock.advance(Duration::from_secs(1));
        let out = stream.put_records(vec![rec("k", "x")]).await.unwrap();
        assert_eq!(out.failed_record_count, 0);
    }
}

#[tokio::test]
async fn throttling_is_off_by_default() {
    for env in Engine::all().await {
        let stream = env.open(small_config(1)).await;
        for _ in 0..3 {
            let batch: Vec<_> = (0..500).map(|i| rec(&i.to_string(), "x")).collect();
            assert_eq!(stream.put_records(batch).await.unwrap().failed_record_count, 0);
        }
    }
}

#[tokio::test]
async fn the_five_iterator_kinds_start_where_kinesis_starts_them() {
    for env in Engine::all().await {
        let stream = env.open(small_config(1)).await;
        let shard = ShardId(0);
        let mut seqs = Vec::new();
        for i in 0..200 {
            // One record a second on the manual clock; JetStream stamps them as they come.
            env.clock.set(T0 + i * 1000);
            let out = stream.put_records(vec![rec("k", &format!("{i}"))]).await.unwrap();
            seqs.push(out.records[0].as_ref().unwrap().sequence_number);
        }
        let arrivals: Vec<u64> =
            read_all(&*stream, shard).await.iter().map(|r| r.arrival_ms).collect();
        assert_eq!(arrivals.len(), 200);
        assert!(
            arrivals.windows(2).all(|w| w[0] <= w[1]),
            "{}: arrivals never go back",
            env.kind()
        );
        let first = |it: ShardIterator| {
            let stream = &stream;
            async move {
                let out = stream.get_records(&it, 1, Duration::ZERO).await.unwrap();
                out.records.first().map(|r| String::from_utf8(r.data.to_vec()).unwrap())
            }
        };
        let at = |p| stream.shard_iterator(shard, p);
        assert_eq!(
            first(at(StartingPosition::TrimHorizon).await.unwrap()).await.as_deref(),
            Some("0")
        );
        assert_eq!(first(at(StartingPosition::Latest).await.unwrap()).await, None);
        let it = at(StartingPosition::AtSequenceNumber(seqs[150])).await.unwrap();
        assert_eq!(first(it).await.as_deref(), Some("150"));
        let it = at(StartingPosition::AfterSequenceNumber(seqs[150])).await.unwrap();
        assert_eq!(first(it).await.as_deref(), Some("151"));
        // AT_TIMESTAMP: the first record that arrived at or after the time (on the manual
        // clock, T0 + 99.5 s is record 100; in real time, whichever the arrivals say).
        for time in [
            T0 + 99_500,
            T0 + 130_000,
            arrivals[100],
            arrivals[150] + 1,
            (arrivals[40] + arrivals[41]).div_ceil(2),
            0,
        ] {
            let expected = arrivals.partition_point(|&a| a < time);
            let it = at(StartingPosition::AtTimestamp(time)).await.unwrap();
            let got = first(it).await;
            assert_eq!(
                got,
                (expected < 200).then(|| expected.to_string()),
                "{}: AT_TIMESTAMP {time}",
                env.kind()
            );
        }
        let it = at(StartingPosition::AtTimestamp(arrivals[199] + 1_000_000)).await.unwrap();
        assert_eq!(first(it).await, None);
        // A sequence number not yet written, or of another shard, is refused.
        let next = SequenceNumber(seqs[199].0 + 1);
        assert!(matches!(
            at(StartingPosition::AtSequenceNumber(next)).await,
            Err(StreamError::InvalidArgument(_))
        ));
        let other = SequenceNumber(seqs[0].0 | (1 << 64));
        assert!(matches!(
            at(StartingPosition::AtSequenceNumber(other)).await,
            Err(StreamError::InvalidArgument(_))
        ));
        assert!(matches!(
            stream.shard_iterator(ShardId(1), StartingPosition::Latest).await,
            Err(StreamError::InvalidArgument(_))
        ));
    }
}

#[tokio::test]
async fn get_records_returns_at_most_the_limit_and_says_how_far_behind_the_reader_is() {
    for env in Engine::all().await {
        let stream = env.open(small_config(1)).await;
        for i in 0..30 {
            let batch: Vec<_> = (0..500).map(|j| rec("k", &format!("{i}-{j}"))).collect();
            stream.put_records(batch).await.unwrap();
        }
        // The engine's clock reads 5 s after the last arrival (JetStream's servers stamp
        // arrivals on the wall clock, so its clock is set to the wall first).
        env.clock.set(env.now_ms());
        env.clock.advance(Duration::from_secs(5));
        let it = stream.shard_iterator(ShardId(0), StartingPosition::TrimHorizon).await.unwrap();
        let out = stream.get_records(&it, 10_000, Duration::ZERO).await.unwrap();
        assert_eq!(out.records.len(), 10_000);
        // Behind by the age of the last record returned, on the engine's clock.
        let last = out.records.last().unwrap().arrival_ms;
        let behind = env.clock.now_ms().saturating_sub(last);
        assert_eq!(out.millis_behind_latest, behind, "{}", env.kind());
        assert!(behind >= 5000, "{}: {behind}", env.kind());
        if env.kind == Kind::Memory {
            assert_eq!(out.millis_behind_latest, 5000);
        }
        let out = stream.get_records(&out.next_iterator, 10_000, Duration::ZERO).await.unwrap();
        assert_eq!(out.records.len(), 5_000);
        assert_eq!(out.millis_behind_latest, 0);
        assert!(matches!(
            stream.get_records(&it, 10_001, Duration::ZERO).await,
            Err(StreamError::InvalidArgument(_))
        ));
        assert!(matches!(
            stream.get_records(&it, 0, Duration::ZERO).await,
            Err(StreamError::InvalidArgument(_))
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_at_the_tip_wakes_up_when_a_record_arrives() {
    for env in Engine::all().await {
        let stream = std::sync::Arc::new(env.open(small_config(1)).await);
        let it = stream.shard_iterator(ShardId(0), StartingPosition::Latest).await.unwrap();
        let reader = {
            let stream = std::sync::Arc::clone(&stream);
            // A wait far longer than the test: only the new record can end it in time.
            tokio::spawn(
                async move { stream.get_records(&it, 100, Duration::from_secs(600)).await },
            )
        };
        stream.put_records(vec![rec("k", "hello")]).await.unwrap();
        let out =
            tokio::time::timeout(Duration::from_secs(30), reader).await.unwrap().unwrap().unwrap();
        assert_eq!(out.records.len(), 1, "{}", env.kind());
        assert_eq!(&out.records[0].data[..], b"hello");
    }
}

#[tokio::test(start_paused = true)]
async fn a_reader_at_the_tip_returns_nothing_when_the_wait_runs_out() {
    // Paused tokio time: the embedded engines only (a network client's timers would fire at
    // once); JetStream's variant is the next test.
    for env in Engine::embedded() {
        let stream = env.open(small_config(1)).await;
        let it = stream.shard_iterator(ShardId(0), StartingPosition::Latest).await.unwrap();
        let out = stream.get_records(&it, 100, Duration::from_secs(5)).await.unwrap();
        assert!(out.records.is_empty());
        assert_eq!(out.next_iterator, it);
        assert_eq!(out.millis_behind_latest, 0);
    }
}

#[tokio::test]
async fn a_jetstream_reader_at_the_tip_returns_nothing_when_the_wait_runs_out() {
    let env = Engine::jetstream().await;
    let stream = env.open(small_config(2)).await;
    // Another shard's records do not end the wait.
    let other = stream
        .put_records(vec![PutRecord {
            partition_key: "k".into(),
            explicit_hash_key: Some(u128::MAX),
            data: Bytes::from_static(b"x"),
        }])
        .await
        .unwrap();
    assert_eq!(other.records[0].as_ref().unwrap().shard_id, ShardId(1));
    let it = stream.shard_iterator(ShardId(0), StartingPosition::Latest).await.unwrap();
    let wait = Duration::from_millis(400);
    let started = std::time::Instant::now();
    let out = stream.get_records(&it, 100, wait).await.unwrap();
    // The server held the request for the whole wait, then it ended empty.
    assert!(started.elapsed() >= wait, "returned after {:?}", started.elapsed());
    assert!(out.records.is_empty());
    assert_eq!(out.next_iterator, it);
    assert_eq!(out.millis_behind_latest, 0);
}

#[tokio::test]
async fn consumers_keep_their_own_checkpoints_across_restarts() {
    for env in Engine::all().await {
        let stream = env.open(small_config(2)).await;
        let out =
            stream.put_records((0..50).map(|i| rec(&i.to_string(), "x")).collect()).await.unwrap();
        let seqs: Vec<_> = out.records.iter().map(|r| *r.as_ref().unwrap()).collect();
        let a = seqs.iter().find(|r| r.shard_id == ShardId(0)).unwrap();
        let b = seqs.iter().rev().find(|r| r.shard_id == ShardId(1)).unwrap();
        stream.checkpoint("leaderboard", a.shard_id, a.sequence_number).await.unwrap();
        stream.checkpoint("delivery", b.shard_id, b.sequence_number).await.unwrap();
        stream.checkpoint("delivery", a.shard_id, a.sequence_number).await.unwrap();
        stream.close().await;

        let stream = env.open(small_config(2)).await;
        let leaderboard = stream.checkpoints("leaderboard").await.unwrap();
        assert_eq!(
            leaderboard.into_iter().collect::<Vec<_>>(),
            vec![(a.shard_id, a.sequence_number)]
        );
        let delivery = stream.checkpoints("delivery").await.unwrap();
        assert_eq!(delivery.len(), 2, "{}", env.kind());
        assert_eq!(delivery[&b.shard_id], b.sequence_number);
        assert!(stream.checkpoints("nobody").await.unwrap().is_empty());
        // Resume after the checkpoint.
        let it = stream
            .shard_iterator(
                b.shard_id,
                StartingPosition::AfterSequenceNumber(delivery[&b.shard_id]),
            )
            .await
            .unwrap();
        assert!(stream.get_records(&it, 10, Duration::ZERO).await.unwrap().records.is_empty());
        assert!(matches!(
            stream.checkpoint("../escape", a.shard_id, a.sequence_number).await,
            Err(StreamError::InvalidArgument(_))
        ));
        let unwritten = SequenceNumber(b.sequence_number.0 + 1);
        assert!(matches!(
            stream.checkpoint("delivery", b.shard_id, unwritten).await,
            Err(StreamError::InvalidArgument(_))
        ));
    }
}

#[tokio::test]
async fn retention_deletes_whole_expired_segments_and_moves_the_trim_horizon() {
    // On the manual clock, so the embedded engines only; JetStream's variant is the next test.
    for env in Engine::embedded() {
        let config = StreamConfig { retention: Duration::from_secs(3600), ..small_config(1) };
        let stream = env.open(config.clone()).await;
        let shard = ShardId(0);
        let old_iterator =
            stream.shard_iterator(shard, StartingPosition::TrimHorizon).await.unwrap();
        for i in 0..100 {
            stream
                .put_records(vec![rec("k", &format!("old {i} {}", "x".repeat(100)))])
                .await
                .unwrap();
        }
        env.clock.advance(Duration::from_secs(1800));
        for i in 0..100 {
            stream
                .put_records(vec![rec("k", &format!("new {i} {}", "x".repeat(100)))])
                .await
                .unwrap();
        }
        assert_eq!(stream.disk().enforce_retention().await.unwrap(), 0);
        env.clock.advance(Duration::from_secs(1801));
        let deleted = stream.disk().enforce_retention().await.unwrap();
        assert!(deleted > 0, "{}", env.kind());
        let kept = read_all(&*stream, shard).await;
        // Whole segments go: every old record in a segment with a new one may stay.
        assert!(kept.len() < 200 && kept.len() >= 100, "{} kept {}", env.kind(), kept.len());
        assert!(kept.iter().rev().take(100).all(|r| r.data.starts_with(b"new")));
        assert!(matches!(
            stream.get_records(&old_iterator, 10, Duration::ZERO).await,
            Err(StreamError::ExpiredIterator(_))
        ));
        stream.close().await;

        // Everything expires; the sequence numbers still go on after a restart.
        env.clock.advance(Duration::from_secs(7200));
        let stream = env.open(config).await;
        stream.disk().enforce_retention().await.unwrap();
        assert!(read_all(&*stream, shard).await.is_empty());
        let out = stream.put_records(vec![rec("k", "after")]).await.unwrap();
        assert_eq!(out.records[0].as_ref().unwrap().sequence_number.0, 200);
        assert_eq!(read_all(&*stream, shard).await.len(), 1);
    }
}

#[tokio::test]
async fn jetstream_retention_removes_expired_records_and_moves_the_trim_horizon() {
    let env = Engine::jetstream().await;
    let config = StreamConfig { retention: Duration::from_secs(2), ..small_config(1) };
    let stream = env.open(config.clone()).await;
    let shard = ShardId(0);
    let old_iterator = stream.shard_iterator(shard, StartingPosition::TrimHorizon).await.unwrap();
    let mut last_old = None;
    for i in 0..100 {
        let out = stream.put_records(vec![rec("k", &format!("old {i}"))]).await.unwrap();
        last_old = Some(out.records[0].as_ref().unwrap().sequence_number);
    }
    assert_eq!(read_all(&*stream, shard).await.len(), 100);
    // JetStream removes them once older than max_age: wait for that, with a deadline.
    alleycat_testkit::eventually(Duration::from_secs(30), "the records expire", || async {
        read_all(&*stream, shard).await.is_empty().then_some(())
    })
    .await;
    // A position at a removed record starts at what is left (here: nothing yet). An iterator
    // retention passed reads on from the oldest kept record: JetStream numbers the whole
    // stream, so it cannot tell this shard's loss from other shards' (see the module docs).
    let it = stream
        .shard_iterator(shard, StartingPosition::AtSequenceNumber(last_old.unwrap()))
        .await
        .unwrap();
    stream.put_records(vec![rec("k", "new")]).await.unwrap();
    for it in [it, old_iterator] {
        let out = stream.get_records(&it, 10, Duration::ZERO).await.unwrap();
        assert_eq!(out.records.len(), 1);
        assert_eq!(&out.records[0].data[..], b"new");
    }
    stream.close().await;

    // The sequence numbers go on after reopening.
    let stream = env.open(config).await;
    let out = stream.put_records(vec![rec("k", "after")]).await.unwrap();
    assert!(out.records[0].as_ref().unwrap().sequence_number > last_old.unwrap());
}

#[tokio::test]
async fn reopening_with_another_shard_count_keeps_the_stored_shards() {
    // Every engine keeps its shard map (resharding changes it, not the setting).
    for env in Engine::all().await {
        env.open(small_config(4)).await.close().await;
        let stream = env.open(small_config(2)).await;
        assert_eq!(stream.shards().len(), 4, "{}", env.kind());
        let out = stream.put_records(vec![rec("k", "x")]).await.unwrap();
        assert_eq!(out.records[0].as_ref().unwrap().shard_id, route(hash_key("k"), 4));
    }
}

async fn put(stream: &dyn Stream, key: &str, data: &str) -> PutRecordOk {
    let out = stream.put_records(vec![rec(key, data)]).await.unwrap();
    out.records[0].clone().unwrap()
}

#[tokio::test]
async fn a_split_closes_the_parent_with_its_records_and_routes_later_ones_to_the_children() {
    for env in Engine::all().await {
        let stream = env.open(small_config(1)).await;
        let mut last_before = SequenceNumber(0);
        for i in 0..10 {
            last_before =
                put(&*stream, &format!("k{i}"), &format!("before-{i}")).await.sequence_number;
        }
        stream
            .reshard(Reshard::Split { shard: ShardId(0), new_starting_hash_key: 1u128 << 127 })
            .await
            .unwrap();
        let mut later = BTreeMap::new();
        let mut first_after = None;
        for i in 0..10 {
            let ok = put(&*stream, &format!("k{i}"), &format!("after-{i}")).await;
            assert_ne!(ok.shard_id, ShardId(0), "{}: a closed shard takes no records", env.kind());
            first_after.get_or_insert(ok.sequence_number);
            later.entry(ok.shard_id).or_insert_with(Vec::new).push(format!("after-{i}"));
        }
        let shards = stream.shards();
        assert_eq!(shards.len(), 3);
        let ending = shards[0].ending_sequence_number.expect("the parent is closed");
        if env.kind == Kind::JetStream {
            // The bound below the reshard in JetStream's numbering of the whole stream: at or
            // after the parent's last record, before every child's first.
            assert!(ending >= last_before && ending.0 >> 64 == 0, "{ending} {last_before}");
            assert!((ending.0 as u64) < first_after.unwrap().0 as u64);
        } else {
            assert_eq!(ending, last_before, "{}", env.kind());
        }
        assert_eq!(shards[1].parent_shard_id, Some(ShardId(0)));
        assert_eq!(shards[2].parent_shard_id, Some(ShardId(0)));
        assert_eq!(shards[2].starting_hash_key, 1u128 << 127);
        assert!(shards[1].is_open() && shards[2].is_open() && !shards[0].is_open());

        let (parent, children) = read_to_end(&*stream, ShardId(0)).await;
        assert_eq!(parent.len(), 10, "{}", env.kind());
        assert_eq!(children, Some(vec![ShardId(1), ShardId(2)]));
        for (shard, expected) in &later {
            assert_eq!(read_to_end(&*stream, *shard).await, (expected.clone(), None));
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
        // The ending sequence number is a position readers and checkpoints take.
        let after = StartingPosition::AfterSequenceNumber(ending);
        let at_end = stream.shard_iterator(ShardId(0), after).await.unwrap();
        assert!(stream
            .get_records(&at_end, 10, Duration::ZERO)
            .await
            .unwrap()
            .child_shards
            .is_some());
        stream.checkpoint("c", ShardId(0), ending).await.unwrap();
        stream.close().await;

        // The map, the closed parent and the checkpoints survive a reopen.
        let stream = env.open(small_config(1)).await;
        assert_eq!(stream.shards(), shards, "{}", env.kind());
        assert_eq!(read_to_end(&*stream, ShardId(0)).await.0, parent);
        assert_eq!(stream.checkpoints("c").await.unwrap()[&ShardId(0)], ending);
        assert_ne!(put(&*stream, "k1", "again").await.shard_id, ShardId(0));
    }
}

#[tokio::test]
async fn merges_and_uniform_scaling_keep_one_open_shard_per_hash_key() {
    for env in Engine::all().await {
        let stream = env.open(small_config(4)).await;
        let open_count =
            |stream: &dyn Stream| stream.shards().iter().filter(|s| s.is_open()).count();
        stream.reshard(Reshard::Scale { target: 8 }).await.unwrap();
        assert_eq!(open_count(&*stream), 8, "{}", env.kind());
        stream.reshard(Reshard::Scale { target: 5 }).await.unwrap();
        assert_eq!(open_count(&*stream), 5);
        let open: Vec<ShardId> =
            stream.shards().iter().filter(|s| s.is_open()).map(|s| s.shard_id).collect();
        let not_adjacent = Reshard::Merge { shard: open[0], adjacent: open[2] };
        assert!(matches!(stream.reshard(not_adjacent).await, Err(StreamError::InvalidArgument(_))));
        stream.reshard(Reshard::Merge { shard: open[0], adjacent: open[1] }).await.unwrap();
        assert_eq!(open_count(&*stream), 4);
        let batch: Vec<_> = (0..50).map(|i| rec(&format!("key-{i}"), "x")).collect();
        let out = stream.put_records(batch).await.unwrap();
        let shards = stream.shards();
        for ok in out.records.iter().map(|r| r.as_ref().unwrap()) {
            assert!(
                shards[ok.shard_id.0 as usize].is_open(),
                "{}: put into a closed shard",
                env.kind()
            );
        }
        stream.close().await;
        let stream = env.open(small_config(4)).await;
        assert_eq!(open_count(&*stream), 4, "{}", env.kind());
    }
}

#[tokio::test]
async fn lineage_order_reads_every_record_once_and_each_key_in_order_across_reshards() {
    for env in Engine::all().await {
        let stream = env.open(small_config(2)).await.into_arc();
        let keys = 40;
        let mut expected: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for round in 0..4u32 {
            let batch: Vec<_> = (0..keys)
                .map(|k| rec(&format!("racer-{k}"), &format!("racer-{k}:{round}")))
                .collect();
            let out = stream.put_records(batch).await.unwrap();
            assert_eq!(out.failed_record_count, 0, "{}", env.kind());
            for k in 0..keys {
                expected.entry(format!("racer-{k}")).or_default().push(round);
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
        assert_eq!(got, expected, "{}: each key's records, once each and in order", env.kind());
    }
}

#[tokio::test]
async fn shards_cover_the_hash_space_and_name_their_first_sequence_number() {
    for env in Engine::all().await {
        let stream = env.open(StreamConfig::default()).await;
        let shards = stream.shards();
        assert_eq!(shards.len(), 4);
        assert_eq!(shards[0].starting_hash_key, 0);
        assert_eq!(shards[3].ending_hash_key, u128::MAX);
        let out = stream
            .put_records(vec![PutRecord {
                partition_key: "k".into(),
                explicit_hash_key: Some(shards[2].starting_hash_key),
                data: Bytes::new(),
            }])
            .await
            .unwrap();
        let first = out.records[0].as_ref().unwrap().sequence_number;
        if env.kind == Kind::JetStream {
            // JetStream numbers the whole stream: the shard's start is a lower bound of its shard.
            assert!(first >= shards[2].starting_sequence_number);
            assert_eq!(first.0 >> 64, shards[2].starting_sequence_number.0 >> 64);
            assert!(first < shards[3].starting_sequence_number);
        } else {
            assert_eq!(first, shards[2].starting_sequence_number);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_all_get_durable_distinct_sequence_numbers() {
    for env in Engine::all().await {
        let stream = std::sync::Arc::new(env.open(small_config(4)).await);
        let mut tasks = Vec::new();
        for w in 0..8 {
            let stream = std::sync::Arc::clone(&stream);
            tasks.push(tokio::spawn(async move {
                let mut acked = Vec::new();
                for b in 0..10 {
                    let batch: Vec<_> = (0..50)
                        .map(|i| rec(&format!("{w}-{i}"), &format!("{w}/{b}/{i}")))
                        .collect();
                    let out = stream.put_records(batch.clone()).await.unwrap();
                    for (r, ok) in batch.into_iter().zip(out.records) {
                        acked.push((ok.unwrap(), r.data));
                    }
                }
                acked
            }));
        }
        let mut acked = Vec::new();
        for task in tasks {
            acked.extend(task.await.unwrap());
        }
        let shards = read_everything(&**stream).await;
        assert_eq!(shards.iter().map(Vec::len).sum::<usize>(), 4000);
        for (ok, data) in acked {
            let records = &shards[ok.shard_id.0 as usize];
            let found = records.iter().find(|r| r.sequence_number == ok.sequence_number).unwrap();
            assert_eq!(found.data, data);
        }
    }
}

#[tokio::test]
async fn a_second_engine_cannot_open_a_stream_that_is_in_use() {
    // The embedded engines only: a JetStream stream is shared by several servers by design
    // (`stream_jetstream::two_handles_on_one_cluster_see_each_others_records`).
    for env in Engine::embedded() {
        let stream = env.open(small_config(1)).await;
        match env.try_open(small_config(1)).await {
            Err(StreamError::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock),
            Err(other) => panic!("{}: unexpected {other:?}", env.kind()),
            Ok(_) => panic!("{}: opened twice", env.kind()),
        }
        stream.close().await;
        env.open(small_config(1)).await;
    }
}
