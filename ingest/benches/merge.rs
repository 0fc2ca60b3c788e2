//! Merge throughput: delivered objects (gzip NDJSON on the local disk) fetched, decompressed,
//! parsed and folded into history files and the SQLite results, in records per second.
//!
//! Run: `cargo bench -p alleycat-ingest --bench merge` (optionally `-- <racers> <runs>`).
//! With `-- --postgres` the results go to a throwaway PostgreSQL (the testkit's, with fsync and
//! synchronous commit on, as a durable server) instead of SQLite, one fresh database per run.
//! The objects are what delivery writes for one 300-second race of `<racers>` racers (default
//! 6,667: one class of 40,000 users) sending once a second: about 1 MiB each.

#![allow(clippy::print_stdout)]

#[path = "../tests/delivery_support/mod.rs"]
#[allow(missing_docs)]
mod delivery_support;

use std::time::Instant;

use alleycat_ingest::{
    db::Database,
    merge::{MergeConfig, Merger},
    objects,
};
use delivery_support::{cpu_seconds, delivered_object, event, load_average};
use object_store::{path::Path, ObjectStoreExt, PutPayload};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let racers: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(6_667);
    let runs: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let postgres = std::env::args().any(|a| a == "--postgres").then(|| {
        alleycat_testkit::postgres::Postgres::start_with(&[
            ("fsync", "on"),
            ("synchronous_commit", "on"),
            ("full_page_writes", "on"),
            ("shared_buffers", "128MB"),
        ])
        .expect("a PostgreSQL server (scripts/setup.sh installs it)")
    });
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = objects::local_store(dir.path()).unwrap();

    // Delivered objects, as delivery cuts them: about 1 MiB of lines (4,400 events) each.
    let (paths, records) = runtime.block_on(async {
        let events: Vec<_> = (1..=300u32)
            .flat_map(|s| (1..=racers).map(move |r| event(r, 5_880_000, 3, s)))
            .collect();
        let mut paths = Vec::new();
        for (i, chunk) in events.chunks(4_400).enumerate() {
            let path = Path::from(format!(
                "delivery/2025/11/25/18/alleycat-1-2025-11-25-18-00-00-{i:06}.gz"
            ));
            store.put(&path, PutPayload::from(delivered_object(chunk))).await.unwrap();
            paths.push(path);
        }
        (paths, events.len())
    });
    let backend = if postgres.is_some() { "PostgreSQL" } else { "SQLite" };
    println!("{} objects, {records} records, results in {backend}", paths.len());

    let mut rates = Vec::new();
    for run in 0..runs {
        let rate = runtime.block_on(async {
            let db = match &postgres {
                Some(server) => {
                    let url = server.create_database(&format!("results_{run}")).unwrap();
                    Database::connect_postgres(&url.parse().unwrap()).await.unwrap()
                }
                None => {
                    Database::open(&dir.path().join(format!("results-{run}.sqlite"))).await.unwrap()
                }
            };
            let _ = store.delete(&objects::history_path(3)).await;
            let mut merger = Merger::new(store.clone(), db.clone(), MergeConfig::default());
            let started = Instant::now();
            let cpu = cpu_seconds();
            merger.merge_objects(&paths).await.unwrap();
            let elapsed = started.elapsed();
            let cpu = cpu_seconds() - cpu;
            assert_eq!(db.race_results(5_880_000, 3).await.unwrap().len() as u64, racers);
            assert!(objects::history_file(store.as_ref(), 3).await.unwrap().is_some());
            let rate = records as f64 / elapsed.as_secs_f64();
            println!(
                "run {run}: {records} records in {:.3} s = {rate:.0} records/s; {:.2} us CPU per \
                 record; load average {}",
                elapsed.as_secs_f64(),
                cpu * 1e6 / records as f64,
                load_average()
            );
            db.close().await;
            (rate, cpu * 1e6 / records as f64)
        });
        rates.push(rate);
    }
    rates.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut cpu: Vec<f64> = rates.iter().map(|r| r.1).collect();
    cpu.sort_by(|a, b| a.total_cmp(b));
    println!(
        "merge median: {:.0} records/s over {runs} runs; median {:.2} us CPU per record (two \
         idle cores would sustain about {:.0} records/s)",
        rates[rates.len() / 2].0,
        cpu[cpu.len() / 2],
        2e6 / cpu[cpu.len() / 2]
    );
}
