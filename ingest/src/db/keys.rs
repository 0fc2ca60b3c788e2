//! Shared keys: values every server of a deployment must agree on (the token secret, the
//! generated API key).

use sqlx::Row;

use super::{Database, DbError, Pool};

impl Database {
    /// The shared value `name`: stores `candidate` unless a value is there already (atomically:
    /// `INSERT ... ON CONFLICT DO NOTHING`, then read back), and returns the stored value and
    /// whether it is `candidate` just stored. Servers starting together all get the first
    /// writer's value.
    pub async fn shared_value(
        &self,
        name: &str,
        candidate: &str,
    ) -> Result<(String, bool), DbError> {
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
}
