//! The stream under injected faults, in memory: `ENOSPC` and `EIO` at each filesystem step of a
//! put (the write, its fsync, the ftruncate that cuts a failed write, a new segment's creation,
//! its header and the directory fsync), of a checkpoint's replacement, and of retention. In
//! every case the puts in flight are answered with an error, every acknowledged record is kept
//! (also across a power cut), the stream reports the fault while it lasts, and puts are stored
//! again once it is gone, with no restart.

mod stream_support;

use std::time::Duration;

use alleycat_ingest::stream::{
    hash_key, route, FsOp, Injected, MemFs, PutRecord, PutRecordOk, RecordErrorCode, ShardId,
    Stream, StreamConfig, StreamHealth,
};
use bytes::Bytes;
use stream_support::{read_all, read_everything, rec, Env};

/// Segments of 4 KiB, so that a single large record fills one.
fn config() -> StreamConfig {
    StreamConfig { shards: 2, segment_bytes: 4096, ..StreamConfig::default() }
}

/// Where a fault is injected, and what the put in flight must do to reach it.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// The `pwrite` of the records.
    Write,
    /// The `fdatasync` of the segment.
    Sync,
    /// The `ftruncate` that cuts a failed write off (after a write failed too).
    Truncate,
    /// Creating the next segment file (the active one is full).
    CreateSegment,
    /// The next segment's header (the active one is full).
    SegmentHeader,
    /// The directory fsync after creating the next segment (the active one is full).
    SegmentDirSync,
}

impl Step {
    const ALL: [Step; 6] = [
        Step::Write,
        Step::Sync,
        Step::Truncate,
        Step::CreateSegment,
        Step::SegmentHeader,
        Step::SegmentDirSync,
    ];

    fn op(self) -> FsOp {
        match self {
            Step::Write | Step::SegmentHeader => FsOp::Write,
            Step::Sync => FsOp::Sync,
            Step::Truncate => FsOp::SetLen,
            Step::CreateSegment => FsOp::Create,
            Step::SegmentDirSync => FsOp::SyncDir,
        }
    }

    fn rolls(self) -> bool {
        matches!(self, Step::CreateSegment | Step::SegmentHeader | Step::SegmentDirSync)
    }
}

/// Records spread over both shards.
fn spread(tag: &str, n: usize) -> Vec<PutRecord> {
    (0..n).map(|i| rec(&format!("racer-{i}"), &format!("{tag} {i}"))).collect()
}

/// Puts `records`; returns what was acknowledged and how many failed, checking that every
/// failure is a retryable `InternalFailure`.
async fn put(stream: &dyn Stream, records: Vec<PutRecord>) -> (Vec<(PutRecordOk, Bytes)>, usize) {
    let data: Vec<Bytes> = records.iter().map(|r| r.data.clone()).collect();
    let out = stream.put_records(records).await.expect("put");
    let mut acked = Vec::new();
    for (result, data) in out.records.into_iter().zip(data) {
        match result {
            Ok(ok) => acked.push((ok, data)),
            Err(error) => {
                assert_eq!(error.code, RecordErrorCode::InternalFailure, "{}", error.message);
                assert!(error.code.is_retryable());
            }
        }
    }
    (acked, out.failed_record_count)
}

/// Every acknowledged record is readable with its data; nothing with `absent`'s prefix is.
async fn assert_kept(
    stream: &dyn Stream,
    acked: &[(PutRecordOk, Bytes)],
    absent: &str,
    case: &str,
) {
    let all: Vec<_> = read_everything(stream).await.into_iter().flatten().collect();
    for (ok, data) in acked {
        let found = all.iter().find(|r| r.sequence_number == ok.sequence_number);
        assert_eq!(found.map(|r| &r.data), Some(data), "{case}: {} lost", ok.sequence_number);
    }
    assert!(
        all.iter().all(|r| !r.data.starts_with(absent.as_bytes())),
        "{case}: a failed record became readable"
    );
    for shard in 0..2 {
        let records = read_all(stream, ShardId(shard)).await;
        for pair in records.windows(2) {
            let (a, b) = (pair[0].sequence_number.0, pair[1].sequence_number.0);
            assert_eq!(a + 1, b, "{case}: a gap or a duplicate");
        }
    }
}

/// Waits (with a deadline) until the stream reports it can store again, without any put: the
/// stream probes a failing shard by itself.
async fn until_writing(stream: &dyn Stream, case: &str) {
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while !matches!(stream.health(), StreamHealth::Writing { .. }) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "{case}: still {:?} after the fault was lifted", stream.health());
}

/// A partition key of `shard` (of 2).
fn key_of(shard: u32) -> String {
    (0..)
        .map(|i| format!("racer-{i}"))
        .find(|key| route(hash_key(key), 2) == ShardId(shard))
        .expect("some key routes to every shard")
}

/// Fills each shard's active segment, so that the next put to it starts a new one.
async fn fill_segments(stream: &dyn Stream) -> Vec<(PutRecordOk, Bytes)> {
    let big = "f".repeat(4200);
    let (acked, failed) = put(stream, vec![rec(&key_of(0), &big), rec(&key_of(1), &big)]).await;
    assert_eq!(failed, 0);
    let shards: std::collections::BTreeSet<_> = acked.iter().map(|(ok, _)| ok.shard_id).collect();
    assert_eq!(shards.len(), 2, "the two keys must fill both shards");
    acked
}

async fn one_case(step: Step, error: Injected) {
    let case = format!("{error:?} at {step:?}");
    let env = Env::mem();
    let mem: MemFs = env.mem.clone().unwrap();
    let stream = env.open(config());
    let (mut acked, failed) = put(&stream, spread("before", 40)).await;
    assert_eq!(failed, 0, "{case}");
    if step.rolls() {
        acked.extend(fill_segments(&stream).await);
    }

    mem.inject(step.op(), Some(error));
    if let Step::Truncate = step {
        // A failed write leaves bytes to cut; the cut fails too.
        mem.inject(FsOp::Write, Some(error));
    }
    let (during, failed) = put(&stream, spread("failed", 40)).await;
    assert!(during.is_empty(), "{case}: acknowledged during the fault: {during:?}");
    assert_eq!(failed, 40, "{case}");
    let StreamHealth::Failing { error: reported, .. } = stream.health() else {
        panic!("{case}: the stream reports {:?} during the fault", stream.health());
    };
    assert!(reported.contains(&error.to_error().to_string()), "{case}: {reported}");
    if let Step::Truncate = step {
        // Writes work again but the cut still fails: the shard must not write past it.
        mem.inject(FsOp::Write, None);
        let (during, failed) = put(&stream, spread("failed", 40)).await;
        assert!(during.is_empty() && failed == 40, "{case}: wrote before cutting");
    }
    assert_kept(&stream, &acked, "failed", &case).await;

    mem.inject(step.op(), None);
    if error == Injected::NoSpace {
        // With no put, the stream finds out by itself (space back, readiness back).
        until_writing(&stream, &case).await;
    }
    let (after, failed) = put(&stream, spread("after", 40)).await;
    assert_eq!(failed, 0, "{case}: puts still fail once the fault is gone");
    acked.extend(after);
    assert!(matches!(stream.health(), StreamHealth::Writing { last_ok_ms: Some(_) }), "{case}");
    assert_kept(&stream, &acked, "failed", &case).await;

    // Even if every unsynced byte reached the disk, a power cut brings back nothing failed.
    stream.close().await;
    mem.crash(|_, unsynced| unsynced);
    let stream = env.open(config());
    assert_kept(&stream, &acked, "failed", &case).await;
}

#[tokio::test]
async fn enospc_and_eio_at_every_step_of_a_put_fail_it_keep_every_acknowledged_record_and_heal() {
    for error in Injected::ALL {
        for step in Step::ALL {
            one_case(step, error).await;
        }
    }
}

#[tokio::test]
async fn a_failed_checkpoint_replacement_keeps_the_previous_checkpoint_and_the_next_one_works() {
    for error in Injected::ALL {
        for op in [FsOp::Create, FsOp::Write, FsOp::Sync, FsOp::Rename, FsOp::SyncDir] {
            let case = format!("{error:?} at {op:?}");
            let env = Env::mem();
            let mem = env.mem.clone().unwrap();
            let stream = env.open(config());
            let (acked, _) = put(&stream, vec![rec("k", "a"), rec("k", "b"), rec("k", "c")]).await;
            let shard = acked[0].0.shard_id;
            stream.checkpoint("delivery", shard, acked[0].0.sequence_number).await.unwrap();

            mem.inject(op, Some(error));
            let failed = stream.checkpoint("delivery", shard, acked[1].0.sequence_number).await;
            assert!(failed.is_err(), "{case}: a checkpoint was stored during the fault");
            mem.inject(op, None);
            let kept = stream.checkpoints("delivery").await.unwrap()[&shard];
            if op == FsOp::SyncDir {
                // Renamed but not known to be durable: either is right, never anything else.
                let either = [acked[0].0.sequence_number, acked[1].0.sequence_number];
                assert!(either.contains(&kept), "{case}: {kept}");
            } else {
                assert_eq!(kept, acked[0].0.sequence_number, "{case}");
            }

            stream.checkpoint("delivery", shard, acked[2].0.sequence_number).await.unwrap();
            stream.close().await;
            mem.crash(|_, _| 0);
            let stream = env.open(config());
            let restored = stream.checkpoints("delivery").await.unwrap();
            assert_eq!(restored[&shard], acked[2].0.sequence_number, "{case}");
        }
    }
}

#[tokio::test]
async fn a_failed_retention_is_an_error_the_next_retention_finishes_and_puts_go_on() {
    for error in Injected::ALL {
        for op in [FsOp::Remove, FsOp::SyncDir] {
            let case = format!("{error:?} at {op:?}");
            let env = Env::mem();
            let mem = env.mem.clone().unwrap();
            let stream = env.open(config());
            fill_segments(&stream).await;
            put(&stream, spread("second", 4)).await;
            env.clock.advance(config().retention + Duration::from_secs(1));

            mem.inject(op, Some(error));
            assert!(stream.enforce_retention().await.is_err(), "{case}");
            mem.inject(op, None);
            stream.enforce_retention().await.unwrap();
            let (acked, failed) = put(&stream, spread("after", 10)).await;
            assert_eq!(failed, 0, "{case}");
            assert_kept(&stream, &acked, "never", &case).await;
            assert!(matches!(stream.health(), StreamHealth::Writing { .. }), "{case}");
        }
    }
}

#[tokio::test]
async fn a_fresh_stream_reports_writing_and_then_when_it_last_stored() {
    let env = Env::mem();
    let stream = env.open(config());
    assert_eq!(stream.health(), StreamHealth::Writing { last_ok_ms: None });
    let (_, failed) = put(&stream, spread("a", 4)).await;
    assert_eq!(failed, 0);
    assert_eq!(stream.health(), StreamHealth::Writing { last_ok_ms: Some(stream_support::T0) });
}
