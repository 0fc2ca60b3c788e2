//! The results database on both backends: migrations on an empty PostgreSQL database and re-run
//! as no-ops, the same answers from SQLite and PostgreSQL for the same merged objects, the shared
//! values, and clear errors for a bad URL or an unreachable server.

mod delivery_support;

use std::{sync::Arc, time::Duration};

use alleycat_domain::api::RacerInfo;
use alleycat_ingest::{
    db::{Database, PostgresUrl},
    merge::{MergeConfig, Merger},
};
use alleycat_testkit::postgres::Postgres;
use delivery_support::{delivered_object, event};
use object_store::{memory::InMemory, path::Path, ObjectStore, ObjectStoreExt, PutPayload};

const TABLES: &str = "_sqlx_migrations,ceremonies,class_records,devices,invites,merged_objects,\
passkeys,people,rides,roster,shared_keys";

fn url(server: &Postgres, name: &str) -> PostgresUrl {
    server.create_database(name).unwrap().parse().unwrap()
}

#[tokio::test]
async fn migrations_create_every_table_on_an_empty_postgres_database_and_rerun_as_no_ops() {
    let server = Postgres::start().unwrap();
    let url = url(&server, "fresh");
    let db = Database::connect_postgres(&url).await.unwrap();
    assert!(db.is_shared());
    db.add_racers(&[RacerInfo::new(1, "Ada A. Alder", u64::MAX)]).await.unwrap();
    // Read from `fresh` itself (psql is on the `postgres` database).
    let count = |sql: &'static str| {
        let url = url.as_str().to_owned();
        async move {
            let options: sqlx::postgres::PgConnectOptions = url.parse().unwrap();
            let mut connection =
                sqlx::ConnectOptions::connect(&options).await.expect("a connection");
            sqlx::query_scalar::<_, String>(sql).fetch_one(&mut connection).await.unwrap()
        }
    };
    let table_list = "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables \
                      WHERE schemaname = 'public'";
    let versions = "SELECT string_agg(version::text, ',' ORDER BY version) FROM _sqlx_migrations \
                    WHERE success";
    // Every embedded migration's version, from the file names (`0006_….sql` is 6).
    let mut embedded: Vec<u64> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/src/db/migrations_postgres"))
            .unwrap()
            .filter_map(|f| f.unwrap().file_name().to_str()?.split('_').next()?.parse().ok())
            .collect();
    embedded.sort_unstable();
    let embedded = embedded.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    assert_eq!(count(table_list).await, TABLES);
    assert_eq!(count(versions).await, embedded);
    db.migrate().await.unwrap();
    let again = Database::connect_postgres(&url).await.unwrap();
    assert_eq!(count(table_list).await, TABLES);
    assert_eq!(count(versions).await, embedded);
    let racers = again.racers().await.unwrap();
    assert_eq!(racers.len(), 1, "the data survives re-running the migrations");
    assert_eq!(racers[0].avatar_seed, u64::MAX, "u64 ids and seeds round-trip through BIGINT");
}

#[tokio::test]
async fn an_sqlite_file_is_migrated_once_and_keeps_its_data_when_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(alleycat_ingest::db::DATABASE_FILE);
    let db = Database::open(&path).await.unwrap();
    assert!(!db.is_shared());
    assert_eq!(db.shared_value("k", "first").await.unwrap(), ("first".into(), true));
    db.close().await;
    let again = Database::open(&path).await.unwrap();
    again.migrate().await.unwrap();
    assert_eq!(again.shared_value("k", "second").await.unwrap(), ("first".into(), false));
}

/// Everything a reader can ask the database after a merge.
async fn answers(db: &Database) -> Vec<String> {
    let mut out = Vec::new();
    for class in 1..=6 {
        out.push(format!("{:?}", db.recent_races(class, 100).await.unwrap()));
        out.push(format!("{:?}", db.leaderboard(class, 100).await.unwrap()));
        for race in [500, 501] {
            out.push(format!("{:?}", db.race_results(race, class).await.unwrap()));
        }
        for racer in 1..=8 {
            out.push(format!("{:?}", db.class_record(class, racer).await.unwrap()));
        }
    }
    let mut merged: Vec<_> = db.merged_objects().await.unwrap().into_iter().collect();
    merged.sort();
    out.push(format!("{merged:?}"));
    out
}

#[tokio::test]
async fn sqlite_and_postgres_give_the_same_answers_for_the_same_objects() {
    let server = Postgres::start().unwrap();
    let databases = [
        Database::in_memory().await.unwrap(),
        Database::connect_postgres(&url(&server, "same")).await.unwrap(),
    ];
    let mut all = Vec::new();
    for db in &databases {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let mut paths = Vec::new();
        for i in 0..6u32 {
            let events: Vec<_> = (1..=8u64)
                .flat_map(|racer| {
                    (1..=20).map(move |s| {
                        event(racer, 500 + u64::from(i % 2), (racer % 6 + 1) as u8, s + i * 10)
                    })
                })
                .collect();
            let path = Path::from(format!(
                "delivery/2025/11/25/18/alleycat-1-2025-11-25-18-00-00-same{i:04}.gz"
            ));
            store.put(&path, PutPayload::from(delivered_object(&events))).await.unwrap();
            paths.push(path);
        }
        let mut merger = Merger::new(store.clone(), db.clone(), MergeConfig::default());
        merger.merge_objects(&paths[..3]).await.unwrap();
        merger.merge_objects(&paths[2..]).await.unwrap();
        all.push(answers(db).await);
    }
    assert!(all[0].iter().any(|a| a.contains("racerId") || a.contains("racer_id")));
    assert_eq!(all[0], all[1]);
}

#[tokio::test]
async fn shared_values_keep_the_first_writers_value_under_concurrency() {
    let server = Postgres::start().unwrap();
    let url = url(&server, "shared");
    let db = Database::connect_postgres(&url).await.unwrap();
    let candidates: Vec<String> = (0..16).map(|i| format!("value-{i}")).collect();
    let results = futures::future::try_join_all(
        candidates.iter().map(|candidate| db.shared_value("secret", candidate)),
    )
    .await
    .unwrap();
    assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1);
    assert!(results.iter().all(|(value, _)| *value == results[0].0));
}

#[tokio::test]
async fn a_bad_url_or_an_unreachable_server_is_a_clear_error() {
    let error = "mysql://user:pw@host/db".parse::<PostgresUrl>().unwrap_err().to_string();
    assert!(error.contains("is not a PostgreSQL URL") && !error.contains("pw"), "{error}");
    assert!("postgres://user@127.0.0.1:1/db".parse::<PostgresUrl>().is_ok());
    let tls =
        "postgres://u:pw@h/db?sslmode=require".parse::<PostgresUrl>().unwrap_err().to_string();
    assert!(tls.contains("asks for TLS") && tls.contains("sslmode=require"), "{tls}");
    assert!(!tls.contains("pw"), "the password is not printed: {tls}");
    assert!("postgres://u@h/db?sslmode=prefer".parse::<PostgresUrl>().is_ok(), "prefer is allowed");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let closed: PostgresUrl = format!("postgres://postgres@127.0.0.1:{port}/x").parse().unwrap();
    let result = tokio::time::timeout(Duration::from_secs(30), Database::connect_postgres(&closed))
        .await
        .expect("an error, not a hang");
    let error = result.expect_err("nothing listens there");
    assert!(matches!(error, alleycat_ingest::db::DbError::Query(_)), "{error:?}");
    assert!(error.to_string().contains("refused"), "says why: {error}");
}

/// People, devices, passkeys and ceremonies behave the same on `db`, whichever backend.
async fn people_and_their_proofs_are_stored_alike(db: &Database) {
    use alleycat_ingest::db::{
        devices::NewDevice,
        passkeys::{Ceremony, NewPasskey},
        people::NewPerson,
        DbError,
    };
    let device = |id: &'static str, hash: &'static str| NewDevice {
        device_id: id,
        secret_sha256: hash,
        label: "Firefox",
    };
    let new =
        |name: &'static str, invite: Option<&'static str>, dev: NewDevice<'static>| NewPerson {
            name,
            avatar_seed: u64::MAX,
            created_at_ms: 1_000,
            invite_sha256: invite,
            device: dev,
        };
    let ada = db.create_person(&new("Ada Lovelace", None, device("d1", "h1"))).await.unwrap();
    assert_eq!(
        (ada.id, ada.simulated, ada.avatar_seed),
        (alleycat_domain::racer::FIRST_PERSON_ID, false, u64::MAX)
    );
    let refused = db.create_person(&new("Grace", Some("unknown"), device("d2", "h2"))).await;
    assert!(matches!(refused, Err(DbError::InviteUnusable)), "{refused:?}");
    db.add_invites(&["i1".into()], 1_000).await.unwrap();
    let grace =
        db.create_person(&new("Grace Hopper", Some("i1"), device("d2", "h2"))).await.unwrap();
    assert_eq!(grace.id, ada.id + 1, "the refused creation stored nothing, not even its id");
    let again = db.create_person(&new("Hedy", Some("i1"), device("d3", "h3"))).await;
    assert!(matches!(again, Err(DbError::InviteUnusable)), "single use");
    assert_eq!(db.search_people("LOVE", 10).await.unwrap(), vec![ada.clone()]);
    assert_eq!(db.people(&[ada.id, 5, grace.id]).await.unwrap().len(), 2);

    let used = db.use_device("h1", 2_000).await.unwrap().unwrap();
    assert_eq!((used.device_id.as_str(), used.racer_id), ("d1", ada.id));
    assert!(db.revoke_device_by_secret("h1", 3_000).await.unwrap());
    assert_eq!(db.use_device("h1", 4_000).await.unwrap(), None, "revoked");
    assert!(db.devices(ada.id).await.unwrap().is_empty());

    let key = NewPasskey {
        credential_id: "c1",
        racer_id: ada.id,
        credential: "{}",
        counter: 3,
        label: "Passkey",
    };
    assert!(db.add_passkey(&key, 1_000).await.unwrap());
    assert!(
        !db.add_passkey(&NewPasskey { racer_id: grace.id, ..key }, 1_000).await.unwrap(),
        "one owner"
    );
    assert!(
        !db.passkey_used("c1", "{}", 3, 2_000).await.unwrap(),
        "the counter must move forwards"
    );
    assert!(db.passkey_used("c1", "{\"n\":4}", 4, 2_000).await.unwrap());
    assert_eq!(db.passkey("c1").await.unwrap().unwrap().credential, "{\"n\":4}");
    assert!(!db.remove_passkey(grace.id, "c1").await.unwrap(), "not hers");
    assert!(db.remove_passkey(ada.id, "c1").await.unwrap());

    let ceremony =
        Ceremony { kind: "login".into(), racer_id: None, state: "{}".into(), expires_at_ms: 9_000 };
    db.start_ceremony("x", &ceremony, 1_000).await.unwrap();
    assert_eq!(db.take_ceremony("x").await.unwrap(), Some(ceremony));
    assert_eq!(db.take_ceremony("x").await.unwrap(), None, "single use");
}

#[tokio::test]
async fn people_and_their_proofs_are_stored_alike_in_sqlite() {
    people_and_their_proofs_are_stored_alike(&Database::in_memory().await.unwrap()).await;
}

#[tokio::test]
async fn people_and_their_proofs_are_stored_alike_in_postgres() {
    let server = Postgres::start().unwrap();
    let db = Database::connect_postgres(&url(&server, "people")).await.unwrap();
    people_and_their_proofs_are_stored_alike(&db).await;
}
