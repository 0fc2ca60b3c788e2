//! The crash test: a child process writes under load and is killed with SIGKILL at random
//! moments; after each kill the stream is reopened and every record the child reported as
//! acknowledged must be there, in per-shard order, with no duplicates and no gaps.

use std::{
    collections::{BTreeMap, HashSet},
    io::{BufRead, BufReader, Write},
    sync::{Arc, Mutex},
    time::Duration,
};

use alleycat_ingest::stream::{
    DiskStream, PutRecord, ShardId, StartingPosition, Stream, StreamConfig,
};
use alleycat_testkit::child;
use bytes::Bytes;

/// The child process's test (see [`writer_child`]).
const WRITER: &str = "writer_child";

const KILLS: usize = 24;

fn config() -> StreamConfig {
    StreamConfig { shards: 4, segment_bytes: 256 * 1024, ..StreamConfig::default() }
}

/// Every record of every shard as (sequence number, payload), checking order and gaps.
async fn read_back(stream: &DiskStream) -> Vec<Vec<(u128, String)>> {
    let mut shards = Vec::new();
    for shard in 0..4 {
        let mut it =
            stream.shard_iterator(ShardId(shard), StartingPosition::TrimHorizon).await.unwrap();
        let mut records: Vec<(u128, String)> = Vec::new();
        loop {
            let out = stream.get_records(&it, 10_000, Duration::ZERO).await.unwrap();
            if out.records.is_empty() {
                break;
            }
            for r in out.records {
                if let Some((last, _)) = records.last() {
                    assert_eq!(r.sequence_number.0, last + 1, "gap or reorder in shard {shard}");
                }
                records.push((r.sequence_number.0, String::from_utf8(r.data.to_vec()).unwrap()));
            }
            it = out.next_iterator;
        }
        shards.push(records);
    }
    shards
}

#[test]
fn every_acknowledged_record_survives_repeated_sigkills() {
    let seed = std::env::var("CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
            as u64
    });
    eprintln!("crash test seed {seed} (set CRASH_SEED to replay the kill points)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("stream");
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    // (shard, sequence number) -> payload, for every record a child reported acknowledged.
    let mut acked: BTreeMap<(u32, u128), String> = BTreeMap::new();
    for round in 0..KILLS {
        let mut child = child::command(WRITER)
            .env("CRASH_WRITER_DIR", &dir)
            .env("CRASH_WRITER_TAG", format!("r{round}"))
            .spawn()
            .expect("spawn the writer");
        let mut stdout = BufReader::new(child.stderr.take().unwrap());
        // Every fifth round is killed at once, possibly in the middle of recovery.
        let target = if round % 5 == 4 { 0 } else { rng.usize(1..6000) };
        let mut seen = 0;
        let mut line = String::new();
        let mut lines = Vec::new();
        while seen <= target {
            line.clear();
            if stdout.read_line(&mut line).unwrap() == 0 {
                panic!("the writer exited on its own in round {round}: {:?}", child.wait());
            }
            if line != "ready\n" {
                lines.push(std::mem::take(&mut line));
            }
            seen += 1;
        }
        child.kill().unwrap(); // SIGKILL
                               // Lines already in the pipe were acknowledged before the kill.
        loop {
            line.clear();
            if stdout.read_line(&mut line).unwrap() == 0 {
                break;
            }
            if line.ends_with('\n') && line != "ready\n" {
                lines.push(std::mem::take(&mut line));
            }
        }
        child.wait().unwrap();
        for line in &lines {
            let mut parts = line.trim_end().splitn(3, ' ');
            let shard: u32 = parts.next().unwrap().parse().unwrap();
            let seq: u128 = parts.next().unwrap().parse().unwrap();
            let payload = parts.next().unwrap().to_owned();
            assert!(acked.insert((shard, seq), payload).is_none(), "sequence number given twice");
        }

        runtime.block_on(async {
            let stream = DiskStream::open(&dir, config()).expect("reopen after SIGKILL");
            let shards = read_back(&stream).await;
            let mut payloads = HashSet::new();
            for records in &shards {
                for (_, payload) in records {
                    assert!(payloads.insert(payload.as_str()), "duplicate record {payload}");
                }
            }
            for ((shard, seq), payload) in &acked {
                let records = &shards[*shard as usize];
                let found =
                    records.binary_search_by_key(seq, |(s, _)| *s).map(|i| records[i].1.as_str());
                assert_eq!(found, Ok(payload.as_str()), "acknowledged record lost, round {round}");
            }
            stream.close().await;
        });
    }
    assert!(acked.len() > 1000, "only {} records were acknowledged", acked.len());
}

/// Not a test on its own: the child process of the crash test (run by [`child::command`]).
/// Opens the stream in `CRASH_WRITER_DIR`, says `ready`, then writes under load from several
/// tasks and says one line `<shard> <sequence number> <payload>` per acknowledged record, until
/// it is killed. `CRASH_WRITER_TAG` tags the payloads of this run.
#[test]
fn writer_child() {
    if !child::is_child(WRITER) {
        return;
    }
    let dir = std::env::var("CRASH_WRITER_DIR").expect("CRASH_WRITER_DIR");
    let tag = std::env::var("CRASH_WRITER_TAG").unwrap_or_else(|_| "run".into());
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(write_until_killed(dir, tag));
}

async fn write_until_killed(dir: String, tag: String) {
    let stream = Arc::new(DiskStream::open(dir, config()).expect("open the stream"));
    let out = Arc::new(Mutex::new(std::io::stderr()));
    {
        let mut out = out.lock().expect("stderr");
        writeln!(out, "ready").and_then(|()| out.flush()).expect("stderr");
    }
    let mut tasks = Vec::new();
    for task in 0..4u64 {
        let stream = Arc::clone(&stream);
        let out = Arc::clone(&out);
        let tag = tag.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            loop {
                let size = 1 + ((n * 7 + task * 13) % 100) as usize;
                let batch: Vec<PutRecord> = (0..size)
                    .map(|i| {
                        let payload = format!(
                            "{tag}-w{task}-{}-{}",
                            n + i as u64,
                            "x".repeat(((n + i as u64) * 31 % 200) as usize)
                        );
                        PutRecord {
                            partition_key: format!("racer-{}", (n + i as u64 + task) % 64),
                            explicit_hash_key: None,
                            data: Bytes::from(payload),
                        }
                    })
                    .collect();
                n += size as u64;
                let result = stream.put_records(batch.clone()).await.expect("put");
                let mut lines = String::new();
                for (record, outcome) in batch.iter().zip(result.records) {
                    if let Ok(ok) = outcome {
                        let payload = std::str::from_utf8(&record.data).expect("utf-8");
                        lines.push_str(&format!(
                            "{} {} {payload}\n",
                            ok.shard_id.0, ok.sequence_number.0
                        ));
                    }
                }
                let mut out = out.lock().expect("stderr");
                out.write_all(lines.as_bytes()).and_then(|()| out.flush()).expect("stderr");
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}
