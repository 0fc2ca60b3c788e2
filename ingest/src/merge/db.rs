//! Race results and class records in an embedded SQLite database (sqlx), and the queries the
//! server answers from it.
//!
//! Schema (`migrations/`, embedded and applied on open):
//! - `rides`: per class, race and racer, the per-second outputs as a BLOB (little-endian u32
//!   hundredths, 0 where not ridden) and what derives from them: seconds ridden, total, best and
//!   final output. Keeping the seconds makes merging idempotent: a second merged twice is the
//!   same second.
//! - `class_records`: per class and racer, the best race total and the race it came from (ties go
//!   to the earlier race, so the answer does not depend on merge order).
//! - `merged_objects`: the path of every object folded in, committed in the same transaction as
//!   its effects, so a restart merges only what is new.
//!
//! All outputs are stored as integer hundredths; the query results give them as numbers with two
//! decimals.

use std::{collections::HashSet, path::Path, str::FromStr};

use alleycat_domain::{ClassId, RaceId};
use serde::Serialize;
use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    QueryBuilder, Row, Sqlite, SqlitePool,
};

use super::{
    ride::{Ride, RideSummary},
    MergeError,
};

/// The database file's name inside the data directory.
pub const DATABASE_FILE: &str = "results.sqlite";

/// Rows per multi-row INSERT (9 parameters each, well under SQLite's 32,766).
const ROWS_PER_STATEMENT: usize = 500;

/// The embedded migrations.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/merge/migrations");

/// The results database. Cheap to clone (a connection pool); share one between the merge and the
/// server.
#[derive(Debug, Clone)]
pub struct Database {
    pool: SqlitePool,
}

/// A ride as written in one commit.
pub(crate) struct StoredRide {
    pub(crate) race: RaceId,
    pub(crate) class: ClassId,
    pub(crate) racer: u64,
    pub(crate) outputs: Vec<u8>,
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
    /// Opens (creating if missing) the database file at `path` and applies the migrations.
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
        Self::with_options(options, 4).await
    }

    /// A private in-memory database (for tests).
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
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool })
    }

    /// The connection pool, for callers that keep their own tables elsewhere.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Every object path already merged.
    pub async fn merged_objects(&self) -> Result<HashSet<String>, MergeError> {
        let rows = sqlx::query("SELECT path FROM merged_objects").fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(|r| r.get::<String, _>(0)).collect())
    }

    /// Whether the object at `path` is already merged.
    pub async fn is_merged(&self, path: &str) -> Result<bool, MergeError> {
        let row = sqlx::query("SELECT 1 FROM merged_objects WHERE path = ?")
            .bind(path)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some())
    }

    /// The stored rides of one race and class, by racer.
    pub(crate) async fn load_rides(
        &self,
        race: RaceId,
        class: ClassId,
        race_seconds: u32,
    ) -> Result<Vec<(u64, Ride)>, MergeError> {
        let rows =
            sqlx::query("SELECT racer_id, outputs FROM rides WHERE class_id = ? AND race_id = ?")
                .bind(i64::from(class))
                .bind(race as i64)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let blob: Vec<u8> = r.get(1);
                (r.get::<i64, _>(0) as u64, Ride::from_blob(&blob, race_seconds))
            })
            .collect())
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
        let mut tx = self.pool.begin().await?;
        // Many rows per statement: one statement per row costs a round trip to SQLite's
        // thread each.
        for chunk in rides.chunks(ROWS_PER_STATEMENT) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO rides (class_id, race_id, racer_id, outputs, seconds, total_centi,
                     best_centi, final_second, final_centi) ",
            );
            insert.push_values(chunk, |mut row, ride| {
                let RideSummary { seconds, total_centi, best_centi, final_second, final_centi } =
                    ride.summary;
                row.push_bind(i64::from(ride.class))
                    .push_bind(ride.race as i64)
                    .push_bind(ride.racer as i64)
                    .push_bind(ride.outputs.clone())
                    .push_bind(i64::from(seconds))
                    .push_bind(total_centi as i64)
                    .push_bind(i64::from(best_centi))
                    .push_bind(i64::from(final_second))
                    .push_bind(i64::from(final_centi));
            });
            insert.push(
                " ON CONFLICT (class_id, race_id, racer_id) DO UPDATE SET
                     outputs = excluded.outputs, seconds = excluded.seconds,
                     total_centi = excluded.total_centi, best_centi = excluded.best_centi,
                     final_second = excluded.final_second, final_centi = excluded.final_centi",
            );
            insert.build().execute(&mut *tx).await?;
        }
        let records: Vec<_> = records.into_iter().collect();
        for chunk in records.chunks(ROWS_PER_STATEMENT) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO class_records (class_id, racer_id, race_id, total_centi) ",
            );
            insert.push_values(chunk, |mut row, &((class, racer), (total, race))| {
                row.push_bind(i64::from(class))
                    .push_bind(racer as i64)
                    .push_bind(race as i64)
                    .push_bind(total as i64);
            });
            // Totals only grow as seconds are merged, so keeping the maximum (earlier race on a
            // tie) gives the same record whatever the order.
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
            let mut insert =
                QueryBuilder::<Sqlite>::new("INSERT OR IGNORE INTO merged_objects (path) ");
            insert.push_values(chunk, |mut row, path| {
                row.push_bind(path.clone());
            });
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Forgets every ride, record and merged object (the first step of a rebuild).
    pub(crate) async fn clear(&self) -> Result<(), MergeError> {
        let mut tx = self.pool.begin().await?;
        for statement in
            ["DELETE FROM rides", "DELETE FROM class_records", "DELETE FROM merged_objects"]
        {
            sqlx::query(statement).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The most recent `limit` races of `class` that have results, newest first, with how many
    /// racers rode each.
    pub async fn recent_races(
        &self,
        class: ClassId,
        limit: u32,
    ) -> Result<Vec<RaceSummary>, MergeError> {
        let rows = sqlx::query(
            "SELECT race_id, COUNT(*) FROM rides WHERE class_id = ?
             GROUP BY race_id ORDER BY race_id DESC LIMIT ?",
        )
        .bind(i64::from(class))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| RaceSummary {
                race_id: r.get::<i64, _>(0) as u64,
                class_id: class,
                racers: r.get::<i64, _>(1) as u32,
            })
            .collect())
    }

    /// The results of `race` in `class`, ranked by total output (highest first, ties by racer
    /// id); empty when nobody rode it.
    pub async fn race_results(
        &self,
        race: RaceId,
        class: ClassId,
    ) -> Result<Vec<RaceResult>, MergeError> {
        let rows = sqlx::query(
            "SELECT racer_id, seconds, total_centi, best_centi, final_centi FROM rides
             WHERE class_id = ? AND race_id = ? ORDER BY total_centi DESC, racer_id",
        )
        .bind(i64::from(class))
        .bind(race as i64)
        .fetch_all(&self.pool)
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
    }

    /// The all-time leaderboard of `class`: each racer's best race total, highest first (ties
    /// by racer id), the first `limit`.
    pub async fn leaderboard(
        &self,
        class: ClassId,
        limit: u32,
    ) -> Result<Vec<ClassRecord>, MergeError> {
        let rows = sqlx::query(
            "SELECT racer_id, race_id, total_centi FROM class_records WHERE class_id = ?
             ORDER BY total_centi DESC, racer_id LIMIT ?",
        )
        .bind(i64::from(class))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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
    }

    /// One racer's record in `class`, if they have one (with its place).
    pub async fn class_record(
        &self,
        class: ClassId,
        racer: u64,
    ) -> Result<Option<ClassRecord>, MergeError> {
        let row = sqlx::query(
            "SELECT r.race_id, r.total_centi,
                    (SELECT COUNT(*) FROM class_records o WHERE o.class_id = r.class_id
                       AND (o.total_centi > r.total_centi
                            OR (o.total_centi = r.total_centi AND o.racer_id < r.racer_id)))
             FROM class_records r WHERE r.class_id = ? AND r.racer_id = ?",
        )
        .bind(i64::from(class))
        .bind(racer as i64)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| ClassRecord {
            place: r.get::<i64, _>(2) as u32 + 1,
            racer_id: racer,
            race_id: r.get::<i64, _>(0) as u64,
            total: centi(r.get(1)),
        }))
    }

    /// Closes the pool (waits for connections to finish).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
