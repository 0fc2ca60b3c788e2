//! The data directory: everything Alleycat stores, owned by one process at a time. This is the
//! one description of its layout (ARCHITECTURE.md points here):
//!
//! - `stream/`: the embedded event stream's shards and consumer checkpoints
//!   (`alleycat_ingest::stream::disk`); absent with `--stream nats://…`.
//! - `kinesis/`: streams created through the Kinesis API and their metadata
//!   (`alleycat_kinesis::registry`).
//! - The object store's prefixes, unless `--object-store` names a bucket
//!   (`alleycat_ingest::objects`): `delivery/` (delivered batches), `processing-failed/`
//!   (records the transform refused), `imports/` (imported histories), `history/` (the per-class
//!   history files), `quarantine/` (unreadable history files set aside by the merge).
//! - `results.sqlite` (with its `-wal` and `-shm`): results, class records, the roster, the
//!   shared keys, and people's racers with their devices, passkeys and invitations
//!   (`alleycat_ingest::db`); absent with `--database-url`, which keeps them in PostgreSQL.
//! - `secret` and `api-key`: the token secret and the producers' key ([`crate::auth`]); in the
//!   database instead with `--database-url`.
//! - `.lock`: held while a process uses the directory.

use std::{fs::File, path::Path};

use anyhow::Context;

/// The stream's folder.
pub const STREAM_DIR: &str = "stream";

/// Creates `dir` if needed and takes its lock; refuses when another process holds it. The lock
/// is released when the returned file is dropped (or the process dies).
pub fn lock(dir: &Path) -> anyhow::Result<File> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    let file = File::create(dir.join(".lock"))
        .with_context(|| format!("cannot create {}", dir.join(".lock").display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another Alleycat process is using the data directory {}; stop it or choose another --data-dir",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", dir.display()))
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let held = super::lock(dir.path()).unwrap();
        let err = super::lock(dir.path()).unwrap_err().to_string();
        assert!(err.contains("another Alleycat process"), "{err}");
        drop(held);
        assert!(super::lock(dir.path()).is_ok());
    }
}
