//! Devices (`devices`): browsers holding a device cookie, by the SHA-256 of the cookie's secret.
//! A revoked device stays in the table (its cookie is refused) but is no longer listed.

use alleycat_domain::api::Credential;

use super::{Database, DbError, Pool};

/// A device to store.
#[derive(Debug, Clone, Copy)]
pub struct NewDevice<'a> {
    /// Its public id (to list and remove it by).
    pub device_id: &'a str,
    /// The SHA-256 (hex) of the cookie's secret.
    pub secret_sha256: &'a str,
    /// For people: the browser's user agent.
    pub label: &'a str,
}

/// A device that proved itself with its cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceUse {
    /// The device's id.
    pub device_id: String,
    /// The racer it rides as.
    pub racer_id: u64,
}

/// Inserts a device: id, racer, secret hash, label and the time (created and last used).
pub(super) const INSERT_DEVICE: &str = "INSERT INTO devices \
     (device_id, racer_id, secret_sha256, label, created_at_ms, last_used_ms) \
     VALUES ($1, $2, $3, $4, $5, $5)";

impl Database {
    /// Stores a new device of the person `racer_id`, created (and last used) at `now_ms`.
    pub async fn add_device(
        &self,
        racer_id: u64,
        device: &NewDevice<'_>,
        now_ms: u64,
    ) -> Result<(), DbError> {
        on_pool!(self, |pool, _Db| {
            sqlx::query(INSERT_DEVICE)
                .bind(device.device_id)
                .bind(racer_id as i64)
                .bind(device.secret_sha256)
                .bind(device.label)
                .bind(now_ms as i64)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// The device whose cookie secret hashes to `secret_sha256`, unless it was revoked; marks it
    /// used at `now_ms`.
    pub async fn use_device(
        &self,
        secret_sha256: &str,
        now_ms: u64,
    ) -> Result<Option<DeviceUse>, DbError> {
        on_pool!(self, |pool, _Db| {
            let row = sqlx::query_as::<_, (String, i64)>(
                "UPDATE devices SET last_used_ms = $1 \
                 WHERE secret_sha256 = $2 AND revoked_at_ms IS NULL RETURNING device_id, racer_id",
            )
            .bind(now_ms as i64)
            .bind(secret_sha256)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|(device_id, racer)| DeviceUse { device_id, racer_id: racer as u64 }))
        })
    }

    /// The id of the device in use whose cookie secret hashes to `secret_sha256`.
    pub async fn device_id(&self, secret_sha256: &str) -> Result<Option<String>, DbError> {
        on_pool!(self, |pool, _Db| {
            let row = sqlx::query_as::<_, (String,)>(
                "SELECT device_id FROM devices \
                 WHERE secret_sha256 = $1 AND revoked_at_ms IS NULL",
            )
            .bind(secret_sha256)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|(id,)| id))
        })
    }

    /// Revokes the device whose cookie secret hashes to `secret_sha256` (signing out); whether
    /// there was such a device still in use.
    pub async fn revoke_device_by_secret(
        &self,
        secret_sha256: &str,
        now_ms: u64,
    ) -> Result<bool, DbError> {
        on_pool!(self, |pool, _Db| {
            let revoked = sqlx::query(
                "UPDATE devices SET revoked_at_ms = $1 \
                 WHERE secret_sha256 = $2 AND revoked_at_ms IS NULL",
            )
            .bind(now_ms as i64)
            .bind(secret_sha256)
            .execute(pool)
            .await?
            .rows_affected();
            Ok(revoked == 1)
        })
    }

    /// Revokes the person `racer_id`'s device `device_id`; whether they had it in use.
    pub async fn revoke_device(
        &self,
        racer_id: u64,
        device_id: &str,
        now_ms: u64,
    ) -> Result<bool, DbError> {
        on_pool!(self, |pool, _Db| {
            let revoked = sqlx::query(
                "UPDATE devices SET revoked_at_ms = $1 \
                 WHERE device_id = $2 AND racer_id = $3 AND revoked_at_ms IS NULL",
            )
            .bind(now_ms as i64)
            .bind(device_id)
            .bind(racer_id as i64)
            .execute(pool)
            .await?
            .rows_affected();
            Ok(revoked == 1)
        })
    }

    /// The person `racer_id`'s devices in use, newest first (`current` left false).
    pub async fn devices(&self, racer_id: u64) -> Result<Vec<Credential>, DbError> {
        on_pool!(self, |pool, _Db| {
            let rows = sqlx::query_as::<_, (String, String, i64, i64)>(
                "SELECT device_id, label, created_at_ms, last_used_ms FROM devices \
                 WHERE racer_id = $1 AND revoked_at_ms IS NULL \
                 ORDER BY created_at_ms DESC, device_id",
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
                    last_used_ms: Some(used as u64),
                    current: false,
                })
                .collect())
        })
    }
}
