//! Delivery and merge under faults: a crash between storing and checkpointing, storage that
//! fails for a while and heals, checkpoints failing on a full disk, history writes failing.
//! Every error is retried; no stage's task ends on one.

mod delivery_support;

use std::{
    collections::BTreeMap,
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use alleycat_ingest::{
    db::Database,
    delivery::{transform::DeliveredEvent, Delivery, DeliveryConfig, CONSUMER},
    merge::{self, MergeConfig, Merger},
    objects,
    stream::{DiskStream, FsOp, Injected, ManualClock, MemFs, PutRecord, Stream, StreamConfig},
};
use delivery_support::{event, put_of, within, FailingStore, MemStream, WAIT};
use object_store::{memory::InMemory, path::Path, ObjectStore, ObjectStoreExt};
use tokio::sync::{mpsc, oneshot};

fn config() -> DeliveryConfig {
    DeliveryConfig {
        buffer_bytes: 8 * 1024,
        interval: Duration::from_secs(1),
        ..Default::default()
    }
}

async fn read_lines(store: &dyn ObjectStore, path: &Path) -> Vec<DeliveredEvent> {
    let gz = store.get(path).await.unwrap().bytes().await.unwrap();
    String::from_utf8(alleycat_domain::gzip::gunzip_members(&gz, usize::MAX).unwrap())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_crash_between_the_object_write_and_the_checkpoint_loses_nothing_and_duplicates_are_harmless(
) {
    let stream = MemStream::new(2);
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let events: Vec<_> = (1..=3).flat_map(|r| (1..=20).map(move |s| event(r, 8, 2, s))).collect();
    stream.put_all(events.iter().map(put_of)).await;

    // First life: objects are stored, but every checkpoint fails; then the process dies.
    stream.fail_checkpoints.store(true, Ordering::SeqCst);
    let (tx, mut first_objects) = mpsc::unbounded_channel();
    // One batch holds everything, so the one stored object is all the first life delivers.
    let first = Delivery::new(
        stream.clone(),
        store.clone(),
        DeliveryConfig { buffer_bytes: 1 << 20, ..config() },
    )
    .notify(tx);
    let task = tokio::spawn(first.run(std::future::pending()));
    let mut stored = 0;
    let mut paths = Vec::new();
    while stored < events.len() {
        let path = within(WAIT, "the next object", first_objects.recv()).await.unwrap();
        stored += read_lines(store.as_ref(), &path).await.len();
        paths.push(path);
    }
    task.abort();
    let _ = task.await;

    // Second life: checkpoints work; everything is delivered again.
    stream.fail_checkpoints.store(false, Ordering::SeqCst);
    let (tx, mut second_objects) = mpsc::unbounded_channel();
    let second = Delivery::new(stream.clone(), store.clone(), config()).notify(tx);
    let mut progress = second.progress();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(second.run(async {
        let _ = stopped.await;
    }));
    within(
        WAIT,
        "progress: records == events.len() as u64",
        progress.wait_for(|p| p.records == events.len() as u64),
    )
    .await
    .unwrap();
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    while let Ok(path) = second_objects.try_recv() {
        paths.push(path);
    }

    // Every record is there (twice), and merging counts each once.
    let mut seen: BTreeMap<(u64, u32), usize> = BTreeMap::new();
    for path in &paths {
        for line in read_lines(store.as_ref(), path).await {
            *seen.entry((line.racer_id, line.second)).or_default() += 1;
        }
    }
    assert_eq!(seen.len(), events.len(), "no record lost");
    assert!(seen.values().all(|&n| n == 2), "each delivered once per life");

    // The database runs on real threads, so the merge runs on a runtime with the real clock.
    let results = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let db = Database::in_memory().await.unwrap();
            let mut merger = Merger::new(store.clone(), db.clone(), MergeConfig::default());
            merger.merge_objects(&paths).await.unwrap();
            db.race_results(8, 2).await.unwrap()
        })
    })
    .join()
    .unwrap();
    assert_eq!(results.len(), 3);
    for result in results {
        let expected: f64 = (1..=20).map(|s| event(result.racer_id, 8, 2, s).output()).sum();
        assert_eq!(result.seconds, 20);
        assert!((result.total - expected).abs() < 1e-6, "{} vs {expected}", result.total);
    }
}

#[tokio::test(start_paused = true)]
async fn a_storage_failure_that_heals_resumes_delivery_with_nothing_lost_or_reordered() {
    let stream = MemStream::new(2);
    let store = FailingStore::new(Arc::new(InMemory::new()), 6);
    let events: Vec<_> = (1..=4).flat_map(|r| (1..=50).map(move |s| event(r, 9, 5, s))).collect();
    stream.put_all(events.iter().map(put_of)).await;

    let (tx, mut objects_rx) = mpsc::unbounded_channel();
    let delivery = Delivery::new(stream.clone(), store.clone(), config()).notify(tx);
    let mut progress = delivery.progress();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(delivery.run(async {
        let _ = stopped.await;
    }));
    within(
        WAIT,
        "progress: records == events.len() as u64",
        progress.wait_for(|p| p.records == events.len() as u64),
    )
    .await
    .unwrap();
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    assert_eq!(store.failed.load(Ordering::SeqCst), 6, "the failures happened");

    // In the order stored, each racer's seconds strictly increase, and none is missing or twice.
    let mut last: BTreeMap<u64, u32> = BTreeMap::new();
    let mut count = 0;
    while let Ok(path) = objects_rx.try_recv() {
        for line in read_lines(store.as_ref(), &path).await {
            let previous = last.insert(line.racer_id, line.second).unwrap_or(0);
            assert!(
                line.second > previous,
                "racer {} second {} after {previous}",
                line.racer_id,
                line.second
            );
            count += 1;
        }
    }
    assert_eq!(count, events.len());
    assert!(last.values().all(|&s| s == 50));
}

#[tokio::test]
async fn delivery_and_merge_together_reflect_every_record_in_history_and_results() {
    let dir = tempfile::tempdir().unwrap();
    let store = objects::local_store(dir.path()).unwrap();
    let stream = MemStream::new(4);
    let events: Vec<_> = (1..=5).flat_map(|r| (1..=30).map(move |s| event(r, 12, 1, s))).collect();
    stream.put_all(events.iter().map(put_of)).await;

    let db = Database::open(&dir.path().join(alleycat_ingest::db::DATABASE_FILE)).await.unwrap();
    let merger = Merger::new(store.clone(), db.clone(), MergeConfig::default());
    let mut merged = merger.progress();
    let (tx, rx) = mpsc::unbounded_channel();
    let (stop_merge, merge_stopped) = oneshot::channel::<()>();
    let merge_task = tokio::spawn(merge::run(merger, rx, async {
        let _ = merge_stopped.await;
    }));
    let delivery = Delivery::new(
        stream.clone(),
        store.clone(),
        DeliveryConfig { interval: Duration::from_millis(200), ..Default::default() },
    )
    .notify(tx);
    let (stop, stopped) = oneshot::channel::<()>();
    let delivery_task = tokio::spawn(delivery.run(async {
        let _ = stopped.await;
    }));

    within(
        WAIT,
        "progress: records == events.len() as u64",
        merged.wait_for(|p| p.records == events.len() as u64),
    )
    .await
    .unwrap();
    stop.send(()).unwrap();
    delivery_task.await.unwrap().unwrap();
    // The merge also stops by itself once delivery has dropped its end of the channel.
    let _ = stop_merge.send(());
    merge_task.await.unwrap().unwrap();

    let file = objects::history_file(store.as_ref(), 1).await.unwrap().expect("class 1 history");
    let history = alleycat_domain::history::decode(&file.bytes).unwrap();
    assert_eq!(history.racer_count(), 5);
    for e in &events {
        assert_eq!(
            history.best(e.racer_id, e.second),
            Some(alleycat_domain::output::to_centi(e.output()))
        );
    }
    let results = db.race_results(12, 1).await.unwrap();
    assert_eq!(results.len(), 5);
    assert!(results.windows(2).all(|w| w[0].total >= w[1].total));
    let board = db.leaderboard(1, 10).await.unwrap();
    assert_eq!(board.len(), 5);
    assert_eq!(board[0].racer_id, results[0].racer_id);
    assert_eq!(db.recent_races(1, 10).await.unwrap()[0].racers, 5);
}

#[tokio::test]
async fn checkpoints_that_fail_on_a_full_disk_are_retried_and_delivery_goes_on_once_space_is_back()
{
    let mem = MemFs::new();
    let clock = ManualClock::new(1_767_225_600_000);
    let stream: Arc<dyn Stream> = Arc::new(
        DiskStream::open_with(
            Arc::new(mem.clone()),
            Arc::new(clock),
            "/stream",
            StreamConfig { shards: 2, ..StreamConfig::default() },
        )
        .unwrap(),
    );
    let events: Vec<_> = (1..=4).flat_map(|r| (1..=30).map(move |s| event(r, 7, 3, s))).collect();
    let puts: Vec<_> = events
        .iter()
        .map(put_of)
        .map(|(key, data)| PutRecord {
            partition_key: key,
            explicit_hash_key: None,
            data: data.into(),
        })
        .collect();
    assert_eq!(stream.put_records(puts).await.unwrap().failed_record_count, 0);

    // The checkpoint's temporary file cannot be written: the disk is full.
    mem.inject(FsOp::Write, Some(Injected::NoSpace));
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let config = DeliveryConfig { interval: Duration::from_millis(100), ..config() };
    let (tx, mut announced) = mpsc::unbounded_channel();
    let delivery = Delivery::new(Arc::clone(&stream), Arc::clone(&store), config).notify(tx);
    let mut progress = delivery.progress();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(delivery.run(async {
        let _ = stopped.await;
    }));
    let deadline = Duration::from_secs(20);
    // An object is stored, but its batch is not done while its checkpoint fails.
    tokio::time::timeout(deadline, announced.recv()).await.unwrap().unwrap();
    let retried = tokio::time::timeout(deadline, async {
        while mem.injected_failures() < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    retried.await.expect("the checkpoint is tried again and again");
    assert_eq!(progress.borrow().flushes, 0);
    assert!(!task.is_finished(), "delivery gave up on a failing checkpoint");

    mem.inject(FsOp::Write, None);
    tokio::time::timeout(deadline, progress.wait_for(|p| p.records >= events.len() as u64))
        .await
        .unwrap()
        .unwrap();
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
    let checkpoints = stream.checkpoints(CONSUMER).await.unwrap();
    let stored: usize = checkpoints.values().map(|s| (s.0 as u64 + 1) as usize).sum();
    assert_eq!(stored, events.len(), "every record checkpointed once delivered");
}

#[tokio::test]
async fn history_writes_that_fail_for_a_while_are_retried_and_the_merge_misses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let inner = objects::local_store(dir.path()).unwrap();
    let events: Vec<_> = (1..=3).flat_map(|r| (1..=20).map(move |s| event(r, 5, 2, s))).collect();
    let object = Path::from("delivery/2026/01/01/00/object-1.gz");
    inner.put(&object, delivery_support::delivered_object(&events).into()).await.unwrap();
    // The first history writes fail (the store is unreachable), then it heals.
    let store = FailingStore::new(inner, 3);
    let db = Database::open(&dir.path().join(alleycat_ingest::db::DATABASE_FILE)).await.unwrap();
    let merger = Merger::new(store.clone(), db.clone(), MergeConfig::default());
    let mut merged = merger.progress();
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(merge::run(merger, rx, std::future::pending()));
    tokio::time::timeout(
        Duration::from_secs(30),
        merged.wait_for(|p| p.records == events.len() as u64),
    )
    .await
    .expect("the merge caught up after the store healed")
    .unwrap();
    assert_eq!(store.failed.load(Ordering::SeqCst), 3, "the failures happened");
    drop(tx);
    task.await.unwrap().unwrap();
    let file = objects::history_file(store.as_ref(), 2).await.unwrap().expect("class 2 history");
    let history = alleycat_domain::history::decode(&file.bytes).unwrap();
    assert_eq!(history.racer_count(), 3);
    assert_eq!(db.race_results(5, 2).await.unwrap().len(), 3);
}
