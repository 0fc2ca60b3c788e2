//! Race results, class records and the merged objects: what the merge commits and the read API
//! answers.

use std::collections::HashSet;

use alleycat_domain::{ClassId, RaceId};
use serde::Serialize;
use sqlx::{QueryBuilder, Row};

use super::{Database, DbError, Pool, ROWS_PER_STATEMENT};

/// What the results show of a ride, derived from its seconds (the `rides` table's columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RideSummary {
    /// How many seconds have an output.
    pub seconds: u32,
    /// The sum of the outputs, hundredths.
    pub total_centi: u64,
    /// The highest output, hundredths.
    pub best_centi: u32,
    /// The last second ridden.
    pub final_second: u32,
    /// The output at the last second ridden, hundredths.
    pub final_centi: u32,
    /// Some second was measured by a trainer or a power meter.
    pub real_bike: bool,
}

/// A ride's per-second columns as stored: outputs (little-endian u32 hundredths) and details
/// (see `merge::ride::Ride::from_blob`, which decodes both), and its real-bike flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlobs {
    /// The `outputs` column.
    pub outputs: Vec<u8>,
    /// The `details` column.
    pub details: Vec<u8>,
    /// The `real_bike` column.
    pub real_bike: bool,
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
    /// Some second was measured by a trainer or a power meter.
    pub real_bike: bool,
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

/// One of a racer's rides, with its place in its race (their own page's history).
#[derive(Debug, Clone, PartialEq)]
pub struct RacerRide {
    /// The race.
    pub race_id: RaceId,
    /// The class it was ridden in.
    pub class_id: ClassId,
    /// 1-based place in the race by total output (ties by racer id, as [`Database::race_results`]).
    pub place: u32,
    /// How many racers rode the race in this class.
    pub field: u32,
    /// Seconds ridden.
    pub seconds: u32,
    /// Total output.
    pub total: f64,
    /// The per-second columns as stored (decode with `merge::ride::Ride::from_stored`).
    pub stored: StoredBlobs,
}

/// A racer's all-time record in one class, with its place and how many racers have one.
#[derive(Debug, Clone, PartialEq)]
pub struct RacerRecord {
    /// The record (place, race, total).
    pub record: ClassRecord,
    /// The class.
    pub class_id: ClassId,
    /// How many racers have a record in the class.
    pub field: u32,
}

fn centi(v: i64) -> f64 {
    v as f64 / 100.0
}

impl Database {
    /// Every object path already merged.
    pub async fn merged_objects(&self) -> Result<HashSet<String>, DbError> {
        on_pool!(self, |pool, _Db| {
            let rows = sqlx::query("SELECT path FROM merged_objects").fetch_all(pool).await?;
            Ok(rows.into_iter().map(|r| r.get::<String, _>(0)).collect())
        })
    }

    /// Whether the object at `path` is already merged.
    pub async fn is_merged(&self, path: &str) -> Result<bool, DbError> {
        on_pool!(self, |pool, _Db| {
            let row = sqlx::query("SELECT 1 FROM merged_objects WHERE path = $1")
                .bind(path)
                .fetch_optional(pool)
                .await?;
            Ok(row.is_some())
        })
    }

    /// The stored rides of one race and class: by racer, the per-second outputs and details as
    /// stored (see `merge::ride::Ride::from_blob`).
    pub(crate) async fn load_rides(
        &self,
        race: RaceId,
        class: ClassId,
    ) -> Result<Vec<(u64, StoredBlobs)>, DbError> {
        on_pool!(self, |pool, _Db| {
            let rows = sqlx::query(
                "SELECT racer_id, outputs, details, real_bike FROM rides
                 WHERE class_id = $1 AND race_id = $2",
            )
            .bind(i64::from(class))
            .bind(race as i64)
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|r| {
                    let blobs =
                        StoredBlobs { outputs: r.get(1), details: r.get(2), real_bike: r.get(3) };
                    (r.get::<i64, _>(0) as u64, blobs)
                })
                .collect())
        })
    }

    /// `racer`'s ride in `race` as stored, in `class` or (when `None`) in the lowest class they
    /// rode it in; `None` when they have no result there. One primary-key look-up per class
    /// tried.
    pub async fn ride(
        &self,
        race: RaceId,
        racer: u64,
        class: Option<ClassId>,
    ) -> Result<Option<(ClassId, StoredBlobs)>, DbError> {
        let classes: Vec<ClassId> = match class {
            Some(class) => vec![class],
            None => alleycat_domain::CLASSES.iter().map(|c| c.id).collect(),
        };
        for class in classes {
            let blobs: Option<StoredBlobs> = on_pool!(self, |pool, _Db| {
                sqlx::query(
                    "SELECT outputs, details, real_bike FROM rides
                     WHERE class_id = $1 AND race_id = $2 AND racer_id = $3",
                )
                .bind(i64::from(class))
                .bind(race as i64)
                .bind(racer as i64)
                .fetch_optional(pool)
                .await?
                .map(|r| StoredBlobs {
                    outputs: r.get(0),
                    details: r.get(1),
                    real_bike: r.get(2),
                })
            });
            if let Some(blobs) = blobs {
                return Ok(Some((class, blobs)));
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
    ) -> Result<(), DbError> {
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
                         total_centi, best_centi, final_second, final_centi, real_bike) ",
                );
                insert.push_values(chunk, |mut row, ride| {
                    let RideSummary {
                        seconds,
                        total_centi,
                        best_centi,
                        final_second,
                        final_centi,
                        real_bike,
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
                        .push_bind(i64::from(final_centi))
                        .push_bind(real_bike);
                });
                insert.push(
                    " ON CONFLICT (class_id, race_id, racer_id) DO UPDATE SET
                         outputs = excluded.outputs, details = excluded.details,
                         seconds = excluded.seconds,
                         total_centi = excluded.total_centi, best_centi = excluded.best_centi,
                         final_second = excluded.final_second, final_centi = excluded.final_centi,
                         real_bike = excluded.real_bike",
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
    pub(crate) async fn clear(&self) -> Result<(), DbError> {
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
    ) -> Result<Vec<RaceSummary>, DbError> {
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
    ) -> Result<Vec<RaceResult>, DbError> {
        on_pool!(self, |pool, _Db| {
            let rows = sqlx::query(
                "SELECT racer_id, seconds, total_centi, best_centi, final_centi, real_bike FROM rides
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
                    real_bike: r.get(5),
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
    ) -> Result<Vec<ClassRecord>, DbError> {
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
    ) -> Result<Option<ClassRecord>, DbError> {
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

    /// `racer`'s rides in their `races` most recent races before `before` (exclusive), newest
    /// first (a race ridden in two classes gives two rides, in class order), each with its place
    /// and field. Served by the `rides_by_racer` index, plus the race's own rows for the place.
    pub async fn racer_rides(
        &self,
        racer: u64,
        before: RaceId,
        races: u32,
    ) -> Result<Vec<RacerRide>, DbError> {
        let before = before.min(i64::MAX as u64) as i64;
        on_pool!(self, |pool, _Db| {
            let rows = sqlx::query(
                "SELECT r.race_id, r.class_id, r.seconds, r.total_centi, r.outputs, r.details,
                        r.real_bike,
                        (SELECT COUNT(*) FROM rides o
                          WHERE o.class_id = r.class_id AND o.race_id = r.race_id
                            AND (o.total_centi > r.total_centi
                                 OR (o.total_centi = r.total_centi AND o.racer_id < r.racer_id))),
                        (SELECT COUNT(*) FROM rides o
                          WHERE o.class_id = r.class_id AND o.race_id = r.race_id)
                 FROM rides r
                 WHERE r.racer_id = $1 AND r.race_id IN (
                     SELECT DISTINCT race_id FROM rides WHERE racer_id = $1 AND race_id < $2
                     ORDER BY race_id DESC LIMIT $3)
                 ORDER BY r.race_id DESC, r.class_id",
            )
            .bind(racer as i64)
            .bind(before)
            .bind(i64::from(races))
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|r| RacerRide {
                    race_id: r.get::<i64, _>(0) as u64,
                    class_id: r.get::<i64, _>(1) as ClassId,
                    seconds: r.get::<i64, _>(2) as u32,
                    total: centi(r.get(3)),
                    stored: StoredBlobs {
                        outputs: r.get(4),
                        details: r.get(5),
                        real_bike: r.get(6),
                    },
                    place: r.get::<i64, _>(7) as u32 + 1,
                    field: r.get::<i64, _>(8) as u32,
                })
                .collect())
        })
    }

    /// Every ride of `racer` in `class`, as stored (the per-second outputs their personal best
    /// at each second is the maximum of).
    pub async fn racer_class_rides(
        &self,
        racer: u64,
        class: ClassId,
    ) -> Result<Vec<StoredBlobs>, DbError> {
        on_pool!(self, |pool, _Db| {
            let rows = sqlx::query(
                "SELECT outputs, details, real_bike FROM rides
                 WHERE racer_id = $1 AND class_id = $2",
            )
            .bind(racer as i64)
            .bind(i64::from(class))
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|r| StoredBlobs { outputs: r.get(0), details: r.get(1), real_bike: r.get(2) })
                .collect())
        })
    }

    /// `racer`'s record in every class they have one in, in class order, each with its place
    /// (as [`Database::class_record`]) and how many racers have a record in the class.
    pub async fn racer_records(&self, racer: u64) -> Result<Vec<RacerRecord>, DbError> {
        let mut records = Vec::new();
        for class in alleycat_domain::CLASSES.iter().map(|c| c.id) {
            let Some(record) = self.class_record(class, racer).await? else { continue };
            let field: i64 = on_pool!(self, |pool, _Db| {
                sqlx::query("SELECT COUNT(*) FROM class_records WHERE class_id = $1")
                    .bind(i64::from(class))
                    .fetch_one(pool)
                    .await?
                    .get(0)
            });
            records.push(RacerRecord { record, class_id: class, field: field as u32 });
        }
        Ok(records)
    }
}
