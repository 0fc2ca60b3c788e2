//! Passkeys (`passkeys`) and the WebAuthn ceremonies in progress (`ceremonies`). The credential
//! itself is opaque here (the server's WebAuthn library's JSON); the database keeps who owns it
//! and makes its signature counter move only forwards.

use alleycat_domain::api::Credential;

use super::{Database, DbError, Pool};

/// A stored passkey, as a login needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPasskey {
    /// The person it belongs to.
    pub racer_id: u64,
    /// The credential (the WebAuthn library's JSON).
    pub credential: String,
}

/// A passkey to store.
#[derive(Debug, Clone, Copy)]
pub struct NewPasskey<'a> {
    /// The credential id, base64url.
    pub credential_id: &'a str,
    /// The person it belongs to.
    pub racer_id: u64,
    /// The credential (the WebAuthn library's JSON).
    pub credential: &'a str,
    /// Its signature counter.
    pub counter: u32,
    /// For people: what it is.
    pub label: &'a str,
}

/// A ceremony taken back to be finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ceremony {
    /// What it is (`register`, `login`).
    pub kind: String,
    /// The person registering a passkey (none for a login).
    pub racer_id: Option<u64>,
    /// The WebAuthn library's state (JSON).
    pub state: String,
    /// When it stops being accepted, epoch ms.
    pub expires_at_ms: u64,
}

impl Database {
    /// Stores a new passkey created at `now_ms`; `false` (and nothing stored) when a passkey with
    /// this credential id exists already.
    pub async fn add_passkey(&self, new: &NewPasskey<'_>, now_ms: u64) -> Result<bool, DbError> {
        on_pool!(self, |pool, _Db| {
            let added = sqlx::query(
                "INSERT INTO passkeys \
                 (credential_id, racer_id, credential, counter, label, created_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(new.credential_id)
            .bind(new.racer_id as i64)
            .bind(new.credential)
            .bind(i64::from(new.counter))
            .bind(new.label)
            .bind(now_ms as i64)
            .execute(pool)
            .await?
            .rows_affected();
            Ok(added == 1)
        })
    }

    /// The passkey with this credential id.
    pub async fn passkey(&self, credential_id: &str) -> Result<Option<StoredPasskey>, DbError> {
        on_pool!(self, |pool, _Db| {
            let row = sqlx::query_as::<_, (i64, String)>(
                "SELECT racer_id, credential FROM passkeys WHERE credential_id = $1",
            )
            .bind(credential_id)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|(racer, credential)| StoredPasskey { racer_id: racer as u64, credential }))
        })
    }

    /// Records a login with the passkey: its updated credential and counter, used at `now_ms`.
    /// Only a counter above the stored one is taken (or 0 with 0 stored: an authenticator
    /// without a counter); `false` (nothing changed) when another login moved it past `counter`
    /// meanwhile, or the passkey was removed.
    pub async fn passkey_used(
        &self,
        credential_id: &str,
        credential: &str,
        counter: u32,
        now_ms: u64,
    ) -> Result<bool, DbError> {
        on_pool!(self, |pool, _Db| {
            let updated = sqlx::query(
                "UPDATE passkeys SET credential = $1, counter = $2, last_used_ms = $3 \
                 WHERE credential_id = $4 AND (counter < $2 OR (counter = 0 AND $2 = 0))",
            )
            .bind(credential)
            .bind(i64::from(counter))
            .bind(now_ms as i64)
            .bind(credential_id)
            .execute(pool)
            .await?
            .rows_affected();
            Ok(updated == 1)
        })
    }

    /// The person `racer_id`'s passkeys, newest first (`current` left false).
    pub async fn passkeys(&self, racer_id: u64) -> Result<Vec<Credential>, DbError> {
        on_pool!(self, |pool, _Db| {
            let rows = sqlx::query_as::<_, (String, String, i64, Option<i64>)>(
                "SELECT credential_id, label, created_at_ms, last_used_ms FROM passkeys \
                 WHERE racer_id = $1 ORDER BY created_at_ms DESC, credential_id",
            )
            .bind(racer_id as i64)
            .fetch_all(pool)
            .await?;
            Ok(rows
                .into_iter()
                .map(|(id, label, created, used)| Credential {
                    id,
                    label,
                    created_at_ms: created as u64,
                    last_used_ms: used.map(|ms| ms as u64),
                    current: false,
                })
                .collect())
        })
    }

    /// Removes the person `racer_id`'s passkey `credential_id`; whether they had it.
    pub async fn remove_passkey(
        &self,
        racer_id: u64,
        credential_id: &str,
    ) -> Result<bool, DbError> {
        on_pool!(self, |pool, _Db| {
            let removed =
                sqlx::query("DELETE FROM passkeys WHERE credential_id = $1 AND racer_id = $2")
                    .bind(credential_id)
                    .bind(racer_id as i64)
                    .execute(pool)
                    .await?
                    .rows_affected();
            Ok(removed == 1)
        })
    }

    /// Stores a ceremony in progress, and forgets those expired before `now_ms`.
    pub async fn start_ceremony(
        &self,
        ceremony_id: &str,
        ceremony: &Ceremony,
        now_ms: u64,
    ) -> Result<(), DbError> {
        on_pool!(self, |pool, _Db| {
            sqlx::query("DELETE FROM ceremonies WHERE expires_at_ms < $1")
                .bind(now_ms as i64)
                .execute(pool)
                .await?;
            sqlx::query(
                "INSERT INTO ceremonies (ceremony_id, kind, racer_id, state, expires_at_ms) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(ceremony_id)
            .bind(&ceremony.kind)
            .bind(ceremony.racer_id.map(|id| id as i64))
            .bind(&ceremony.state)
            .bind(ceremony.expires_at_ms as i64)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Takes the ceremony `ceremony_id` out (single use: whoever takes it first gets it, on any
    /// server), expired or not: the caller checks the time.
    pub async fn take_ceremony(&self, ceremony_id: &str) -> Result<Option<Ceremony>, DbError> {
        on_pool!(self, |pool, _Db| {
            let row = sqlx::query_as::<_, (String, Option<i64>, String, i64)>(
                "DELETE FROM ceremonies WHERE ceremony_id = $1 \
                 RETURNING kind, racer_id, state, expires_at_ms",
            )
            .bind(ceremony_id)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|(kind, racer, state, expires)| Ceremony {
                kind,
                racer_id: racer.map(|id| id as u64),
                state,
                expires_at_ms: expires as u64,
            }))
        })
    }
}
