//! [`JetStreamStream`]: the stream on a NATS JetStream cluster, for deployments of several
//! servers. Several `alleycat serve` processes open the same JetStream stream at once: unlike
//! the embedded engine's data directory, it is shared by design.
//!
//! # How the stream maps onto JetStream
//!
//! - **One JetStream stream** (default name [`DEFAULT_STREAM_NAME`]) whose subjects are one per
//!   shard the stream has ever had, `<name>.shard.<n>`, and the shard map's, `<name>.map`. It
//!   is created when missing with [`JetStreamConfig::shards`] shards (kept in the stream's
//!   metadata as its first shards): file storage, limits retention with `max_age` = the
//!   retention, discarding the oldest, and [`JetStreamConfig::replicas`] replicas (3 by
//!   default when at least 3 servers are given). An existing stream keeps its shard map; the
//!   configured count applies only to a new one (as the embedded engine).
//! - **Routing** is the embedded engine's ([`super::hash_key`], [`super::map::route_in`] over
//!   the open shards of the shard map): the MD5
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
//!   by iterator position, so a reader paging along a shard reuses one consumer. A consumer the
//!   handle will not use again (evicted from the cache of at most [`MAX_CACHED_READERS`], least
//!   recently used first; replaced after an error or a gap; at a shard's end) is deleted at
//!   once: nats-server limits a stream to 1,000 consumers by default, shared by every server,
//!   and reads that move around (a lag probe at each checkpoint) would otherwise reach it. A
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
//! # Resharding: the shard map in the stream
//!
//! The shard map ([`super::map`]: splits, merges and uniform scaling computed there, as for the
//! embedded engine) lives in the stream itself, as **map messages** on `<name>.map`. A map
//! message's payload is [`ShardMap::encode`]'s bytes, then per shard its end bound, `u64`
//! little-endian: 0 while open, `u64::MAX` for the shards this message closes, else the stream
//! sequence of the map message that closed it. The latest map message is the map; every
//! server reads it from the stream leader when it opens the stream.
//!
//! - **The end of a shard is its map message.** JetStream numbers the whole stream, so the map
//!   message that closes a shard, stored at sequence `B`, splits the shard's subject in two:
//!   its records are the messages below `B`; messages of its subject above `B` are not its
//!   records (nobody is told they were stored, and no reader returns them). A closed shard's
//!   `ending_sequence_number` is `B - 1`: like its starting sequence number, a bound (at or
//!   after its last record), which iterators (AFTER_SEQUENCE_NUMBER) and checkpoints take.
//! - **A reshard** (one at a time per handle): read the latest map message from the leader,
//!   apply the change ([`ShardMap::apply`]), add the children's subjects to the stream (a
//!   stream update; before any put can route to them), then publish the new map message with
//!   `Nats-Expected-Last-Subject-Sequence` = the sequence of the map message it was computed
//!   from: a compare-and-set, so two servers resharding at once cannot both win; the loser
//!   applies its change again to the winner's map. Finally the map is copied into the
//!   stream's metadata, so it outlives its message's retention.
//! - **Puts race reshards safely.** A put routes by the latest map its handle has seen, which
//!   may be stale (another server resharded). After JetStream acknowledges the records, the
//!   put reads the latest map message from the leader (one more round trip per call): a record
//!   stored above its shard's end `B` is past the end, so it is routed again by the new map and
//!   published again; only the copy inside a shard is acknowledged. The check is exact because
//!   the leader orders the record and the map message in one sequence, and the check reads the
//!   leader after the record was stored.
//! - **Readers meet the reshard in stream order.** A read consumer filters on its shard's
//!   subject and on `<name>.map`, so the map message that closes the shard arrives in order,
//!   right after the shard's last record: the reader stops there (a reader waiting at the tip
//!   is woken by it), and this and every later read at the end answer nothing more,
//!   `child_shards` and an iterator at the end. A reader on a handle that already knows the end
//!   stops at it without a consumer, and never returns a message above it.
//!
//! Crash windows: a crash after adding the children's subjects and before the map message
//! leaves subjects nobody routes to (the next reshard reuses them: child ids are the next free
//! ones); a crash after the map message and before its metadata copy leaves the copy one
//! reshard behind until the next (the message is read first); a put that crashes after a
//! record landed above its shard's end leaves a message no reader returns and no client was
//! told about. A new read consumer that the cluster does not route to yet (no responders) is
//! replaced by another, a few times.
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
    fmt,
    future::IntoFuture,
    io,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_nats::{
    jetstream::{
        self,
        consumer::{self as js_consumer, pull, AckPolicy, DeliverPolicy, FromConsumer},
        context::{ConsumerInfoErrorKind, GetStreamErrorKind, PublishErrorKind},
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
    describe_map, hash_key, invalid_record,
    jetstream_health::{spawn_probe, JetStreamHealth},
    map::ENCODED_SHARD_LEN,
    record_error,
    shard::Throttle,
    GetRecordsOutput, PutRecord, PutRecordOk, PutRecordsOutput, Record, RecordError,
    RecordErrorCode, Reshard, SequenceNumber, ShardDescription, ShardId, ShardIterator, ShardMap,
    StartingPosition, Stream, StreamError, StreamHealth, DEFAULT_RETENTION, DEFAULT_SHARDS,
    MAX_RECORD_BYTES,
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
/// The most read consumers one handle keeps for reuse; past it, the least recently used one is
/// deleted. Well below nats-server's default of 1,000 consumers per stream, which every server
/// on the stream shares.
const MAX_CACHED_READERS: usize = 128;
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
/// How many times a put routes a record again after finding it landed in a shard closed before
/// it (a reshard raced it), before failing it retryably.
const MAX_REROUTES: usize = 3;
/// How many times a reshard tries again after another server resharded first.
const MAX_RESHARD_ATTEMPTS: usize = 5;
/// The pause before a reshard that lost its compare-and-set tries again, times the attempt.
const RESHARD_BACKOFF: Duration = Duration::from_millis(50);
/// The stream metadata key holding a copy of the latest shard map (hex), and the one holding
/// the stream sequence of its map message.
const MAP_METADATA: &str = "alleycat-shard-map";
const MAP_SEQ_METADATA: &str = "alleycat-shard-map-seq";
/// In a map message, the end bound of a shard it closes itself (its own sequence, not known
/// before it is stored).
const ENDS_HERE: u64 = u64::MAX;

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

/// A read consumer kept for the next read at the position it is at.
struct CachedReader {
    consumer: PullConsumer,
    /// The consumer sequence of the last message it delivered.
    delivered: u64,
    /// When it was last put back.
    used: Instant,
}

/// How long deleting a read consumer no longer used may take.
const DROP_READER_TIMEOUT: Duration = Duration::from_secs(5);

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

/// The shard map as one map message (or the stream's first shards) gives it: the map, where each
/// closed shard ends, and the routes of the open shards.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Layout {
    map: ShardMap,
    /// Per shard: the stream sequence of the map message that closed it (every record of the
    /// shard is below it); `None` while it is open.
    ends: Vec<Option<u64>>,
    /// The stream sequence of the map message this layout is; 0 for a stream never resharded.
    seq: u64,
    /// The open shards' `(starting hash key, id)`, by hash key ([`ShardMap::routes`]).
    routes: Vec<(u128, u32)>,
}

impl Layout {
    /// A stream never resharded: `shards` even shards, all open.
    fn even(shards: u32) -> Self {
        Self::new(ShardMap::even(shards, 0), vec![None; shards as usize], 0)
    }

    fn new(map: ShardMap, ends: Vec<Option<u64>>, seq: u64) -> Self {
        let routes = map.routes();
        Self { map, ends, seq, routes }
    }

    fn len(&self) -> usize {
        self.ends.len()
    }

    /// The open shard whose range holds `key`.
    fn route(&self, key: u128) -> u32 {
        super::map::route_in(&self.routes, key)
    }

    /// A map message's payload: the map ([`ShardMap::encode`]), then per shard its end bound,
    /// `u64` little-endian: 0 while open, [`ENDS_HERE`] for the shards this message closes.
    fn encode(map: &ShardMap, ends: &[Option<u64>]) -> Vec<u8> {
        let mut out = map.encode();
        for end in ends {
            out.extend_from_slice(&end.unwrap_or(0).to_le_bytes());
        }
        out
    }

    /// The layout of the map message stored at `seq` with this payload.
    fn decode(payload: &[u8], seq: u64) -> Result<Self, String> {
        let count = payload.get(0..4).ok_or("no shard count")?;
        let count = u32::from_le_bytes(count.try_into().map_err(|_| "no shard count")?) as usize;
        let map_len = 4 + count * ENCODED_SHARD_LEN;
        if payload.len() != map_len + count * 8 {
            return Err(format!("{} bytes do not hold a map of {count} shards", payload.len()));
        }
        let map = ShardMap::decode(&payload[..map_len])?;
        let ends: Vec<Option<u64>> = payload[map_len..]
            .chunks_exact(8)
            .map(|b| match u64::from_le_bytes(b.try_into().unwrap()) {
                0 => None,
                ENDS_HERE => Some(seq),
                end => Some(end),
            })
            .collect();
        let agree = map.shards().iter().zip(&ends).all(|(s, e)| s.is_open() == e.is_none());
        if !agree {
            return Err("the closed shards and their ends disagree".into());
        }
        Ok(Self::new(map, ends, seq))
    }

    /// The shards, described: closed ones end at the sequence before their map message.
    fn describe(&self) -> Vec<ShardDescription> {
        describe_map(
            &self.map,
            |i| SequenceNumber(sequence(i, 1)),
            |i| SequenceNumber(sequence(i, self.ends[i as usize].unwrap_or(1).saturating_sub(1))),
        )
    }

    /// The children of `shard`, described.
    fn children(&self, shard: ShardId) -> Vec<ShardDescription> {
        let all = self.describe();
        self.map.children(shard).iter().map(|c| all[c.0 as usize].clone()).collect()
    }
}

/// The stream on NATS JetStream. See the module docs for the mapping and its guarantees.
///
/// Cheap to share behind an `Arc`; every method takes `&self`. Several handles, in one process
/// or many, may open the same stream.
pub struct JetStreamStream {
    js: jetstream::Context,
    stream: js_stream::Stream,
    name: String,
    /// The subject of the shard-map messages, `<name>.map`.
    map_subject: Subject,
    /// The latest shard map this handle has seen.
    layout: Mutex<Arc<Layout>>,
    /// The shard count of a stream never resharded: its shard subjects when opened.
    first_shards: u32,
    throttle: Option<Mutex<HashMap<u32, Throttle>>>,
    clock: Arc<dyn Clock>,
    timeout: Duration,
    /// Read consumers by (shard, position of their next message), each with the consumer
    /// sequence of the last message it delivered.
    readers: Mutex<HashMap<(u32, u64), CachedReader>>,
    state: Mutex<Option<StreamState>>,
    /// What the latest put or probe found ([`Stream::health`]).
    health: Arc<JetStreamHealth>,
    /// One reshard at a time from this handle.
    resharding: tokio::sync::Mutex<()>,
}

impl fmt::Debug for JetStreamStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JetStreamStream")
            .field("name", &self.name)
            .field("shards", &self.layout().len())
            .finish_non_exhaustive()
    }
}

/// The subject of shard `n` of stream `name`.
fn shard_subject(name: &str, shard: u32) -> String {
    format!("{name}.shard.{shard}")
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
        let (stream, first_shards) = open_stream(&js, &config).await?;
        let throttle = config.throttle.then(|| Mutex::new(HashMap::new()));
        let health = Arc::new(JetStreamHealth::default());
        spawn_probe(js.client(), stream.clone(), Arc::clone(&clock), Arc::downgrade(&health));
        let this = Self {
            js,
            stream,
            map_subject: Subject::from(map_subject(&name)),
            name,
            layout: Mutex::new(Arc::new(Layout::even(first_shards))),
            first_shards,
            throttle,
            clock,
            timeout: config.request_timeout,
            readers: Mutex::new(HashMap::new()),
            state: Mutex::new(None),
            health,
            resharding: tokio::sync::Mutex::new(()),
        };
        let (layout, _) = this.latest_layout().await?;
        this.install(layout);
        if this.layout().routes.len() != config.shards as usize {
            warn!(stream = %this.name, open = this.layout().routes.len(), configured = config.shards,
                "The stream's shard count comes from its shard map in JetStream; the configured \
                 count applies only to a new stream (reshard with UpdateShardCount).");
        }
        info!(
            servers = %servers,
            stream = %this.name,
            shards = this.layout().len(),
            open = this.layout().routes.len(),
            replicas = this.stream.cached_info().config.num_replicas,
            "Opened the JetStream stream."
        );
        Ok(this)
    }

    /// Flushes what this handle has sent and closes its connection.
    pub async fn close(self) {
        let _ = self.js.client().drain().await;
    }

    /// The latest shard map this handle has seen.
    fn layout(&self) -> Arc<Layout> {
        self.layout.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Keeps `layout` if it is newer than the one this handle has.
    fn install(&self, layout: Arc<Layout>) {
        let mut current = self.layout.lock().unwrap_or_else(|p| p.into_inner());
        if layout.seq > current.seq {
            info!(stream = %self.name, map = layout.seq, shards = layout.len(), open = layout.routes.len(), "Following a new shard map.");
            *current = layout;
        }
    }

    /// The latest shard map, read from the stream leader, and the stream sequence of its map
    /// message (0 when there is none: never resharded, or its message expired and the copy in
    /// the stream's metadata stands in).
    async fn latest_layout(&self) -> Result<(Arc<Layout>, u64), JetStreamError> {
        let last = self.stream.get_last_raw_message_by_subject(self.map_subject.as_str());
        match self.timed("message get", last).await? {
            Ok(message) => {
                let layout = Layout::decode(&message.payload, message.sequence)
                    .map_err(|e| JetStreamError::request("shard map", e))?;
                Ok((Arc::new(layout), message.sequence))
            }
            Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => {
                Ok((Arc::new(self.layout_from_metadata().await?), 0))
            }
            Err(error) => Err(JetStreamError::request("message get", error)),
        }
    }

    /// The shard map kept in the stream's metadata, or the first shards when there is none.
    async fn layout_from_metadata(&self) -> Result<Layout, JetStreamError> {
        let info = self
            .timed("stream info", self.stream.get_info())
            .await?
            .map_err(|e| JetStreamError::request("stream info", e))?;
        let meta = &info.config.metadata;
        let (Some(map), Some(seq)) = (meta.get(MAP_METADATA), meta.get(MAP_SEQ_METADATA)) else {
            return Ok(Layout::even(self.first_shards));
        };
        let bytes = hex::decode(map).map_err(|e| JetStreamError::request("shard map", e))?;
        let seq = seq.parse().map_err(|e| JetStreamError::request("shard map", e))?;
        Layout::decode(&bytes, seq).map_err(|e| JetStreamError::request("shard map", e))
    }

    /// The shard `id` of the latest map, reading the map again when this handle does not know
    /// the shard yet (another server made it).
    async fn known_shard(&self, id: ShardId) -> Result<Arc<Layout>, StreamError> {
        let layout = self.layout();
        if (id.0 as usize) < layout.len() {
            return Ok(layout);
        }
        let (latest, _) = self.latest_layout().await?;
        self.install(latest.clone());
        if (id.0 as usize) < latest.len() {
            Ok(latest)
        } else {
            Err(StreamError::InvalidArgument(format!(
                "{id} does not exist; the stream has {} shards",
                latest.len()
            )))
        }
    }

    fn subject(&self, shard: u32) -> Subject {
        Subject::from(shard_subject(&self.name, shard))
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
        if self.layout().ends.get(shard.0 as usize).copied().flatten() == Some(seq + 1) {
            // A closed shard's ending sequence number: the bound below its map message.
            return Ok(seq);
        }
        match self.timed("message get", self.stream.get_raw_message(seq)).await? {
            Ok(message) if message.subject == self.subject(shard.0) => Ok(seq),
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
            // The map's subject too: a reader meets a reshard in stream order, exactly where the
            // shard ends.
            filter_subjects: vec![self.subject(shard).to_string(), self.map_subject.to_string()],
            inactive_threshold: READ_CONSUMER_IDLE,
            memory_storage: true,
            num_replicas: 1,
            ..Default::default()
        };
        self.timed("consumer create", self.stream.create_consumer(config))
            .await?
            .map_err(|e| JetStreamError::request("consumer create", e))
    }

    /// A pull from a new read consumer at `policy`: `(consumer, 0, messages)` (a consumer that
    /// does not listen yet is waited for by [`Self::fetch`]).
    async fn read_new(
        &self,
        shard: u32,
        policy: DeliverPolicy,
        position: u64,
        limit: usize,
        wait: Duration,
    ) -> Result<(PullConsumer, u64, Vec<jetstream::Message>), JetStreamError> {
        let consumer = self.new_reader(shard, policy).await?;
        let messages = self.pull(&consumer, shard, position, limit, wait).await?;
        Ok((consumer, 0, messages))
    }

    fn cache_reader(&self, shard: u32, position: u64, consumer: PullConsumer, delivered: u64) {
        let mut readers = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if readers.len() >= MAX_CACHED_READERS {
            let oldest = readers.iter().min_by_key(|(_, r)| r.used).map(|(&key, _)| key);
            if let Some(evicted) = oldest.and_then(|key| readers.remove(&key)) {
                self.drop_reader(evicted.consumer);
            }
        }
        let reader = CachedReader { consumer, delivered, used: Instant::now() };
        if let Some(replaced) = readers.insert((shard, position), reader) {
            self.drop_reader(replaced.consumer);
        }
    }

    /// Deletes a read consumer this handle will not use again, in the background (at worst
    /// the server deletes it once idle, [`READ_CONSUMER_IDLE`]): consumers left to idle out
    /// pile up against the server's limit when reads move around (a lag probe at each
    /// checkpoint, readers replaced after an error).
    fn drop_reader(&self, consumer: PullConsumer) {
        let name = consumer.cached_info().name.clone();
        let stream = self.stream.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ =
                    tokio::time::timeout(DROP_READER_TIMEOUT, stream.delete_consumer(&name)).await;
            });
        }
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
        let subject = self.subject(shard).to_string();
        let request = self.stream.raw_message_builder().sequence(from).next_by_subject(subject);
        match self.timed("message get", request.send()).await? {
            // (A server that ignored next_by_subj would answer the message at `from`, of
            // whichever shard: only ours counts.)
            Ok(message) => {
                let ours = message.subject == self.subject(shard) && message.sequence >= from;
                // A closed shard's messages at or past its end are not its records.
                let end = self.layout().ends.get(shard as usize).copied().flatten();
                Ok(ours && end.is_none_or(|end| message.sequence < end))
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
            filter_subject: self.subject(shard.0).to_string(),
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

    /// Adds the subjects of shards `0..count` the stream does not take yet (a reshard's
    /// children), keeping every other subject.
    async fn ensure_subjects(&self, count: usize) -> Result<(), JetStreamError> {
        let info = self
            .timed("stream info", self.stream.get_info())
            .await?
            .map_err(|e| JetStreamError::request("stream info", e))?;
        let mut config = info.config;
        let missing: Vec<String> = (0..count as u32)
            .map(|i| shard_subject(&self.name, i))
            .filter(|s| !config.subjects.contains(s))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        config.subjects.extend(missing);
        self.timed("stream update", self.js.update_stream(config))
            .await?
            .map_err(|e| JetStreamError::request("stream update", e))?;
        Ok(())
    }

    /// Copies the map message stored at `seq` into the stream's metadata, so the map outlives
    /// its message's retention, unless a newer one is there.
    async fn save_map_copy(&self, payload: &[u8], seq: u64) -> Result<(), JetStreamError> {
        let info = self
            .timed("stream info", self.stream.get_info())
            .await?
            .map_err(|e| JetStreamError::request("stream info", e))?;
        let mut config = info.config;
        let kept = config.metadata.get(MAP_SEQ_METADATA).and_then(|s| s.parse::<u64>().ok());
        if kept.is_some_and(|kept| kept >= seq) {
            return Ok(());
        }
        config.metadata.insert(MAP_METADATA.into(), hex::encode(payload));
        config.metadata.insert(MAP_SEQ_METADATA.into(), seq.to_string());
        self.timed("stream update", self.js.update_stream(config))
            .await?
            .map_err(|e| JetStreamError::request("stream update", e))?;
        Ok(())
    }
}

/// Whether a map message's publish lost its compare-and-set: another map message was stored
/// since the one it was computed from, or was on its way (JetStream refuses a second expectation
/// on the subject while one is in flight).
fn lost_the_race(error: &async_nats::jetstream::context::PublishError) -> bool {
    error.kind() == PublishErrorKind::WrongLastSequence
        || std::error::Error::source(error)
            .and_then(|source| source.downcast_ref::<jetstream::Error>())
            .is_some_and(|e| {
                e.error_code() == jetstream::ErrorCode::STREAM_WRONG_LAST_SEQUENCE_CONSTANT
            })
}

/// The subject of stream `name`'s shard-map messages.
fn map_subject(name: &str) -> String {
    format!("{name}.map")
}

/// The stream metadata key holding the shard count the stream was created with.
const FIRST_SHARDS_METADATA: &str = "alleycat-first-shards";

/// How many shard subjects Alleycat's stream `name` has (`<name>.shard.0` up to the count, and
/// maybe the map's subject); `None` when the subjects are not that.
fn shard_subject_count(name: &str, subjects: &[String]) -> Option<u32> {
    let map = map_subject(name);
    let prefix = format!("{name}.shard.");
    let mut shards: Vec<u32> = Vec::new();
    for subject in subjects.iter().filter(|s| **s != map) {
        let n = subject.strip_prefix(&prefix)?;
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        shards.push(n.parse().ok()?);
    }
    shards.sort_unstable();
    let contiguous = shards.iter().enumerate().all(|(i, &n)| n as usize == i);
    (contiguous && !shards.is_empty()).then_some(shards.len() as u32)
}

/// Opens (or creates) the stream; returns it and the shard count it was created with.
async fn open_stream(
    js: &jetstream::Context,
    config: &JetStreamConfig,
) -> Result<(js_stream::Stream, u32), JetStreamError> {
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
            let mut subjects: Vec<String> =
                (0..config.shards).map(|i| shard_subject(name, i)).collect();
            subjects.push(map_subject(name));
            let create = js_stream::Config {
                name: name.clone(),
                description: Some(format!("Alleycat's event stream, {} shards", config.shards)),
                subjects,
                max_age: config.retention,
                storage: StorageType::File,
                num_replicas: config.replicas(),
                discard: DiscardPolicy::Old,
                metadata: HashMap::from([(
                    FIRST_SHARDS_METADATA.to_owned(),
                    config.shards.to_string(),
                )]),
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
    let mut stored = stream.cached_info().config.clone();
    let Some(subject_count) = shard_subject_count(name, &stored.subjects) else {
        return Err(JetStreamError::ForeignStream {
            stream: name.clone(),
            subjects: stored.subjects.clone(),
        });
    };
    let mut update = false;
    // A stream made before resharding existed: its shard subjects are its first shards, and
    // it takes the map's subject from now on.
    if !stored.subjects.contains(&map_subject(name)) {
        stored.subjects.push(map_subject(name));
        update = true;
    }
    let first_shards = match stored.metadata.get(FIRST_SHARDS_METADATA) {
        Some(n) => n.parse().map_err(|e| JetStreamError::request("stream metadata", e))?,
        None => {
            stored.metadata.insert(FIRST_SHARDS_METADATA.into(), subject_count.to_string());
            update = true;
            subject_count
        }
    };
    if stored.max_age != config.retention {
        // The retention is a setting: follow it (the shard map is the stream's own).
        stored.max_age = config.retention;
        update = true;
        info!(stream = %name, retention = ?config.retention, "Updating the JetStream stream's retention.");
    }
    if update {
        js.update_stream(stored).await.map_err(|e| JetStreamError::request("stream update", e))?;
    }
    if stream.cached_info().config.num_replicas != config.replicas() {
        warn!(
            stream = %name,
            replicas = stream.cached_info().config.num_replicas,
            configured = config.replicas(),
            "The JetStream stream keeps the replicas it was created with."
        );
    }
    Ok((stream, first_shards))
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

/// A record put on its way: its index in the call, and where it was routed.
struct Routed {
    index: usize,
    shard: u32,
}

impl JetStreamStream {
    /// Publishes the records at `indices` by the latest map this handle knows, then awaits the
    /// PubAcks: each record's shard and stream sequence, or why it failed.
    async fn publish_routed(
        &self,
        records: &[PutRecord],
        indices: &[usize],
        layout: &Layout,
    ) -> Vec<(Routed, Result<u64, RecordError>)> {
        let mut acks = Vec::with_capacity(indices.len());
        let mut failed = Vec::new();
        for &index in indices {
            let record = &records[index];
            let key = record.explicit_hash_key.unwrap_or_else(|| hash_key(&record.partition_key));
            let shard = layout.route(key);
            let mut headers = HeaderMap::new();
            headers.insert(
                PARTITION_KEY_HEADER,
                utf8_percent_encode(&record.partition_key, KEY_ENCODE).to_string().as_str(),
            );
            if let Some(explicit) = record.explicit_hash_key {
                headers.insert(HASH_KEY_HEADER, explicit.to_string().as_str());
            }
            let routed = Routed { index, shard };
            match self
                .js
                .publish_with_headers(self.subject(shard), headers, record.data.clone())
                .await
            {
                Ok(ack) => acks.push((routed, ack)),
                Err(error) => {
                    let message = format!("JetStream publish failed: {error}");
                    self.health.put_failed(self.clock.now_ms(), ShardId(shard), message.clone());
                    failed.push((
                        routed,
                        Err(RecordError { code: RecordErrorCode::InternalFailure, message }),
                    ));
                }
            }
        }
        // Every publish is on its way; now the acknowledgements, all together.
        let answers = futures::future::join_all(acks.into_iter().map(|(routed, ack)| async move {
            let answer = ack.await.map(|a| a.sequence).map_err(|error| RecordError {
                code: RecordErrorCode::InternalFailure,
                message: format!("JetStream did not acknowledge the record: {error}"),
            });
            (routed, answer)
        }))
        .await;
        self.report_health(&answers);
        failed.extend(answers);
        failed
    }

    /// Tells the health what a call's acknowledgements say, once per call: stored if any record
    /// was, then failing if the last answer was a failure.
    fn report_health(&self, answers: &[(Routed, Result<u64, RecordError>)]) {
        let now_ms = self.clock.now_ms();
        if answers.iter().any(|(_, answer)| answer.is_ok()) {
            self.health.put_stored(now_ms);
        }
        if let Some((routed, Err(error))) = answers.last() {
            self.health.put_failed(now_ms, ShardId(routed.shard), error.message.clone());
        }
    }

    /// Whether the throttle admits `record` into `shard` now (always, without a throttle).
    fn admit(&self, shard: u32, record: &PutRecord, now: u64) -> bool {
        let Some(throttle) = &self.throttle else { return true };
        let size = record.partition_key.len() + record.data.len();
        throttle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(shard)
            .or_default()
            .admit(now, size)
    }

    /// What a read at `position` of the closed `shard` that ends at `end` answers once every
    /// record is read: nothing more, and the children.
    fn shard_end(
        &self,
        layout: &Layout,
        shard: ShardId,
        end: u64,
        records: Vec<Record>,
    ) -> GetRecordsOutput {
        GetRecordsOutput {
            records,
            next_iterator: ShardIterator { shard_id: shard, position: sequence(shard.0, end) },
            millis_behind_latest: 0,
            child_shards: Some(layout.children(shard)),
        }
    }
}

#[async_trait]
impl Stream for JetStreamStream {
    fn shards(&self) -> Vec<ShardDescription> {
        self.layout().describe()
    }

    async fn put_records(&self, records: Vec<PutRecord>) -> Result<PutRecordsOutput, StreamError> {
        check_put(&records)?;
        let now = if self.throttle.is_some() { self.clock.now_ms() } else { 0 };
        let mut results: Vec<Option<Result<PutRecordOk, RecordError>>> = vec![None; records.len()];
        let mut pending = Vec::with_capacity(records.len());
        let layout = self.layout();
        for (i, record) in records.iter().enumerate() {
            if let Some(message) = invalid_record(record) {
                results[i] = Some(record_error(RecordErrorCode::InvalidArgument, message));
                continue;
            }
            let key = record.explicit_hash_key.unwrap_or_else(|| hash_key(&record.partition_key));
            let shard = layout.route(key);
            if !self.admit(shard, record, now) {
                results[i] = Some(record_error(
                    RecordErrorCode::ProvisionedThroughputExceeded,
                    format!("rate exceeded for {}", ShardId(shard)),
                ));
                continue;
            }
            pending.push(i);
        }
        // Publish by the map this handle knows; then check with the stream leader that no map
        // message closed a record's shard before the record (a reshard by another server this
        // handle has not seen yet): such a record lies past its shard's end, where no reader
        // looks, and goes again to where the new map routes it.
        for _ in 0..MAX_REROUTES {
            if pending.is_empty() {
                break;
            }
            let layout = self.layout();
            let published = self.publish_routed(&records, &pending, &layout).await;
            pending.clear();
            let mut stored = Vec::new();
            for (routed, answer) in published {
                match answer {
                    Ok(seq) => stored.push((routed, seq)),
                    Err(error) => results[routed.index] = Some(Err(error)),
                }
            }
            if stored.is_empty() {
                break;
            }
            let latest = match self.latest_layout().await {
                Ok((latest, _)) => latest,
                Err(error) => {
                    for (routed, _) in stored {
                        results[routed.index] = Some(record_error(
                            RecordErrorCode::InternalFailure,
                            format!("cannot check the record against the shard map: {error}"),
                        ));
                    }
                    break;
                }
            };
            for (routed, seq) in stored {
                let closed_before = latest.ends[routed.shard as usize].is_some_and(|end| seq > end);
                if closed_before {
                    pending.push(routed.index);
                } else {
                    results[routed.index] = Some(Ok(PutRecordOk {
                        shard_id: ShardId(routed.shard),
                        sequence_number: SequenceNumber(sequence(routed.shard, seq)),
                    }));
                }
            }
            self.install(latest);
        }
        let records: Vec<_> = results
            .into_iter()
            .map(|r| {
                // Never a placeholder standing for an acknowledgement.
                r.unwrap_or_else(|| {
                    record_error(
                        RecordErrorCode::InternalFailure,
                        "the stream kept resharding under the record; retry it".into(),
                    )
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
        self.known_shard(shard_id).await?;
        let shard = shard_id.0;
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
        let layout = self.known_shard(iterator.shard_id).await?;
        let shard = iterator.shard_id.0;
        let position = self.stream_seq_in(iterator.shard_id, SequenceNumber(iterator.position))?;
        let known_end = layout.ends[shard as usize];
        if let Some(end) = known_end.filter(|&end| position >= end) {
            return Ok(self.shard_end(&layout, iterator.shard_id, end, Vec::new()));
        }
        // A closed shard gets no new records: nothing to wait for.
        let wait = if known_end.is_some() { Duration::ZERO } else { wait };
        // Taken out while in use: two readers of one position each get their own consumer.
        let cached =
            self.readers.lock().unwrap_or_else(|p| p.into_inner()).remove(&(shard, position));
        let by_position = || DeliverPolicy::ByStartSequence { start_sequence: position };
        let (consumer, mut delivered, messages) = match cached {
            Some(CachedReader { consumer, delivered, .. }) => {
                match self.pull(&consumer, shard, position, limit, wait).await {
                    Ok(messages) => (consumer, delivered, messages),
                    Err(error) => {
                        // Its server may have died, or it idled out: a new one at the same place.
                        warn!(shard = %iterator.shard_id, %error, "A cached JetStream reader failed; replacing it.");
                        self.drop_reader(consumer);
                        self.read_new(shard, by_position(), position, limit, wait).await?
                    }
                }
            }
            None => self.read_new(shard, by_position(), position, limit, wait).await?,
        };
        let mut records = Vec::with_capacity(messages.len());
        let mut pending = 0;
        let mut next = position;
        let mut unbroken = true;
        let mut end = known_end;
        let mut reached_end = false;
        let mut skipped_maps = false;
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
            if message.subject == self.map_subject {
                // A reshard, met in stream order: if it closed this shard, the shard ends here.
                let map = Layout::decode(&message.payload, info.stream_sequence)
                    .map_err(|e| JetStreamError::request("shard map", e))?;
                let closes = map.ends.get(shard as usize).copied().flatten();
                self.install(Arc::new(map));
                if let Some(at) = closes {
                    end = Some(at);
                    reached_end = true;
                    break;
                }
                next = info.stream_sequence + 1;
                skipped_maps = true;
                continue;
            }
            if end.is_some_and(|end| info.stream_sequence > end) {
                // Past the shard's end: a put that raced the reshard and went again elsewhere.
                reached_end = true;
                break;
            }
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
        if let Some(end) = end {
            // A closed shard whose reader has what came before its end: is that all of it?
            if !reached_end
                && unbroken
                && records.len() < limit
                && !self.leader_has(shard, next).await?
            {
                reached_end = true;
            }
            if reached_end {
                self.drop_reader(consumer);
                return Ok(self.shard_end(&self.layout(), iterator.shard_id, end, records));
            }
        }
        if !unbroken {
            self.drop_reader(consumer);
        } else {
            self.cache_reader(shard, next, consumer, delivered);
            if records.is_empty() && skipped_maps {
                // Only earlier reshards' map messages: read on rather than answer an empty page
                // before the shard's records.
                let on =
                    ShardIterator { shard_id: iterator.shard_id, position: sequence(shard, next) };
                return self.get_records(&on, limit, wait).await;
            }
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
        self.known_shard(shard_id).await?;
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
        let lookups = (0..self.layout().len() as u32).map(|shard| async move {
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

    async fn reshard(&self, change: Reshard) -> Result<(), StreamError> {
        let _one_at_a_time = self.resharding.lock().await;
        let mut attempt = 0;
        while attempt < MAX_RESHARD_ATTEMPTS {
            let (current, last_message) = self.latest_layout().await?;
            self.install(current.clone());
            let next = current.map.apply(change, self.clock.now_ms())?;
            // The children's subjects first, so that puts routed to them are stored.
            self.ensure_subjects(next.shards().len()).await?;
            let ends: Vec<Option<u64>> = (0..next.shards().len())
                .map(|i| match current.ends.get(i).copied().flatten() {
                    Some(end) => Some(end),
                    None if !next.shards()[i].is_open() => Some(ENDS_HERE),
                    None => None,
                })
                .collect();
            let payload = Layout::encode(&next, &ends);
            // Compare-and-set: stored only if no other map message came since `current`.
            let mut headers = HeaderMap::new();
            headers.insert(
                async_nats::header::NATS_EXPECTED_LAST_SUBJECT_SEQUENCE,
                last_message.to_string().as_str(),
            );
            let ack = self
                .js
                .publish_with_headers(self.map_subject.clone(), headers, payload.clone().into())
                .await
                .map_err(|e| JetStreamError::request("publish", e))?;
            let stored = match self.timed("publish", ack.into_future()).await? {
                Ok(ack) => ack.sequence,
                Err(error) if lost_the_race(&error) => {
                    attempt += 1;
                    info!(stream = %self.name, ?change, attempt, "Another server resharded at the same time; applying the change to the latest map.");
                    // The other map message may still be on its way to the replicas.
                    tokio::time::sleep(RESHARD_BACKOFF * attempt as u32).await;
                    continue;
                }
                Err(error) => return Err(JetStreamError::request("publish", error).into()),
            };
            let layout = Layout::decode(&payload, stored)
                .map_err(|e| JetStreamError::request("shard map", e))?;
            self.install(Arc::new(layout));
            if let Err(error) = self.save_map_copy(&payload, stored).await {
                // The map message holds the map; the copy only outlives its retention. The
                // next reshard writes it again.
                warn!(stream = %self.name, %error, "Could not copy the shard map into the stream's metadata.");
            }
            info!(stream = %self.name, ?change, map = stored, "Resharded the JetStream stream.");
            return Ok(());
        }
        Err(JetStreamError::request(
            "reshard",
            format!("other servers kept resharding; {MAX_RESHARD_ATTEMPTS} attempts failed"),
        )
        .into())
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
