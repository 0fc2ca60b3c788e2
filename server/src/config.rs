//! Every setting of the `alleycat` binary, as a flag and as an `ALLEYCAT_*` environment
//! variable. Defaults are the named constants below, in one place; `alleycat --help` lists all.

use std::{net::IpAddr, path::PathBuf};

use alleycat_ingest::{
    db::{DatabaseConfig, PostgresUrl},
    objects::{S3Config, StoreConfig, StoreLocation},
    stream::StreamLocation,
};
use clap::{Args, Parser, Subcommand};

/// Default address to listen on: loopback only, so a fresh install is not exposed.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// Default port.
pub const DEFAULT_PORT: u16 = 3000;
/// Default data directory: everything Alleycat stores lives under it.
pub const DEFAULT_DATA_DIR: &str = "./data";
/// Default folder of the Trunk-built app.
pub const DEFAULT_DIST: &str = "./dist";
/// Default race length, seconds.
pub const DEFAULT_RACE_SECONDS: u32 = alleycat_domain::DEFAULT_RACE_SECONDS;
/// Default event stream: `embedded`, the disk engine in the data directory.
pub const DEFAULT_STREAM: &str = "embedded";
/// Default name of the JetStream stream (with `--stream nats://…`).
pub const DEFAULT_JETSTREAM_STREAM: &str = alleycat_ingest::stream::jetstream::DEFAULT_STREAM_NAME;
/// Default number of stream shards.
pub const DEFAULT_SHARDS: u32 = alleycat_ingest::stream::DEFAULT_SHARDS;
/// Default stream retention, hours (Kinesis' default).
pub const DEFAULT_RETENTION_HOURS: u64 = 24;
/// Default delivery size hint, bytes (Firehose's 1 MiB).
pub const DEFAULT_DELIVERY_BUFFER_BYTES: usize = alleycat_ingest::delivery::DEFAULT_BUFFER_BYTES;
/// Default delivery interval hint, milliseconds (60 s, as Firehose's smallest default).
pub const DEFAULT_DELIVERY_INTERVAL_MS: u64 = 60_000;
/// Default number of racers in the roster.
pub const DEFAULT_ROSTER_SIZE: u32 = 40_000;
/// Default seed of the roster's names.
pub const DEFAULT_ROSTER_SEED: u64 = 2026;
/// Default seconds an event may be early or late against the race clock.
pub const DEFAULT_CLOCK_GRACE_SECONDS: u32 = 5;
/// Default seconds after a race's end in which a racer's late events (a drop near the finish)
/// are still taken, when their second was not stored yet.
pub const DEFAULT_LATE_SECONDS: u32 = 60;
/// Default most events one racer may send in one second (with a racer token).
pub const DEFAULT_RACER_EVENTS_PER_SECOND: usize = 3;
/// Default limit on a request body, bytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Default limit on requests served at once.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 4096;
/// Default time a request may take before it is answered 408, seconds.
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 30;
/// Default limit on connections open at once (WebSockets included); more wait to be accepted.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Default time a connection has to send a request's head (and an idle keep-alive connection
/// to start its next request) before it is closed, milliseconds.
pub const DEFAULT_HEADER_READ_TIMEOUT_MS: u64 = 10_000;
/// Default lifetime of a racer token, hours.
pub const DEFAULT_TOKEN_HOURS: u64 = 12;
/// Default port of the Kinesis API when it is enabled (kinesalite's, so local Kinesis tooling
/// finds it where it expects it).
pub const DEFAULT_KINESIS_PORT: u16 = 4567;
/// Default access key id that Kinesis clients sign with. Public, like the secret below: fine on
/// loopback, refused on any other address (see [`ServeConfig::kinesis_credentials`]).
pub const DEFAULT_KINESIS_ACCESS_KEY_ID: &str = "AKIDALLEYCATLOCAL";
/// Default secret access key of [`DEFAULT_KINESIS_ACCESS_KEY_ID`].
pub const DEFAULT_KINESIS_SECRET_ACCESS_KEY: &str = "alleycat-local-secret";
/// Default object store: `file`, the local filesystem under the data directory.
pub const DEFAULT_OBJECT_STORE: &str = "file";
/// Default S3 region (S3-compatible servers mostly ignore it).
pub const DEFAULT_S3_REGION: &str = alleycat_ingest::objects::DEFAULT_S3_REGION;
/// Default most racers one client address may create in an hour (and at once).
pub const DEFAULT_RACER_CREATIONS_PER_HOUR: u32 = 30;
/// Default of who may create a racer: anyone.
pub const DEFAULT_REGISTRATION: Registration = Registration::Open;
/// Default number of invitations `alleycat invite` prints.
pub const DEFAULT_INVITES: u32 = 1;

/// The public URL when none is given: `<scheme>://localhost:<port>`, `https` when the server
/// serves TLS itself (see [`ServeConfig::scheme`]). Browsers give passkeys and Web Bluetooth to
/// `localhost` over plain HTTP but never to an IP address, so this is also what the start-up log
/// tells people to open.
pub fn default_public_url(scheme: &str, port: u16) -> url::Url {
    url::Url::parse(&format!("{scheme}://localhost:{port}/")).expect("a valid URL")
}

/// Who may create a racer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Registration {
    /// Anyone who opens the app (limited per client address).
    Open,
    /// Only with a single-use invitation (`alleycat invite`, `POST /api/invites`).
    Invite,
}

/// Default number of simulated demo racers: none, so tests and real deployments are not
/// polluted (`scripts/run.sh` asks for a small field).
pub const DEFAULT_DEMO_RACERS: u32 = 0;

/// Alleycat: virtual exercise-bike racing.
#[derive(Debug, Parser)]
#[command(name = "alleycat", version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings for `serve` when no command is given.
    #[command(flatten)]
    pub serve: ServeConfig,
}

/// The commands.
#[derive(Debug, Subcommand)]
// Parsed once per process: the size of `Serve` costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
pub enum Command {
    /// Serve the app and the API (the default).
    Serve(ServeConfig),
    /// Recompute the history files and the results database from every delivered object
    /// (run it with the server stopped).
    Rebuild(DataArgs),
    /// Work with history files.
    #[command(subcommand)]
    History(HistoryCommand),
    /// Print single-use invitation links to create a racer (for `--registration invite`); works
    /// beside a running server.
    Invite(InviteArgs),
}

/// `alleycat invite`.
#[derive(Debug, Clone, Args)]
pub struct InviteArgs {
    /// How many invitations to make.
    #[arg(long, default_value_t = DEFAULT_INVITES,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::identity::invite::MAX_INVITES)))]
    pub count: u32,
    /// The address people open the app at, as the server runs with; the links point there
    /// (default `http://localhost:3000/`).
    #[arg(long, env = "ALLEYCAT_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<url::Url>,
    /// Where the data is.
    #[command(flatten)]
    pub data: DataArgs,
}

impl InviteArgs {
    /// The public URL the links point to.
    pub fn public_url(&self) -> url::Url {
        self.public_url.clone().unwrap_or_else(|| default_public_url("http", DEFAULT_PORT))
    }
}

/// Parses `--public-url`: an http or https URL with a host name (no path, query or user).
fn parse_public_url(value: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(value.trim())
        .map_err(|e| format!("{e}: give e.g. https://alleycat.example.org"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{value}` is not an http:// or https:// URL"));
    }
    if url.host_str().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "`{value}` needs a host name and no user: e.g. https://alleycat.example.org"
        ));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!("`{value}` has a path or query; give only scheme, host and port"));
    }
    Ok(url)
}

/// What the offline commands need: where the data and the objects are, and how long races are.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Directory holding all of Alleycat's data.
    #[arg(long, env = "ALLEYCAT_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Length of each race in seconds (as the server runs with).
    #[arg(long, env = "ALLEYCAT_RACE_SECONDS", default_value_t = DEFAULT_RACE_SECONDS,
          value_parser = clap::value_parser!(u32).range(1..=86_400))]
    pub race_seconds: u32,
    /// Where the objects are (as the server stores them).
    #[command(flatten)]
    pub store: StoreArgs,
    /// Where the results are (as the server keeps them).
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Where race results, class records, the roster and the bookkeeping of merged objects are:
/// `alleycat serve` and the offline commands take the same setting.
#[derive(Debug, Clone, Default, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL database shared by several servers (`postgres://user[:password]@host[:port]/db`);
    /// its schema is migrated on start, and the token secret and generated API key are kept in
    /// it. When unset, the embedded SQLite file in the data directory (one server).
    #[arg(long = "database-url", env = "ALLEYCAT_DATABASE_URL", hide_env_values = true,
          value_parser = PostgresUrlParser)]
    pub url: Option<PostgresUrl>,
}

/// Parses `--database-url` without repeating what was given: clap's own message quotes the
/// value, password and all, into the log; ours names the URL with its password hidden.
#[derive(Debug, Clone, Copy)]
struct PostgresUrlParser;

impl clap::builder::TypedValueParser for PostgresUrlParser {
    type Value = PostgresUrl;

    fn parse_ref(
        &self,
        _command: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<PostgresUrl, clap::Error> {
        use clap::error::ErrorKind;
        let text = value.to_str().ok_or_else(|| {
            clap::Error::raw(ErrorKind::InvalidUtf8, "--database-url is not valid UTF-8\n")
        })?;
        text.parse().map_err(|e: alleycat_ingest::db::DatabaseUrlError| {
            clap::Error::raw(ErrorKind::ValueValidation, format!("invalid --database-url: {e}\n"))
        })
    }
}

impl DatabaseArgs {
    /// The database these settings name.
    pub fn database_config(&self) -> DatabaseConfig {
        self.url.clone().map_or(DatabaseConfig::DataDir, DatabaseConfig::Postgres)
    }
}

/// Where delivered objects and history files are stored: `alleycat serve` and the offline
/// commands take the same settings, so that they work on the same objects.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Object store for delivered batches and history files: `file` (the data directory) or
    /// `s3://bucket[/prefix]` (an S3-compatible bucket, which must exist).
    #[arg(long, env = "ALLEYCAT_OBJECT_STORE", default_value = DEFAULT_OBJECT_STORE)]
    pub object_store: StoreLocation,
    /// S3 endpoint URL for a server other than AWS (e.g. `http://127.0.0.1:9000`); AWS's when
    /// unset.
    #[arg(long, env = "ALLEYCAT_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    /// S3 region of the bucket.
    #[arg(long, env = "ALLEYCAT_S3_REGION", default_value = DEFAULT_S3_REGION)]
    pub s3_region: String,
    /// S3 access key id; when unset, the AWS_* variables or the instance's role are used.
    #[arg(long, env = "ALLEYCAT_S3_ACCESS_KEY_ID")]
    pub s3_access_key_id: Option<String>,
    /// S3 secret access key (goes with the access key id).
    #[arg(long, env = "ALLEYCAT_S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,
    /// Allow a plain-HTTP S3 endpoint (a local S3-compatible server).
    #[arg(long, env = "ALLEYCAT_S3_ALLOW_HTTP")]
    pub s3_allow_http: bool,
}

impl Default for StoreArgs {
    fn default() -> Self {
        Self {
            object_store: StoreLocation::DataDir,
            s3_endpoint: None,
            s3_region: DEFAULT_S3_REGION.into(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_allow_http: false,
        }
    }
}

impl StoreArgs {
    /// The store these settings name, for the data directory `data_dir`.
    pub fn store_config(&self, data_dir: &std::path::Path) -> StoreConfig {
        match &self.object_store {
            StoreLocation::DataDir => StoreConfig::Local { root: data_dir.to_owned() },
            StoreLocation::S3 { bucket, prefix } => StoreConfig::S3(S3Config {
                bucket: bucket.clone(),
                prefix: prefix.clone(),
                region: self.s3_region.clone(),
                endpoint: self.s3_endpoint.clone(),
                access_key_id: self.s3_access_key_id.clone(),
                secret_access_key: self.s3_secret_access_key.clone(),
                allow_http: self.s3_allow_http,
            }),
        }
    }
}

/// `alleycat history …`.
#[derive(Debug, Subcommand)]
pub enum HistoryCommand {
    /// Merge a history file in the original Alleycat format (`{"<second>": {"<racerId>":
    /// output}}`, JSON, gzipped or not) into a class's history.
    Import {
        /// The class to import into, 1 to 6.
        #[arg(long = "class", value_parser = clap::value_parser!(u8).range(1..=6))]
        class: u8,
        /// The file to import.
        file: PathBuf,
        /// Where the data is.
        #[command(flatten)]
        data: DataArgs,
    },
}

impl Cli {
    /// The command to run, with `serve` as the default.
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Serve(self.serve))
    }
}

/// Settings of `alleycat serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "ALLEYCAT_HOST", default_value = DEFAULT_HOST)]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "ALLEYCAT_PORT", default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Directory holding all of Alleycat's data (created if missing).
    #[arg(long, env = "ALLEYCAT_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Folder of the built app (Trunk's `dist`).
    #[arg(long, env = "ALLEYCAT_DIST", default_value = DEFAULT_DIST)]
    pub dist: PathBuf,
    /// Length of each race in seconds; races start back to back on the clock.
    #[arg(long, env = "ALLEYCAT_RACE_SECONDS", default_value_t = DEFAULT_RACE_SECONDS,
          value_parser = clap::value_parser!(u32).range(1..=86_400))]
    pub race_seconds: u32,
    /// Key that producers (the load generator) send as `Authorization: Bearer <key>` to post
    /// events for any racer. When unset, one is generated on first start and printed, into
    /// `<data-dir>/api-key` (or the shared database with `--database-url`).
    #[arg(long, env = "ALLEYCAT_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// The event stream: `embedded` (in the data directory, locked to this server) or
    /// `nats://host:port[,host:port...]` (a JetStream stream on a NATS cluster, which several
    /// servers share).
    #[arg(long, env = "ALLEYCAT_STREAM", default_value = DEFAULT_STREAM)]
    pub stream: StreamLocation,
    /// Name of the JetStream stream (with `--stream nats://…`); its subjects are
    /// `<name>.shard.<n>`.
    #[arg(long, env = "ALLEYCAT_JETSTREAM_STREAM", default_value = DEFAULT_JETSTREAM_STREAM)]
    pub jetstream_stream: String,
    /// Replicas of the JetStream stream when this server creates it (with `--stream
    /// nats://…`); when unset, 3 if at least 3 servers are listed, else 1.
    #[arg(long, env = "ALLEYCAT_JETSTREAM_REPLICAS",
          value_parser = clap::value_parser!(u8).range(1..=5))]
    pub jetstream_replicas: Option<u8>,
    /// Shards of the event stream when it is first created; later, its stored shard map (change
    /// it with the Kinesis API's UpdateShardCount on `alleycat`).
    #[arg(long, env = "ALLEYCAT_SHARDS", default_value_t = DEFAULT_SHARDS,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub shards: u32,
    /// How long the stream keeps events, hours.
    #[arg(long, env = "ALLEYCAT_RETENTION_HOURS", default_value_t = DEFAULT_RETENTION_HOURS,
          value_parser = clap::value_parser!(u64).range(1..=8760))]
    pub retention_hours: u64,
    /// Apply Kinesis' per-shard write limits (1 MiB/s and 1,000 records/s per shard).
    #[arg(long, env = "ALLEYCAT_THROTTLE")]
    pub throttle: bool,
    /// Delivery's size hint: a batch is stored once this many bytes are buffered.
    #[arg(long, env = "ALLEYCAT_DELIVERY_BUFFER_BYTES", default_value_t = DEFAULT_DELIVERY_BUFFER_BYTES)]
    pub delivery_buffer_bytes: usize,
    /// Delivery's interval hint: a batch is stored at least this often, milliseconds.
    #[arg(long, env = "ALLEYCAT_DELIVERY_INTERVAL_MS", default_value_t = DEFAULT_DELIVERY_INTERVAL_MS,
          value_parser = clap::value_parser!(u64).range(10..=900_000))]
    pub delivery_interval_ms: u64,
    /// Racers in the generated roster (created on first start).
    #[arg(long, env = "ALLEYCAT_ROSTER_SIZE", default_value_t = DEFAULT_ROSTER_SIZE,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub roster_size: u32,
    /// Seed of the roster's names.
    #[arg(long, env = "ALLEYCAT_ROSTER_SEED", default_value_t = DEFAULT_ROSTER_SEED)]
    pub roster_seed: u64,
    /// Seconds an event may be early or late against the race clock before it is refused.
    #[arg(long, env = "ALLEYCAT_CLOCK_GRACE_SECONDS", default_value_t = DEFAULT_CLOCK_GRACE_SECONDS)]
    pub clock_grace_seconds: u32,
    /// Seconds after a race's end in which a racer's events for it are still taken (resent
    /// after a network drop near the finish), when their second was not stored yet.
    #[arg(long, env = "ALLEYCAT_LATE_SECONDS", default_value_t = DEFAULT_LATE_SECONDS)]
    pub late_seconds: u32,
    /// Most events one racer may send per second with a racer token.
    #[arg(long, env = "ALLEYCAT_RACER_EVENTS_PER_SECOND", default_value_t = DEFAULT_RACER_EVENTS_PER_SECOND)]
    pub racer_events_per_second: usize,
    /// Largest request body accepted, bytes (larger ones get 413).
    #[arg(long, env = "ALLEYCAT_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    pub max_body_bytes: usize,
    /// Most requests served at once; more wait.
    #[arg(long, env = "ALLEYCAT_MAX_CONCURRENT_REQUESTS", default_value_t = DEFAULT_MAX_CONCURRENT_REQUESTS)]
    pub max_concurrent_requests: usize,
    /// Seconds a request may take before it is answered 408.
    #[arg(long, env = "ALLEYCAT_REQUEST_TIMEOUT_SECONDS", default_value_t = DEFAULT_REQUEST_TIMEOUT_SECONDS)]
    pub request_timeout_seconds: u64,
    /// Most connections open at once, WebSockets included; further connections wait in the
    /// accept queue until one closes.
    #[arg(long, env = "ALLEYCAT_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS,
          value_parser = at_least_one)]
    pub max_connections: usize,
    /// Milliseconds a connection has to send a whole request head (and an idle keep-alive
    /// connection to start its next request) before it is closed.
    #[arg(long, env = "ALLEYCAT_HEADER_READ_TIMEOUT_MS", default_value_t = DEFAULT_HEADER_READ_TIMEOUT_MS,
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub header_read_timeout_ms: u64,
    /// Hours a racer token stays valid.
    #[arg(long, env = "ALLEYCAT_TOKEN_HOURS", default_value_t = DEFAULT_TOKEN_HOURS)]
    pub token_hours: u64,
    /// Serve the Kinesis Data Streams API (on `--kinesis-port`, default 4567). Off by default:
    /// it is a second listener with a write path into the racing pipeline.
    #[arg(long, env = "ALLEYCAT_KINESIS")]
    pub kinesis: bool,
    /// Port of the Kinesis API, on `--host`; giving it turns the API on (0 picks a free port).
    #[arg(long, env = "ALLEYCAT_KINESIS_PORT")]
    pub kinesis_port: Option<u16>,
    /// Access key id that Kinesis clients must sign their requests with (SigV4).
    #[arg(long, env = "ALLEYCAT_KINESIS_ACCESS_KEY_ID", default_value = DEFAULT_KINESIS_ACCESS_KEY_ID)]
    pub kinesis_access_key_id: String,
    /// Secret access key of that key id.
    #[arg(long, env = "ALLEYCAT_KINESIS_SECRET_ACCESS_KEY", hide_env_values = true,
          hide_default_value = true, default_value = DEFAULT_KINESIS_SECRET_ACCESS_KEY)]
    pub kinesis_secret_access_key: String,
    /// Simulated racers riding every class against this server, so the first page is alive
    /// (the racers with the highest roster ids; past races are backfilled when the history is
    /// empty). 0 turns the demo off.
    #[arg(long, env = "ALLEYCAT_DEMO_RACERS", default_value_t = DEFAULT_DEMO_RACERS,
          value_parser = clap::value_parser!(u32).range(0..=40_000))]
    pub demo_racers: u32,
    /// The address people open the app at (`https://alleycat.example.org`): the origin and
    /// relying party of passkeys, the base of invitation links, and whether the device cookie is
    /// `Secure` (https). Behind a reverse proxy, the proxy's public address. Default
    /// `http://localhost:<port>`, `https://` with --tls-cert (browsers refuse passkeys on IP
    /// addresses).
    #[arg(long, env = "ALLEYCAT_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<url::Url>,
    /// Who may create a racer: `open` (anyone) or `invite` (only with a single-use invitation
    /// from `alleycat invite` or `POST /api/invites`).
    #[arg(long, env = "ALLEYCAT_REGISTRATION", value_enum, default_value_t = DEFAULT_REGISTRATION)]
    pub registration: Registration,
    /// Most racers one client address may create in an hour (and at once); more get 429.
    #[arg(long, env = "ALLEYCAT_RACER_CREATIONS_PER_HOUR", default_value_t = DEFAULT_RACER_CREATIONS_PER_HOUR,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub racer_creations_per_hour: u32,
    /// Where delivered objects and history files are stored.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Where the results database is.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// HTTPS served directly (`--tls-cert`, `--tls-key`); plain HTTP when absent.
    #[command(flatten)]
    pub tls: TlsArgs,
    /// Reverse proxies whose forwarded headers name the client (`--trusted-proxy`).
    #[command(flatten)]
    pub proxies: ProxyArgs,
}

impl ServeConfig {
    /// The public URL (see `--public-url`) of a server listening on `port` (the bound one, when
    /// `--port 0` picked it).
    pub fn public_url(&self, port: u16) -> url::Url {
        self.public_url.clone().unwrap_or_else(|| default_public_url(self.scheme(), port))
    }

    /// The Kinesis API's port, when it is on.
    pub fn kinesis_port(&self) -> Option<u16> {
        self.kinesis_port.or(self.kinesis.then_some(DEFAULT_KINESIS_PORT))
    }

    /// The credentials Kinesis requests are verified against. The published defaults are
    /// refused unless the server listens on loopback only.
    pub fn kinesis_credentials(&self) -> anyhow::Result<alleycat_kinesis::sigv4::Credentials> {
        if !self.host.is_loopback()
            && self.kinesis_secret_access_key == DEFAULT_KINESIS_SECRET_ACCESS_KEY
        {
            anyhow::bail!(
                "the Kinesis API would listen on {} with the default secret; set --kinesis-secret-access-key",
                self.host
            );
        }
        Ok(alleycat_kinesis::sigv4::Credentials {
            access_key_id: self.kinesis_access_key_id.clone(),
            secret_access_key: self.kinesis_secret_access_key.clone(),
        })
    }
}

/// Parses a count that must be positive.
fn at_least_one(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

impl Default for ServeConfig {
    fn default() -> Self {
        Self {
            host: DEFAULT_HOST.parse().expect("the default host is an IP address"),
            port: DEFAULT_PORT,
            data_dir: DEFAULT_DATA_DIR.into(),
            dist: DEFAULT_DIST.into(),
            race_seconds: DEFAULT_RACE_SECONDS,
            api_key: None,
            stream: StreamLocation::Embedded,
            jetstream_stream: DEFAULT_JETSTREAM_STREAM.into(),
            jetstream_replicas: None,
            shards: DEFAULT_SHARDS,
            retention_hours: DEFAULT_RETENTION_HOURS,
            throttle: false,
            delivery_buffer_bytes: DEFAULT_DELIVERY_BUFFER_BYTES,
            delivery_interval_ms: DEFAULT_DELIVERY_INTERVAL_MS,
            roster_size: DEFAULT_ROSTER_SIZE,
            roster_seed: DEFAULT_ROSTER_SEED,
            clock_grace_seconds: DEFAULT_CLOCK_GRACE_SECONDS,
            late_seconds: DEFAULT_LATE_SECONDS,
            racer_events_per_second: DEFAULT_RACER_EVENTS_PER_SECOND,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            request_timeout_seconds: DEFAULT_REQUEST_TIMEOUT_SECONDS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout_ms: DEFAULT_HEADER_READ_TIMEOUT_MS,
            token_hours: DEFAULT_TOKEN_HOURS,
            kinesis: false,
            kinesis_port: None,
            kinesis_access_key_id: DEFAULT_KINESIS_ACCESS_KEY_ID.into(),
            kinesis_secret_access_key: DEFAULT_KINESIS_SECRET_ACCESS_KEY.into(),
            store: StoreArgs::default(),
            database: DatabaseArgs::default(),
            demo_racers: DEFAULT_DEMO_RACERS,
            public_url: None,
            registration: DEFAULT_REGISTRATION,
            racer_creations_per_hour: DEFAULT_RACER_CREATIONS_PER_HOUR,
            tls: TlsArgs::default(),
            proxies: ProxyArgs::default(),
        }
    }
}

// ---- A secure context: HTTPS served directly, or behind a trusted reverse proxy. ----

/// The certificate and key to serve HTTPS with: both or neither (the command line refuses one
/// alone; so does [`crate::tls::acceptor`] for a configuration built in code). Read at start by
/// [`crate::tls`], which says which file is wrong and how.
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct TlsArgs {
    /// Serve HTTPS with this certificate chain (PEM: the server's certificate first, then any
    /// intermediates); needs --tls-key. Browsers need HTTPS (or localhost) for passkeys and Web
    /// Bluetooth.
    #[arg(long = "tls-cert", env = "ALLEYCAT_TLS_CERT", value_name = "PEM_FILE", requires = "key")]
    pub cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1); needs --tls-cert.
    #[arg(long = "tls-key", env = "ALLEYCAT_TLS_KEY", value_name = "PEM_FILE", requires = "cert")]
    pub key: Option<PathBuf>,
}

impl TlsArgs {
    /// Whether HTTPS is asked for.
    pub fn is_on(&self) -> bool {
        self.cert.is_some() || self.key.is_some()
    }
}

/// Which TCP peers are reverse proxies whose `X-Forwarded-For` / `Forwarded` headers are
/// believed (see [`crate::http::client`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Args)]
pub struct ProxyArgs {
    /// A reverse proxy (an IP address or a CIDR range such as 10.0.0.0/8) whose forwarded
    /// headers name the client; repeat it (or separate with commas) for several. Default: none,
    /// so the client is the TCP peer and the headers are ignored.
    #[arg(long = "trusted-proxy", env = "ALLEYCAT_TRUSTED_PROXIES", value_name = "IP_OR_CIDR",
          value_delimiter = ',', value_parser = parse_proxy)]
    pub trusted: Vec<ipnet::IpNet>,
}

/// Parses `--trusted-proxy`: a CIDR range, or one address (a range of one).
fn parse_proxy(value: &str) -> Result<ipnet::IpNet, String> {
    let value = value.trim();
    value
        .parse::<ipnet::IpNet>()
        .or_else(|_| value.parse::<IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| {
            format!("`{value}` is not an IP address or CIDR range (e.g. 127.0.0.1, 10.0.0.0/8)")
        })
}

impl ServeConfig {
    /// The URL scheme browsers reach this server by directly: `https` when it serves TLS (the
    /// default public URL's; behind a proxy, `--public-url` says what browsers see).
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_on() {
            "https"
        } else {
            "http"
        }
    }
}

// ---- End of the secure context's settings. ----

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(cli: Cli) -> ServeConfig {
        match cli.into_command() {
            Command::Serve(config) => config,
            other => panic!("expected serve, got {other:?}"),
        }
    }

    #[test]
    fn no_command_means_serve_with_the_defaults() {
        let config = serve(Cli::parse_from(["alleycat"]));
        assert_eq!(config.port, DEFAULT_PORT);
        assert_eq!(config.race_seconds, 300);
        assert_eq!(config.data_dir, PathBuf::from("./data"));
    }

    #[test]
    fn flags_work_with_and_without_the_serve_command() {
        let config = serve(Cli::parse_from(["alleycat", "--port", "8080", "--race-seconds", "20"]));
        assert_eq!((config.port, config.race_seconds), (8080, 20));
        let config = serve(Cli::parse_from(["alleycat", "serve", "--dist", "/x"]));
        assert_eq!(config.dist, PathBuf::from("/x"));
    }

    #[test]
    fn history_import_takes_a_class_and_a_file() {
        let cli = Cli::parse_from(["alleycat", "history", "import", "--class", "3", "old.json.gz"]);
        let Command::History(HistoryCommand::Import { class, file, .. }) = cli.into_command()
        else {
            panic!("expected history import");
        };
        assert_eq!((class, file), (3, PathBuf::from("old.json.gz")));
        assert!(
            Cli::try_parse_from(["alleycat", "history", "import", "--class", "7", "f"]).is_err()
        );
    }

    #[test]
    fn the_kinesis_api_is_off_unless_asked_for() {
        assert_eq!(serve(Cli::parse_from(["alleycat"])).kinesis_port(), None);
        assert_eq!(serve(Cli::parse_from(["alleycat", "--kinesis"])).kinesis_port(), Some(4567));
        let config = serve(Cli::parse_from(["alleycat", "--kinesis-port", "0"]));
        assert_eq!(config.kinesis_port(), Some(0));
        assert_eq!(
            config.kinesis_credentials().unwrap().access_key_id,
            DEFAULT_KINESIS_ACCESS_KEY_ID
        );
    }

    #[test]
    fn the_default_kinesis_secret_is_refused_off_loopback() {
        let exposed = serve(Cli::parse_from(["alleycat", "--host", "0.0.0.0", "--kinesis"]));
        assert!(exposed
            .kinesis_credentials()
            .unwrap_err()
            .to_string()
            .contains("--kinesis-secret-access-key"));
        let configured = serve(Cli::parse_from([
            "alleycat",
            "--host",
            "0.0.0.0",
            "--kinesis",
            "--kinesis-secret-access-key",
            "s3cret",
        ]));
        assert_eq!(configured.kinesis_credentials().unwrap().secret_access_key, "s3cret");
    }

    #[test]
    fn a_zero_race_length_is_refused() {
        assert!(Cli::try_parse_from(["alleycat", "--race-seconds", "0"]).is_err());
    }

    #[test]
    fn the_object_store_is_the_data_directory_unless_a_bucket_is_named() {
        let config = serve(Cli::parse_from(["alleycat"]));
        assert_eq!(
            config.store.store_config(&config.data_dir),
            StoreConfig::Local { root: "./data".into() }
        );
        let cli = Cli::parse_from([
            "alleycat",
            "rebuild",
            "--object-store",
            "s3://bucket/prod",
            "--s3-endpoint",
            "http://127.0.0.1:9000",
            "--s3-allow-http",
        ]);
        let Command::Rebuild(data) = cli.into_command() else { panic!("expected rebuild") };
        let StoreConfig::S3(s3) = data.store.store_config(&data.data_dir) else {
            panic!("expected S3")
        };
        assert_eq!((s3.bucket.as_str(), s3.prefix.unwrap().as_ref()), ("bucket", "prod"));
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(s3.region, DEFAULT_S3_REGION);
        assert!(s3.allow_http);
    }

    #[test]
    fn an_unknown_object_store_is_refused_with_the_choices() {
        let error = Cli::try_parse_from(["alleycat", "--object-store", "gs://bucket"])
            .expect_err("gs:// is not supported")
            .to_string();
        assert!(
            error.contains("use `file` (the data directory) or `s3://bucket[/prefix]`"),
            "{error}"
        );
    }

    #[test]
    fn the_database_is_the_sqlite_file_unless_a_postgres_url_is_given() {
        let config = serve(Cli::parse_from(["alleycat"]));
        assert_eq!(config.database.database_config(), DatabaseConfig::DataDir);
        let config =
            serve(Cli::parse_from(["alleycat", "--database-url", "postgres://a:pw@db:5433/x"]));
        let DatabaseConfig::Postgres(url) = config.database.database_config() else {
            panic!("expected PostgreSQL")
        };
        assert_eq!(url.as_str(), "postgres://a:pw@db:5433/x");
        assert!(!format!("{config:?}").contains("pw"), "the password is not logged");
        let cli = Cli::parse_from(["alleycat", "rebuild", "--database-url", "postgresql://h/db"]);
        let Command::Rebuild(data) = cli.into_command() else { panic!("expected rebuild") };
        assert!(matches!(data.database.database_config(), DatabaseConfig::Postgres(_)));
    }

    #[test]
    fn a_database_url_that_is_not_postgres_is_refused_with_the_expected_form() {
        let error = Cli::try_parse_from(["alleycat", "--database-url", "mysql://u:secret@h/db"])
            .expect_err("only PostgreSQL")
            .to_string();
        assert!(error.contains("is not a PostgreSQL URL: use postgres://"), "{error}");
        assert!(!error.contains("secret"), "the password is not repeated: {error}");
        let tls = "postgres://u:secret@h/db?sslmode=verify-full";
        let error =
            Cli::try_parse_from(["alleycat", "--database-url", tls]).unwrap_err().to_string();
        assert!(error.contains("asks for TLS") && !error.contains("secret"), "{error}");
    }

    #[test]
    fn the_stream_is_embedded_unless_nats_servers_are_named() {
        let config = serve(Cli::parse_from(["alleycat"]));
        assert_eq!(config.stream, StreamLocation::Embedded);
        assert_eq!(config.jetstream_stream, "alleycat");
        let config = serve(Cli::parse_from([
            "alleycat",
            "--stream",
            "nats://127.0.0.1:4222,127.0.0.1:4223,127.0.0.1:4224",
            "--jetstream-replicas",
            "1",
        ]));
        let StreamLocation::Nats { servers } = &config.stream else { panic!("expected NATS") };
        assert_eq!(servers.len(), 3);
        assert_eq!(config.jetstream_replicas, Some(1));
        let error = Cli::try_parse_from(["alleycat", "--stream", "kafka://x"])
            .expect_err("only embedded and nats:// are streams")
            .to_string();
        assert!(error.contains("use `embedded`"), "{error}");
    }

    // ---- A secure context. ----

    #[test]
    fn https_needs_both_the_certificate_and_the_key() {
        let plain = serve(Cli::parse_from(["alleycat"]));
        assert!(!plain.tls.is_on());
        assert_eq!(plain.public_url(3000).as_str(), "http://localhost:3000/");
        let https =
            serve(Cli::parse_from(["alleycat", "--tls-cert", "c.pem", "--tls-key", "k.pem"]));
        assert_eq!(https.tls.cert, Some(PathBuf::from("c.pem")));
        assert_eq!(https.tls.key, Some(PathBuf::from("k.pem")));
        assert_eq!(https.public_url(3000).as_str(), "https://localhost:3000/");
        let proxied = serve(Cli::parse_from([
            "alleycat",
            "--tls-cert",
            "c.pem",
            "--tls-key",
            "k.pem",
            "--public-url",
            "https://racing.example.org",
        ]));
        assert_eq!(proxied.public_url(3000).as_str(), "https://racing.example.org/");
        for (given, missing) in [("--tls-cert", "--tls-key"), ("--tls-key", "--tls-cert")] {
            let error = Cli::try_parse_from(["alleycat", given, "x.pem"])
                .expect_err("one file alone is refused")
                .to_string();
            assert!(error.contains("required arguments were not provided"), "{error}");
            assert!(error.contains(missing), "{error}");
        }
    }

    #[test]
    fn trusted_proxies_are_addresses_or_ranges_and_none_by_default() {
        assert!(serve(Cli::parse_from(["alleycat"])).proxies.trusted.is_empty());
        let config = serve(Cli::parse_from([
            "alleycat",
            "--trusted-proxy",
            "127.0.0.1",
            "--trusted-proxy",
            "10.0.0.0/8,::1",
        ]));
        let trusted: Vec<String> = config.proxies.trusted.iter().map(|n| n.to_string()).collect();
        assert_eq!(trusted, ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]);
        let error = Cli::try_parse_from(["alleycat", "--trusted-proxy", "proxy.local"])
            .expect_err("a name is not an address")
            .to_string();
        assert!(error.contains("`proxy.local` is not an IP address or CIDR range"), "{error}");
    }

    // ---- End of the secure context's tests. ----

    #[test]
    fn the_public_url_defaults_to_localhost_on_the_port_and_must_be_an_origin() {
        let config = serve(Cli::parse_from(["alleycat"]));
        assert_eq!(config.public_url(3000).as_str(), "http://localhost:3000/");
        assert_eq!(config.registration, Registration::Open);
        let config = serve(Cli::parse_from([
            "alleycat",
            "--public-url",
            "https://alleycat.example.org",
            "--registration",
            "invite",
        ]));
        assert_eq!(config.public_url(3000).as_str(), "https://alleycat.example.org/");
        assert_eq!(config.registration, Registration::Invite);
        for bad in ["ftp://x.org", "https://x.org/app", "https://u:p@x.org", "not a url"] {
            assert!(Cli::try_parse_from(["alleycat", "--public-url", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn invite_takes_a_count_and_the_public_url() {
        let cli = Cli::parse_from(["alleycat", "invite", "--count", "3"]);
        let Command::Invite(args) = cli.into_command() else { panic!("expected invite") };
        assert_eq!((args.count, args.public_url().as_str()), (3, "http://localhost:3000/"));
        assert!(Cli::try_parse_from(["alleycat", "invite", "--count", "0"]).is_err());
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
