//! A child process for the stream crash test (`tests/stream_crash.rs`): opens the stream in the
//! directory given as the first argument, prints `ready`, then writes under load from several
//! tasks and prints one line `<shard> <sequence number> <payload>` per acknowledged record,
//! until it is killed. The second argument tags the payloads of this run.

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use alleycat_ingest::stream::{DiskStream, PutRecord, Stream, StreamConfig};
use bytes::Bytes;

/// The configuration the crash test reopens the stream with.
fn config() -> StreamConfig {
    StreamConfig { shards: 4, segment_bytes: 256 * 1024, ..StreamConfig::default() }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().expect("usage: stream_crash_writer <dir> <tag>");
    let tag = args.next().unwrap_or_else(|| "run".into());
    let stream = Arc::new(DiskStream::open(dir, config()).expect("open the stream"));
    let out = Arc::new(Mutex::new(std::io::stdout()));
    {
        let mut out = out.lock().expect("stdout");
        writeln!(out, "ready").and_then(|()| out.flush()).expect("stdout");
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
                let mut out = out.lock().expect("stdout");
                out.write_all(lines.as_bytes()).and_then(|()| out.flush()).expect("stdout");
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
}
