//! Throughput of the disk stream: durable `put_records` from concurrent writers, then reads.
//!
//! ```text
//! cargo bench -p alleycat-ingest --bench stream -- \
//!     [--seconds 10] [--runs 3] [--writers 8] [--shards 4] [--dir /path/on/the/disk/to/measure]
//! ```
//!
//! Each run opens a fresh stream (`--shards`, default 4; durable sync policy) in a temporary directory,
//! lets `writers` tasks put 500-record batches of ~200-byte racer events for `seconds`,
//! then reads every shard from TRIM_HORIZON to the tip with 10,000-record `get_records`.
//! It prints each run and the medians.
#![allow(clippy::print_stdout, missing_docs)]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use alleycat_ingest::stream::{
    DiskStream, PutRecord, StartingPosition, Stream, StreamConfig, MAX_RECORDS_PER_GET,
};
use bytes::Bytes;

const BATCH: usize = 500;

struct Args {
    seconds: u64,
    runs: usize,
    writers: usize,
    shards: u32,
    dir: Option<String>,
}

fn args() -> Args {
    let mut out = Args { seconds: 10, runs: 3, writers: 8, shards: 4, dir: None };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => out.seconds = it.next().and_then(|v| v.parse().ok()).unwrap_or(10),
            "--runs" => out.runs = it.next().and_then(|v| v.parse().ok()).unwrap_or(3),
            "--writers" => out.writers = it.next().and_then(|v| v.parse().ok()).unwrap_or(8),
            "--shards" => out.shards = it.next().and_then(|v| v.parse().ok()).unwrap_or(4),
            "--dir" => out.dir = it.next(),
            _ => {} // cargo bench passes --bench
        }
    }
    out
}

/// A racer event of about 200 bytes, as the bikes send them.
fn event(writer: usize, i: usize) -> PutRecord {
    let racer = (writer * 7919 + i) % 1000;
    let data = format!(
        concat!(
            r#"{{"race_id":"6f1c2a7e-race-{:04}","racer_id":"racer-{:04}","t_ms":{},"#,
            r#""watts":{},"cadence_rpm":{},"speed_kmh":{}.{},"distance_m":{}.{},"#,
            r#""heart_bpm":{},"gear":{},"seq":{},"bike":"wahoo-kickr"}}"#
        ),
        racer % 50,
        racer,
        1_767_225_600_000u64 + i as u64 * 250,
        150 + i % 250,
        70 + i % 40,
        25 + i % 20,
        i % 10,
        i * 3,
        i % 10,
        110 + i % 70,
        1 + i % 11,
        i
    );
    PutRecord {
        partition_key: format!("racer-{racer:04}"),
        explicit_hash_key: None,
        data: Bytes::from(data),
    }
}

struct Run {
    write_rps: f64,
    write_mbps: f64,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    read_rps: f64,
    read_mbps: f64,
    records: usize,
    mean_bytes: f64,
}

async fn one_run(args: &Args) -> Run {
    let tmp = match &args.dir {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .expect("temp dir");
    let stream = Arc::new(
        DiskStream::open(
            tmp.path(),
            StreamConfig { shards: args.shards, ..StreamConfig::default() },
        )
        .expect("open"),
    );
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..args.writers {
        let stream = Arc::clone(&stream);
        // Pre-built batches, so the benchmark measures the stream rather than formatting.
        let templates: Vec<Vec<PutRecord>> =
            (0..8).map(|b| (0..BATCH).map(|i| event(w, b * BATCH + i)).collect()).collect();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut records = 0usize;
            let mut bytes = 0usize;
            let mut n = 0;
            while Instant::now() < deadline {
                let batch = templates[n % templates.len()].clone();
                n += 1;
                let size: usize = batch.iter().map(|r| r.partition_key.len() + r.data.len()).sum();
                let t = Instant::now();
                let out = stream.put_records(batch).await.expect("put");
                latencies.push(t.elapsed());
                assert_eq!(out.failed_record_count, 0);
                records += BATCH;
                bytes += size;
            }
            (latencies, records, bytes)
        }));
    }
    let mut latencies = Vec::new();
    let mut records = 0;
    let mut bytes = 0;
    for task in tasks {
        let (l, r, b) = task.await.expect("writer");
        latencies.extend(l);
        records += r;
        bytes += b;
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    let (p50_ms, p99_ms) = (pct(0.5), pct(0.99));
    let max_ms = latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3);

    // Read everything back, one reader per shard, concurrently.
    let start = Instant::now();
    let mut readers = Vec::new();
    for shard in stream.shards() {
        let stream = Arc::clone(&stream);
        readers.push(tokio::spawn(async move {
            let mut it =
                stream.shard_iterator(shard.shard_id, StartingPosition::TrimHorizon).await?;
            let (mut n, mut b) = (0usize, 0usize);
            loop {
                let out = stream.get_records(&it, MAX_RECORDS_PER_GET, Duration::ZERO).await?;
                if out.records.is_empty() {
                    return Ok::<_, alleycat_ingest::stream::StreamError>((n, b));
                }
                n += out.records.len();
                b +=
                    out.records.iter().map(|r| r.partition_key.len() + r.data.len()).sum::<usize>();
                it = out.next_iterator;
            }
        }));
    }
    let (mut read, mut read_bytes) = (0, 0);
    for reader in readers {
        let (n, b) = reader.await.expect("reader").expect("read");
        read += n;
        read_bytes += b;
    }
    let read_secs = start.elapsed().as_secs_f64();
    assert_eq!(read, records, "every written record read back");
    if let Ok(stream) = Arc::try_unwrap(stream) {
        stream.close().await;
    }
    Run {
        write_rps: records as f64 / elapsed,
        write_mbps: bytes as f64 / elapsed / 1e6,
        p50_ms,
        p99_ms,
        max_ms,
        read_rps: read as f64 / read_secs,
        read_mbps: read_bytes as f64 / read_secs / 1e6,
        records,
        mean_bytes: bytes as f64 / records as f64,
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let args = args();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let mut runs = Vec::new();
    for i in 0..args.runs {
        let run = runtime.block_on(one_run(&args));
        println!(
            "run {}: {} records ({:.0} B each incl. key): write {:.0} rec/s {:.1} MB/s, put p50 {:.2} ms p99 {:.2} ms max {:.2} ms; read {:.0} rec/s {:.1} MB/s",
            i + 1,
            run.records,
            run.mean_bytes,
            run.write_rps,
            run.write_mbps,
            run.p50_ms,
            run.p99_ms,
            run.max_ms,
            run.read_rps,
            run.read_mbps
        );
        runs.push(run);
    }
    let m = |f: fn(&Run) -> f64| median(runs.iter().map(f).collect());
    println!(
        "median of {} runs, {} writers x {}-record batches, {} s each: write {:.0} rec/s {:.1} MB/s, put p99 {:.2} ms; read {:.0} rec/s {:.1} MB/s",
        runs.len(),
        args.writers,
        BATCH,
        args.seconds,
        m(|r| r.write_rps),
        m(|r| r.write_mbps),
        m(|r| r.p99_ms),
        m(|r| r.read_rps),
        m(|r| r.read_mbps)
    );
}
