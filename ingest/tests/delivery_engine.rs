//! Delivery and merge through the embedded stream engine, in memory and on disk: everything put
//! is delivered and merged, a restart re-delivers nothing already checkpointed, and a crash
//! before the checkpoint only re-delivers (harmlessly).

mod delivery_support;

use std::{path::PathBuf, sync::Arc, time::Duration};

use alleycat_ingest::{
    db::Database,
    delivery::{Delivery, DeliveryConfig, DeliveryProgress},
    merge::{MergeConfig, Merger},
    objects,
    stream::{DiskStream, ManualClock, MemFs, PutRecord, Stream, StreamConfig, SystemClock},
};
use delivery_support::{event, put_of, within, WAIT};
use object_store::{memory::InMemory, ObjectStore};
use tokio::sync::{mpsc, oneshot, watch};

enum Disk {
    Memory(Arc<MemFs>),
    Real(tempfile::TempDir),
}

fn open(disk: &Disk) -> Arc<DiskStream> {
    let config = StreamConfig { shards: 3, ..Default::default() };
    Arc::new(match disk {
        Disk::Memory(fs) => DiskStream::open_with(
            fs.clone(),
            Arc::new(ManualClock::new(1_764_093_600_000)),
            PathBuf::from("/stream"),
            config,
        )
        .unwrap(),
        Disk::Real(dir) => DiskStream::open_with(
            Arc::new(alleycat_ingest::stream::RealFs),
            Arc::new(SystemClock),
            dir.path().join("stream"),
            config,
        )
        .unwrap(),
    })
}

async fn put(
    stream: &DiskStream,
    racers: std::ops::RangeInclusive<u64>,
    seconds: std::ops::RangeInclusive<u32>,
) -> u64 {
    let mut n = 0;
    for s in seconds {
        let records: Vec<_> = racers
            .clone()
            .map(|r| {
                let (key, data) = put_of(&event(r, 40, (r % 6 + 1) as u8, s));
                PutRecord { partition_key: key, explicit_hash_key: None, data: data.into() }
            })
            .collect();
        n += records.len() as u64;
        let out = stream.put_records(records).await.unwrap();
        assert_eq!(out.failed_record_count, 0);
    }
    n
}

struct Running {
    progress: watch::Receiver<DeliveryProgress>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), alleycat_ingest::delivery::DeliveryError>>,
}

fn deliver(
    stream: Arc<DiskStream>,
    store: Arc<dyn ObjectStore>,
    notify: mpsc::UnboundedSender<object_store::path::Path>,
) -> Running {
    let config = DeliveryConfig {
        interval: Duration::from_millis(100),
        read_wait: Duration::from_millis(100),
        ..Default::default()
    };
    let delivery = Delivery::new(stream, store, config).notify(notify);
    let progress = delivery.progress();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(delivery.run(async {
        let _ = stopped.await;
    }));
    Running { progress, stop, task }
}

async fn every_record_is_delivered_once_and_merged(disk: Disk) {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let stream = open(&disk);
    let total = put(&stream, 1..=30, 1..=20).await;

    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut run = deliver(stream.clone(), store.clone(), tx);
    within(WAIT, "progress: records == total", run.progress.wait_for(|p| p.records == total))
        .await
        .unwrap();
    run.stop.send(()).unwrap();
    run.task.await.unwrap().unwrap();

    // Restart on the same stream: more records arrive; only those are delivered.
    drop(stream);
    let stream = open(&disk);
    let more = put(&stream, 1..=30, 21..=25).await;
    let (tx2, mut rx2) = mpsc::unbounded_channel();
    let mut run = deliver(stream.clone(), store.clone(), tx2);
    within(WAIT, "progress: records >= more", run.progress.wait_for(|p| p.records >= more))
        .await
        .unwrap();
    run.stop.send(()).unwrap();
    run.task.await.unwrap().unwrap();
    assert_eq!(run.progress.borrow().records, more, "nothing checkpointed is delivered again");

    let mut paths = Vec::new();
    while let Ok(p) = rx.try_recv() {
        paths.push(p);
    }
    while let Ok(p) = rx2.try_recv() {
        paths.push(p);
    }
    let db = Database::in_memory().await.unwrap();
    let mut merger = Merger::new(store.clone(), db.clone(), MergeConfig::default());
    merger.merge_objects(&paths).await.unwrap();
    assert_eq!(merger.progress().borrow().records, total + more);
    for class in 1..=6u8 {
        let results = db.race_results(40, class).await.unwrap();
        assert_eq!(results.len(), 5, "class {class}");
        assert!(results.iter().all(|r| r.seconds == 25));
    }
}

#[tokio::test]
async fn through_the_engine_in_memory_every_record_is_delivered_once_and_merged() {
    every_record_is_delivered_once_and_merged(Disk::Memory(Arc::new(MemFs::new()))).await;
}

#[tokio::test]
async fn through_the_engine_on_disk_every_record_is_delivered_once_and_merged() {
    every_record_is_delivered_once_and_merged(Disk::Real(tempfile::tempdir().unwrap())).await;
}

#[tokio::test]
async fn through_the_engine_a_crash_before_the_checkpoint_redelivers_and_the_merge_counts_once() {
    let fs = Arc::new(MemFs::new());
    let disk = Disk::Memory(fs.clone());
    let dir = tempfile::tempdir().unwrap();
    let store = objects::local_store(dir.path()).unwrap();
    let stream = open(&disk);
    let total = put(&stream, 1..=12, 1..=10).await;

    // The stream's disk refuses writes: objects are stored but checkpoints fail; then a crash.
    fs.fail_writes(true);
    let (tx, mut rx) = mpsc::unbounded_channel();
    let first = deliver(stream.clone(), store.clone(), tx);
    let mut delivered = 0;
    let mut paths = Vec::new();
    while delivered < total {
        let path = within(WAIT, "the next object", rx.recv()).await.unwrap();
        let gz = object_store::ObjectStoreExt::get(store.as_ref(), &path)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        delivered += alleycat_domain::gzip::gunzip_members(&gz, usize::MAX)
            .unwrap()
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .count() as u64;
        paths.push(path);
    }
    first.task.abort();
    let _ = first.task.await;
    fs.fail_writes(false);

    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut second = deliver(stream.clone(), store.clone(), tx);
    within(WAIT, "progress: records == total", second.progress.wait_for(|p| p.records == total))
        .await
        .unwrap();
    second.stop.send(()).unwrap();
    second.task.await.unwrap().unwrap();
    while let Ok(p) = rx.try_recv() {
        paths.push(p);
    }

    let db = Database::open(&dir.path().join(alleycat_ingest::db::DATABASE_FILE)).await.unwrap();
    let mut merger = Merger::new(store.clone(), db.clone(), MergeConfig::default());
    merger.merge_objects(&paths).await.unwrap();
    assert_eq!(merger.progress().borrow().records, 2 * total, "everything arrived twice");
    let results = db.race_results(40, 2).await.unwrap();
    assert_eq!(results.len(), 2);
    for r in results {
        let expected: f64 = (1..=10).map(|s| event(r.racer_id, 40, 2, s).output()).sum();
        assert_eq!(r.seconds, 10);
        assert!((r.total - expected).abs() < 1e-6);
    }
}

#[tokio::test]
async fn the_pipeline_delivers_merges_and_shuts_down_and_rebuild_reproduces_its_history() {
    use alleycat_ingest::pipeline::{self, Pipeline, PipelineConfig};
    let dir = tempfile::tempdir().unwrap();
    let stream = open(&Disk::Real(tempfile::tempdir().unwrap()));
    let (store, database) = pipeline::open_local(dir.path()).await.unwrap();
    let config = PipelineConfig {
        delivery: DeliveryConfig { interval: Duration::from_millis(200), ..Default::default() },
        ..Default::default()
    };
    let running = Pipeline::start(
        stream.clone(),
        store.clone(),
        database.clone(),
        config,
        Arc::new(SystemClock),
    );
    let total = put(&stream, 1..=12, 1..=15).await;
    let mut merged = running.merge_progress();
    within(WAIT, "progress: records == total", merged.wait_for(|p| p.records == total))
        .await
        .unwrap();
    // More records, read but maybe not yet flushed: shutdown delivers and merges them too.
    let more = put(&stream, 1..=12, 16..=16).await;
    within(
        WAIT,
        "progress: read == total + more",
        running.delivery_progress().wait_for(|p| p.read == total + more),
    )
    .await
    .unwrap();
    running.shutdown().await.unwrap();
    assert_eq!(database.race_results(40, 3).await.unwrap()[0].seconds, 16);
    assert_eq!(merged.borrow().records, total + more);

    let mut live = Vec::new();
    for class in 1..=6 {
        live.push(objects::history_file(store.as_ref(), class).await.unwrap().unwrap().bytes);
    }
    let leaderboard = database.leaderboard(4, 100).await.unwrap();
    database.close().await;
    let stats = pipeline::rebuild_local(dir.path(), MergeConfig::default()).await.unwrap();
    assert_eq!(stats.records, total + more);
    let (store, database) = pipeline::open_local(dir.path()).await.unwrap();
    for class in 1..=6 {
        let rebuilt = objects::history_file(store.as_ref(), class).await.unwrap().unwrap().bytes;
        assert_eq!(rebuilt, live[class as usize - 1], "class {class}");
    }
    assert_eq!(database.leaderboard(4, 100).await.unwrap(), leaderboard);

    let original = br#"{"1":{"999":321.5}}"#;
    database.close().await;
    assert_eq!(
        pipeline::import_local(dir.path(), 5, original, MergeConfig::default()).await.unwrap(),
        1
    );
    let file = objects::history_file(store.as_ref(), 5).await.unwrap().unwrap();
    assert_eq!(alleycat_domain::history::decode(&file.bytes).unwrap().best(999, 1), Some(32150));
}
