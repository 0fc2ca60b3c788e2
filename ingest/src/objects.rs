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
//! Reading a history file back ([`history_file`], with its ETag) lives here too, beside where
//! the store is opened: the merge only writes them.
//!
//! Which store: [`StoreConfig`] names it, [`open_store`] opens it (checking at start that it can
//! be used, so a wrong setting is a clear error, not a failure minutes later in delivery).
//!
//! - [`StoreConfig::Local`], the default: the local filesystem under the data directory.
//! - [`StoreConfig::S3`]: an S3-compatible bucket (AWS S3, or a local server such as MinIO or
//!   moto with an endpoint and plain HTTP), optionally under a key prefix. The layout above
//!   then lives under `s3://<bucket>/<prefix>/`. The stream, its checkpoints and the results
//!   database stay in the data directory either way.
//!
//! What each backend guarantees to the stages:
//!
//! - Atomic replacement: every write is a single `put`, so readers never see half a file. The
//!   local store writes a staging file and renames it over the target; S3 publishes an object
//!   whole when its PUT completes, and has read-after-write consistency for every request since
//!   2020, so the merge lists and reads what delivery just stored.
//! - Durability of a put: delivery checkpoints the stream only after `put` returns. The local
//!   store fsyncs the file and its directory before returning (`with_fsync`), so the object
//!   survives a crash or power cut. On S3 a successful PUT means the object is already stored
//!   redundantly by the service; there is nothing to fsync.
//! - Retries: the S3 client retries transient failures itself (object_store's defaults: up to
//!   10 times within 3 minutes); delivery retries on top of that for as long as the stream keeps
//!   the records.
//! - Reads: the server reads a history file from the store for each download (no cache), so on
//!   S3 each `GET /api/history/…` is one GET of the bucket.
//! - One writer: as with the data directory's lock, only one server may use a bucket and prefix
//!   at a time; nothing in S3 enforces this, so give each deployment its own prefix.

use std::{
    fmt,
    path::{Path as FsPath, PathBuf},
    str::FromStr,
    sync::Arc,
    time::Duration,
};

use alleycat_domain::ClassId;
use bytes::Bytes;
use object_store::{
    aws::AmazonS3Builder, local::LocalFileSystem, path::Path, prefix::PrefixStore, ObjectStore,
    ObjectStoreExt, RetryConfig,
};

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

/// The region used when none is configured (S3-compatible servers mostly ignore it).
pub const DEFAULT_S3_REGION: &str = "us-east-1";
/// How long [`open_store`] waits for a bucket to answer before calling it unreachable.
pub const S3_PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// A history file as served: its bytes and cache validators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryFile {
    /// The gzipped history file, as stored (serve as `application/gzip`).
    pub bytes: Bytes,
    /// A strong ETag, quoted: the MD5 of the bytes, so equal files have equal tags wherever
    /// they were written.
    pub etag: String,
    /// When the file was last replaced, epoch milliseconds.
    pub last_modified_ms: i64,
}

/// The history file of `class` (the one read path: the server's downloads and the merge's
/// start), or `None` when the class has no history yet.
pub async fn history_file(
    store: &dyn ObjectStore,
    class: ClassId,
) -> Result<Option<HistoryFile>, object_store::Error> {
    use md5::{Digest, Md5};
    let result = match store.get(&history_path(class)).await {
        Ok(result) => result,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(error) => return Err(error),
    };
    let last_modified_ms = result.meta.last_modified.timestamp_millis();
    let bytes = result.bytes().await?;
    let etag = format!("\"{}\"", hex::encode(Md5::digest(&bytes)));
    Ok(Some(HistoryFile { bytes, etag, last_modified_ms }))
}

/// What the object-store setting names: `file` (the data directory) or
/// `s3://<bucket>[/<prefix>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// `file`: the local filesystem under the data directory.
    DataDir,
    /// `s3://<bucket>[/<prefix>]`.
    S3 {
        /// The bucket's name.
        bucket: String,
        /// The key prefix everything is stored under, if any.
        prefix: Option<Path>,
    },
}

impl FromStr for StoreLocation {
    type Err = StoreError;

    fn from_str(given: &str) -> Result<Self, StoreError> {
        if given == "file" {
            return Ok(Self::DataDir);
        }
        let Some(rest) = given.strip_prefix("s3://") else {
            return Err(StoreError::UnknownScheme { given: given.to_owned() });
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(StoreError::MissingBucket { given: given.to_owned() });
        }
        // S3's rules for new buckets, checked here so that a typo is named at start.
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
            && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
            && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !valid {
            return Err(StoreError::InvalidBucket { bucket: bucket.to_owned() });
        }
        let prefix = prefix.trim_matches('/');
        let prefix = if prefix.is_empty() {
            None
        } else {
            Some(Path::parse(prefix).map_err(|source| StoreError::InvalidPrefix {
                prefix: prefix.to_owned(),
                source,
            })?)
        };
        Ok(Self::S3 { bucket: bucket.to_owned(), prefix })
    }
}

/// Which object store to open, with everything needed to open it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// The local filesystem rooted at `root` (the data directory), created if missing.
    Local {
        /// The root directory.
        root: PathBuf,
    },
    /// An S3-compatible bucket.
    S3(S3Config),
}

/// An S3-compatible bucket and how to reach it. Settings left out fall back to object_store's
/// reading of the usual `AWS_*` environment variables (and, for credentials, to the container
/// or instance metadata service), as AWS tools do.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// The bucket.
    pub bucket: String,
    /// The key prefix everything is stored under, if any.
    pub prefix: Option<Path>,
    /// The bucket's region.
    pub region: String,
    /// The service's URL, for a server other than AWS (e.g. `http://127.0.0.1:9000`).
    pub endpoint: Option<String>,
    /// The access key id (with `secret_access_key`).
    pub access_key_id: Option<String>,
    /// The secret access key (never logged).
    pub secret_access_key: Option<String>,
    /// Allow plain `http://` endpoints (a local S3-compatible server).
    pub allow_http: bool,
}

impl S3Config {
    /// A bucket in the default region, settings otherwise from the environment.
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            prefix: None,
            region: DEFAULT_S3_REGION.to_owned(),
            endpoint: None,
            access_key_id: None,
            secret_access_key: None,
            allow_http: false,
        }
    }

    fn endpoint_name(&self) -> String {
        self.endpoint.clone().unwrap_or_else(|| format!("AWS region {}", self.region))
    }

    fn builder(&self) -> AmazonS3Builder {
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&self.bucket)
            .with_region(&self.region)
            .with_allow_http(self.allow_http);
        if let Some(endpoint) = &self.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(key) = &self.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &self.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        builder
    }
}

// By hand, so that the secret never reaches a log line.
impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &self.secret_access_key.as_ref().map(|_| "<hidden>"))
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

impl fmt::Display for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local { root } => write!(f, "{}", root.display()),
            Self::S3(s3) => match &s3.prefix {
                Some(prefix) => write!(f, "s3://{}/{prefix}", s3.bucket),
                None => write!(f, "s3://{}", s3.bucket),
            },
        }
    }
}

/// Why an object store could not be opened (each names the setting to fix).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The location is neither `file` nor an `s3://` URL.
    #[error(
        "unknown object store {given:?}: use `file` (the data directory) or `s3://bucket[/prefix]`"
    )]
    UnknownScheme {
        /// What was given.
        given: String,
    },
    /// An `s3://` URL without a bucket.
    #[error("the object store {given:?} names no bucket: use `s3://bucket[/prefix]`")]
    MissingBucket {
        /// What was given.
        given: String,
    },
    /// The bucket's name breaks S3's naming rules.
    #[error(
        "{bucket:?} is not a valid S3 bucket name: 3 to 63 lowercase letters, digits, dots and \
         hyphens, starting and ending with a letter or digit"
    )]
    InvalidBucket {
        /// The name given.
        bucket: String,
    },
    /// The prefix after the bucket is not a valid object path (e.g. an empty `//` segment).
    #[error("invalid prefix {prefix:?} in the object store URL: {source}")]
    InvalidPrefix {
        /// The prefix given.
        prefix: String,
        /// Why it is invalid.
        source: object_store::path::Error,
    },
    /// The S3 settings do not make a client (e.g. an access key id without its secret).
    #[error("invalid S3 settings for bucket {bucket}: {source}")]
    Settings {
        /// The bucket.
        bucket: String,
        /// object_store's complaint.
        source: object_store::Error,
    },
    /// The bucket does not exist at the endpoint.
    #[error("the S3 bucket {bucket} does not exist at {endpoint}: create it first")]
    NoSuchBucket {
        /// The bucket.
        bucket: String,
        /// The endpoint, or the AWS region.
        endpoint: String,
    },
    /// Listing the bucket failed: the endpoint is unreachable, or the credentials are refused.
    #[error("cannot use the S3 bucket {bucket} at {endpoint}: {source}")]
    Unreachable {
        /// The bucket.
        bucket: String,
        /// The endpoint, or the AWS region.
        endpoint: String,
        /// The failure.
        source: object_store::Error,
    },
    /// The bucket did not answer within [`S3_PROBE_TIMEOUT`].
    #[error("the S3 bucket {bucket} at {endpoint} did not answer within {seconds} s")]
    Timeout {
        /// The bucket.
        bucket: String,
        /// The endpoint, or the AWS region.
        endpoint: String,
        /// The time waited.
        seconds: u64,
    },
    /// The local directory could not be created or used.
    #[error("cannot use {} as the object store: {source}", dir.display())]
    Local {
        /// The directory.
        dir: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
}

/// Opens the store `config` names and checks that it can be used: the local directory is
/// created; the bucket is listed once (with no retries, at most [`S3_PROBE_TIMEOUT`]), so that
/// a missing bucket, a wrong endpoint or refused credentials are reported now.
pub async fn open_store(config: &StoreConfig) -> Result<Arc<dyn ObjectStore>, StoreError> {
    let s3 = match config {
        StoreConfig::Local { root } => {
            return local_store(root)
                .map_err(|source| StoreError::Local { dir: root.clone(), source });
        }
        StoreConfig::S3(s3) => s3,
    };
    // object_store's HTTP client uses rustls without choosing a provider; ring it is (the
    // error only says one is already installed).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let settings = |source| StoreError::Settings { bucket: s3.bucket.clone(), source };
    let probe = s3
        .builder()
        .with_retry(RetryConfig { max_retries: 0, ..RetryConfig::default() })
        .build()
        .map_err(settings)?;
    let store = s3.builder().build().map_err(settings)?;
    let (probe, store): (Arc<dyn ObjectStore>, Arc<dyn ObjectStore>) = match &s3.prefix {
        Some(prefix) => (
            Arc::new(PrefixStore::new(probe, prefix.clone())),
            Arc::new(PrefixStore::new(store, prefix.clone())),
        ),
        None => (Arc::new(probe), Arc::new(store)),
    };
    let endpoint = s3.endpoint_name();
    match tokio::time::timeout(S3_PROBE_TIMEOUT, probe.list_with_delimiter(None)).await {
        Ok(Ok(_)) => {}
        // object_store reports a failed listing as a generic error that carries S3's answer;
        // its error code is the documented way to tell a missing bucket from other failures.
        Ok(Err(source)) if format!("{source:?}").contains("NoSuchBucket") => {
            return Err(StoreError::NoSuchBucket { bucket: s3.bucket.clone(), endpoint });
        }
        Ok(Err(source)) => {
            return Err(StoreError::Unreachable { bucket: s3.bucket.clone(), endpoint, source });
        }
        Err(_) => {
            return Err(StoreError::Timeout {
                bucket: s3.bucket.clone(),
                endpoint,
                seconds: S3_PROBE_TIMEOUT.as_secs(),
            });
        }
    }
    tracing::info!(store = %config, endpoint = %endpoint, "Objects are stored in S3.");
    Ok(store)
}

/// The default store: the local filesystem rooted at `dir` (created if missing), with fsync on
/// every write so that a stored object survives a crash, as S3's would.
pub fn local_store(dir: &FsPath) -> std::io::Result<Arc<dyn ObjectStore>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(given: &str) -> Result<StoreLocation, StoreError> {
        given.parse()
    }

    #[test]
    fn file_means_the_data_directory() {
        assert_eq!(parse("file").unwrap(), StoreLocation::DataDir);
    }

    #[test]
    fn an_s3_url_names_a_bucket_and_an_optional_prefix() {
        let s3 = |bucket: &str, prefix: Option<&str>| StoreLocation::S3 {
            bucket: bucket.into(),
            prefix: prefix.map(Path::from),
        };
        assert_eq!(parse("s3://alleycat").unwrap(), s3("alleycat", None));
        assert_eq!(parse("s3://alleycat/").unwrap(), s3("alleycat", None));
        assert_eq!(parse("s3://my.bucket-1/prod/eu/").unwrap(), s3("my.bucket-1", Some("prod/eu")));
    }

    #[test]
    fn bad_locations_are_refused_with_what_to_write_instead() {
        for (given, expected) in [
            ("ftp://bucket", "unknown object store \"ftp://bucket\": use `file`"),
            ("./data", "unknown object store"),
            ("s3://", "names no bucket"),
            ("s3:///prefix", "names no bucket"),
            ("s3://Bucket", "\"Bucket\" is not a valid S3 bucket name"),
            ("s3://ab", "is not a valid S3 bucket name"),
            ("s3://-ab", "is not a valid S3 bucket name"),
            ("s3://bucket/a//b", "invalid prefix \"a//b\""),
        ] {
            let error = parse(given).expect_err(given).to_string();
            assert!(error.contains(expected), "{given}: {error}");
        }
    }

    #[test]
    fn the_secret_key_is_never_printed() {
        let config = S3Config {
            access_key_id: Some("AKIDEXAMPLE".into()),
            secret_access_key: Some("wJalrXUtnFEMI".into()),
            ..S3Config::new("bucket")
        };
        let printed = format!("{config:?} {}", StoreConfig::S3(config.clone()));
        assert!(printed.contains("AKIDEXAMPLE") && !printed.contains("wJalrXUtnFEMI"), "{printed}");
    }

    #[tokio::test]
    async fn an_access_key_without_its_secret_is_refused_at_start() {
        let config = S3Config {
            access_key_id: Some("AKIDEXAMPLE".into()),
            endpoint: Some("http://127.0.0.1:9".into()),
            allow_http: true,
            ..S3Config::new("bucket")
        };
        // (Unless AWS_SECRET_ACCESS_KEY supplies the secret: the tests expect no AWS_* settings.)
        let error = open_store(&StoreConfig::S3(config)).await.expect_err("refused");
        assert!(matches!(error, StoreError::Settings { .. }), "{error}");
        assert!(error.to_string().contains("bucket bucket"), "{error}");
    }

    #[tokio::test]
    async fn an_endpoint_that_refuses_connections_is_reported_at_start() {
        // Port 9 (discard) on loopback: nothing listens there on a test machine.
        let config = S3Config {
            access_key_id: Some("key".into()),
            secret_access_key: Some("secret".into()),
            endpoint: Some("http://127.0.0.1:9".into()),
            allow_http: true,
            ..S3Config::new("bucket")
        };
        let error = open_store(&StoreConfig::S3(config)).await.expect_err("refused");
        assert!(matches!(error, StoreError::Unreachable { .. }), "{error}");
        assert!(error.to_string().contains("http://127.0.0.1:9"), "{error}");
    }
}
