//! Delivery throughput: records read from a stream, transformed, gzipped and stored (fsynced, on
//! the local disk) and checkpointed, in records per second.
//!
//! Run: `cargo bench -p alleycat-ingest --bench delivery` (optionally `-- <records> <runs>`).
//! The stream is the in-memory test stream (4 shards) so that the figure is delivery's own;
//! the records are realistic racer events from the ride model.

#![allow(clippy::print_stdout)]

#[path = "../tests/delivery_support/mod.rs"]
#[allow(missing_docs)]
mod delivery_support;

use std::time::{Duration, Instant};

use alleycat_ingest::{
    delivery::{Delivery, DeliveryConfig},
    objects,
};
use delivery_support::{cpu_seconds, event, load_average, put_of, MemStream};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let records: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(600_000);
    let runs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let racers = 2_000u64;
    let mut rates = Vec::new();
    for run in 0..runs {
        let rate = runtime.block_on(async {
            let stream = MemStream::new(4);
            let seconds = (records / racers) as u32;
            stream
                .put_all((1..=seconds).flat_map(|s| {
                    (1..=racers).map(move |r| put_of(&event(r, 77, (r % 6 + 1) as u8, s)))
                }))
                .await;
            let total = stream.total_records() as u64;
            let dir = tempfile::tempdir().unwrap();
            let store = objects::local_store(dir.path()).unwrap();
            let delivery = Delivery::new(
                stream,
                store,
                DeliveryConfig { interval: Duration::from_secs(60), ..Default::default() },
            );
            let mut progress = delivery.progress();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let started = Instant::now();
            let cpu = cpu_seconds();
            let task = tokio::spawn(delivery.run(async {
                let _ = stopped.await;
            }));
            // Every full 1 MiB batch is flushed by size; the tail by the shutdown flush.
            progress.wait_for(|p| p.read == total).await.unwrap();
            stop.send(()).unwrap();
            task.await.unwrap().unwrap();
            let elapsed = started.elapsed();
            let cpu = cpu_seconds() - cpu;
            let p = *progress.borrow();
            assert_eq!(p.records, total);
            let rate = total as f64 / elapsed.as_secs_f64();
            println!(
                "run {run}: {total} records in {:.3} s = {:.0} records/s ({} objects, {} bytes \
                 gzipped); {:.2} us CPU per record; load average {}",
                elapsed.as_secs_f64(),
                rate,
                p.objects,
                p.bytes,
                cpu * 1e6 / total as f64,
                load_average()
            );
            (rate, cpu * 1e6 / total as f64)
        });
        rates.push(rate);
    }
    rates.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut cpu: Vec<f64> = rates.iter().map(|r| r.1).collect();
    cpu.sort_by(|a, b| a.total_cmp(b));
    println!(
        "delivery median: {:.0} records/s over {runs} runs; median {:.2} us CPU per record \
         (two idle cores would sustain about {:.0} records/s)",
        rates[rates.len() / 2].0,
        cpu[cpu.len() / 2],
        2e6 / cpu[cpu.len() / 2]
    );
}
