//! [`JetStreamStream`]: the stream on a NATS JetStream cluster, for deployments of several
//! servers. Several `alleycat serve` processes open the same JetStream stream at once: unlike
//! the embedded engine's data directory, it is shared by design.
//!
//! # How the stream maps onto JetStream
//!
//! - **One JetStream stream** (default name [`DEFAULT_STREAM_NAME`]) whose subjects are one per
//!   shard, `<name>.shard.<n>` for `n` in `0..shards`, listed one by one: the subject list is
//!   the stream's shard count, so opening it with another count is refused
//!   ([`JetStreamError::ShardCountMismatch`]). It is created when missing: file storage,
//!   limits retention with `max_age` = the retention, discarding the oldest, and
//!   [`JetStreamConfig::replicas`] replicas (3 by default when at least 3 servers are given).
//! - **Routing** is the disk engine's ([`super::hash_key`], [`super::hash_ranges`]): the MD5
//!   hash range of the partition key, or the explicit hash key. A message carries its record's
//!   data as payload, the partition key in the header [`PARTITION_KEY_HEADER`]
//!   (percent-encoded: control characters, spaces, `%` and non-ASCII bytes, so that any key
//!   survives the header line intact) and an explicit hash key, when given, in decimal in
//!   [`HASH_KEY_HEADER`].
//! - **Puts** publish every record of the call (pipelined on the one connection, so a call
//!   costs about one round trip, and the order within a shard is kept), then await every
//!   PubAck. A record is acknowledged only once JetStream acknowledged it, i.e. once it is
//!   stored on a quorum of the stream's replicas. A record whose publish fails or times out
//!   (no leader during an election, a node down, no responders) fails alone with
//!   [`RecordErrorCode::InternalFailure`], which is retryable; it may still have been stored
//!   (a lost PubAck), so a retry can duplicate it — at least once, as Kinesis.
//! - **Sequence numbers** are `shard << 64 | stream sequence`. JetStream numbers the messages of
//!   the whole stream, so within a shard they strictly increase (with gaps: other shards'
//!   messages), survive restarts, and render as the 39-digit decimal that sorts like the disk
//!   engine's. The shard bits let a sequence of another shard be refused. A shard's
//!   `starting_sequence_number` is a lower bound (`shard << 64 | 1`): its first message's number
//!   is not known in advance.
//! - **Iterators.** An iterator's `position` is `shard << 64 | s`: the next record is the first
//!   message of the shard's subject with stream sequence ≥ `s`. TRIM_HORIZON is the stream's
//!   first sequence, LATEST its last plus one (from the stream leader's state),
//!   AT_/AFTER_SEQUENCE_NUMBER the given sequence (plus one), checked to be a message of this
//!   shard or one already removed, and AT_TIMESTAMP JetStream's own `by_start_time` (the first
//!   message stored at or after that millisecond). A position that retention has passed reads
//!   on from the oldest record kept, without [`StreamError::ExpiredIterator`]: JetStream
//!   numbers the whole stream, so a position below its first sequence cannot tell whether
//!   this shard lost records there or only other shards did (an idle shard's reader at its
//!   tip is the common case), and an error would stop such a reader for nothing.
//!   AT_TIMESTAMP is computed by the consumer's server on its replica: asked for a time later
//!   than everything that replica holds while it lags the leader, it may start a few records
//!   early (never late).
//! - **Reads** go through ephemeral pull consumers (filtered on the shard's subject, no acks,
//!   memory state, deleted by the server after [`READ_CONSUMER_IDLE`] unused), kept in a cache
//!   by iterator position, so a reader paging along a shard reuses one consumer. A
//!   `get_records` asks for up to `limit` messages without waiting (one round trip); only when
//!   there are none, it waits for the first new one with a pull request that expires after
//!   `wait` (the server holds it: no polling), then takes what else has arrived. A consumer
//!   that fails (its server died, it idled out) is replaced by a new one at the same position,
//!   which is exact because the position is the sequence after the last record returned.
//!   With no acks, JetStream counts a message as read once it sends it, so one lost on the way
//!   (a paused node, a pull request the client gave up on) would be skipped: a read checks
//!   that the consumer sequences it receives run on without a gap, and at a gap returns only
//!   what came before and drops the consumer (the next read starts a new one there).
//!   `arrival_ms` is JetStream's timestamp of the message (the leader's clock);
//!   `millis_behind_latest` is the age of the last record returned when the consumer says more
//!   are pending, else 0.
//! - **Named consumers** are durable JetStream consumers, one per consumer and shard (named
//!   `<consumer>-shard-<n>`, with `_` written `__` and `.` written `_d`), filtered on the
//!   shard's subject, `AckPolicy::All`, headers only. The checkpoint **is the ack floor**:
//!   `checkpoints` reads it from consumer info. The first `checkpoint(s)` creates the durable
//!   starting at `s + 1`, which stands for `s` until its first ack (JetStream reports its ack
//!   floor as 0 until then); a later one fetches headers from the
//!   durable up to `s` and acks that message (waiting for the server's confirmation), which
//!   acks everything before it. Headers fetched past `s` are handed back at once (NAK). A
//!   checkpoint that cannot be reached by acks — moving backwards, or onto a message that is
//!   gone — recreates the durable at `s + 1`.
//!
//! # Invariants and what a crash leaves
//!
//! JetStream keeps the records (replicated; a put is acknowledged on a quorum), so losing an
//! Alleycat server loses nothing acknowledged, and losing a minority of NATS nodes neither:
//! puts and reads carry on once the stream has a leader again (an election takes a few
//! seconds; meanwhile puts fail retryably and reads error, and callers retry). A crash in the
//! middle of a checkpoint leaves the durable at the old ack floor or at the new one, never
//! between, plus possibly headers delivered and not acked: they are redelivered after
//! [`CHECKPOINT_ACK_WAIT`], and the next checkpoint acks past them. Only the recreate path
//! (delete, then create) has a window in which a crash leaves no durable: the consumer then
//! starts again from TRIM_HORIZON, a replay (at least once), not a loss. One process at a time
//! should checkpoint a given named consumer (for delivery, a lease across servers is to see to
//! that; this engine does not).
//!
//! # Health
//!
//! [`Stream::health`] is what the latest put or probe found (`super::jetstream_health`): a
//! record not acknowledged makes the engine `Failing` at once; a probe every second asks the
//! stream's leader for the stream's info, within 2 s, and says `NoLeader` (connected, and no
//! answer, an error, or a leader that less than a quorum of the replicas follows) or
//! `Unreachable` (not connected to any node) until that passes; an acknowledged put or a
//! probe that passes makes it `Writing`.
//!
//! The optional throttle (Kinesis' per-shard limits) is counted per `JetStreamStream`, i.e.
//! per server process, not across the cluster.

use std::{
    collections::{BTreeMap, HashMap},
    fmt, io,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_nats::{
    jetstream::{
        self,
        consumer::{self as js_consumer, pull, AckPolicy, DeliverPolicy, FromConsumer},
        context::{ConsumerInfoErrorKind, GetStreamErrorKind},
        stream::{self as js_stream, DiscardPolicy, LastRawMessageErrorKind, StorageType},
        AckKind,
    },
    HeaderMap, ServerAddr, Subject,
};
use async_trait::async_trait;
use futures::StreamExt;
use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};
use tracing::{info, warn};

use super::{
    check_get_limit, check_put,
    checkpoint::check_consumer_name,
    config::{Clock, SystemClock},
    describe_map, hash_key, hash_ranges, invalid_record,
    jetstream_health::{spawn_probe, JetStreamHealth},
    record_error,
    shard::Throttle,
    shard_of, GetRecordsOutput, PutRecord, PutRecordOk, PutRecordsOutput, Record, RecordError,
    RecordErrorCode, SequenceNumber, ShardDescription, ShardId, ShardIterator, StartingPosition,
    Stream, StreamError, StreamHealth, DEFAULT_RETENTION, DEFAULT_SHARDS, MAX_RECORD_BYTES,
};

/// The default name of the JetStream stream.
pub const DEFAULT_STREAM_NAME: &str = "alleycat";
/// The default time a JetStream request (a PubAck, a consumer or stream operation) may take.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How many replicas the stream gets by default when at least this many servers are given
/// (else 1).
pub const DEFAULT_REPLICAS: usize = 3;
/// The header that carries a record's partition key (percent-encoded).
pub const PARTITION_KEY_HEADER: &str = "Alleycat-Partition-Key";
/// The header that carries a record's explicit hash key, in decimal, when it has one.
pub const HASH_KEY_HEADER: &str = "Alleycat-Explicit-Hash-Key";
/// How long the server keeps a read consumer nobody uses.
pub const READ_CONSUMER_IDLE: Duration = Duration::from_secs(120);
/// How long a checkpoint durable waits for the ack of a header it delivered before it
/// delivers it again (headers left unacked by a crash come back after this).
pub const CHECKPOINT_ACK_WAIT: Duration = Duration::from_secs(2);
/// Room for the headers on top of the largest record: the servers' `max_payload` must take
/// [`MAX_RECORD_BYTES`] plus this.
pub const HEADER_ROOM: usize = 4096;
/// The most read consumers one handle keeps for reuse; past it, one is forgotten (the server
/// deletes it once idle).
const MAX_CACHED_READERS: usize = 1024;
/// How old the cached stream state (first and last sequence) may be when it only bounds a
/// position from below.
const STATE_MAX_AGE: Duration = Duration::from_secs(1);
/// The expiry of a pull request that does not wait (answered at once unless the server is
/// confused by messages removed under it).
const NO_WAIT_EXPIRES: Duration = Duration::from_secs(1);
/// How long a pull request that finds no responders (a consumer not listening yet) is sent
/// again before the read fails.
const NO_RESPONDERS_GRACE: Duration = Duration::from_secs(3);
/// Headers fetched at once by a checkpoint.
const CHECKPOINT_FETCH: usize = 1000;

/// Bytes percent-encoded in the partition-key header: controls, space and `%` (and, always,
/// every non-ASCII byte).
const KEY_ENCODE: &AsciiSet = &CONTROLS.add(b' ').add(b'%');

/// The JetStream engine's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JetStreamConfig {
    /// The NATS servers, `host:port` or `nats://host:port`; the client connects to one and
    /// fails over to the others.
    pub servers: Vec<String>,
    /// The JetStream stream's name (default [`DEFAULT_STREAM_NAME`]); 1 to 64 characters of
    /// `[A-Za-z0-9_-]`. Its subjects are `<name>.shard.<n>`.
    pub stream_name: String,
    /// How many shards (default [`DEFAULT_SHARDS`]); fixed when the stream is created.
    pub shards: u32,
    /// How long records are kept: the stream's `max_age` (default [`DEFAULT_RETENTION`]).
    pub retention: Duration,
    /// Replicas of the stream when it is created; `None`: [`DEFAULT_REPLICAS`] when at least
    /// that many servers are given, else 1.
    pub replicas: Option<usize>,
    /// Whether Kinesis' per-shard write limits apply, counted in this process.
    pub throttle: bool,
    /// How long one JetStream request may take (default [`DEFAULT_REQUEST_TIMEOUT`]).
    pub request_timeout: Duration,
}

impl JetStreamConfig {
    /// The defaults, on these servers.
    pub fn new(servers: Vec<String>) -> Self {
        Self {
            servers,
            stream_name: DEFAULT_STREAM_NAME.into(),
            shards: DEFAULT_SHARDS,
            retention: DEFAULT_RETENTION,
            replicas: None,
            throttle: false,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// The replicas the stream is created with.
    pub fn replicas(&self) -> usize {
        self.replicas.unwrap_or(if self.servers.len() >= DEFAULT_REPLICAS {
            DEFAULT_REPLICAS
        } else {
            1
        })
    }
}

/// Why the JetStream engine failed. Converted into [`StreamError`] at the trait's boundary:
/// configuration mistakes become `InvalidArgument`, the rest `Io` (retryable).
#[derive(Debug, thiserror::Error)]
pub enum JetStreamError {
    /// No server was given.
    #[error("no NATS server given")]
    NoServers,
    /// A server address does not parse.
    #[error("invalid NATS server address {given:?}: {reason}")]
    InvalidServer {
        /// What was given.
        given: String,
        /// Why it does not parse.
        reason: String,
    },
    /// The stream name is not one JetStream (and subjects) take.
    #[error("invalid JetStream stream name {0:?}: use 1 to 64 characters of [A-Za-z0-9_-]")]
    InvalidStreamName(String),
    /// No server could be reached.
    #[error("cannot connect to NATS at {servers}: {reason}")]
    Connect {
        /// The servers tried.
        servers: String,
        /// The client's error.
        reason: String,
    },
    /// The servers' `max_payload` is below the largest record plus headers.
    #[error(
        "the NATS servers take messages of at most {max_payload} bytes; records need {needed} \
         (set `max_payload` in the server configuration)"
    )]
    MaxPayloadTooSmall {
        /// The server's limit.
        max_payload: usize,
        /// What records need.
        needed: usize,
    },
    /// The stream exists with another shard count.
    #[error(
        "the JetStream stream {stream:?} has {found} shards; it cannot be opened with {shards}"
    )]
    ShardCountMismatch {
        /// The stream.
        stream: String,
        /// Its shard subjects.
        found: usize,
        /// The count asked for.
        shards: u32,
    },
    /// A stream of that name exists, with subjects that are not Alleycat's shards.
    #[error(
        "the JetStream stream {stream:?} exists with subjects {subjects:?}, not Alleycat's shards"
    )]
    ForeignStream {
        /// The stream.
        stream: String,
        /// Its subjects.
        subjects: Vec<String>,
    },
    /// A JetStream request failed.
    #[error("JetStream {operation} failed: {reason}")]
    Request {
        /// What was asked.
        operation: &'static str,
        /// The client's or server's error.
        reason: String,
    },
    /// A JetStream request got no answer in time.
    #[error("JetStream {operation} got no answer within {after:?}")]
    Timeout {
        /// What was asked.
        operation: &'static str,
        /// The time allowed.
        after: Duration,
    },
}

impl JetStreamError {
    fn request(operation: &'static str, error: impl fmt::Display) -> Self {
        Self::Request { operation, reason: error.to_string() }
    }
}

impl From<JetStreamError> for StreamError {
    fn from(error: JetStreamError) -> Self {
        match error {
            JetStreamError::NoServers
            | JetStreamError::InvalidServer { .. }
            | JetStreamError::InvalidStreamName(_)
            | JetStreamError::MaxPayloadTooSmall { .. }
            | JetStreamError::ShardCountMismatch { .. }
            | JetStreamError::ForeignStream { .. } => Self::InvalidArgument(error.to_string()),
            JetStreamError::Connect { .. } => {
                Self::Io(io::Error::new(io::ErrorKind::ConnectionRefused, error))
            }
            JetStreamError::Timeout { .. } => {
                Self::Io(io::Error::new(io::ErrorKind::TimedOut, error))
            }
            JetStreamError::Request { .. } => Self::Io(io::Error::other(error)),
        }
    }
}

type PullConsumer = js_consumer::Consumer<pull::Config>;

/// Why one pull request failed.
enum Fetch {
    /// Nobody listens on the consumer's subject (status 503) and nothing was delivered: a
    /// consumer not ready yet, worth asking again.
    NoResponders(JetStreamError),
    /// Anything else.
    Failed(JetStreamError),
}

impl Fetch {
    /// The error a pull's message stream gave after `delivered`. async-nats reports statuses
    /// of a pull only as text (`error while processing messages from the stream: 503, …`).
    fn of(delivered: &[jetstream::Message], error: impl fmt::Display) -> Self {
        let error = JetStreamError::request("pull", error);
        let no_responders = matches!(&error, JetStreamError::Request { reason, .. }
            if reason.contains("stream: 503,") || reason.contains("no responders"));
        if no_responders && delivered.is_empty() {
            Self::NoResponders(error)
        } else {
            Self::Failed(error)
        }
    }
}

/// The stream's first and last sequence, as last read from its leader.
#[derive(Debug, Clone, Copy)]
struct StreamState {
    read_at: Instant,
    first: u64,
    last: u64,
}

/// The stream on NATS JetStream. See the module docs for the mapping and its guarantees.
///
/// Cheap to share behind an `Arc`; every method takes `&self`. Several handles, in one process
/// or many, may open the same stream.
pub struct JetStreamStream {
    js: jetstream::Context,
    stream: js_stream::Stream,
    name: String,
    subjects: Vec<Subject>,
    ranges: Vec<(u128, u128)>,
    throttle: Option<Vec<Mutex<Throttle>>>,
    clock: Arc<dyn Clock>,
    timeout: Duration,
    /// Read consumers by (shard, position of their next message), each with the consumer
    /// sequence of the last message it delivered.
    readers: Mutex<HashMap<(u32, u64), (PullConsumer, u64)>>,
    state: Mutex<Option<StreamState>>,
    /// What the latest put or probe found ([`Stream::health`]).
    health: Arc<JetStreamHealth>,
}

impl fmt::Debug for JetStreamStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JetStreamStream")
            .field("name", &self.name)
            .field("shards", &self.subjects.len())
            .finish_non_exhaustive()
    }
}

/// Parses `host:port` or `nats://host:port` addresses.
pub fn parse_servers(servers: &[String]) -> Result<Vec<ServerAddr>, JetStreamError> {
    if servers.is_empty() {
        return Err(JetStreamError::NoServers);
    }
    servers
        .iter()
        .map(|given| {
            given.trim().parse::<ServerAddr>().map_err(|e| JetStreamError::InvalidServer {
                given: given.clone(),
                reason: e.to_string(),
            })
        })
        .collect()
}

fn check_stream_name(name: &str) -> Result<(), JetStreamError> {
    let ok = (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(JetStreamError::InvalidStreamName(name.to_owned()))
    }
}

/// The nats-server release Alleycat's tests and fault matrix run on (`scripts/setup.sh`).
pub const TESTED_NATS_SERVER: &str = "2.15.1";

/// Whether a nats-server `version` (`major.minor.patch`, maybe with a suffix) is older than 2.10:
/// Debian 12's 2.9.10 let a paused node's replicas diverge, so that acknowledged messages were on
/// one replica only and readers on the others never saw them (RELIABILITY.md, the nats row).
fn known_to_diverge(version: &str) -> bool {
    let mut parts = version.trim_start_matches('v').split('.').map(|p| {
        p.chars().take_while(char::is_ascii_digit).collect::<String>().parse::<u32>().ok()
    });
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) < (2, 10),
        _ => false,
    }
}

/// Warns when the servers run a release known to lose acknowledged messages.
fn warn_if_diverging(version: &str) {
    if known_to_diverge(version) {
        warn!(
            version,
            tested = TESTED_NATS_SERVER,
            "This nats-server is older than 2.10: its replicas can diverge after a node pauses, \
             losing acknowledged records. Upgrade the NATS servers."
        );
    }
}

/// `shard << 64 | stream sequence`.
fn sequence(shard: u32, stream_seq: u64) -> u128 {
    u128::from(shard) << 64 | u128::from(stream_seq)
}

/// The durable consumer that holds `consumer`'s checkpoint of `shard`. JetStream names take no
/// `.`, so `_` is written `__` and `.` `_d` (one-to-one).
fn durable_name(consumer: &str, shard: ShardId) -> String {
    let mut name = String::with_capacity(consumer.len() + 16);
    for c in consumer.chars() {
        match c {
            '_' => name.push_str("__"),
            '.' => name.push_str("_d"),
            c => name.push(c),
        }
    }
    name.push_str(&format!("-shard-{}", shard.0));
    name
}

impl JetStreamStream {
    /// Connects to the servers and opens the stream, creating it if missing.
    pub async fn open(config: JetStreamConfig) -> Result<Self, StreamError> {
        Self::open_with_clock(Arc::new(SystemClock), config).await
    }

    /// As [`Self::open`], with the clock the throttle and the lag read. Arrival times are
    /// JetStream's (the leader's wall clock), so `millis_behind_latest` is only meaningful when
    /// `clock` follows the wall clock too.
    pub async fn open_with_clock(
        clock: Arc<dyn Clock>,
        config: JetStreamConfig,
    ) -> Result<Self, StreamError> {
        if config.shards == 0 {
            return Err(StreamError::InvalidArgument("a stream needs at least one shard".into()));
        }
        check_stream_name(&config.stream_name)?;
        let addrs = parse_servers(&config.servers)?;
        let servers = config.servers.join(",");
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(config.request_timeout)
            .request_timeout(Some(config.request_timeout))
            .connect(addrs)
            .await
            .map_err(|e| JetStreamError::Connect {
                servers: servers.clone(),
                reason: e.to_string(),
            })?;
        warn_if_diverging(&client.server_info().version);
        let max_payload = client.server_info().max_payload;
        let needed = MAX_RECORD_BYTES + HEADER_ROOM;
        if max_payload < needed {
            return Err(JetStreamError::MaxPayloadTooSmall { max_payload, needed }.into());
        }
        let js = jetstream::ContextBuilder::new().timeout(config.request_timeout).build(client);
        let name = config.stream_name.clone();
        let subjects: Vec<String> =
            (0..config.shards).map(|i| format!("{name}.shard.{i}")).collect();
        let stream = open_stream(&js, &config, &subjects).await?;
        info!(
            servers = %servers,
            stream = %name,
            shards = config.shards,
            replicas = stream.cached_info().config.num_replicas,
            "Opened the JetStream stream."
        );
        let throttle = config
            .throttle
            .then(|| (0..config.shards).map(|_| Mutex::new(Throttle::default())).collect());
        let health = Arc::new(JetStreamHealth::default());
        spawn_probe(js.client(), stream.clone(), Arc::clone(&clock), Arc::downgrade(&health));
        Ok(Self {
            js,
            stream,
            name,
            subjects: subjects.into_iter().map(Subject::from).collect(),
            ranges: hash_ranges(config.shards),
            throttle,
            clock,
            timeout: config.request_timeout,
            readers: Mutex::new(HashMap::new()),
            state: Mutex::new(None),
            health,
        })
    }

    /// Flushes what this handle has sent and closes its connection.
    pub async fn close(self) {
        let _ = self.js.client().drain().await;
    }

    fn shard_index(&self, id: ShardId) -> Result<u32, StreamError> {
        if (id.0 as usize) < self.subjects.len() {
            Ok(id.0)
        } else {
            Err(StreamError::InvalidArgument(format!(
                "{id} does not exist; the stream has {} shards",
                self.subjects.len()
            )))
        }
    }

    /// The stream sequence of `sequence` if it belongs to `shard`.
    fn stream_seq_in(&self, shard: ShardId, sequence: SequenceNumber) -> Result<u64, StreamError> {
        if (sequence.0 >> 64) as u32 != shard.0 || sequence.0 >> 64 > u128::from(u32::MAX) {
            return Err(StreamError::InvalidArgument(format!(
                "sequence number {sequence} belongs to another shard than {shard}"
            )));
        }
        Ok(sequence.0 as u64)
    }

    /// The stream's first and last sequence; read from the leader when `fresh` or when the
    /// cached state is older than [`STATE_MAX_AGE`].
    async fn state(&self, fresh: bool) -> Result<StreamState, JetStreamError> {
        let cached = *self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(state) = cached.filter(|s| !fresh && s.read_at.elapsed() < STATE_MAX_AGE) {
            return Ok(state);
        }
        let read_at = Instant::now();
        let info = self
            .timed("stream info", self.stream.get_info())
            .await?
            .map_err(|e| JetStreamError::request("stream info", e))?;
        // An empty stream says first 0 (never used) or last + 1 (all removed).
        let state = StreamState {
            read_at,
            first: info.state.first_sequence.max(1),
            last: info.state.last_sequence,
        };
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = Some(state);
        Ok(state)
    }

    async fn timed<T>(
        &self,
        operation: &'static str,
        future: impl std::future::Future<Output = T>,
    ) -> Result<T, JetStreamError> {
        tokio::time::timeout(self.timeout, future)
            .await
            .map_err(|_| JetStreamError::Timeout { operation, after: self.timeout })
    }

    /// Checks that `sequence` names a message of `shard` that was written (it may have been
    /// removed since); returns its stream sequence.
    async fn check_written(
        &self,
        shard: ShardId,
        sequence: SequenceNumber,
    ) -> Result<u64, StreamError> {
        let seq = self.stream_seq_in(shard, sequence)?;
        let not_written = || {
            StreamError::InvalidArgument(format!(
                "sequence number {sequence} has not been written to {shard}"
            ))
        };
        if seq == 0 {
            return Err(not_written());
        }
        match self.timed("message get", self.stream.get_raw_message(seq)).await? {
            Ok(message) if message.subject == self.subjects[shard.0 as usize] => Ok(seq),
            Ok(_) => Err(not_written()),
            Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => {
                // Removed (by retention), or never written.
                if seq > self.state(true).await?.last {
                    Err(not_written())
                } else {
                    Ok(seq)
                }
            }
            Err(error) => Err(JetStreamError::request("message get", error).into()),
        }
    }

    /// A new read consumer of `shard` whose first message is the first at or after `policy`.
    async fn new_reader(
        &self,
        shard: u32,
        policy: DeliverPolicy,
    ) -> Result<PullConsumer, JetStreamError> {
        let config = pull::Config {
            deliver_policy: policy,
            ack_policy: AckPolicy::None,
            filter_subject: self.subjects[shard as usize].to_string(),
            inactive_threshold: READ_CONSUMER_IDLE,
            memory_storage: true,
            num_replicas: 1,
            ..Default::default()
        };
        self.timed("consumer create", self.stream.create_consumer(config))
            .await?
            .map_err(|e| JetStreamError::request("consumer create", e))
    }

    fn cache_reader(&self, shard: u32, position: u64, consumer: PullConsumer, delivered: u64) {
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if readers.len() >= MAX_CACHED_READERS {
            // Forget one; the server deletes it once idle.
            if let Some(&key) = readers.keys().next() {
                readers.remove(&key);
            }
        }
        readers.insert((shard, position), (consumer, delivered));
    }

    /// Up to `limit` messages of `shard` from `position`: what is there now, or, when nothing is
    /// and `wait` is not zero, the first that arrives within `wait` and what came with it.
    async fn pull(
        &self,
        consumer: &PullConsumer,
        shard: u32,
        position: u64,
        limit: usize,
        wait: Duration,
    ) -> Result<Vec<jetstream::Message>, JetStreamError> {
        let mut messages = self.fetch(consumer, limit, None).await?;
        if messages.is_empty() && !wait.is_zero() {
            messages = self.fetch(consumer, 1, Some(wait)).await?;
        } else if messages.len() < limit && wait.is_zero() {
            // The consumer may live on a replica a little behind the leader; "nothing more"
            // must mean nothing acknowledged, so ask the leader, and if it has more, wait for
            // the replica to deliver it.
            let next = match messages.last() {
                Some(last) => last.info().map_or(position, |i| i.stream_sequence + 1),
                None => position,
            };
            if self.leader_has(shard, next).await? {
                messages.extend(self.fetch(consumer, 1, Some(self.timeout)).await?);
            }
        }
        if !messages.is_empty() && messages.len() < limit {
            messages.extend(self.fetch(consumer, limit - messages.len(), None).await?);
        }
        Ok(messages)
    }

    /// Whether the stream leader holds a message of `shard` at or after `from`.
    async fn leader_has(&self, shard: u32, from: u64) -> Result<bool, JetStreamError> {
        let subject = self.subjects[shard as usize].to_string();
        let request = self.stream.raw_message_builder().sequence(from).next_by_subject(subject);
        match self.timed("message get", request.send()).await? {
            // (A server that ignored next_by_subj would answer the message at `from`, of
            // whichever shard: only ours counts.)
            Ok(message) => {
                Ok(message.subject == self.subjects[shard as usize] && message.sequence >= from)
            }
            Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(false),
            Err(error) => Err(JetStreamError::request("message get", error)),
        }
    }

    /// One pull request: without waiting (`expires` `None`: the server answers with what it
    /// has), or held by the server up to `expires`. A consumer JetStream has only just created
    /// (or placed again) may not listen yet: its pull request finds no responders (status 503)
    /// and reaches no server, so nothing was delivered, and it is sent again, for up to
    /// [`NO_RESPONDERS_GRACE`].
    async fn fetch(
        &self,
        consumer: &PullConsumer,
        limit: usize,
        expires: Option<Duration>,
    ) -> Result<Vec<jetstream::Message>, JetStreamError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            match self.fetch_once(consumer, limit, expires).await {
                Err(Fetch::NoResponders(error)) if started.elapsed() < NO_RESPONDERS_GRACE => {
                    tracing::debug!(%error, "A JetStream consumer does not listen yet; pulling again.");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(250));
                }
                Err(Fetch::NoResponders(error) | Fetch::Failed(error)) => return Err(error),
                Ok(messages) => return Ok(messages),
            }
        }
    }

    async fn fetch_once(
        &self,
        consumer: &PullConsumer,
        limit: usize,
        expires: Option<Duration>,
    ) -> Result<Vec<jetstream::Message>, Fetch> {
        let request = async {
            let mut batch = match expires {
                // Expiring too: a server that counts messages retention is removing right
                // then may hold even a no-wait request.
                None => {
                    consumer.fetch().max_messages(limit).expires(NO_WAIT_EXPIRES).messages().await
                }
                Some(expires) => {
                    consumer.batch().max_messages(limit).expires(expires).messages().await
                }
            }
            .map_err(|e| Fetch::Failed(JetStreamError::request("pull", e)))?;
            let mut out = Vec::new();
            while let Some(message) = batch.next().await {
                out.push(message.map_err(|e| Fetch::of(&out, e))?);
            }
            Ok(out)
        };
        let after = self.timeout + expires.unwrap_or(NO_WAIT_EXPIRES);
        tokio::time::timeout(after, request)
            .await
            .map_err(|_| Fetch::Failed(JetStreamError::Timeout { operation: "pull", after }))?
    }

    fn record(
        &self,
        shard: u32,
        message: &jetstream::Message,
    ) -> Result<(Record, u64), StreamError> {
        let info = message.info().map_err(|e| JetStreamError::request("message metadata", e))?;
        let key = message
            .headers
            .as_ref()
            .and_then(|h| h.get(PARTITION_KEY_HEADER))
            .map(|v| percent_decode_str(v.as_str()).decode_utf8_lossy().into_owned())
            .unwrap_or_default();
        let arrival_ms = (info.published.unix_timestamp_nanos() / 1_000_000).max(0) as u64;
        Ok((
            Record {
                shard_id: ShardId(shard),
                sequence_number: SequenceNumber(sequence(shard, info.stream_sequence)),
                partition_key: key,
                data: message.payload.clone(),
                arrival_ms,
            },
            info.pending,
        ))
    }

    /// The durable holding `consumer`'s checkpoint of `shard`, if it exists.
    async fn durable(&self, name: &str) -> Result<Option<js_consumer::Info>, JetStreamError> {
        match self.timed("consumer info", self.stream.consumer_info(name)).await? {
            Ok(info) => Ok(Some(info)),
            Err(error) if error.kind() == ConsumerInfoErrorKind::NotFound => Ok(None),
            Err(error) => Err(JetStreamError::request("consumer info", error)),
        }
    }

    /// Creates the durable `name` of `shard` with its ack floor at `floor`.
    async fn create_durable(
        &self,
        name: &str,
        shard: ShardId,
        floor: u64,
    ) -> Result<(), JetStreamError> {
        let config = pull::Config {
            durable_name: Some(name.to_owned()),
            description: Some(format!("Alleycat checkpoint (the ack floor) of {shard}")),
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: floor + 1 },
            ack_policy: AckPolicy::All,
            ack_wait: CHECKPOINT_ACK_WAIT,
            headers_only: true,
            filter_subject: self.subjects[shard.0 as usize].to_string(),
            max_ack_pending: (CHECKPOINT_FETCH * 10) as i64,
            ..Default::default()
        };
        self.timed("consumer create", self.stream.create_consumer(config))
            .await?
            .map_err(|e| JetStreamError::request("consumer create", e))?;
        Ok(())
    }

    async fn recreate_durable(
        &self,
        name: &str,
        shard: ShardId,
        floor: u64,
    ) -> Result<(), JetStreamError> {
        match self.timed("consumer delete", self.stream.delete_consumer(name)).await? {
            Ok(_) => {}
            Err(error) => {
                // Gone already is fine; anything else is not.
                if self.durable(name).await?.is_some() {
                    return Err(JetStreamError::request("consumer delete", error));
                }
            }
        }
        self.create_durable(name, shard, floor).await
    }

    /// Acks the durable forward to `target`: fetches its headers up to `target` and acks
    /// that message. False when `target` is not among what it delivers (gone, or moved back).
    async fn advance(
        &self,
        durable: js_consumer::Info,
        target: u64,
    ) -> Result<bool, JetStreamError> {
        let name = durable.name.clone();
        let config = pull::Config::try_from_consumer_config(durable.config.clone())
            .map_err(|e| JetStreamError::request("consumer config", e))?;
        let consumer = PullConsumer::new(config, durable, self.js.clone());
        let deadline = Instant::now() + CHECKPOINT_ACK_WAIT * 2 + self.timeout;
        let mut found = None;
        let mut past = Vec::new();
        loop {
            let mut messages = self.fetch(&consumer, CHECKPOINT_FETCH, None).await?;
            if messages.is_empty() {
                // Nothing new to deliver. Headers a crashed holder took and never acked come
                // back after the ack wait; wait for them only if there are any.
                let pending = self.durable(&name).await?.map_or(0, |i| i.num_ack_pending);
                if pending == 0 || Instant::now() >= deadline {
                    break;
                }
                messages =
                    self.fetch(&consumer, 1, Some(CHECKPOINT_ACK_WAIT + self.timeout)).await?;
            }
            let mut reached = false;
            for message in messages {
                let seq = message
                    .info()
                    .map_err(|e| JetStreamError::request("message metadata", e))?
                    .stream_sequence;
                if seq <= target {
                    if let Some(older) = found.replace(message) {
                        drop(older); // acked with the newer one (ack all)
                    }
                    reached |= seq == target;
                } else {
                    reached = true;
                    past.push(message);
                }
            }
            if reached || Instant::now() >= deadline {
                break;
            }
        }
        // Past the target: hand them back at once, so the next checkpoint need not wait.
        for message in past {
            let _ = message.ack_with(AckKind::Nak(None)).await;
        }
        let Some(message) = found else { return Ok(false) };
        let seq = message.info().map(|i| i.stream_sequence).unwrap_or_default();
        if seq != target {
            let _ = message.ack_with(AckKind::Nak(None)).await;
            return Ok(false);
        }
        self.timed("ack", message.double_ack())
            .await?
            .map_err(|e| JetStreamError::request("ack", e))?;
        Ok(true)
    }
}

async fn open_stream(
    js: &jetstream::Context,
    config: &JetStreamConfig,
    subjects: &[String],
) -> Result<js_stream::Stream, JetStreamError> {
    let name = &config.stream_name;
    let existing = match js.get_stream(name).await {
        Ok(stream) => Some(stream),
        Err(error) => match error.kind() {
            GetStreamErrorKind::JetStream(e)
                if e.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND =>
            {
                None
            }
            _ => return Err(JetStreamError::request("stream info", error)),
        },
    };
    let stream = match existing {
        Some(stream) => stream,
        None => {
            let create = js_stream::Config {
                name: name.clone(),
                description: Some(format!("Alleycat's event stream, {} shards", config.shards)),
                subjects: subjects.to_vec(),
                max_age: config.retention,
                storage: StorageType::File,
                num_replicas: config.replicas(),
                discard: DiscardPolicy::Old,
                ..Default::default()
            };
            match js.create_stream(create).await {
                Ok(stream) => {
                    info!(stream = %name, replicas = config.replicas(), "Created the JetStream stream.");
                    stream
                }
                // Another server may have created it at the same moment: use theirs.
                Err(error) => js
                    .get_stream(name)
                    .await
                    .map_err(|_| JetStreamError::request("stream create", error))?,
            }
        }
    };
    let found = &stream.cached_info().config.subjects;
    if found.as_slice() != subjects {
        let prefix = format!("{name}.shard.");
        let ours = found.iter().all(|s| {
            s.strip_prefix(&prefix)
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        });
        return Err(if ours {
            JetStreamError::ShardCountMismatch {
                stream: name.clone(),
                found: found.len(),
                shards: config.shards,
            }
        } else {
            JetStreamError::ForeignStream { stream: name.clone(), subjects: found.clone() }
        });
    }
    let stored = stream.cached_info().config.clone();
    if stored.max_age != config.retention {
        // The retention is a setting: follow it (the shard count is not).
        let update = js_stream::Config { max_age: config.retention, ..stored };
        js.update_stream(update).await.map_err(|e| JetStreamError::request("stream update", e))?;
        info!(stream = %name, retention = ?config.retention, "Updated the JetStream stream's retention.");
    }
    if stream.cached_info().config.num_replicas != config.replicas() {
        warn!(
            stream = %name,
            replicas = stream.cached_info().config.num_replicas,
            configured = config.replicas(),
            "The JetStream stream keeps the replicas it was created with."
        );
    }
    Ok(stream)
}

/// The checkpoint a durable holds: its ack floor, or, before its first ack, the sequence before
/// the one it was created to start at (acks only move it forward from there).
fn checkpoint_of(durable: &js_consumer::Info) -> u64 {
    let start = match durable.config.deliver_policy {
        DeliverPolicy::ByStartSequence { start_sequence } => start_sequence.saturating_sub(1),
        _ => 0,
    };
    durable.ack_floor.stream_sequence.max(start)
}

#[async_trait]
impl Stream for JetStreamStream {
    fn shards(&self) -> Vec<ShardDescription> {
        let first = |i| SequenceNumber(sequence(i, 1));
        describe_map(&super::ShardMap::even(self.ranges.len() as u32, 0), first, first)
    }

    async fn put_records(&self, records: Vec<PutRecord>) -> Result<PutRecordsOutput, StreamError> {
        check_put(&records)?;
        let now = if self.throttle.is_some() { self.clock.now_ms() } else { 0 };
        let mut results: Vec<Option<Result<PutRecordOk, RecordError>>> =
            Vec::with_capacity(records.len());
        let mut acks = Vec::with_capacity(records.len());
        for (i, record) in records.into_iter().enumerate() {
            if let Some(message) = invalid_record(&record) {
                results.push(Some(record_error(RecordErrorCode::InvalidArgument, message)));
                continue;
            }
            let key = record.explicit_hash_key.unwrap_or_else(|| hash_key(&record.partition_key));
            let shard = shard_of(&self.ranges, key) as u32;
            if let Some(throttle) = &self.throttle {
                let size = record.partition_key.len() + record.data.len();
                let admitted = throttle[shard as usize]
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .admit(now, size);
                if !admitted {
                    results.push(Some(record_error(
                        RecordErrorCode::ProvisionedThroughputExceeded,
                        format!("rate exceeded for {}", ShardId(shard)),
                    )));
                    continue;
                }
            }
            let mut headers = HeaderMap::new();
            headers.insert(
                PARTITION_KEY_HEADER,
                utf8_percent_encode(&record.partition_key, KEY_ENCODE).to_string().as_str(),
            );
            if let Some(explicit) = record.explicit_hash_key {
                headers.insert(HASH_KEY_HEADER, explicit.to_string().as_str());
            }
            let subject = self.subjects[shard as usize].clone();
            match self.js.publish_with_headers(subject, headers, record.data).await {
                Ok(ack) => {
                    results.push(None);
                    acks.push((i, shard, ack));
                }
                Err(error) => {
                    let message = format!("JetStream publish failed: {error}");
                    self.health.put_failed(self.clock.now_ms(), ShardId(shard), message.clone());
                    results.push(Some(record_error(RecordErrorCode::InternalFailure, message)));
                }
            }
        }
        // Every publish is on its way; now the acknowledgements, all together.
        let answers = futures::future::join_all(
            acks.into_iter().map(|(i, shard, ack)| async move { (i, shard, ack.await) }),
        )
        .await;
        for (i, shard, answer) in answers {
            results[i] = Some(match answer {
                Ok(ack) => {
                    self.health.put_stored(self.clock.now_ms());
                    Ok(PutRecordOk {
                        shard_id: ShardId(shard),
                        sequence_number: SequenceNumber(sequence(shard, ack.sequence)),
                    })
                }
                Err(error) => {
                    let message = format!("JetStream did not acknowledge the record: {error}");
                    self.health.put_failed(self.clock.now_ms(), ShardId(shard), message.clone());
                    record_error(RecordErrorCode::InternalFailure, message)
                }
            });
        }
        let records: Vec<_> = results
            .into_iter()
            .map(|r| {
                // Never a placeholder standing for an acknowledgement.
                r.unwrap_or_else(|| {
                    record_error(RecordErrorCode::InternalFailure, "no acknowledgement".into())
                })
            })
            .collect();
        let failed_record_count = records.iter().filter(|r| r.is_err()).count();
        Ok(PutRecordsOutput { failed_record_count, records })
    }

    async fn shard_iterator(
        &self,
        shard_id: ShardId,
        start: StartingPosition,
    ) -> Result<ShardIterator, StreamError> {
        let shard = self.shard_index(shard_id)?;
        let position = match start {
            StartingPosition::TrimHorizon => self.state(true).await?.first,
            StartingPosition::Latest => self.state(true).await?.last + 1,
            StartingPosition::AtSequenceNumber(seq) => {
                let at = self.check_written(shard_id, seq).await?;
                at.max(self.state(false).await?.first)
            }
            StartingPosition::AfterSequenceNumber(seq) => {
                let at = self.check_written(shard_id, seq).await? + 1;
                at.max(self.state(false).await?.first)
            }
            StartingPosition::AtTimestamp(ms) => {
                let start_time =
                    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                        .map_err(|e| {
                            StreamError::InvalidArgument(format!("timestamp {ms}: {e}"))
                        })?;
                let consumer =
                    self.new_reader(shard, DeliverPolicy::ByStartTime { start_time }).await?;
                // JetStream placed it on the first message at or after the time.
                let position = consumer.cached_info().delivered.stream_sequence + 1;
                let delivered = consumer.cached_info().delivered.consumer_sequence;
                self.cache_reader(shard, position, consumer, delivered);
                position
            }
        };
        Ok(ShardIterator { shard_id, position: sequence(shard, position) })
    }

    async fn get_records(
        &self,
        iterator: &ShardIterator,
        limit: usize,
        wait: Duration,
    ) -> Result<GetRecordsOutput, StreamError> {
        check_get_limit(limit)?;
        let shard = self.shard_index(iterator.shard_id)?;
        let position = self.stream_seq_in(iterator.shard_id, SequenceNumber(iterator.position))?;
        // Taken out while in use: two readers of one position each get their own consumer.
        let cached =
            self.readers.lock().unwrap_or_else(|p| p.into_inner()).remove(&(shard, position));
        let by_position = || DeliverPolicy::ByStartSequence { start_sequence: position };
        let (consumer, mut delivered, messages) = match cached {
            Some((consumer, delivered)) => {
                match self.pull(&consumer, shard, position, limit, wait).await {
                    Ok(messages) => (consumer, delivered, messages),
                    Err(error) => {
                        // Its server may have died, or it idled out: a new one at the same place.
                        warn!(shard = %iterator.shard_id, %error, "A cached JetStream reader failed; replacing it.");
                        let consumer = self.new_reader(shard, by_position()).await?;
                        let messages = self.pull(&consumer, shard, position, limit, wait).await?;
                        (consumer, 0, messages)
                    }
                }
            }
            None => {
                let consumer = self.new_reader(shard, by_position()).await?;
                let messages = self.pull(&consumer, shard, position, limit, wait).await?;
                (consumer, 0, messages)
            }
        };
        let mut records = Vec::with_capacity(messages.len());
        let mut pending = 0;
        let mut next = position;
        let mut unbroken = true;
        for message in &messages {
            let info = message.info().map_err(|e| JetStreamError::request("pull", e))?;
            if info.consumer_sequence != delivered + 1 {
                // Delivered but never received (lost on the way while a node was paused, or
                // sent to a pull request given up on): reading on would skip it. Keep what came
                // before; the next read starts a new consumer there.
                warn!(shard = %iterator.shard_id, expected = delivered + 1, got = info.consumer_sequence, position = next, "A JetStream reader's deliveries have a gap; reading again from its position.");
                unbroken = false;
                break;
            }
            delivered = info.consumer_sequence;
            let (record, left) = self.record(shard, message)?;
            let seq = record.sequence_number.0 as u64;
            if seq < next {
                // Never hand out a record twice or out of order.
                return Err(JetStreamError::request(
                    "pull",
                    format!("message {seq} came after position {next}"),
                )
                .into());
            }
            next = seq + 1;
            pending = left;
            records.push(record);
        }
        if unbroken {
            self.cache_reader(shard, next, consumer, delivered);
        }
        let millis_behind_latest = match records.last() {
            // Arrival times are JetStream's: the clock given is expected to follow the wall.
            Some(last) if pending > 0 => self.clock.now_ms().saturating_sub(last.arrival_ms),
            _ => 0,
        };
        Ok(GetRecordsOutput {
            records,
            next_iterator: ShardIterator {
                shard_id: iterator.shard_id,
                position: sequence(shard, next),
            },
            millis_behind_latest,
            child_shards: None,
        })
    }

    async fn checkpoint(
        &self,
        consumer: &str,
        shard_id: ShardId,
        sequence_number: SequenceNumber,
    ) -> Result<(), StreamError> {
        check_consumer_name(consumer)?;
        self.shard_index(shard_id)?;
        let target = self.check_written(shard_id, sequence_number).await?;
        let name = durable_name(consumer, shard_id);
        let Some(durable) = self.durable(&name).await? else {
            return Ok(self.create_durable(&name, shard_id, target).await?);
        };
        let floor = checkpoint_of(&durable);
        if floor == target {
            return Ok(());
        }
        if floor > target || !self.advance(durable, target).await? {
            warn!(consumer, shard = %shard_id, from = floor, to = target, "Moving a JetStream checkpoint by recreating its durable.");
            self.recreate_durable(&name, shard_id, target).await?;
        }
        Ok(())
    }

    async fn checkpoints(
        &self,
        consumer: &str,
    ) -> Result<BTreeMap<ShardId, SequenceNumber>, StreamError> {
        check_consumer_name(consumer)?;
        let lookups = (0..self.subjects.len() as u32).map(|shard| async move {
            let info = self.durable(&durable_name(consumer, ShardId(shard))).await?;
            Ok::<_, JetStreamError>((shard, info))
        });
        let mut out = BTreeMap::new();
        for found in futures::future::join_all(lookups).await {
            let (shard, info) = found?;
            if let Some(info) = info {
                let floor = checkpoint_of(&info);
                if floor > 0 {
                    out.insert(ShardId(shard), SequenceNumber(sequence(shard, floor)));
                }
            }
        }
        Ok(out)
    }

    fn health(&self) -> StreamHealth {
        self.health.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_before_2_10_are_known_to_diverge() {
        for old in ["2.9.10", "v2.9.25", "2.2.0", "1.4.1"] {
            assert!(known_to_diverge(old), "{old}");
        }
        for new in ["2.10.0", "2.15.1", "2.11.0-RC.1", "3.0.0", "", "dev"] {
            assert!(!known_to_diverge(new), "{new}");
        }
    }

    #[test]
    fn durable_names_are_one_to_one_and_dot_free() {
        let names: Vec<_> = ["a.b", "a_b", "a_db", "a__b", "a-b"]
            .iter()
            .map(|c| durable_name(c, ShardId(3)))
            .collect();
        assert_eq!(names[0], "a_db-shard-3");
        assert!(names.iter().all(|n| !n.contains('.')));
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
    }

    #[test]
    fn partition_keys_survive_the_header_encoding() {
        for key in ["racer-1", " spaced key ", "100%", "é\r\n\tx", "k:v"] {
            let encoded = utf8_percent_encode(key, KEY_ENCODE).to_string();
            assert!(encoded.bytes().all(|b| b.is_ascii_graphic()), "{encoded:?}");
            assert_eq!(percent_decode_str(&encoded).decode_utf8().unwrap(), key);
        }
    }

    #[test]
    fn server_lists_parse_and_replicas_follow_them() {
        assert!(matches!(parse_servers(&[]), Err(JetStreamError::NoServers)));
        assert_eq!(parse_servers(&["127.0.0.1:4222".into()]).unwrap().len(), 1);
        assert!(parse_servers(&["nats://127.0.0.1:4222".into(), "::bad::".into()]).is_err());
        let one = JetStreamConfig::new(vec!["a:1".into()]);
        assert_eq!(one.replicas(), 1);
        let three = JetStreamConfig::new(vec!["a:1".into(), "b:1".into(), "c:1".into()]);
        assert_eq!(three.replicas(), 3);
        assert_eq!(JetStreamConfig { replicas: Some(1), ..three }.replicas(), 1);
    }

    #[test]
    fn stream_names_are_checked() {
        assert!(check_stream_name("alleycat").is_ok());
        assert!(check_stream_name("test_1-a").is_ok());
        for bad in ["", "a.b", "a b", "a*", &"x".repeat(65)] {
            assert!(check_stream_name(bad).is_err(), "{bad:?}");
        }
    }
}
