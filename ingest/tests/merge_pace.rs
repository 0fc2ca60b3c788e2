//! The live merge's pace: objects announced within `min_commit_interval` of the previous commit
//! are folded into one commit, so that a burst of deliveries costs one history encode per class,
//! not one per object.
//!
//! On tokio's single-threaded test runtime, a few `yield_now`s after each announcement let the
//! merge run on with it before the next one is sent, so that without the pace they would be
//! committed apart (the test then sees three or more commits).

mod delivery_support;

use std::{sync::Arc, time::Duration};

use alleycat_ingest::{
    db::Database,
    merge::{self, MergeConfig, MergeProgress, Merger},
};
use delivery_support::{delivered_object, event, within, WAIT};
use object_store::{memory::InMemory, path::Path, ObjectStore, ObjectStoreExt, PutPayload};
use tokio::sync::{mpsc, watch};

/// Longer than the test takes to announce a burst on any machine.
const PACE: Duration = Duration::from_secs(2);

/// Stores one delivered object holding `racer`'s first ten seconds of race 7, class 1.
async fn object(store: &dyn ObjectStore, racer: u64) -> Path {
    let events: Vec<_> = (1..=10).map(|s| event(racer, 7, 1, s)).collect();
    let path =
        Path::from(format!("delivery/2025/11/25/18/alleycat-1-2025-11-25-18-00-00-{racer:04}.gz"));
    store.put(&path, PutPayload::from(delivered_object(&events))).await.unwrap();
    path
}

async fn until_objects(progress: &mut watch::Receiver<MergeProgress>, n: u64) -> MergeProgress {
    *within(WAIT, "progress: objects >= n", progress.wait_for(|p| p.objects >= n)).await.unwrap()
}

#[tokio::test]
async fn objects_announced_within_the_interval_after_a_commit_are_merged_in_one_commit() {
    let store = Arc::new(InMemory::new());
    let config = MergeConfig { min_commit_interval: PACE, ..MergeConfig::default() };
    let merger = Merger::new(store.clone(), Database::in_memory().await.unwrap(), config);
    let mut progress = merger.progress();
    let (announce, announced) = mpsc::unbounded_channel();
    let merge = tokio::spawn(merge::run(merger, announced, std::future::pending()));

    // The first object has no commit before it to wait for.
    announce.send(object(store.as_ref(), 1).await).unwrap();
    let first = until_objects(&mut progress, 1).await;
    assert_eq!((first.commits, first.records), (1, 10));

    // Five more right after that commit, the merge running on with each before the next.
    for racer in 2..=6 {
        announce.send(object(store.as_ref(), racer).await).unwrap();
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }
    let after = until_objects(&mut progress, 6).await;
    assert_eq!((after.commits, after.records), (2, 60), "the five are one commit");

    drop(announce);
    merge.await.unwrap().unwrap();
}
