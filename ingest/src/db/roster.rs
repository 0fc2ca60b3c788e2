//! The roster: every racer's name and avatar seed.

use alleycat_domain::api::RacerInfo;
use sqlx::{QueryBuilder, Row};

use super::{Database, DbError, Pool, ROWS_PER_STATEMENT};

impl Database {
    /// How many racers the roster holds.
    pub async fn roster_len(&self) -> Result<u64, DbError> {
        on_pool!(self, |pool, _Db| {
            let row = sqlx::query("SELECT COUNT(*) FROM roster").fetch_one(pool).await?;
            Ok(row.get::<i64, _>(0) as u64)
        })
    }

    /// Adds `racers` to the roster, in one transaction; racers already there are kept as they
    /// are (so servers starting together agree on every name).
    pub async fn add_racers(&self, racers: &[RacerInfo]) -> Result<(), DbError> {
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
    pub async fn racers(&self) -> Result<Vec<RacerInfo>, DbError> {
        on_pool!(self, |pool, _Db| {
            let rows =
                sqlx::query("SELECT racer_id, name, avatar_seed FROM roster ORDER BY racer_id")
                    .fetch_all(pool)
                    .await?;
            Ok(rows
                .into_iter()
                .map(|row| {
                    RacerInfo::new(
                        row.get::<i64, _>(0) as u64,
                        row.get::<String, _>(1),
                        row.get::<i64, _>(2) as u64,
                    )
                })
                .collect())
        })
    }
}
