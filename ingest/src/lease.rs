//! The pipeline lease: which one of several servers runs delivery and merge.
//!
//! Any number of `alleycat serve` processes accept events and serve the API, but delivery (one
//! named consumer of the stream, checkpointing it) and the merge (the only writer of the history
//! files) must run on one server at a time. Each server asks for the lease; the one that gets it
//! starts delivery and merge, the others wait and ask again about every [`RETRY_INTERVAL`].
//!
//! The interface is small ([`Lease`] and [`Held`]) so that other engines can hold it (a NATS KV
//! key with a TTL would do); two implementations are here:
//! - [`PgLease`]: a PostgreSQL session advisory lock (`pg_try_advisory_lock` on [`LEASE_KEY`])
//!   held on a connection of its own, outside the pool. PostgreSQL releases it when that session
//!   ends: the holder gives it up, its process dies (the kernel closes the socket), or PostgreSQL
//!   terminates the session (`pg_terminate_backend`, a restart).
//! - [`AlwaysHeld`]: with the embedded SQLite database there is one server per data directory
//!   (the data directory's lock file sees to that), so the lease is always held.
//!
//! # Invariants
//! - **At most one holder.** PostgreSQL grants the advisory lock to one session at a time. A
//!   holder checks its session every [`CHECK_INTERVAL`] (a query that must answer within
//!   [`CHECK_TIMEOUT`]); when the check fails it must stop its pipeline at once: no new object
//!   is started and no new checkpoint written after the loss is seen (see
//!   `Pipeline::abort`). An object or checkpoint already in flight may still land; the merge is
//!   idempotent, and delivery resumes from the last checkpoint, so this can only repeat records
//!   in objects, never lose them.
//! - **On a partition** between a holder and PostgreSQL, the holder's check times out within
//!   about `CHECK_INTERVAL + CHECK_TIMEOUT` (2 s) and it stops. PostgreSQL frees the lock only
//!   when it notices the session is gone: the lease connection asks for TCP keepalives after
//!   [`KEEPALIVE_IDLE_SECONDS`], every second, [`KEEPALIVE_COUNT`] times (8 s in all), so the
//!   old holder has stopped before another server can take over. A holder that is paused (not
//!   partitioned) for longer than that is the one case this does not cover: there is no fencing
//!   token on the writes, and it may write once more after waking before its next check.
//! - **Takeover.** When the holder dies another server gets the lock on its next try, within
//!   about a second of PostgreSQL dropping the session (at once for a killed process, whose
//!   socket the kernel closes), and its delivery resumes from the stream's checkpoint.

use std::{fmt, time::Duration};

use async_trait::async_trait;
use sqlx::{
    postgres::{PgConnectOptions, PgConnection},
    ConnectOptions, Connection,
};
use tracing::{debug, warn};

/// How often a server that does not hold the lease asks for it again.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// How often the holder checks that it still holds the lease.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// How long one check (or one try to acquire) may take before the lease counts as lost.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(1);
/// The advisory-lock key of the pipeline lease (the bytes of "alleycat" as a big-endian i64).
pub const LEASE_KEY: i64 = i64::from_be_bytes(*b"alleycat");
/// Seconds of silence before PostgreSQL probes the lease connection (`tcp_keepalives_idle`).
pub const KEEPALIVE_IDLE_SECONDS: u32 = 5;
/// Unanswered probes, a second apart, before PostgreSQL drops the session
/// (`tcp_keepalives_count`).
pub const KEEPALIVE_COUNT: u32 = 3;
/// How long connecting the lease connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the lease could not be taken, or was lost.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    /// The database failed or the lease's session ended (terminated, connection closed).
    #[error("the lease's database session failed: {0}")]
    Database(#[from] sqlx::Error),
    /// The database did not answer in time.
    #[error("the database did not answer within {after:?}")]
    Timeout {
        /// How long was waited.
        after: Duration,
    },
    /// The lock is no longer held by this session.
    #[error("the lease is no longer held")]
    NotHeld,
}

/// Something that grants the pipeline lease to one holder at a time.
#[async_trait]
pub trait Lease: Send + Sync + fmt::Debug {
    /// Tries once to take the lease: `Some` when it is now held here, `None` when another
    /// holder has it.
    async fn try_acquire(&self) -> Result<Option<Box<dyn Held>>, LeaseError>;
}

/// The lease, held. Dropping it gives it up too (the session closes).
#[async_trait]
pub trait Held: Send + fmt::Debug {
    /// Checks once that the lease is still held; an error means it is lost (or no longer known
    /// to be held) and the holder must stop what the lease guards at once.
    async fn check(&mut self) -> Result<(), LeaseError>;

    /// Gives the lease up, so another holder can take it at once.
    async fn release(self: Box<Self>);
}

/// Asks for the lease every `retry` until it is held. Failures to ask (the database down) are
/// logged and retried.
pub async fn acquire(lease: &dyn Lease, retry: Duration) -> Box<dyn Held> {
    let mut failing = false;
    loop {
        match lease.try_acquire().await {
            Ok(Some(held)) => return held,
            Ok(None) => {
                failing = false;
                debug!("Another server holds the pipeline lease.");
            }
            Err(error) if !failing => {
                failing = true;
                warn!(%error, "Cannot ask for the pipeline lease; trying again.");
            }
            Err(error) => debug!(%error, "Still cannot ask for the pipeline lease."),
        }
        tokio::time::sleep(retry).await;
    }
}

/// Checks `held` every `interval` and returns why, once it is lost.
pub async fn until_lost(held: &mut dyn Held, interval: Duration) -> LeaseError {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(error) = held.check().await {
            return error;
        }
    }
}

/// The lease of a single server: always granted, never lost.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysHeld;

#[async_trait]
impl Lease for AlwaysHeld {
    async fn try_acquire(&self) -> Result<Option<Box<dyn Held>>, LeaseError> {
        Ok(Some(Box::new(AlwaysHeld)))
    }
}

#[async_trait]
impl Held for AlwaysHeld {
    async fn check(&mut self) -> Result<(), LeaseError> {
        Ok(())
    }

    async fn release(self: Box<Self>) {}
}

/// The lease as a PostgreSQL session advisory lock on [`LEASE_KEY`].
#[derive(Clone)]
pub struct PgLease {
    options: PgConnectOptions,
    key: i64,
}

impl fmt::Debug for PgLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgLease")
            .field("host", &self.options.get_host())
            .field("port", &self.options.get_port())
            .field("key", &self.key)
            .finish()
    }
}

impl PgLease {
    /// The lease in the database `options` connects to.
    pub fn new(options: PgConnectOptions) -> Self {
        Self::with_key(options, LEASE_KEY)
    }

    /// A lease on another advisory-lock key (tests run several apart in one database).
    pub fn with_key(options: PgConnectOptions, key: i64) -> Self {
        let options = options
            .application_name("alleycat-lease")
            // The server's side of the keepalives: PostgreSQL drops a holder it cannot reach
            // within about 8 s, after the holder itself has stopped (see the module docs).
            .options([
                ("tcp_keepalives_idle", KEEPALIVE_IDLE_SECONDS.to_string()),
                ("tcp_keepalives_interval", "1".to_owned()),
                ("tcp_keepalives_count", KEEPALIVE_COUNT.to_string()),
            ])
            .disable_statement_logging();
        Self { options, key }
    }
}

async fn within<T>(
    limit: Duration,
    work: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, LeaseError> {
    match tokio::time::timeout(limit, work).await {
        Ok(result) => Ok(result?),
        Err(_) => Err(LeaseError::Timeout { after: limit }),
    }
}

#[async_trait]
impl Lease for PgLease {
    async fn try_acquire(&self) -> Result<Option<Box<dyn Held>>, LeaseError> {
        let mut connection = within(CONNECT_TIMEOUT, self.options.connect()).await?;
        let locked: bool = within(
            CHECK_TIMEOUT,
            sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
                .bind(self.key)
                .fetch_one(&mut connection),
        )
        .await?;
        if !locked {
            let _ = connection.close().await;
            return Ok(None);
        }
        Ok(Some(Box::new(PgHeld { connection, key: self.key })))
    }
}

/// The advisory lock, held by the session of `connection`.
struct PgHeld {
    connection: PgConnection,
    key: i64,
}

impl fmt::Debug for PgHeld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgHeld").field("key", &self.key).finish_non_exhaustive()
    }
}

#[async_trait]
impl Held for PgHeld {
    async fn check(&mut self) -> Result<(), LeaseError> {
        // The lock lives as long as the session: asking the session whether it still holds it
        // fails when the session was terminated or the connection is gone.
        let held: bool = within(
            CHECK_TIMEOUT,
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
                     AND pid = pg_backend_pid() AND granted AND objsubid = 1
                     AND ((classid::bigint << 32) | objid::bigint) = $1)",
            )
            .bind(self.key)
            .fetch_one(&mut self.connection),
        )
        .await?;
        if held {
            Ok(())
        } else {
            Err(LeaseError::NotHeld)
        }
    }

    async fn release(self: Box<Self>) {
        let PgHeld { mut connection, key } = *self;
        let _ = within(
            CHECK_TIMEOUT,
            sqlx::query("SELECT pg_advisory_unlock($1)").bind(key).execute(&mut connection),
        )
        .await;
        let _ = connection.close().await;
    }
}
