//! The object store shared by delivery (writes batches) and merge (reads them, writes history
//! files), and the names of everything kept in it.
//!
//! Layout under the store's root (the data directory by default):
//!
//! - `delivery/YYYY/MM/DD/HH/<stream>-<version>-YYYY-MM-DD-HH-MM-SS-<uuid>.gz`: delivered batches,
//!   gzip NDJSON, one transformed racer event per line (see [`crate::delivery`]).
//! - `processing-failed/YYYY/MM/DD/HH/<stream>-<version>-processing-failed-…-<uuid>.gz`: records
//!   that failed the transform, Firehose's error records.
//! - `imports/class-<id>/<md5>.json.gz`: histories imported from the original Alleycat format, in
//!   our history format, kept so that a rebuild includes them.
//! - `history/class-<id>.gz`: the per-class history files (see `alleycat_domain::history`).
//! - `quarantine/history/class-<id>-<ms>.gz`: history files the merge found unreadable and set
//!   aside (a rebuild restores the class; these stay for inspection).
//!
//! Every write is a single `put`, which object_store makes atomic (the local store writes a
//! staging file and renames it; S3 publishes an object whole), so readers never see half a file.

use std::{io::Read, sync::Arc};

use object_store::{local::LocalFileSystem, path::Path, ObjectStore};

use alleycat_domain::ClassId;

/// Where delivered batches go.
pub const DELIVERY_PREFIX: &str = "delivery";
/// Where records that failed the transform go (Firehose's prefix).
pub const FAILED_PREFIX: &str = "processing-failed";
/// Where imported original-format histories are kept.
pub const IMPORTS_PREFIX: &str = "imports";
/// Where the history files go.
pub const HISTORY_PREFIX: &str = "history";
/// Where unreadable history files are set aside.
pub const QUARANTINE_PREFIX: &str = "quarantine";

/// The default store: the local filesystem rooted at `dir` (created if missing), with fsync on
/// every write so that a stored object survives a crash, as S3's would.
pub fn local_store(dir: &std::path::Path) -> std::io::Result<Arc<dyn ObjectStore>> {
    std::fs::create_dir_all(dir)?;
    let store = LocalFileSystem::new_with_prefix(dir)
        .map_err(std::io::Error::other)?
        .with_fsync(true)
        .with_automatic_cleanup(false);
    Ok(Arc::new(store))
}

/// The history file of `class`: `history/class-<id>.gz`.
pub fn history_path(class: ClassId) -> Path {
    Path::from(format!("{HISTORY_PREFIX}/class-{class}.gz"))
}

/// Inflates gzip data of one or more members (as `gzip -d` does).
pub fn gunzip(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len() * 6);
    flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut out)?;
    Ok(out)
}

/// Gzips `bytes` at the default level.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4),
        flate2::Compression::default(),
    );
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}
