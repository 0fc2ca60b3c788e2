//! Delivery and merge against a real S3-compatible server (moto, see `moto_support`): the
//! objects and history files land in the bucket under the configured prefix, in the same
//! layout as on disk; a missing bucket is a clear error when the store is opened.

mod delivery_support;
mod moto_support;

use std::{path::PathBuf, sync::Arc, time::Duration};

use alleycat_ingest::{
    db::Database,
    delivery::DeliveryConfig,
    objects::{self, StoreConfig, StoreError},
    pipeline::{Pipeline, PipelineConfig},
    stream::{DiskStream, ManualClock, MemFs, PutRecord, Stream, StreamConfig, SystemClock},
};
use delivery_support::{event, put_of, within, WAIT};
use futures::TryStreamExt;
use moto_support::Moto;
use object_store::{ObjectStore, ObjectStoreExt};

/// 2025-11-25T18:00:00Z: every record arrives then, so every object is under `…/2025/11/25/18/`.
const ARRIVAL_MS: u64 = 1_764_093_600_000;
const RACE: u64 = 40;

#[tokio::test]
async fn delivery_and_merge_store_gzip_objects_and_history_files_in_the_bucket() {
    let moto = Moto::start();
    moto.create_bucket("alleycat-delivery");
    let config = StoreConfig::S3(objects::S3Config {
        prefix: Some("deploy/one".into()),
        ..moto.s3_config("alleycat-delivery")
    });
    let store = objects::open_store(&config).await.unwrap();
    let stream = Arc::new(
        DiskStream::open_with(
            Arc::new(MemFs::new()),
            Arc::new(ManualClock::new(ARRIVAL_MS)),
            PathBuf::from("/stream"),
            StreamConfig { shards: 2, ..Default::default() },
        )
        .unwrap(),
    );
    let data = tempfile::tempdir().unwrap();
    let database =
        Database::open(&data.path().join(alleycat_ingest::db::DATABASE_FILE)).await.unwrap();
    let pipeline = Pipeline::start(
        stream.clone(),
        store.clone(),
        database.clone(),
        PipelineConfig {
            delivery: DeliveryConfig { interval: Duration::from_millis(200), ..Default::default() },
            ..Default::default()
        },
        Arc::new(SystemClock),
    );
    let events: Vec<_> =
        (1..=8u64).flat_map(|racer| (1..=10u32).map(move |s| event(racer, RACE, 2, s))).collect();
    let records = events
        .iter()
        .map(|e| {
            let (key, data) = put_of(e);
            PutRecord { partition_key: key, explicit_hash_key: None, data: data.into() }
        })
        .collect();
    assert_eq!(stream.put_records(records).await.unwrap().failed_record_count, 0);
    let total = events.len() as u64;
    within(
        WAIT,
        "progress: records == total",
        pipeline.merge_progress().wait_for(|p| p.records == total),
    )
    .await
    .unwrap();
    pipeline.shutdown().await.unwrap();

    // The bucket as a whole: everything is under the prefix, in the on-disk layout.
    let bucket =
        objects::open_store(&StoreConfig::S3(moto.s3_config("alleycat-delivery"))).await.unwrap();
    let keys: Vec<String> =
        bucket.list(None).map_ok(|meta| meta.location.to_string()).try_collect().await.unwrap();
    let delivered: Vec<&String> =
        keys.iter().filter(|k| k.starts_with("deploy/one/delivery/")).collect();
    assert!(!delivered.is_empty(), "no delivered object in {keys:?}");
    for key in &delivered {
        let name = key.strip_prefix("deploy/one/delivery/2025/11/25/18/").expect(key);
        assert!(
            name.starts_with("alleycat-1-2025-11-25-18-00-00-") && name.ends_with(".gz"),
            "{key}"
        );
    }
    let history: Vec<&String> = keys.iter().filter(|k| k.contains("/history/")).collect();
    assert_eq!(history, ["deploy/one/history/class-2.gz"], "only class 2 has a history");
    assert!(keys.iter().all(|k| k.starts_with("deploy/one/")), "{keys:?}");

    // Every record is in the objects, as gzip NDJSON with the output added.
    let mut lines = 0;
    for key in &delivered {
        let gz = bucket.get(&(*key).as_str().into()).await.unwrap().bytes().await.unwrap();
        for line in alleycat_domain::gzip::gunzip_members(&gz, usize::MAX)
            .unwrap()
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
        {
            let record: serde_json::Value = serde_json::from_slice(line).unwrap();
            assert!(record["output"].is_number(), "{record}");
            lines += 1;
        }
    }
    assert_eq!(lines, total);

    // The history file holds each racer's bests; the database its results.
    let file = objects::history_file(store.as_ref(), 2).await.unwrap().expect("class 2's history");
    let decoded = alleycat_domain::history::decode(&file.bytes).unwrap();
    assert_eq!(decoded.racer_count(), 8);
    let racer_5_at_7 = event(5, RACE, 2, 7).output();
    assert_eq!(decoded.best(5, 7), Some((racer_5_at_7 * 100.0).round() as u32));
    assert_eq!(database.race_results(RACE, 2).await.unwrap().len(), 8);
    // Nothing but the database went to the local data directory.
    let local: Vec<_> = std::fs::read_dir(data.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with(alleycat_ingest::db::DATABASE_FILE))
        .collect();
    assert!(local.is_empty(), "{local:?}");
}

#[tokio::test]
async fn a_bucket_that_does_not_exist_is_a_clear_error_when_the_store_is_opened() {
    let moto = Moto::start();
    let error = objects::open_store(&StoreConfig::S3(moto.s3_config("no-such-bucket")))
        .await
        .expect_err("a missing bucket is refused");
    assert!(matches!(error, StoreError::NoSuchBucket { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("no-such-bucket") && message.contains(&moto.endpoint), "{message}");
}
