//! Race results, class records, the roster and shared keys, in an embedded SQLite database or
//! in PostgreSQL (sqlx), and the queries the server answers from them. Every query of the project
//! is here, written once for both backends (see `on_pool!`).
//!
//! Backends: by default the SQLite file `results.sqlite` in the data directory (WAL, one server
//! per data directory); with a `postgres://` URL ([`DatabaseConfig::Postgres`]) a PostgreSQL
//! database that several servers share.
//!
//! Schema (`migrations/` for SQLite, `migrations_postgres/` for PostgreSQL: the same tables, each
//! in its backend's types; embedded and applied on open, so an empty database is migrated on
//! start and a migrated one is left as it is):
//! - `rides`: per class, race and racer, the per-second outputs as a BLOB/BYTEA (little-endian
//!   u32 hundredths, 0 where not ridden) and what derives from them: seconds ridden, total, best
//!   and final output. Keeping the seconds makes merging idempotent: a second merged twice is the
//!   same second. `details` holds each second's cadence and heart rate (two bytes a second, see
//!   `record::Detail`; empty for rides merged before it existed), for the ride's FIT file.
//! - `class_records`: per class and racer, the best race total and the race it came from (ties go
//!   to the earlier race, so the answer does not depend on merge order).
//! - `merged_objects`: the path of every object folded in, committed in the same transaction as
//!   its effects, so a restart merges only what is new.
//! - `roster`: every racer's generated name and avatar seed.
//! - `shared_keys`: values every server of a deployment must agree on (the token secret, the
//!   generated API key), by name; the first writer wins ([`Database::shared_value`]).
//!
//! All outputs are stored as integer hundredths; the query results give them as numbers with two
//! decimals. Ids are stored as signed 64-bit integers (the u64 bits, cast).

use std::{collections::HashSet, path::Path, str::FromStr};

use alleycat_domain::{api::RacerInfo, ClassId, RaceId};
use serde::Serialize;
use sqlx::{
    postgres::{PgConnectOptions, PgPool, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    ConnectOptions, Connection, QueryBuilder, Row, SqlitePool,
};

use super::{
    ride::{Ride, RideSummary},
    MergeError,
};

/// The database file's name inside the data directory.
pub const DATABASE_FILE: &str = "results.sqlite";

/// Rows per multi-row INSERT (10 parameters each, well under SQLite's 32,766 and PostgreSQL's
/// 65,535).
const ROWS_PER_STATEMENT: usize = 500;

/// Connections in a server's PostgreSQL pool (the merge commits on one; queries use the rest).
pub const DEFAULT_POSTGRES_CONNECTIONS: u32 = 8;

/// How long connecting to PostgreSQL (or waiting for a pooled connection) may take.
pub const POSTGRES_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The embedded migrations of each backend.
static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/merge/migrations");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/merge/migrations_postgres");

/// Where the results database is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DatabaseConfig {
    /// The embedded SQLite file [`DATABASE_FILE`] in the data directory (the default).
    #[default]
    DataDir,
    /// A PostgreSQL database, shared by every server given the same URL.
    Postgres(PostgresUrl),
}

/// A `postgres://` (or `postgresql://`) connection URL, as libpq takes it. Its `Debug` and
/// `Display` hide the password, so settings can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

/// Why a database URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not a PostgreSQL URL: use postgres://user[:password]@host[:port]/database (without a URL the SQLite file in the data directory is used)")]
pub struct DatabaseUrlError {
    /// What was given, password hidden.
    pub given: String,
}

impl PostgresUrl {
    /// The URL itself (with its password).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn redacted(&self) -> String {
        redact(&self.0)
    }
}

/// `url` with the password (between `user:` and `@`) replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((credentials, host)) = rest.rsplit_once('@') else { return url.to_owned() };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

impl FromStr for PostgresUrl {
    type Err = DatabaseUrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let valid = (s.starts_with("postgres://") || s.starts_with("postgresql://"))
            && PgConnectOptions::from_str(s).is_ok();
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(DatabaseUrlError { given: redact(s) })
        }
    }
}

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresUrl({})", self.redacted())
    }
}

impl std::fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// The pool of one backend.
#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the backend's pool and `$db` naming its sqlx database
/// type, so each query is written once and compiled for both backends. Placeholders are `$1`,
/// `$2`, ... (SQLite takes them too); multi-row inserts go through `QueryBuilder::<$db>`.
macro_rules! on_pool {
    ($self:expr, |$pool:ident, $db:ident| $body:expr) => {
        match &$self.pool {
            Pool::Sqlite($pool) => {
                #[allow(dead_code)]
                type $db = sqlx::Sqlite;
                $body
            }
            Pool::Postgres($pool) => {
                #[allow(dead_code)]
                type $db = sqlx::Postgres;
                $body
            }
        }
    };
}

/// The results database. Cheap to clone (a connection pool); share one between the merge and the
/// server.
#[derive(Debug, Clone)]
pub struct Database {
    pool: Pool,
}

/// A ride as written in one commit.
pub(crate) struct StoredRide {
    pub(crate) race: RaceId,
    pub(crate) class: ClassId,
    pub(crate) racer: u64,
    pub(crate) outputs: Vec<u8>,
    pub(crate) details: Vec<u8>,
    pub(crate) summary: RideSummary,
}

/// A recent race of a class.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RaceSummary {
    /// The race.
    pub race_id: RaceId,
    /// The class.
    pub class_id: ClassId,
    /// How many racers rode it.
    pub racers: u32,
}

/// One racer's result in a race, as ranked by total output.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RaceResult {
    /// 1-based place by total output (ties by racer id).
    pub place: u32,
    /// The racer.
    pub racer_id: u64,
    /// Seconds ridden.
    pub seconds: u32,
    /// Total output.
    pub total: f64,
    /// Best output of a second.
    pub best: f64,
    /// Output of the last second ridden.
    pub final_output: f64,
}

/// One racer's all-time record in a class: their best race total.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClassRecord {
    /// 1-based place by total (ties by racer id).
    pub place: u32,
    /// The racer.
    pub racer_id: u64,
    /// The race of the record.
    pub race_id: RaceId,
    /// The record total.
    pub total: f64,
}

fn centi(v: i64) -> f64 {
    v as f64 / 100.0
}

impl Database {
    /// Opens the database `config` names: the SQLite file in `data_dir`, or PostgreSQL.
    pub async fn connect(config: &DatabaseConfig, data_dir: &Path) -> Result<Self, MergeError> {
        match config {
            DatabaseConfig::DataDir => Self::open(&data_dir.join(DATABASE_FILE)).await,
            DatabaseConfig::Postgres(url) => Self::connect_postgres(url).await,
        }
    }

    /// Opens (creating if missing) the SQLite file at `path` and applies the migrations.
    pub async fn open(path: &Path) -> Result<Self, MergeError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // The WAL with NORMAL survives a process crash; a power cut may lose the last
            // transactions, which the merge then redoes from the objects (they are not marked
            // merged either).
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(10));
        // One connection first: it creates the file and switches it to the WAL, which needs the
        // database to itself (SQLite answers "database is locked" at once, busy timeout or not,
        // to a second connection doing the same). The pool's connections, opened concurrently,
        // then find it in the WAL already.
        options.connect().await?.close().await?;
        Self::with_options(options, 4).await
    }

    /// A private in-memory SQLite database (for tests).
    pub async fn in_memory() -> Result<Self, MergeError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?;
        // One connection: each in-memory connection would be its own database.
        Self::with_options(options, 1).await
    }

    async fn with_options(
        options: SqliteConnectOptions,
        connections: u32,
    ) -> Result<Self, MergeError> {
        let pool = SqlitePoolOptions::new()
            .max_connections(connections)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        SQLITE_MIGRATOR.run(&pool).await?;
        Ok(Self { pool: Pool::Sqlite(pool) })
    }

    /// Connects to the PostgreSQL database at `url` and applies the migrations (sqlx holds an
    /// advisory lock while migrating, so servers starting together migrate once).
    pub async fn connect_postgres(url: &PostgresUrl) -> Result<Self, MergeError> {
        let options = PgConnectOptions::from_str(url.as_str())?.application_name("alleycat");
        // One connection first, so that an unreachable server or a refused login is reported as
        // such: the pool would only say that it timed out.
        let first = tokio::time::timeout(POSTGRES_CONNECT_TIMEOUT, options.connect())
            .await
            .map_err(|_| {
                sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("connecting to {url} took longer than {POSTGRES_CONNECT_TIMEOUT:?}"),
                ))
            })??;
        first.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(DEFAULT_POSTGRES_CONNECTIONS)
            .acquire_timeout(POSTGRES_CONNECT_TIMEOUT)
            .connect_with(options)
            .await?;
        POSTGRES_MIGRATOR.run(&pool).await?;
        Ok(Self { pool: Pool::Postgres(pool) })
    }

    /// Whether this is a PostgreSQL database (shared by several servers).
    pub fn is_shared(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }

    /// The lease that decides which server runs delivery and merge: a PostgreSQL advisory lock
    /// on a connection of its own, or (SQLite: one server per data directory) always held.
    pub fn lease(&self) -> std::sync::Arc<dyn crate::lease::Lease> {
        match &self.pool {
            Pool::Sqlite(_) => std::sync::Arc::new(crate::lease::AlwaysHeld),
            Pool::Postgres(pool) => {
                std::sync::Arc::new(crate::lease::PgLease::new((*pool.connect_options()).clone()))
            }
        }
    }

    /// Applies the migrations again (they are recorded, so this changes nothing on a migrated
    /// database).
    pub async fn migrate(&self) -> Result<(), MergeError> {
        match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATOR.run(pool).await?,
            Pool::Postgres(pool) => POSTGRES_MIGRATOR.run(pool).await?,
        }
        Ok(())
    }

    /// Every object path already merged.
    pub async fn merged_objects(&self) -> Result<HashSet<String>, MergeError> {
        on_pool!(self, |pool, _Db| {
            let rows = sqlx::query("SELECT path FROM merged_objects").fetch_all(pool).await?;
            Ok(rows.into_iter().map(|r| r.get::<String, _>(0)).collect())
        })
    }

    /// Whether the object at `path` is already merged.
    pub async fn is_merged(&self, path: &str) -> Result<bool, MergeError> {
        on_pool!(self, |pool, _Db| {
            let row = sqlx::query("SELECT 1 FROM merged_objects WHERE path = $1")
                .bind(path)
                .fetch_optional(pool)
                .await?;
            Ok(row.is_some())
        })
    }

    /// The stored rides of one race and class, by racer.
    pub(crate) async fn load_rides(
        &self,
        race: RaceId,
        class: ClassId,
        race_seconds: u32,
    ) -> Result<Vec<(u64, Ride)>, MergeError> {
        on_pool!(self, |pool, _Db| {
            let rows = sqlx::query(
                "SELECT racer_id, outputs, details FROM rides WHERE class_id = $1 AND race_id = $2",
            )
            .bind(i64::from(class))
            .bind(race as i64)
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|r| {
                    let (blob, details): (Vec<u8>, Vec<u8>) = (r.get(1), r.get(2));
                    (r.get::<i64, _>(0) as u64, Ride::from_blob(&blob, &details, race_seconds))
                })
                .collect())
        })
    }

    /// `racer`'s ride in `race`, with every second, in `class` or (when `None`) in the lowest
    /// class they rode it in; `None` when they have no result there. One primary-key look-up
    /// per class tried.
    pub async fn ride(
        &self,
        race: RaceId,
        racer: u64,
        class: Option<ClassId>,
        race_seconds: u32,
    ) -> Result<Option<(ClassId, Ride)>, MergeError> {
        let classes: Vec<ClassId> = match class {
            Some(class) => vec![class],
            None => alleycat_domain::CLASSES.iter().map(|c| c.id).collect(),
        };
        for class in classes {
            let blobs: Option<(Vec<u8>, Vec<u8>)> = on_pool!(self, |pool, _Db| {
                sqlx::query(
                    "SELECT outputs, details FROM rides
                     WHERE class_id = $1 AND race_id = $2 AND racer_id = $3",
                )
                .bind(i64::from(class))
                .bind(race as i64)
                .bind(racer as i64)
                .fetch_optional(pool)
                .await?
                .map(|r| (r.get(0), r.get(1)))
            });
            if let Some((blob, details)) = blobs {
                return Ok(Some((class, Ride::from_blob(&blob, &details, race_seconds))));
            }
        }
        Ok(None)
    }

    /// Stores rides and their effect on the class records, and marks `objects` merged, in one
    /// transaction.
    pub(crate) async fn commit(
        &self,
        rides: Vec<StoredRide>,
        objects: Vec<String>,
    ) -> Result<(), MergeError> {
        // Each ride's best claim to its racer's class record, one row per (class, racer): the
        // highest total, the earlier race on a tie (so the answer does not depend on order).
        // One row per key also keeps PostgreSQL's upsert from touching a row twice.
        let mut records: std::collections::BTreeMap<(ClassId, u64), (u64, RaceId)> =
            std::collections::BTreeMap::new();
        for ride in &rides {
            let claim = (ride.summary.total_centi, ride.race);
            records
                .entry((ride.class, ride.racer))
                .and_modify(|best| {
                    if claim.0 > best.0 || (claim.0 == best.0 && claim.1 < best.1) {
                        *best = claim;
                    }
                })
                .or_insert(claim);
        }
        let records: Vec<_> = records.into_iter().collect();
        on_pool!(self, |pool, Db| {
            let mut tx = pool.begin().await?;
            // Many rows per statement: one statement per row costs a round trip each.
            for chunk in rides.chunks(ROWS_PER_STATEMENT) {
                let mut insert = QueryBuilder::<Db>::new(
                    "INSERT INTO rides (class_id, race_id, racer_id, outputs, details, seconds,
                         total_centi, best_centi, final_second, final_centi) ",
                );
                insert.push_values(chunk, |mut row, ride| {
                    let RideSummary {
                        seconds,
                        total_centi,
                        best_centi,
                        final_second,
                        final_centi,
                    } = ride.summary;
                    row.push_bind(i64::from(ride.class))
                        .push_bind(ride.race as i64)
                        .push_bind(ride.racer as i64)
                        .push_bind(ride.outputs.clone())
                        .push_bind(ride.details.clone())
                        .push_bind(i64::from(seconds))
                        .push_bind(total_centi as i64)
                        .push_bind(i64::from(best_centi))
                        .push_bind(i64::from(final_second))
                        .push_bind(i64::from(final_centi));
                });
                insert.push(
                    " ON CONFLICT (class_id, race_id, racer_id) DO UPDATE SET
                         outputs = excluded.outputs, details = excluded.details,
                         seconds = excluded.seconds,
                         total_centi = excluded.total_centi, best_centi = excluded.best_centi,
                         final_second = excluded.final_second, final_centi = excluded.final_centi",
                );
                insert.build().execute(&mut *tx).await?;
            }
            for chunk in records.chunks(ROWS_PER_STATEMENT) {
                let mut insert = QueryBuilder::<Db>::new(
                    "INSERT INTO class_records (class_id, racer_id, race_id, total_centi) ",
                );
                insert.push_values(chunk, |mut row, &((class, racer), (total, race))| {
                    row.push_bind(i64::from(class))
                        .push_bind(racer as i64)
                        .push_bind(race as i64)
                        .push_bind(total as i64);
                });
                // Totals only grow as seconds are merged, so keeping the maximum (earlier race
                // on a tie) gives the same record whatever the order.
                insert.push(
                    " ON CONFLICT (class_id, racer_id) DO UPDATE SET
                         race_id = excluded.race_id, total_centi = excluded.total_centi
                     WHERE excluded.total_centi > class_records.total_centi
                        OR (excluded.total_centi = class_records.total_centi
                            AND excluded.race_id < class_records.race_id)",
                );
                insert.build().execute(&mut *tx).await?;
            }
            for chunk in objects.chunks(ROWS_PER_STATEMENT) {
                let mut insert = QueryBuilder::<Db>::new("INSERT INTO merged_objects (path) ");
                insert.push_values(chunk, |mut row, path| {
                    row.push_bind(path.clone());
                });
                insert.push(" ON CONFLICT DO NOTHING");
                insert.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Forgets every ride, record and merged object (the first step of a rebuild).
    pub(crate) async fn clear(&self) -> Result<(), MergeError> {
        on_pool!(self, |pool, _Db| {
            let mut tx = pool.begin().await?;
            for statement in
                ["DELETE FROM rides", "DELETE FROM class_records", "DELETE FROM merged_objects"]
            {
                sqlx::query(statement).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// The most recent `limit` races of `class` that have results, newest first, with how many
    /// racers rode each.
    pub async fn recent_races(
        &self,
        class: ClassId,
        limit: u32,
    ) -> Result<Vec<RaceSummary>, MergeError> {
        on_pool!(self, |pool, _Db| {
            let rows = sqlx::query(
                "SELECT race_id, COUNT(*) FROM rides WHERE class_id = $1
                 GROUP BY race_id ORDER BY race_id DESC LIMIT $2",
            )
            .bind(i64::from(class))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|r| RaceSummary {
                    race_id: r.get::<i64, _>(0) as u64,
                    class_id: class,
                    racers: r.get::<i64, _>(1) as u32,
                })
                .collect())
        })
    }

    /// The results of `race` in `class`, ranked by total output (highest first, ties by racer
    /// id); empty when nobody rode it.
    pub async fn race_results(
        &self,
        race: RaceId,
        class: ClassId,
    ) -> Result<Vec<RaceResult>, MergeError> {
        on_pool!(self, |pool, _Db| {
            let rows = sqlx::query(
                "SELECT racer_id, seconds, total_centi, best_centi, final_centi FROM rides
                 WHERE class_id = $1 AND race_id = $2 ORDER BY total_centi DESC, racer_id",
            )
            .bind(i64::from(class))
            .bind(race as i64)
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .enumerate()
                .map(|(i, r)| RaceResult {
                    place: i as u32 + 1,
                    racer_id: r.get::<i64, _>(0) as u64,
                    seconds: r.get::<i64, _>(1) as u32,
                    total: centi(r.get(2)),
                    best: centi(r.get(3)),
                    final_output: centi(r.get(4)),
                })
                .collect())
        })
    }

    /// The all-time leaderboard of `class`: each racer's best race total, highest first (ties
    /// by racer id), the first `limit`.
    pub async fn leaderboard(
        &self,
        class: ClassId,
        limit: u32,
    ) -> Result<Vec<ClassRecord>, MergeError> {
        on_pool!(self, |pool, _Db| {
            let rows = sqlx::query(
                "SELECT racer_id, race_id, total_centi FROM class_records WHERE class_id = $1
                 ORDER BY total_centi DESC, racer_id LIMIT $2",
            )
            .bind(i64::from(class))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .enumerate()
                .map(|(i, r)| ClassRecord {
                    place: i as u32 + 1,
                    racer_id: r.get::<i64, _>(0) as u64,
                    race_id: r.get::<i64, _>(1) as u64,
                    total: centi(r.get(2)),
                })
                .collect())
        })
    }

    /// One racer's record in `class`, if they have one (with its place).
    pub async fn class_record(
        &self,
        class: ClassId,
        racer: u64,
    ) -> Result<Option<ClassRecord>, MergeError> {
        on_pool!(self, |pool, _Db| {
            let row = sqlx::query(
                "SELECT r.race_id, r.total_centi,
                        (SELECT COUNT(*) FROM class_records o WHERE o.class_id = r.class_id
                           AND (o.total_centi > r.total_centi
                                OR (o.total_centi = r.total_centi AND o.racer_id < r.racer_id)))
                 FROM class_records r WHERE r.class_id = $1 AND r.racer_id = $2",
            )
            .bind(i64::from(class))
            .bind(racer as i64)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|r| ClassRecord {
                place: r.get::<i64, _>(2) as u32 + 1,
                racer_id: racer,
                race_id: r.get::<i64, _>(0) as u64,
                total: centi(r.get(1)),
            }))
        })
    }

    /// How many racers the roster holds.
    pub async fn roster_len(&self) -> Result<u64, MergeError> {
        on_pool!(self, |pool, _Db| {
            let row = sqlx::query("SELECT COUNT(*) FROM roster").fetch_one(pool).await?;
            Ok(row.get::<i64, _>(0) as u64)
        })
    }

    /// Adds `racers` to the roster, in one transaction; racers already there are kept as they
    /// are (so servers starting together agree on every name).
    pub async fn add_racers(&self, racers: &[RacerInfo]) -> Result<(), MergeError> {
        on_pool!(self, |pool, Db| {
            let mut tx = pool.begin().await?;
            for chunk in racers.chunks(ROWS_PER_STATEMENT) {
                let mut insert =
                    QueryBuilder::<Db>::new("INSERT INTO roster (racer_id, name, avatar_seed) ");
                insert.push_values(chunk, |mut row, racer| {
                    row.push_bind(racer.id as i64)
                        .push_bind(racer.name.clone())
                        .push_bind(racer.avatar_seed as i64);
                });
                insert.push(" ON CONFLICT DO NOTHING");
                insert.build().execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Every racer of the roster, by id.
    pub async fn racers(&self) -> Result<Vec<RacerInfo>, MergeError> {
        on_pool!(self, |pool, _Db| {
            let rows =
                sqlx::query("SELECT racer_id, name, avatar_seed FROM roster ORDER BY racer_id")
                    .fetch_all(pool)
                    .await?;
            Ok(rows
                .into_iter()
                .map(|row| RacerInfo {
                    id: row.get::<i64, _>(0) as u64,
                    name: row.get(1),
                    avatar_seed: row.get::<i64, _>(2) as u64,
                })
                .collect())
        })
    }

    /// The shared value `name`: stores `candidate` unless a value is there already (atomically:
    /// `INSERT ... ON CONFLICT DO NOTHING`, then read back), and returns the stored value and
    /// whether it is `candidate` just stored. Servers starting together all get the first
    /// writer's value.
    pub async fn shared_value(
        &self,
        name: &str,
        candidate: &str,
    ) -> Result<(String, bool), MergeError> {
        on_pool!(self, |pool, _Db| {
            let inserted = sqlx::query(
                "INSERT INTO shared_keys (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(name)
            .bind(candidate)
            .execute(pool)
            .await?
            .rows_affected()
                == 1;
            let row = sqlx::query("SELECT value FROM shared_keys WHERE name = $1")
                .bind(name)
                .fetch_one(pool)
                .await?;
            Ok((row.get::<String, _>(0), inserted))
        })
    }

    /// Closes the pool (waits for connections to finish).
    pub async fn close(&self) {
        on_pool!(self, |pool, _Db| pool.close().await)
    }
}
