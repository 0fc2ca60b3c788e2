//! Delivery's buffering, naming and object format, against an in-memory stream.

mod delivery_support;

use std::{sync::Arc, time::Duration};

use alleycat_ingest::{
    delivery::{
        transform::{DeliveredEvent, FailedRecord},
        Delivery, DeliveryConfig, DeliveryProgress,
    },
    objects,
};
use delivery_support::{event, put_of, within, MemStream, WAIT};
use futures::TryStreamExt;
use object_store::{memory::InMemory, path::Path, ObjectStore, ObjectStoreExt};
use tokio::{sync::oneshot, time::Instant};

/// What delivery's clock reads: 2025-11-25T18:05:00Z, five minutes after the records arrived.
const DELIVERED_AT_MS: u64 = 1_764_093_900_000;

fn config(buffer_bytes: usize, interval: Duration) -> DeliveryConfig {
    DeliveryConfig { buffer_bytes, interval, ..Default::default() }
}

struct Running {
    progress: tokio::sync::watch::Receiver<DeliveryProgress>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), alleycat_ingest::delivery::DeliveryError>>,
}

fn start(stream: Arc<MemStream>, store: Arc<dyn ObjectStore>, config: DeliveryConfig) -> Running {
    let delivery = Delivery::new(stream, store, config)
        .clock(Arc::new(alleycat_ingest::stream::ManualClock::new(DELIVERED_AT_MS)));
    let progress = delivery.progress();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(delivery.run(async {
        let _ = stopped.await;
    }));
    Running { progress, stop, task }
}

async fn listed(store: &dyn ObjectStore, prefix: &str) -> Vec<Path> {
    let mut paths: Vec<_> =
        store.list(Some(&Path::from(prefix))).map_ok(|m| m.location).try_collect().await.unwrap();
    paths.sort();
    paths
}

async fn lines(store: &dyn ObjectStore, path: &Path) -> Vec<String> {
    let gz = store.get(path).await.unwrap().bytes().await.unwrap();
    String::from_utf8(alleycat_domain::gzip::gunzip_members(&gz, usize::MAX).unwrap())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_full_buffer_is_flushed_without_waiting_for_the_interval() {
    let stream = MemStream::new(2);
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    stream.put_all((1..=100).map(|s| put_of(&event(7, 5, 3, s)))).await;
    let started = Instant::now();
    let mut run = start(stream.clone(), store.clone(), config(4096, Duration::from_secs(3600)));

    // Each line is about 200 bytes: 100 lines fill a 4 KiB buffer four times.
    within(WAIT, "progress: flushes >= 4", run.progress.wait_for(|p| p.flushes >= 4))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3600), "flushed by size, not time");
    let flushed = listed(store.as_ref(), "delivery").await;
    for path in &flushed {
        let size: usize = lines(store.as_ref(), path).await.iter().map(|l| l.len() + 1).sum();
        assert!(size >= 4096, "a size flush holds at least the hint ({size} bytes)");
    }

    run.stop.send(()).unwrap();
    run.task.await.unwrap().unwrap();
    let mut total = 0;
    for path in listed(store.as_ref(), "delivery").await {
        total += lines(store.as_ref(), &path).await.len();
    }
    assert_eq!(total, 100);
}

#[tokio::test(start_paused = true)]
async fn the_interval_flushes_on_the_clock_with_no_new_input() {
    let stream = MemStream::new(4);
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    stream.put_all((1..=10).map(|s| put_of(&event(9, 5, 2, s)))).await;
    let started = Instant::now();
    let mut run = start(stream.clone(), store.clone(), config(1 << 20, Duration::from_secs(60)));

    within(WAIT, "progress: read == 10", run.progress.wait_for(|p| p.read == 10)).await.unwrap();
    let early =
        tokio::time::timeout(Duration::from_secs(59), run.progress.wait_for(|p| p.flushes > 0))
            .await
            .is_ok();
    assert!(!early, "nothing is flushed before the interval");
    within(WAIT, "progress: flushes == 1", run.progress.wait_for(|p| p.flushes == 1))
        .await
        .unwrap();
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_secs(60) && elapsed < Duration::from_secs(61), "{elapsed:?}");
    assert_eq!(run.progress.borrow().records, 10);

    run.stop.send(()).unwrap();
    run.task.await.unwrap().unwrap();
    assert_eq!(listed(store.as_ref(), "delivery").await.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn shutdown_flushes_what_is_buffered() {
    let stream = MemStream::new(4);
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    stream.put_all((1..=25).map(|s| put_of(&event(11, 5, 1, s)))).await;
    let mut run = start(stream.clone(), store.clone(), config(1 << 20, Duration::from_secs(3600)));
    within(WAIT, "progress: read == 25", run.progress.wait_for(|p| p.read == 25)).await.unwrap();
    assert_eq!(run.progress.borrow().flushes, 0);

    run.stop.send(()).unwrap();
    run.task.await.unwrap().unwrap();
    let paths = listed(store.as_ref(), "delivery").await;
    assert_eq!(paths.len(), 1);
    assert_eq!(lines(store.as_ref(), &paths[0]).await.len(), 25);
    // Checkpointed: a new delivery finds nothing more to deliver.
    let checkpoints =
        alleycat_ingest::stream::Stream::checkpoints(stream.as_ref(), "delivery").await.unwrap();
    assert_eq!(checkpoints.values().map(|s| s.0).sum::<u128>(), 25);
}

#[tokio::test(start_paused = true)]
async fn invalid_records_are_delivered_under_processing_failed_with_firehose_fields() {
    let stream = MemStream::new(1);
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let good = put_of(&event(3, 5, 4, 1));
    let mut bad_class = event(3, 5, 4, 2);
    bad_class.class_id = 9;
    stream.put_all([good, ("3".into(), b"{not json".to_vec()), put_of(&bad_class)]).await;
    let mut run = start(stream.clone(), store.clone(), config(1 << 20, Duration::from_secs(1)));
    within(WAIT, "progress: flushes == 1", run.progress.wait_for(|p| p.flushes == 1))
        .await
        .unwrap();
    run.stop.send(()).unwrap();
    run.task.await.unwrap().unwrap();

    let delivered = listed(store.as_ref(), "delivery").await;
    let failed = listed(store.as_ref(), "processing-failed").await;
    assert_eq!((delivered.len(), failed.len()), (1, 1));
    let good: Vec<DeliveredEvent> = lines(store.as_ref(), &delivered[0])
        .await
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(good.len(), 1);
    assert_eq!(good[0].output, event(3, 5, 4, 1).output());
    let failures: Vec<FailedRecord> = lines(store.as_ref(), &failed[0])
        .await
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let codes: Vec<_> = failures.iter().map(|f| f.error_code.as_str()).collect();
    assert_eq!(codes, ["MalformedEvent", "InvalidClass"]);
    assert_eq!(failures[0].shard_id, "shardId-000000000000");
    assert_eq!(failures[0].sequence_number.parse::<u128>().unwrap(), 2);
    assert_eq!(failures[1].arrival_timestamp, 1_764_093_600_000);
    // Stamped by delivery's clock when the transform failed.
    assert!(failures.iter().all(|f| f.attempt_ending_timestamp == DELIVERED_AT_MS));
    let progress = *run.progress.borrow();
    assert_eq!((progress.records, progress.failed_records, progress.failed_objects), (1, 2, 1));
}

#[tokio::test]
async fn objects_are_named_like_firehose_and_gzip_d_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = objects::local_store(dir.path()).unwrap();
    let stream = MemStream::new(2);
    // 2025-11-25T18:00:00Z.
    stream.put_all((1..=40).map(|s| put_of(&event(21, 5, 6, s)))).await;
    let mut run = start(stream.clone(), store.clone(), config(1 << 20, Duration::from_secs(3600)));
    within(WAIT, "progress: read == 40", run.progress.wait_for(|p| p.read == 40)).await.unwrap();
    run.stop.send(()).unwrap();
    run.task.await.unwrap().unwrap();

    let paths = listed(store.as_ref(), "delivery").await;
    assert_eq!(paths.len(), 1);
    let name = paths[0].as_ref();
    let prefix = "delivery/2025/11/25/18/alleycat-1-2025-11-25-18-00-00-";
    assert!(name.starts_with(prefix), "{name}");
    let id = name.strip_prefix(prefix).unwrap().strip_suffix(".gz").unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");

    let file = dir.path().join(name);
    let out = std::process::Command::new("gzip").arg("-dc").arg(&file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let events: Vec<DeliveredEvent> =
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 40);
    assert!(
        events.windows(2).all(|w| w[0].second < w[1].second),
        "one racer's seconds stay in order"
    );
}
