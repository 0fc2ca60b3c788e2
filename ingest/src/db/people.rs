//! People's racers (`people`), created with their first device in one transaction, and the
//! invitations (`invites`) that may be required to create one.

use alleycat_domain::api::RacerInfo;
use sqlx::QueryBuilder;

use super::{devices::NewDevice, Database, DbError, Pool};

/// A person's racer to create.
#[derive(Debug, Clone)]
pub struct NewPerson<'a> {
    /// The display name, already validated (`alleycat_domain::racer::validate_name`).
    pub name: &'a str,
    /// Seed of their generated avatar.
    pub avatar_seed: u64,
    /// When, epoch ms.
    pub created_at_ms: u64,
    /// The SHA-256 (hex) of the invitation code to use up, when invitations are required.
    pub invite_sha256: Option<&'a str>,
    /// The device that creates the racer and may ride as it from now on.
    pub device: NewDevice<'a>,
}

/// A `people` row as `SELECT racer_id, name, avatar_seed` gives it.
type PersonRow = (i64, String, i64);

fn person((id, name, avatar_seed): PersonRow) -> RacerInfo {
    RacerInfo::new(id as u64, name, avatar_seed as u64)
}

/// How the search matches a name: Rust's Unicode lower case (SQLite's `lower` knows ASCII only).
pub fn search_form(text: &str) -> String {
    text.trim().to_lowercase()
}

/// `text` for a `LIKE ... ESCAPE '\'` pattern: its own `%`, `_` and `\` match only themselves.
fn like_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

impl Database {
    /// Creates a person's racer (its id the next from
    /// [`FIRST_PERSON_ID`](alleycat_domain::racer::FIRST_PERSON_ID) up) with the device that
    /// created it, using up the invitation when one is given, all in one transaction: nothing is
    /// stored when any part is refused. [`DbError::InviteUnusable`] when the invitation is
    /// unknown or used.
    pub async fn create_person(&self, new: &NewPerson<'_>) -> Result<RacerInfo, DbError> {
        on_pool!(self, |pool, _Db| {
            let mut tx = pool.begin().await?;
            if let Some(code) = new.invite_sha256 {
                let used = sqlx::query(
                    "UPDATE invites SET used_at_ms = $1 WHERE code_sha256 = $2 AND used_at_ms IS NULL",
                )
                .bind(new.created_at_ms as i64)
                .bind(code)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if used != 1 {
                    return Err(DbError::InviteUnusable);
                }
            }
            let row = sqlx::query_as::<_, PersonRow>(
                "INSERT INTO people (name, search_name, avatar_seed, created_at_ms) \
                 VALUES ($1, $2, $3, $4) RETURNING racer_id, name, avatar_seed",
            )
            .bind(new.name)
            .bind(search_form(new.name))
            .bind(new.avatar_seed as i64)
            .bind(new.created_at_ms as i64)
            .fetch_one(&mut *tx)
            .await?;
            let racer = person(row);
            if let Some(code) = new.invite_sha256 {
                sqlx::query("UPDATE invites SET used_by = $1 WHERE code_sha256 = $2")
                    .bind(racer.id as i64)
                    .bind(code)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(super::devices::INSERT_DEVICE)
                .bind(new.device.device_id)
                .bind(racer.id as i64)
                .bind(new.device.secret_sha256)
                .bind(new.device.label)
                .bind(new.created_at_ms as i64)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(racer)
        })
    }

    /// The person with racer id `id`.
    pub async fn person(&self, id: u64) -> Result<Option<RacerInfo>, DbError> {
        let Ok(id) = i64::try_from(id) else { return Ok(None) };
        on_pool!(self, |pool, _Db| {
            let row = sqlx::query_as::<_, PersonRow>(
                "SELECT racer_id, name, avatar_seed FROM people WHERE racer_id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(person))
        })
    }

    /// The people among `ids` (ids that are no person's are left out).
    pub async fn people(&self, ids: &[u64]) -> Result<Vec<RacerInfo>, DbError> {
        let ids: Vec<i64> = ids.iter().filter_map(|&id| i64::try_from(id).ok()).collect();
        let mut found = Vec::new();
        for chunk in ids.chunks(super::ROWS_PER_STATEMENT) {
            on_pool!(self, |pool, Db| {
                let mut query = QueryBuilder::<Db>::new(
                    "SELECT racer_id, name, avatar_seed FROM people WHERE racer_id IN (",
                );
                let mut list = query.separated(", ");
                for id in chunk {
                    list.push_bind(*id);
                }
                query.push(")");
                found.extend(
                    query
                        .build_query_as::<PersonRow>()
                        .fetch_all(pool)
                        .await?
                        .into_iter()
                        .map(person),
                );
            });
        }
        Ok(found)
    }

    /// People whose name contains `query` (any case), at most `limit`: names that start with it
    /// first, then by id.
    pub async fn search_people(
        &self,
        query: &str,
        limit: usize,
    ) -> Result<Vec<RacerInfo>, DbError> {
        let query = like_escaped(&search_form(query));
        on_pool!(self, |pool, _Db| {
            let rows = sqlx::query_as::<_, PersonRow>(
                "SELECT racer_id, name, avatar_seed FROM people \
                 WHERE search_name LIKE '%' || $1 || '%' ESCAPE '\\' \
                 ORDER BY CASE WHEN search_name LIKE $1 || '%' ESCAPE '\\' THEN 0 ELSE 1 END, \
                 racer_id LIMIT $2",
            )
            .bind(query)
            .bind(limit.min(i64::MAX as usize) as i64)
            .fetch_all(pool)
            .await?;
            Ok(rows.into_iter().map(person).collect())
        })
    }

    /// Stores invitations by the SHA-256 (hex) of their codes, unused.
    pub async fn add_invites(&self, code_sha256: &[String], now_ms: u64) -> Result<(), DbError> {
        on_pool!(self, |pool, _Db| {
            let mut tx = pool.begin().await?;
            for code in code_sha256 {
                sqlx::query("INSERT INTO invites (code_sha256, created_at_ms) VALUES ($1, $2)")
                    .bind(code)
                    .bind(now_ms as i64)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_match_wildcards_literally() {
        assert_eq!(like_escaped("a%b_c\\d"), "a\\%b\\_c\\\\d");
        assert_eq!(search_form("  ÉLODIE "), "élodie");
    }
}
