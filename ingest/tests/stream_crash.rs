//! The crash test: a child process writes under load and is killed with SIGKILL at random
//! moments; after each kill the stream is reopened and every record the child reported as
//! acknowledged must be there, in per-shard order, with no duplicates and no gaps.

use std::{
    collections::{BTreeMap, HashSet},
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

use alleycat_ingest::stream::{DiskStream, ShardId, StartingPosition, Stream, StreamConfig};

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
        let mut child = Command::new(env!("CARGO_BIN_EXE_stream_crash_writer"))
            .arg(&dir)
            .arg(format!("r{round}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the writer");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
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
