//! Freshness: how long after the stream acknowledges a record it is reflected in its class's
//! history file and race results, with 1,000 racers sending once a second, a 1 s delivery
//! interval, the embedded disk stream (fsync on every put) and the local object store.
//!
//! Run: `cargo bench -p alleycat-ingest --bench freshness` (optionally `-- <seconds> <racers>`).
//! A sample is one (second, class): from the moment the puts of that second were acknowledged
//! to the first merge commit after which every racer of the class has that second both in the
//! race results and in the decoded history file.

#![allow(clippy::print_stdout)]

#[path = "../tests/delivery_support/mod.rs"]
#[allow(missing_docs)]
mod delivery_support;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alleycat_domain::history;
use alleycat_ingest::{
    db::Database,
    delivery::{Delivery, DeliveryConfig},
    merge::{self, MergeConfig, Merger},
    objects,
    stream::{DiskStream, PutRecord, Stream, StreamConfig},
};
use delivery_support::{event, put_of};

const RACE: u64 = 77;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let seconds: u32 = args.first().and_then(|a| a.parse().ok()).unwrap_or(60);
    let racers: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(run(seconds, racers));
}

async fn run(seconds: u32, racers: u64) {
    let dir = tempfile::tempdir().unwrap();
    let stream =
        Arc::new(DiskStream::open(dir.path().join("stream"), StreamConfig::default()).unwrap());
    let store = objects::local_store(dir.path()).unwrap();
    let db = Database::open(&dir.path().join(alleycat_ingest::db::DATABASE_FILE)).await.unwrap();
    let merger = Merger::new(store.clone(), db.clone(), MergeConfig::default());
    let mut progress = merger.progress();
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let (stop_merge, merge_stopped) = tokio::sync::oneshot::channel::<()>();
    let merge_task = tokio::spawn(merge::run(merger, rx, async {
        let _ = merge_stopped.await;
    }));
    let delivery = Delivery::new(
        stream.clone(),
        store.clone(),
        DeliveryConfig {
            interval: Duration::from_secs(1),
            read_wait: Duration::from_millis(500),
            ..Default::default()
        },
    )
    .notify(tx);
    let (stop_delivery, delivery_stopped) = tokio::sync::oneshot::channel::<()>();
    let delivery_task = tokio::spawn(delivery.run(async {
        let _ = delivery_stopped.await;
    }));

    // The producer: every second, each racer's event for that second, acknowledged by the stream.
    let acked: Arc<Mutex<HashMap<u32, Instant>>> = Arc::default();
    let producer = {
        let acked = acked.clone();
        let stream = stream.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            for s in 1..=seconds {
                tick.tick().await;
                let records: Vec<PutRecord> = (1..=racers)
                    .map(|r| {
                        let (key, data) = put_of(&event(r, RACE, (r % 6 + 1) as u8, s));
                        PutRecord { partition_key: key, explicit_hash_key: None, data: data.into() }
                    })
                    .collect();
                let puts = records.chunks(500).map(|c| stream.put_records(c.to_vec()));
                for out in futures::future::join_all(puts).await {
                    assert_eq!(out.unwrap().failed_record_count, 0);
                }
                acked.lock().unwrap().insert(s, Instant::now());
            }
        })
    };

    // The observer: after each merge commit, which seconds every racer of each class now has.
    let mut reflected = [0u32; 7];
    let mut samples = Vec::new();
    let per_class = |class: u8| (1..=racers).filter(|r| (r % 6 + 1) as u8 == class).count();
    while reflected[1..].iter().any(|&s| s < seconds) {
        progress.changed().await.unwrap();
        let now = Instant::now();
        for class in 1..=6u8 {
            let results = db.race_results(RACE, class).await.unwrap();
            let in_results = if results.len() == per_class(class) {
                results.iter().map(|r| r.seconds).min().unwrap_or(0)
            } else {
                0
            };
            let in_history = match objects::history_file(store.as_ref(), class).await.unwrap() {
                Some(file) => {
                    let h = history::decode(&file.bytes).unwrap();
                    let mut s = 0;
                    while s < seconds && h.field(s + 1) == per_class(class) {
                        s += 1;
                    }
                    s
                }
                None => 0,
            };
            let up_to = in_results.min(in_history);
            let acked = acked.lock().unwrap();
            for s in reflected[class as usize] + 1..=up_to {
                samples.push(now.duration_since(acked[&s]));
            }
            reflected[class as usize] = reflected[class as usize].max(up_to);
        }
    }
    producer.await.unwrap();
    stop_delivery.send(()).unwrap();
    delivery_task.await.unwrap().unwrap();
    let _ = stop_merge.send(());
    merge_task.await.unwrap().unwrap();

    samples.sort();
    let at =
        |q: f64| samples[((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1];
    println!(
        "freshness over {} samples ({racers} racers, {seconds} s): p50 {:?}, p99 {:?}, max {:?}",
        samples.len(),
        at(0.50),
        at(0.99),
        samples.last().unwrap()
    );
}
