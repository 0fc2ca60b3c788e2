//! The project's database: race results, class records, the roster, shared keys and people's
//! racers with their devices and passkeys, in an embedded SQLite database or in PostgreSQL
//! (sqlx). Every query of the project is here, written once for both backends (see `on_pool!`),
//! one file per concern: [`results`] (what the merge commits and the read API answers),
//! [`roster`], [`keys`], [`people`] (with invitations), [`devices`], [`passkeys`] (with the
//! WebAuthn ceremonies in progress). The pipeline [`lease`](crate::lease)
//! is taken on the same PostgreSQL server.
//!
//! Backends: by default the SQLite file `results.sqlite` in the data directory (WAL, one server
//! per data directory); with a `postgres://` URL ([`DatabaseConfig::Postgres`]) a PostgreSQL
//! database that several servers share.
//!
//! Schema (`migrations/` for SQLite, `migrations_postgres/` for PostgreSQL: the same tables, each
//! in its backend's types; embedded and applied on open, so an empty database is migrated on
//! start and a migrated one is left as it is):
//! - `rides`: per class, race and racer, the per-second outputs as a BLOB/BYTEA (little-endian
//!   u32 hundredths, 0 where not ridden) and what derives from them: seconds ridden, total, best
//!   and final output. Keeping the seconds makes merging idempotent: a second merged twice is the
//!   same second. `details` holds each second's cadence and heart rate (two bytes a second, see
//!   `merge::record::Detail`; empty for rides merged before it existed), for the ride's FIT file.
//!   `real_bike` says some second was measured by a trainer or a power meter (the results mark
//!   it). The index `rides_by_racer` serves a racer's own page (their rides, newest first).
//! - `class_records`: per class and racer, the best race total and the race it came from (ties go
//!   to the earlier race, so the answer does not depend on merge order).
//! - `merged_objects`: the path of every object folded in, committed in the same transaction as
//!   its effects, so a restart merges only what is new.
//! - `roster`: every racer's generated name and avatar seed.
//! - `shared_keys`: values every server of a deployment must agree on (the token secret, the
//!   generated API key), by name; the first writer wins ([`Database::shared_value`]).
//! - `people`: people's racers (ids from 1,000,000 up: `alleycat_domain::racer`), their name,
//!   its lower-case form for the search, avatar seed and creation time.
//! - `devices`: browsers that may ride as a person, by the SHA-256 (hex) of their cookie's secret
//!   (the secret itself is never stored); label (user agent), created, last used, revoked.
//! - `passkeys`: WebAuthn credentials by credential id, with their owner and signature counter.
//! - `ceremonies`: WebAuthn registrations and logins between start and finish (the library's
//!   state, JSON), single use and expiring; any server can finish what another started.
//! - `invites`: single-use invitations to create a racer, by the SHA-256 (hex) of the code.
//!
//! All outputs are stored as integer hundredths; the query results give them as numbers with two
//! decimals. Ids are stored as signed 64-bit integers (the u64 bits, cast).

use std::{path::Path, str::FromStr};

use sqlx::{
    postgres::{PgConnectOptions, PgPool, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    ConnectOptions, Connection, SqlitePool,
};

/// Why a database operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database refused or failed a query, or could not be reached.
    #[error("database failure: {0}")]
    Query(#[from] sqlx::Error),
    /// The database's migrations failed (on open).
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A racer was to be created with an invitation that is unknown or used already
    /// ([`Database::create_person`]); nothing was stored.
    #[error("the invitation is unknown or used already")]
    InviteUnusable,
}

/// The database file's name inside the data directory.
pub const DATABASE_FILE: &str = "results.sqlite";

/// Rows per multi-row INSERT (10 parameters each, well under SQLite's 32,766 and PostgreSQL's
/// 65,535).
const ROWS_PER_STATEMENT: usize = 500;

/// Connections in a server's PostgreSQL pool (the merge commits on one; queries use the rest).
pub const DEFAULT_POSTGRES_CONNECTIONS: u32 = 8;

/// How long connecting to PostgreSQL (or waiting for a pooled connection) may take.
pub const POSTGRES_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The embedded migrations of each backend.
static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/db/migrations");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/db/migrations_postgres");

/// Where the results database is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DatabaseConfig {
    /// The embedded SQLite file [`DATABASE_FILE`] in the data directory (the default).
    #[default]
    DataDir,
    /// A PostgreSQL database, shared by every server given the same URL.
    Postgres(PostgresUrl),
}

/// A `postgres://` (or `postgresql://`) connection URL, as libpq takes it. Its `Debug` and
/// `Display` hide the password, so settings can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

/// Why a database URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatabaseUrlError {
    /// Not a `postgres://` URL libpq would take.
    #[error("`{given}` is not a PostgreSQL URL: use postgres://user[:password]@host[:port]/database (without a URL the SQLite file in the data directory is used)")]
    NotPostgres {
        /// What was given, password hidden.
        given: String,
    },
    /// The URL asks for TLS (`sslmode=require`, `verify-ca` or `verify-full`), which this
    /// build's PostgreSQL client does not speak (sqlx is built without TLS).
    #[error("`{given}` asks for TLS to PostgreSQL (sslmode={mode}), which Alleycat's PostgreSQL client does not have: connect over a private network or a Unix socket, or through a local TLS tunnel, and drop sslmode (or set sslmode=disable or prefer)")]
    TlsRequired {
        /// What was given, password hidden.
        given: String,
        /// The sslmode asked for.
        mode: String,
    },
}

/// The `sslmode` of `url` when it insists on TLS.
fn required_tls(url: &str) -> Option<String> {
    let (_, query) = url.split_once('?')?;
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "sslmode")
        .map(|(_, mode)| mode.to_owned())
        .filter(|mode| matches!(mode.as_str(), "require" | "verify-ca" | "verify-full"))
}

impl PostgresUrl {
    /// The URL itself (with its password).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn redacted(&self) -> String {
        redact(&self.0)
    }
}

/// `url` with the password (between `user:` and `@`) replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let Some((credentials, host)) = rest.rsplit_once('@') else { return url.to_owned() };
    match credentials.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_owned(),
    }
}

impl FromStr for PostgresUrl {
    type Err = DatabaseUrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let valid = (s.starts_with("postgres://") || s.starts_with("postgresql://"))
            && PgConnectOptions::from_str(s).is_ok();
        if !valid {
            return Err(DatabaseUrlError::NotPostgres { given: redact(s) });
        }
        if let Some(mode) = required_tls(s) {
            return Err(DatabaseUrlError::TlsRequired { given: redact(s), mode });
        }
        Ok(Self(s.to_owned()))
    }
}

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresUrl({})", self.redacted())
    }
}

impl std::fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// The pool of one backend.
#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the backend's pool and `$db` naming its sqlx database
/// type, so each query is written once and compiled for both backends. Placeholders are `$1`,
/// `$2`, ... (SQLite takes them too); multi-row inserts go through `QueryBuilder::<$db>`.
macro_rules! on_pool {
    ($self:expr, |$pool:ident, $db:ident| $body:expr) => {
        match &$self.pool {
            Pool::Sqlite($pool) => {
                #[allow(dead_code)]
                type $db = sqlx::Sqlite;
                $body
            }
            Pool::Postgres($pool) => {
                #[allow(dead_code)]
                type $db = sqlx::Postgres;
                $body
            }
        }
    };
}

pub mod devices;
pub mod keys;
pub mod passkeys;
pub mod people;
pub mod results;
pub mod roster;

pub(crate) use results::StoredRide;
pub use results::{
    ClassRecord, RaceResult, RaceSummary, RacerRecord, RacerRide, RideSummary, StoredBlobs,
};

/// The results database. Cheap to clone (a connection pool); share one between the merge and the
/// server.
#[derive(Debug, Clone)]
pub struct Database {
    pool: Pool,
}

impl Database {
    /// Opens the database `config` names: the SQLite file in `data_dir`, or PostgreSQL.
    pub async fn connect(config: &DatabaseConfig, data_dir: &Path) -> Result<Self, DbError> {
        match config {
            DatabaseConfig::DataDir => Self::open(&data_dir.join(DATABASE_FILE)).await,
            DatabaseConfig::Postgres(url) => Self::connect_postgres(url).await,
        }
    }

    /// Opens (creating if missing) the SQLite file at `path` and applies the migrations.
    pub async fn open(path: &Path) -> Result<Self, DbError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // The WAL with NORMAL survives a process crash; a power cut may lose the last
            // transactions, which the merge then redoes from the objects (they are not marked
            // merged either).
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(10));
        // One connection first: it creates the file and switches it to the WAL, which needs the
        // database to itself (SQLite answers "database is locked" at once, busy timeout or not,
        // to a second connection doing the same). The pool's connections, opened concurrently,
        // then find it in the WAL already.
        options.connect().await?.close().await?;
        Self::with_options(options, 4).await
    }

    /// A private in-memory SQLite database (for tests).
    pub async fn in_memory() -> Result<Self, DbError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?;
        // One connection: each in-memory connection would be its own database.
        Self::with_options(options, 1).await
    }

    async fn with_options(
        options: SqliteConnectOptions,
        connections: u32,
    ) -> Result<Self, DbError> {
        let pool = SqlitePoolOptions::new()
            .max_connections(connections)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        SQLITE_MIGRATOR.run(&pool).await?;
        Ok(Self { pool: Pool::Sqlite(pool) })
    }

    /// Connects to the PostgreSQL database at `url` and applies the migrations (sqlx holds an
    /// advisory lock while migrating, so servers starting together migrate once).
    pub async fn connect_postgres(url: &PostgresUrl) -> Result<Self, DbError> {
        let options = PgConnectOptions::from_str(url.as_str())?.application_name("alleycat");
        // One connection first, so that an unreachable server or a refused login is reported as
        // such: the pool would only say that it timed out.
        let first = tokio::time::timeout(POSTGRES_CONNECT_TIMEOUT, options.connect())
            .await
            .map_err(|_| {
                sqlx::Error::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!("connecting to {url} took longer than {POSTGRES_CONNECT_TIMEOUT:?}"),
                ))
            })??;
        first.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(DEFAULT_POSTGRES_CONNECTIONS)
            .acquire_timeout(POSTGRES_CONNECT_TIMEOUT)
            .connect_with(options)
            .await?;
        POSTGRES_MIGRATOR.run(&pool).await?;
        Ok(Self { pool: Pool::Postgres(pool) })
    }

    /// Whether this is a PostgreSQL database (shared by several servers).
    pub fn is_shared(&self) -> bool {
        matches!(self.pool, Pool::Postgres(_))
    }

    /// The lease that decides which server runs delivery and merge: a PostgreSQL advisory lock
    /// on a connection of its own, or (SQLite: one server per data directory) always held.
    pub fn lease(&self) -> std::sync::Arc<dyn crate::lease::Lease> {
        match &self.pool {
            Pool::Sqlite(_) => std::sync::Arc::new(crate::lease::AlwaysHeld),
            Pool::Postgres(pool) => {
                std::sync::Arc::new(crate::lease::PgLease::new((*pool.connect_options()).clone()))
            }
        }
    }

    /// Applies the migrations again (they are recorded, so this changes nothing on a migrated
    /// database).
    pub async fn migrate(&self) -> Result<(), DbError> {
        match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATOR.run(pool).await?,
            Pool::Postgres(pool) => POSTGRES_MIGRATOR.run(pool).await?,
        }
        Ok(())
    }

    /// Whether the database answers a trivial query (`SELECT 1`), for readiness checks.
    pub async fn ping(&self) -> Result<(), DbError> {
        on_pool!(self, |pool, _Db| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Closes the pool (waits for connections to finish).
    pub async fn close(&self) {
        on_pool!(self, |pool, _Db| pool.close().await)
    }
}
