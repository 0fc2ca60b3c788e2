//! Known errors: torn and corrupt tails, corrupt checkpoints, full disks and failed writes or
//! fsyncs. Each must end in a clear error or a clean recovery, and never lose an acknowledged
//! record.

mod stream_support;

use std::{
    io,
    path::{Path, PathBuf},
    time::Duration,
};

use alleycat_ingest::stream::{
    hash_key, route, segment, PutRecord, PutRecordOk, RecordErrorCode, SequenceNumber, ShardId,
    Stream, StreamConfig, StreamError, SyncPolicy,
};
use bytes::Bytes;
use stream_support::{read_all, read_everything, rec, small_config, Env};

fn shard_dir(env: &Env, shard: u32) -> PathBuf {
    env.dir.join(format!("shard-{shard:06}"))
}

/// The segments of shard 0, oldest first.
fn segments(env: &Env) -> Vec<PathBuf> {
    let dir = shard_dir(env, 0);
    let mut names = env.fs.list_files(&dir).unwrap();
    names.sort();
    names.into_iter().map(|n| dir.join(n)).collect()
}

fn append(env: &Env, path: &Path, bytes: &[u8]) {
    let file = env.fs.open(path, false, false).unwrap();
    let len = file.len().unwrap();
    file.write_all_at(bytes, len).unwrap();
    file.sync_data().unwrap();
}

fn flip_byte(env: &Env, path: &Path, from_end: u64) {
    let file = env.fs.open(path, false, false).unwrap();
    let at = file.len().unwrap() - from_end;
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, at).unwrap();
    file.write_all_at(&[byte[0] ^ 0x40], at).unwrap();
    file.sync_data().unwrap();
}

/// Puts `n` single-record calls to shard 0 (one shard), returning what was acknowledged.
async fn put_n(stream: &impl Stream, n: usize, tag: &str) -> Vec<(PutRecordOk, Bytes)> {
    let mut acked = Vec::new();
    for i in 0..n {
        let record = rec("k", &format!("{tag} {i}"));
        let out = stream.put_records(vec![record.clone()]).await.unwrap();
        if let Ok(ok) = &out.records[0] {
            acked.push((*ok, record.data));
        }
    }
    acked
}

async fn assert_all_present(stream: &impl Stream, acked: &[(PutRecordOk, Bytes)]) {
    let mut iterator = stream
        .shard_iterator(ShardId(0), alleycat_ingest::stream::StartingPosition::TrimHorizon)
        .await
        .unwrap();
    let mut records = Vec::new();
    loop {
        let out = stream.get_records(&iterator, 10_000, Duration::ZERO).await.unwrap();
        if out.records.is_empty() {
            break;
        }
        records.extend(out.records);
        iterator = out.next_iterator;
    }
    for pair in records.windows(2) {
        assert_eq!(pair[0].sequence_number.0 + 1, pair[1].sequence_number.0, "gap or duplicate");
    }
    for (ok, data) in acked {
        let found = records.iter().find(|r| r.sequence_number == ok.sequence_number);
        assert_eq!(found.map(|r| &r.data), Some(data), "acknowledged {} lost", ok.sequence_number);
    }
}

#[tokio::test]
async fn restart_after_a_torn_final_record_keeps_every_acknowledged_record() {
    for env in Env::both() {
        let stream = env.open(small_config(1));
        let acked = put_n(&stream, 100, "before").await;
        stream.close().await;
        let mut frame = Vec::new();
        segment::encode_frame(&mut frame, 100, 0, b"k", b"never acknowledged");
        let last = segments(&env).pop().unwrap();
        append(&env, &last, &frame[..frame.len() / 2]);

        let stream = env.open(small_config(1));
        assert_all_present(&stream, &acked).await;
        assert_eq!(read_all(&stream, ShardId(0)).await.len(), 100, "{}", env.kind());
        let more = put_n(&stream, 5, "after").await;
        assert_eq!(more[0].0.sequence_number, SequenceNumber(100));
        assert_all_present(&stream, &[acked, more].concat()).await;
    }
}

#[tokio::test]
async fn restart_after_a_corrupted_final_record_cuts_it_off_and_keeps_the_rest() {
    for env in Env::both() {
        let stream = env.open(small_config(1));
        let acked = put_n(&stream, 100, "record").await;
        stream.close().await;
        let last = segments(&env).pop().unwrap();
        flip_byte(&env, &last, 3);

        let stream = env.open(small_config(1));
        let records = read_all(&stream, ShardId(0)).await;
        assert_eq!(records.len(), 99, "{}", env.kind());
        assert_all_present(&stream, &acked[..99]).await;
        // The writer goes on from the cut.
        let more = put_n(&stream, 1, "after").await;
        assert_eq!(more[0].0.sequence_number, SequenceNumber(99));
    }
}

#[tokio::test]
async fn a_newest_segment_whose_header_never_became_durable_is_removed() {
    for env in Env::both() {
        let stream = env.open(small_config(1));
        let acked = put_n(&stream, 100, "record").await;
        stream.close().await;
        let torn = shard_dir(&env, 0).join(segment::segment_name(100));
        let file = env.fs.open(&torn, true, true).unwrap();
        file.write_all_at(b"ALLEYSEG\x01\x00", 0).unwrap();

        let stream = env.open(small_config(1));
        assert_all_present(&stream, &acked).await;
        assert!(!env.fs.exists(&torn).unwrap());
        assert_eq!(put_n(&stream, 1, "after").await[0].0.sequence_number, SequenceNumber(100));
    }
}

#[tokio::test]
async fn a_damaged_older_segment_is_a_clear_read_error_never_a_silent_gap() {
    for env in Env::both() {
        let stream = env.open(small_config(1));
        put_n(&stream, 200, "record").await;
        stream.close().await;
        let all = segments(&env);
        assert!(all.len() >= 2, "{} segments", all.len());
        flip_byte(&env, &all[0], 100);
        // Sealed segments are checked when first read, so opening stays fast on big streams.
        let stream = env.open(small_config(1));
        let it = stream
            .shard_iterator(ShardId(0), alleycat_ingest::stream::StartingPosition::TrimHorizon)
            .await
            .unwrap();
        match stream.get_records(&it, 10_000, Duration::ZERO).await {
            Err(StreamError::Io(e)) => {
                assert_eq!(e.kind(), io::ErrorKind::InvalidData);
                assert!(e.to_string().contains("readable"), "{e}");
            }
            other => panic!("{}: unexpected {other:?}", env.kind()),
        }
        // The newest records are still served, and writes go on.
        let latest = stream
            .shard_iterator(ShardId(0), alleycat_ingest::stream::StartingPosition::Latest)
            .await
            .unwrap();
        assert_eq!(put_n(&stream, 1, "after").await[0].0.sequence_number, SequenceNumber(200));
        let out = stream.get_records(&latest, 10, Duration::ZERO).await.unwrap();
        assert_eq!(out.records.len(), 1);
    }
}

#[tokio::test]
async fn a_corrupt_checkpoint_is_reported_with_the_consumer_name_and_a_new_one_replaces_it() {
    for env in Env::both() {
        let stream = env.open(small_config(1));
        let acked = put_n(&stream, 10, "record").await;
        stream.checkpoint("delivery", ShardId(0), acked[5].0.sequence_number).await.unwrap();
        let file = env.dir.join("consumers/delivery/shard-000000.ckpt");
        flip_byte(&env, &file, 10);
        match stream.checkpoints("delivery").await {
            Err(StreamError::CorruptCheckpoint { consumer, reason }) => {
                assert_eq!(consumer, "delivery");
                assert!(reason.contains("checksum"), "{reason}");
            }
            other => panic!("unexpected {other:?}"),
        }
        // A torn (short) checkpoint file is just as clearly reported.
        let handle = env.fs.open(&file, false, false).unwrap();
        handle.set_len(7).unwrap();
        assert!(matches!(
            stream.checkpoints("delivery").await,
            Err(StreamError::CorruptCheckpoint { .. })
        ));
        stream.checkpoint("delivery", ShardId(0), acked[7].0.sequence_number).await.unwrap();
        let restored = stream.checkpoints("delivery").await.unwrap();
        assert_eq!(restored[&ShardId(0)], acked[7].0.sequence_number);
    }
}

#[tokio::test]
async fn a_full_disk_fails_the_records_with_internal_failure_and_loses_nothing_acknowledged() {
    let env = Env::mem();
    let mem = env.mem.clone().unwrap();
    let stream = env.open(small_config(1));
    let mut acked = put_n(&stream, 50, "before").await;
    mem.set_capacity(mem.used_bytes() + 1000);
    let big = "x".repeat(2000);
    let out = stream.put_records(vec![rec("k", &big), rec("k", &big)]).await.unwrap();
    assert_eq!(out.failed_record_count, 2);
    for result in &out.records {
        let error = result.as_ref().unwrap_err();
        assert_eq!(error.code, RecordErrorCode::InternalFailure);
        assert!(error.code.is_retryable());
        assert!(error.message.contains("No space left on device"), "{}", error.message);
    }
    assert_all_present(&stream, &acked).await;
    mem.set_capacity(u64::MAX);
    acked.extend(put_n(&stream, 10, "after").await);
    assert_eq!(acked.len(), 60);
    assert_eq!(acked[50].0.sequence_number, SequenceNumber(50), "no gap after the failure");
    stream.close().await;
    mem.crash(|_, _| 0);
    let stream = env.open(small_config(1));
    assert_all_present(&stream, &acked).await;
    assert_eq!(read_all(&stream, ShardId(0)).await.len(), 60);
}

#[tokio::test]
async fn a_failed_write_fails_its_records_and_the_stream_goes_on_once_writes_work() {
    let env = Env::mem();
    let mem = env.mem.clone().unwrap();
    let stream = env.open(small_config(2));
    let before = stream.put_records((0..20).map(|i| rec(&i.to_string(), "a")).collect()).await;
    assert_eq!(before.unwrap().failed_record_count, 0);
    mem.fail_writes(true);
    let out = stream.put_records((0..20).map(|i| rec(&i.to_string(), "b")).collect()).await;
    let out = out.unwrap();
    assert_eq!(out.failed_record_count, 20);
    assert!(out
        .records
        .iter()
        .all(|r| r.as_ref().unwrap_err().code == RecordErrorCode::InternalFailure));
    mem.fail_writes(false);
    let out = stream.put_records((0..20).map(|i| rec(&i.to_string(), "c")).collect()).await;
    assert_eq!(out.unwrap().failed_record_count, 0);
    for shard in 0..2 {
        let records = read_all(&stream, ShardId(shard)).await;
        assert!(records.iter().all(|r| &r.data[..] != b"b"));
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r.sequence_number.0 & u128::from(u64::MAX), i as u128);
        }
    }
}

#[tokio::test]
async fn a_failed_fsync_is_never_acknowledged_and_its_bytes_are_cut_before_the_next_write() {
    let env = Env::mem();
    let mem = env.mem.clone().unwrap();
    let stream = env.open(small_config(1));
    let mut acked = put_n(&stream, 20, "before").await;
    mem.fail_syncs(true);
    let failed = put_n(&stream, 3, "unsynced").await;
    assert!(failed.is_empty(), "a record was acknowledged without fsync");
    mem.fail_syncs(false);
    acked.extend(put_n(&stream, 5, "after").await);
    assert_eq!(acked[20].0.sequence_number, SequenceNumber(20));
    stream.close().await;
    // Even if every unsynced byte had reached the disk, nothing failed comes back.
    mem.crash(|_, unsynced| unsynced);
    let stream = env.open(small_config(1));
    let records = read_all(&stream, ShardId(0)).await;
    assert_eq!(records.len(), 25);
    assert!(records.iter().all(|r| !r.data.starts_with(b"unsynced")));
    assert_all_present(&stream, &acked).await;
}

/// 200 records whose keys spread over every shard of a 4-shard stream.
fn spread(tag: &str) -> Vec<PutRecord> {
    (0..200).map(|i| rec(&format!("racer-{i}"), &format!("{tag} {i}"))).collect()
}

#[tokio::test]
async fn a_failed_fsync_on_one_shard_fails_only_its_records_and_the_other_shards_are_acknowledged()
{
    let env = Env::mem();
    let mem = env.mem.clone().unwrap();
    let stream = env.open(small_config(4));
    let before = stream.put_records(spread("before")).await.unwrap();
    assert_eq!(before.failed_record_count, 0);
    mem.fail_syncs_in(&shard_dir(&env, 1), true);
    // Concurrent puts, so that a commit cycle holds several puts and every shard at once.
    let during: Vec<_> = futures::future::join_all(
        (0..4).map(|w| stream.put_records(spread(&format!("during-{w}")))),
    )
    .await
    .into_iter()
    .map(Result::unwrap)
    .collect();
    let mut acked_during = 0;
    for out in &during {
        let mut failed = 0;
        for (i, result) in out.records.iter().enumerate() {
            let shard = route(hash_key(&format!("racer-{i}")), 4);
            match result {
                Ok(ok) => {
                    assert_ne!(shard, ShardId(1), "record {i} acknowledged without its fsync");
                    assert_eq!(ok.shard_id, shard);
                    acked_during += 1;
                }
                Err(error) => {
                    assert_eq!(
                        shard,
                        ShardId(1),
                        "record {i} of a healthy shard failed: {error:?}"
                    );
                    assert_eq!(error.code, RecordErrorCode::InternalFailure);
                    assert!(error.message.contains("shardId-000000000001"), "{}", error.message);
                    assert!(error.message.contains("fsync"), "{}", error.message);
                    failed += 1;
                }
            }
        }
        assert_eq!(out.failed_record_count, failed);
        assert!(failed > 0 && failed < 200, "{failed} of 200 failed");
    }
    mem.fail_syncs_in(&shard_dir(&env, 1), false);
    let after = stream.put_records(spread("after")).await.unwrap();
    assert_eq!(after.failed_record_count, 0);
    drop(stream);
    // Even if every unsynced byte had reached the disk, nothing failed comes back.
    mem.crash(|_, unsynced| unsynced);
    let stream = env.open(small_config(4));
    let shards = read_everything(&stream).await;
    let mut kept_during = 0;
    for (shard, records) in shards.iter().enumerate() {
        for (n, record) in records.iter().enumerate() {
            assert_eq!(record.sequence_number.0 & u128::from(u64::MAX), n as u128, "gap");
        }
        let from_during = records.iter().filter(|r| r.data.starts_with(b"during")).count();
        if shard == 1 {
            assert_eq!(from_during, 0, "a failed record came back");
        }
        kept_during += from_during;
    }
    assert_eq!(kept_during, acked_during, "only the acknowledged records of the put are kept");
    // Every acknowledgement names its record, in place: the failed shard gave its counters
    // again, so its records after the failure follow the ones before it without a gap.
    let tags = ["before".to_owned(), "after".to_owned()]
        .into_iter()
        .chain((0..4).map(|w| format!("during-{w}")));
    for (out, tag) in [&before, &after].into_iter().chain(&during).zip(tags) {
        for (i, result) in out.records.iter().enumerate() {
            let Ok(ok) = result else { continue };
            let counter = (ok.sequence_number.0 & u128::from(u64::MAX)) as usize;
            let record = &shards[ok.shard_id.0 as usize][counter];
            assert_eq!(record.sequence_number, ok.sequence_number);
            assert_eq!(&record.data[..], format!("{tag} {i}").as_bytes());
        }
    }
}

#[tokio::test]
async fn a_power_cut_loses_nothing_acknowledged_under_the_durable_policy() {
    for keep in [0usize, 1, 7, usize::MAX] {
        let env = Env::mem();
        let mem = env.mem.clone().unwrap();
        let stream = env.open(small_config(1));
        let acked = put_n(&stream, 120, "record").await;
        drop(stream);
        mem.crash(|_, unsynced| unsynced.min(keep));
        let stream = env.open(small_config(1));
        assert_all_present(&stream, &acked).await;
    }
}

#[tokio::test]
async fn a_power_cut_under_the_relaxed_policy_leaves_a_clean_prefix() {
    for keep in [0usize, 1, 9, 30, 31, 500] {
        let env = Env::mem();
        let mem = env.mem.clone().unwrap();
        let config = StreamConfig {
            sync: SyncPolicy::Interval(Duration::from_secs(3600)),
            segment_bytes: 1 << 20,
            ..small_config(1)
        };
        let stream = env.open(config.clone());
        let acked = put_n(&stream, 40, "record").await;
        assert_eq!(acked.len(), 40);
        mem.crash(|_, unsynced| unsynced.min(keep));
        let stream = env.open(config);
        let records = read_all(&stream, ShardId(0)).await;
        // A prefix of what was acknowledged, in order, without gaps or torn records.
        assert!(records.len() <= 40);
        for (r, (ok, data)) in records.iter().zip(&acked) {
            assert_eq!((r.sequence_number, &r.data), (ok.sequence_number, data));
        }
    }
}

#[tokio::test]
async fn the_relaxed_policy_syncs_once_its_interval_has_passed_even_under_steady_load() {
    let env = Env::mem();
    let mem = env.mem.clone().unwrap();
    // A zero interval: every group is synced right after it is acknowledged, before the writer
    // takes the next group; so once a put returns, every earlier put is durable.
    let config = StreamConfig { sync: SyncPolicy::Interval(Duration::ZERO), ..small_config(1) };
    let stream = env.open(config.clone());
    let acked = put_n(&stream, 30, "record").await;
    mem.crash(|_, _| 0);
    drop(stream);
    let stream = env.open(config);
    assert_all_present(&stream, &acked[..acked.len() - 1]).await;
}
