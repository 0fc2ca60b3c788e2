//! The merge: order-independent and idempotent (property tests), rebuild equals live, import of
//! the original format. Every test runs against both backends of the results database: the
//! embedded SQLite and a real PostgreSQL (started by the testkit); the property test with fewer
//! cases on PostgreSQL, where each case makes two databases.

mod delivery_support;

use std::sync::Arc;

use alleycat_domain::{history, RacerEvent};
use alleycat_ingest::{
    db::{Database, RaceResult},
    merge::{self, MergeConfig, Merger},
    objects,
};
use alleycat_testkit::postgres::Postgres;
use delivery_support::{delivered_object, event};
use object_store::{memory::InMemory, path::Path, ObjectStore, ObjectStoreExt, PutPayload};
use proptest::prelude::*;

/// Everything the merge produced that a reader can see.
#[derive(Debug, PartialEq)]
struct Outcome {
    history: Vec<Option<Vec<u8>>>,
    results: Vec<Vec<RaceResult>>,
    leaderboards: Vec<Vec<alleycat_ingest::db::ClassRecord>>,
    races: Vec<Vec<alleycat_ingest::db::RaceSummary>>,
}

async fn outcome(store: &dyn ObjectStore, db: &Database, races: &[u64]) -> Outcome {
    let mut o = Outcome { history: vec![], results: vec![], leaderboards: vec![], races: vec![] };
    for class in 1..=6 {
        o.history
            .push(objects::history_file(store, class).await.unwrap().map(|f| f.bytes.to_vec()));
        o.leaderboards.push(db.leaderboard(class, 1000).await.unwrap());
        o.races.push(db.recent_races(class, 1000).await.unwrap());
        for &race in races {
            o.results.push(db.race_results(race, class).await.unwrap());
        }
    }
    o
}

/// Stores each group of events as one delivered object; returns the paths in the given order.
async fn store_objects(
    store: &dyn ObjectStore,
    groups: &[Vec<RacerEvent>],
    tag: &str,
) -> Vec<Path> {
    let mut paths = Vec::new();
    for (i, group) in groups.iter().enumerate() {
        let path = Path::from(format!(
            "delivery/2025/11/25/18/alleycat-1-2025-11-25-18-00-00-{tag}{i:04}.gz"
        ));
        store.put(&path, PutPayload::from(delivered_object(group))).await.unwrap();
        paths.push(path);
    }
    paths
}

/// A fresh database of each backend: SQLite in memory, and the PostgreSQL database `name` created
/// on `server`; with the backend's name.
async fn fresh_databases(server: &Postgres, name: &str) -> Vec<(&'static str, Database)> {
    let url = server.create_database(name).unwrap().parse().unwrap();
    vec![
        ("sqlite", Database::in_memory().await.unwrap()),
        ("postgres", Database::connect_postgres(&url).await.unwrap()),
    ]
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// `e` ridden on a trainer that measured the output the simulated bike would have given, so
/// that the same second on both kinds of bike ties.
fn on_a_trainer(e: RacerEvent) -> RacerEvent {
    RacerEvent {
        source: alleycat_domain::Source::Trainer,
        power: Some(alleycat_domain::output(e.cadence, e.resistance)),
        ..e
    }
}

/// Events of a few racers, races and classes, some ridden on a trainer (ties with the same
/// second on the simulated bike included).
fn arb_events() -> impl Strategy<Value = Vec<RacerEvent>> {
    prop::collection::vec((1u64..6, 100u64..103, 1u8..=3, 1u32..=300, any::<bool>()), 1..60)
        .prop_map(|picks| {
            picks
                .into_iter()
                .map(|(r, race, class, s, trainer)| {
                    let e = event(r, race, class, s);
                    if trainer {
                        on_a_trainer(e)
                    } else {
                        e
                    }
                })
                .collect()
        })
}

/// Merging `events` in one object gives what merging them cut at `cuts` into shuffled objects,
/// one of them twice, one object per commit, gives; each run on fresh databases from `fresh`.
async fn order_and_duplicates_do_not_matter<F, Fut>(
    events: Vec<RacerEvent>,
    cuts: Vec<prop::sample::Index>,
    order: prop::sample::Index,
    duplicate: prop::sample::Index,
    mut fresh: F,
) -> Result<(), TestCaseError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Database>,
{
    let races = [100, 101, 102];
    // Reference: all events in one object, merged once.
    let reference_store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let reference_db = fresh().await;
    let paths = store_objects(reference_store.as_ref(), std::slice::from_ref(&events), "a").await;
    Merger::new(reference_store.clone(), reference_db.clone(), MergeConfig::default())
        .merge_objects(&paths)
        .await
        .unwrap();
    let expected = outcome(reference_store.as_ref(), &reference_db, &races).await;

    // The same events cut into objects, shuffled, one merged twice, one object per commit.
    let mut at: Vec<usize> = cuts.iter().map(|c| c.index(events.len() + 1)).collect();
    at.sort_unstable();
    let mut groups = Vec::new();
    let mut from = 0;
    for to in at.into_iter().chain([events.len()]) {
        if to > from {
            groups.push(events[from..to].to_vec());
            from = to;
        }
    }
    let shift = order.index(groups.len());
    groups.rotate_left(shift);
    let extra = groups[duplicate.index(groups.len())].clone();
    groups.push(extra);
    groups.reverse();
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let db = fresh().await;
    let paths = store_objects(store.as_ref(), &groups, "b").await;
    let mut merger = Merger::new(store.clone(), db.clone(), MergeConfig::default());
    for path in &paths {
        merger.merge_objects(std::slice::from_ref(path)).await.unwrap();
    }
    // And the first object once more, as a duplicate delivery after a crash would.
    merger.merge_objects(&paths[..1]).await.unwrap();
    let actual = outcome(store.as_ref(), &db, &races).await;
    prop_assert_eq!(actual, expected);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn merging_is_order_independent_and_idempotent(
        events in arb_events(),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        order in any::<prop::sample::Index>(),
        duplicate in any::<prop::sample::Index>(),
    ) {
        runtime().block_on(order_and_duplicates_do_not_matter(
            events, cuts, order, duplicate, || async { Database::in_memory().await.unwrap() },
        ))?;
    }
}

/// The same property on PostgreSQL: fewer cases (each makes two databases), one server for all.
#[test]
fn merging_into_postgres_is_order_independent_and_idempotent() {
    let server = Postgres::start().unwrap();
    let made = std::cell::Cell::new(0u32);
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 6,
        ..ProptestConfig::default()
    });
    let strategy = (
        arb_events(),
        prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
    );
    runner
        .run(&strategy, |(events, cuts, order, duplicate)| {
            runtime().block_on(order_and_duplicates_do_not_matter(
                events,
                cuts,
                order,
                duplicate,
                || {
                    made.set(made.get() + 1);
                    let url = server.create_database(&format!("prop{}", made.get())).unwrap();
                    async move { Database::connect_postgres(&url.parse().unwrap()).await.unwrap() }
                },
            ))
        })
        .unwrap();
}

#[tokio::test]
async fn rebuild_gives_byte_identical_history_and_the_same_results_as_live() {
    let server = Postgres::start().unwrap();
    let live = fresh_databases(&server, "live").await;
    let rebuilt = fresh_databases(&server, "rebuilt").await;
    for ((backend, live_db), (_, rebuilt_db)) in live.into_iter().zip(rebuilt) {
        eprintln!("backend: {backend}");
        rebuild_equals_live(live_db, rebuilt_db).await;
    }
}

async fn rebuild_equals_live(live_db: Database, rebuilt_db: Database) {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let groups: Vec<Vec<RacerEvent>> = (0..12)
        .map(|i| {
            let race = 200 + i / 4;
            (1..=30u64)
                .flat_map(|racer| (1..=25).map(move |s| (racer, s)))
                .map(|(racer, s)| {
                    let e = event(racer, race, (racer % 3 + 1) as u8, s + (i % 4) as u32 * 25);
                    // Every fourth racer rides race 201 on a trainer.
                    if racer % 4 == 0 && race == 201 {
                        on_a_trainer(e)
                    } else {
                        e
                    }
                })
                .collect()
        })
        .collect();
    let paths = store_objects(store.as_ref(), &groups, "live").await;

    // Live: one object at a time, as delivery announces them, with an import in the middle.
    let mut merger = Merger::new(store.clone(), live_db.clone(), MergeConfig::default());
    for (i, path) in paths.iter().enumerate() {
        merger.merge_objects(std::slice::from_ref(path)).await.unwrap();
        if i == 5 {
            let original = br#"{"1":{"5000":150.5,"2":999.99},"2":{"5000":151}}"#;
            assert_eq!(merge::import_original(&mut merger, 2, original).await.unwrap(), 2);
        }
    }
    let races = [200, 201, 202];
    let live = outcome(store.as_ref(), &live_db, &races).await;
    assert!(live.history.iter().filter(|h| h.is_some()).count() == 3);

    // Rebuild from the objects into a fresh database, replacing the history files.
    let stats =
        merge::rebuild(store.clone(), rebuilt_db.clone(), MergeConfig::default()).await.unwrap();
    assert_eq!(stats.objects, paths.len() as u64 + 1);
    let rebuilt = outcome(store.as_ref(), &rebuilt_db, &races).await;
    assert_eq!(rebuilt, live);

    // The trainer's bests kept their real-bike marks through the rebuild (racer 4 rides class
    // 2), and only theirs.
    let file = objects::history_file(store.as_ref(), 2).await.unwrap().unwrap();
    let h = history::decode(&file.bytes).unwrap();
    let marked = |racer| (1..=100).filter(|&s| h.real_bike(racer, s)).count();
    assert!(marked(4) > 0, "racer 4's best on the trainer is marked somewhere");
    assert_eq!(marked(1), 0, "racer 1 never rode a trainer");

    // The import survived the rebuild.
    let file = objects::history_file(store.as_ref(), 2).await.unwrap().unwrap();
    let h = history::decode(&file.bytes).unwrap();
    assert_eq!(h.best(5000, 1), Some(15050));
    assert_eq!(h.best(2, 1), Some(99999));
}

#[tokio::test]
async fn a_restarted_merge_merges_only_objects_it_has_not_merged() {
    let server = Postgres::start().unwrap();
    for (backend, db) in fresh_databases(&server, "restart_merges_only_new").await {
        eprintln!("backend: {backend}");
        restart_merges_only_new(db).await;
    }
}

async fn restart_merges_only_new(db: Database) {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let first = store_objects(store.as_ref(), &[vec![event(1, 300, 4, 1)]], "x").await;
    let mut merger = Merger::new(store.clone(), db.clone(), MergeConfig::default());
    assert_eq!(merger.unmerged().await.unwrap(), first);
    merger.merge_objects(&first).await.unwrap();
    let second = store_objects(store.as_ref(), &[vec![event(1, 300, 4, 2)]], "y").await;
    let restarted = Merger::new(store.clone(), db.clone(), MergeConfig::default());
    assert_eq!(restarted.unmerged().await.unwrap(), second);
}

#[tokio::test]
async fn importing_a_file_that_is_not_the_original_format_fails_with_a_typed_error() {
    let server = Postgres::start().unwrap();
    for (backend, db) in fresh_databases(&server, "bad_import_is_typed").await {
        eprintln!("backend: {backend}");
        bad_import_is_typed(db).await;
    }
}

async fn bad_import_is_typed(db: Database) {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let mut merger = Merger::new(store, db, MergeConfig::default());
    assert!(matches!(
        merge::import_original(&mut merger, 2, b"[1,2,3]").await,
        Err(merge::MergeError::Import(_))
    ));
    assert!(matches!(
        merge::import_original(&mut merger, 7, b"{}").await,
        Err(merge::MergeError::InvalidClass(7))
    ));
}

#[tokio::test]
async fn an_object_that_is_not_gzip_ndjson_is_skipped_and_does_not_block_the_rest() {
    let server = Postgres::start().unwrap();
    for (backend, db) in fresh_databases(&server, "bad_object_is_skipped").await {
        eprintln!("backend: {backend}");
        bad_object_is_skipped(db).await;
    }
}

async fn bad_object_is_skipped(db: Database) {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let bad = Path::from("delivery/2025/11/25/18/alleycat-1-2025-11-25-18-00-00-bad.gz");
    store.put(&bad, PutPayload::from_static(b"not gzip at all")).await.unwrap();
    let mut paths = vec![bad];
    paths.extend(store_objects(store.as_ref(), &[vec![event(3, 300, 6, 7)]], "ok").await);
    let mut merger = Merger::new(store.clone(), db.clone(), MergeConfig::default());
    merger.merge_objects(&paths).await.unwrap();
    assert_eq!(merger.progress().borrow().objects, 2);
    assert_eq!(db.race_results(300, 6).await.unwrap().len(), 1);
    assert!(merger.unmerged().await.unwrap().is_empty(), "the bad object is not retried forever");
}

#[tokio::test]
async fn an_unreadable_history_file_is_set_aside_and_does_not_stop_the_merge() {
    let server = Postgres::start().unwrap();
    for (backend, db) in fresh_databases(&server, "bad_history_is_set_aside").await {
        eprintln!("backend: {backend}");
        bad_history_is_set_aside(db).await;
    }
}

async fn bad_history_is_set_aside(db: Database) {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let corrupt = Path::from("history/class-6.gz");
    store.put(&corrupt, PutPayload::from_static(b"not a history file")).await.unwrap();
    let paths =
        store_objects(store.as_ref(), &[vec![event(3, 300, 6, 7), event(4, 300, 2, 7)]], "q").await;
    // The set-aside file is named for when the merge found it, on the merge's clock.
    let found_at = 1_767_225_600_000;
    let clock = Arc::new(alleycat_domain::ManualClock::new(found_at));
    let mut merger = Merger::new(store.clone(), db.clone(), MergeConfig::default()).clock(clock);
    merger.merge_objects(&paths).await.unwrap();

    assert_eq!(db.race_results(300, 6).await.unwrap().len(), 1);
    assert_eq!(db.race_results(300, 2).await.unwrap().len(), 1);
    let file = objects::history_file(store.as_ref(), 6).await.unwrap().expect("rewritten");
    let decoded = history::decode(&file.bytes).expect("a readable history file again");
    assert_eq!(decoded.racer_count(), 1);
    let set_aside: Vec<_> = {
        use futures::TryStreamExt;
        store.list(Some(&Path::from("quarantine/history"))).try_collect().await.unwrap()
    };
    assert_eq!(set_aside.len(), 1);
    assert_eq!(
        set_aside[0].location,
        Path::from(format!("quarantine/history/class-6-{found_at}.gz"))
    );
    assert_eq!(
        store.get(&set_aside[0].location).await.unwrap().bytes().await.unwrap().as_ref(),
        b"not a history file"
    );
}
