//! `alleycat` with its objects in an S3-compatible bucket (a real moto server, see
//! `moto_support`): `serve` delivers there and serves history files from there, `rebuild`
//! reproduces them from the bucket alone, and bad store settings stop it at start with a clear
//! message.

#[path = "../../ingest/tests/moto_support/mod.rs"]
mod moto_support;
mod support;

use std::time::Duration;

use alleycat_ingest::objects::{self, StoreConfig};
use futures::TryStreamExt;
use moto_support::Moto;
use object_store::{path::Path, ObjectStore, ObjectStoreExt};
use support::{eventually, post_events, run_alleycat, three_racers_ride, to_json, RACE_SECONDS};

const BUCKET: &str = "alleycat-serve";
const LOCATION: &str = "s3://alleycat-serve/site";

/// Every history file in the bucket under the site's prefix, by key.
async fn history_files(bucket: &dyn ObjectStore) -> Vec<(String, Vec<u8>)> {
    let keys: Vec<Path> = bucket
        .list(Some(&Path::from("site/history")))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .unwrap();
    let mut files = Vec::new();
    for key in keys {
        let bytes = bucket.get(&key).await.unwrap().bytes().await.unwrap();
        files.push((key.to_string(), bytes.to_vec()));
    }
    files.sort();
    files
}

/// Runs `alleycat` with `args` and `env` to its end (at most a minute).
#[tokio::test]
async fn serve_stores_objects_in_the_bucket_and_rebuild_reproduces_its_history_files() {
    let moto = Moto::start();
    moto.create_bucket(BUCKET);
    let data = tempfile::tempdir().unwrap();
    let dist = tempfile::tempdir().unwrap();
    support::write_fake_dist(dist.path());
    let env = moto.alleycat_env(LOCATION);
    let (mut child, base) = support::spawn_server(data.path(), dist.path(), &env);

    // Three racers ride the last race in class 2, racer 3 the strongest.
    let (race, _) = support::wall_race_now();
    let past = race - 1;
    let events = three_racers_ride(past, 2);
    let client = support::client();
    let body = post_events(&client, &base, &events.iter().map(to_json).collect::<Vec<_>>()).await;
    assert_eq!(body["failedRecordCount"], 0, "{body}");

    // The history file is served once the merge has folded every racer in.
    let served =
        eventually(Duration::from_secs(20), "the history file of three racers", || async {
            let response =
                client.get(format!("{base}/api/history/class-2.gz")).send().await.ok()?;
            (response.status() == 200).then_some(())?;
            let bytes = response.bytes().await.ok()?;
            let decoded = alleycat_domain::history::decode(&bytes).ok()?;
            (decoded.racer_count() == 3).then_some((bytes.to_vec(), decoded))
        })
        .await;
    let (served, decoded) = served;
    for e in &events {
        let centi = (e.output() * 100.0).round() as u32;
        assert_eq!(decoded.best(e.racer_id, e.second), Some(centi), "{e:?}");
    }
    assert!(support::terminate(&mut child).success(), "SIGTERM exits cleanly");

    // It was served from the bucket, where delivery put its objects; none are on local disk.
    let bucket = objects::open_store(&StoreConfig::S3(moto.s3_config(BUCKET))).await.unwrap();
    let live = history_files(bucket.as_ref()).await;
    assert_eq!(live.len(), 1, "only class 2 has a history: {:?}", live.iter().map(|f| &f.0));
    assert_eq!((live[0].0.as_str(), &live[0].1), ("site/history/class-2.gz", &served));
    let delivered: Vec<_> =
        bucket.list(Some(&Path::from("site/delivery"))).try_collect().await.unwrap();
    assert!(!delivered.is_empty());
    for local in ["delivery", "history"] {
        assert!(!data.path().join(local).exists(), "{local}/ is in the data directory");
    }

    // Rebuild from the bucket alone: the history files are gone first, and come back the same.
    for (key, _) in &live {
        bucket.delete(&Path::from(key.as_str())).await.unwrap();
    }
    let mut rebuild_env = env.clone();
    rebuild_env.push(("ALLEYCAT_DATA_DIR", data.path().display().to_string()));
    rebuild_env.push(("ALLEYCAT_RACE_SECONDS", RACE_SECONDS.to_string()));
    let rebuilt = run_alleycat(&["rebuild"], &rebuild_env);
    assert!(rebuilt.status.success(), "{}", String::from_utf8_lossy(&rebuilt.stderr));
    assert_eq!(history_files(bucket.as_ref()).await, live, "rebuilt byte for byte");
}

#[tokio::test]
async fn bad_object_store_settings_stop_the_server_at_start_with_a_clear_message() {
    let data = tempfile::tempdir().unwrap();
    let base_env = vec![
        ("ALLEYCAT_DATA_DIR", data.path().display().to_string()),
        ("ALLEYCAT_PORT", "0".to_owned()),
        ("ALLEYCAT_ROSTER_SIZE", "10".to_owned()),
    ];
    let unknown = run_alleycat(&["serve", "--object-store", "gs://bucket"], &base_env);
    let message = String::from_utf8_lossy(&unknown.stderr);
    assert!(!unknown.status.success());
    assert!(message.contains("unknown object store \"gs://bucket\""), "{message}");

    let moto = Moto::start();
    let mut env = moto.alleycat_env("s3://no-such-bucket/site");
    env.extend(base_env);
    for args in [&["serve"][..], &["rebuild"]] {
        let missing = run_alleycat(args, &env);
        let message = String::from_utf8_lossy(&missing.stderr);
        assert!(!missing.status.success(), "{args:?}: {message}");
        assert!(
            message.contains("the S3 bucket no-such-bucket does not exist at http://127.0.0.1:"),
            "{args:?}: {message}"
        );
        assert!(!message.contains("panicked"), "{message}");
    }
}
