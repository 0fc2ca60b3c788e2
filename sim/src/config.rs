//! Every setting of `alleycat-sim`, as a flag and an `ALLEYCAT_*` environment variable, with
//! defaults as the named constants below. `alleycat-sim --help` lists them all.

use std::{fmt, path::PathBuf, str::FromStr, time::Duration};

use alleycat_domain::{ClassId, RaceId, CLASSES};
use clap::Parser;

/// Default server to ride against: `alleycat serve`'s default address.
pub const DEFAULT_SERVER: &str = "http://127.0.0.1:3000";
/// Default number of simulated racers.
pub const DEFAULT_RACERS: u32 = 1000;
/// The most simulated racers: the server's default roster size.
pub const MAX_RACERS: u32 = 40_000;
/// Default id of the first simulated racer (ids run on from it).
pub const DEFAULT_FIRST_RACER: u64 = 1;
/// Default seed of the riders.
pub const DEFAULT_SEED: u64 = 1;
/// Default number of races ridden on the race clock.
pub const DEFAULT_RACES: u32 = 1;
/// Default seconds into the running race that are still worth joining; later, the next race is
/// ridden instead.
pub const DEFAULT_JOIN_WITHIN_SECONDS: u32 = 2;
/// Default (and largest) events per request: the server's, and Kinesis PutRecords', limit.
pub const DEFAULT_BATCH_SIZE: usize = 500;
/// Default requests in flight at once, each on its own keep-alive connection.
pub const DEFAULT_CONNECTIONS: usize = 4;
/// Default time to keep retrying an event before it counts as failed, seconds.
pub const DEFAULT_RETRY_SECONDS: u64 = 30;
/// Default wait before the first retry, milliseconds (doubling up to [`MAX_BACKOFF_MS`]).
pub const DEFAULT_BACKOFF_MS: u64 = 50;
/// The longest wait between two retries, milliseconds.
pub const MAX_BACKOFF_MS: u64 = 2_000;
/// Default limit on one request, seconds.
pub const DEFAULT_REQUEST_TIMEOUT_SECONDS: u64 = 10;
/// Where the server keeps its data by default (`alleycat serve --data-dir`), and so its
/// generated API key.
pub const DEFAULT_DATA_DIR: &str = "./data";
/// The file under the server's data directory holding its generated API key.
pub const API_KEY_FILE: &str = "api-key";

/// Which classes the racers ride.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassChoice {
    /// Every racer rides this class.
    One(ClassId),
    /// Racers are spread over the six classes in turn (racer `i` rides class `i % 6 + 1`).
    All,
}

impl ClassChoice {
    /// The class of the racer at `index` (0-based) of the field.
    pub fn class_of(self, index: u32) -> ClassId {
        match self {
            Self::One(class) => class,
            Self::All => (index % CLASSES.len() as u32) as ClassId + 1,
        }
    }
}

impl FromStr for ClassChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("all") {
            return Ok(Self::All);
        }
        match s.parse::<ClassId>() {
            Ok(id) if (1..=CLASSES.len() as ClassId).contains(&id) => Ok(Self::One(id)),
            _ => Err(format!("'{s}' is not a class: give 1 to 6, or 'all'")),
        }
    }
}

impl fmt::Display for ClassChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::One(class) => write!(f, "{class}"),
            Self::All => f.write_str("all"),
        }
    }
}

/// `alleycat-sim`: simulated racers riding an Alleycat server's races over its HTTP API.
///
/// By default it rides one race on the race clock: the one running now if it started at most
/// `--join-within` seconds ago, else the next. Each racer sends one event a second, the last
/// marked `final`, batched over a few keep-alive connections with the server's API key.
#[derive(Debug, Clone, Parser)]
#[command(name = "alleycat-sim", version, about)]
pub struct SimConfig {
    /// Base URL of the Alleycat server; several, comma-separated (or the flag repeated), spread
    /// the racers over them, and a batch whose server fails is sent to the next one.
    #[arg(long = "server", env = "ALLEYCAT_SIM_SERVER", default_value = DEFAULT_SERVER,
          value_delimiter = ',', num_args = 1..)]
    pub servers: Vec<String>,
    /// Simulated racers, 1 to 40,000. Their ids run from `--first-racer` on.
    #[arg(long, env = "ALLEYCAT_SIM_RACERS", default_value_t = DEFAULT_RACERS,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_RACERS)))]
    pub racers: u32,
    /// Class the racers ride: 1 to 6, or `all` to spread them over the six classes.
    #[arg(long = "class", env = "ALLEYCAT_SIM_CLASS", default_value = "all")]
    pub class: ClassChoice,
    /// Roster id of the first simulated racer.
    #[arg(long, env = "ALLEYCAT_SIM_FIRST_RACER", default_value_t = DEFAULT_FIRST_RACER,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub first_racer: u64,
    /// Seed of the riders: the same seed gives the same rides.
    #[arg(long, env = "ALLEYCAT_SIM_SEED", default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Races to ride, one after the other (0: none, only the backfill).
    #[arg(long, env = "ALLEYCAT_SIM_RACES", default_value_t = DEFAULT_RACES)]
    pub races: u32,
    /// Ride race after race until stopped (Ctrl-C), instead of `--races`.
    #[arg(long, env = "ALLEYCAT_SIM_FOREVER", conflicts_with = "races")]
    pub forever: bool,
    /// The first race to ride, instead of the running or next one.
    #[arg(long, env = "ALLEYCAT_SIM_RACE")]
    pub race: Option<RaceId>,
    /// Seconds into the running race that are still worth joining (its elapsed seconds are sent
    /// at once); later, the next race is ridden.
    #[arg(long, env = "ALLEYCAT_SIM_JOIN_WITHIN", default_value_t = DEFAULT_JOIN_WITHIN_SECONDS)]
    pub join_within: u32,
    /// Send as fast as the server accepts instead of one event a second: rides the `--races`
    /// races that finished last (or those from `--race` on, which must be over).
    #[arg(long, env = "ALLEYCAT_SIM_FAST")]
    pub fast: bool,
    /// Before riding, ride this many past races for every racer at full speed (the races just
    /// before the first one ridden).
    #[arg(long, env = "ALLEYCAT_SIM_BACKFILL", default_value_t = 0)]
    pub backfill: u32,
    /// Percent of events made deliberately invalid (cadence out of range), to exercise the
    /// server's rejections; they are expected to fail and are never retried.
    #[arg(long, env = "ALLEYCAT_SIM_INVALID_PERCENT", default_value_t = 0.0,
          value_parser = parse_percent)]
    pub invalid_percent: f64,
    /// Events per request, 1 to 500.
    #[arg(long, env = "ALLEYCAT_SIM_BATCH_SIZE", default_value_t = DEFAULT_BATCH_SIZE,
          value_parser = parse_batch_size)]
    pub batch_size: usize,
    /// Requests in flight at once (each on its own keep-alive connection).
    #[arg(long, env = "ALLEYCAT_SIM_CONNECTIONS", default_value_t = DEFAULT_CONNECTIONS,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024))]
    pub connections: usize,
    /// The server's API key. When unset, read from `<data-dir>/api-key`.
    #[arg(long, env = "ALLEYCAT_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// The server's data directory, to read its generated API key from.
    #[arg(long, env = "ALLEYCAT_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// How long to keep retrying an event that failed with a retryable error, seconds.
    #[arg(long, env = "ALLEYCAT_SIM_RETRY_SECONDS", default_value_t = DEFAULT_RETRY_SECONDS)]
    pub retry_seconds: u64,
    /// Wait before the first retry, milliseconds; it doubles with each retry up to 2 s.
    #[arg(long, env = "ALLEYCAT_SIM_BACKOFF_MS", default_value_t = DEFAULT_BACKOFF_MS,
          value_parser = clap::value_parser!(u64).range(1..=MAX_BACKOFF_MS))]
    pub backoff_ms: u64,
    /// Limit on one request, seconds; a request over it is retried.
    #[arg(long, env = "ALLEYCAT_SIM_REQUEST_TIMEOUT_SECONDS", default_value_t = DEFAULT_REQUEST_TIMEOUT_SECONDS,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_seconds: u64,
    /// Write the summary as JSON on standard output (the text summary still goes to stderr).
    #[arg(long, env = "ALLEYCAT_SIM_JSON")]
    pub json: bool,
    /// After riding, check that the server stored every acknowledged event: wait up to this
    /// many seconds until each ride's race results have exactly its acknowledged seconds and
    /// total and the class history's best at each of them is at least its output, then report
    /// what is missing or counted twice (`--json`: `check`); any of it makes the exit code 1.
    /// For fault tests (`scripts/faults.sh`); keeps every acknowledged event in memory.
    #[arg(long, env = "ALLEYCAT_SIM_CHECK_SECONDS")]
    pub check_seconds: Option<u64>,
    /// Draw the progress bar (only ever on a terminal); the library's callers turn it off.
    #[arg(skip = true)]
    pub progress: bool,
    /// Keep every acknowledged (race, racer, second) and each ride's total in the report, for
    /// tests that check each one arrived (costs memory on big runs).
    #[arg(skip)]
    pub keep_details: bool,
}

fn parse_percent(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("'{s}' is not a percentage from 0 to 100")),
    }
}

fn parse_batch_size(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=DEFAULT_BATCH_SIZE).contains(&n) => Ok(n),
        _ => Err(format!("'{s}' is not a batch size from 1 to {DEFAULT_BATCH_SIZE}")),
    }
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            servers: vec![DEFAULT_SERVER.into()],
            racers: DEFAULT_RACERS,
            class: ClassChoice::All,
            first_racer: DEFAULT_FIRST_RACER,
            seed: DEFAULT_SEED,
            races: DEFAULT_RACES,
            forever: false,
            race: None,
            join_within: DEFAULT_JOIN_WITHIN_SECONDS,
            fast: false,
            backfill: 0,
            invalid_percent: 0.0,
            batch_size: DEFAULT_BATCH_SIZE,
            connections: DEFAULT_CONNECTIONS,
            api_key: None,
            data_dir: DEFAULT_DATA_DIR.into(),
            retry_seconds: DEFAULT_RETRY_SECONDS,
            backoff_ms: DEFAULT_BACKOFF_MS,
            request_timeout_seconds: DEFAULT_REQUEST_TIMEOUT_SECONDS,
            json: false,
            progress: true,
            keep_details: false,
            check_seconds: None,
        }
    }
}

impl SimConfig {
    /// How long an event may be retried.
    pub fn retry_budget(&self) -> Duration {
        Duration::from_secs(self.retry_seconds)
    }

    /// The API key: `--api-key` when given, else the server's generated key file.
    pub fn resolve_api_key(&self) -> Result<String, crate::SimError> {
        if let Some(key) = self.api_key.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
            return Ok(key.to_owned());
        }
        let path = self.data_dir.join(API_KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(key) if !key.trim().is_empty() => Ok(key.trim().to_owned()),
            Ok(_) => Err(crate::SimError::NoApiKey { path }),
            Err(source) if source.kind() == std::io::ErrorKind::NotFound => {
                Err(crate::SimError::NoApiKey { path })
            }
            Err(source) => Err(crate::SimError::ReadApiKey { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_parse_as_an_id_or_all() {
        assert_eq!("3".parse::<ClassChoice>().unwrap(), ClassChoice::One(3));
        assert_eq!("ALL".parse::<ClassChoice>().unwrap(), ClassChoice::All);
        for bad in ["0", "7", "x", ""] {
            assert!(bad.parse::<ClassChoice>().is_err(), "{bad}");
        }
    }

    #[test]
    fn all_spreads_racers_over_the_six_classes_in_turn() {
        let classes: Vec<ClassId> = (0..12).map(|i| ClassChoice::All.class_of(i)).collect();
        assert_eq!(classes, [1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6]);
        assert_eq!(ClassChoice::One(2).class_of(7), 2);
    }

    #[test]
    fn racers_are_limited_to_the_roster() {
        assert!(SimConfig::try_parse_from(["alleycat-sim", "--racers", "40000"]).is_ok());
        assert!(SimConfig::try_parse_from(["alleycat-sim", "--racers", "40001"]).is_err());
        assert!(SimConfig::try_parse_from(["alleycat-sim", "--racers", "0"]).is_err());
        assert!(SimConfig::try_parse_from(["alleycat-sim", "--batch-size", "501"]).is_err());
        assert!(SimConfig::try_parse_from(["alleycat-sim", "--invalid-percent", "101"]).is_err());
    }

    #[test]
    fn the_api_key_comes_from_the_flag_or_the_data_directory() {
        let dir = std::env::temp_dir().join(format!("alleycat-sim-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = SimConfig { data_dir: dir.clone(), ..SimConfig::default() };
        assert!(matches!(config.resolve_api_key(), Err(crate::SimError::NoApiKey { .. })));
        std::fs::write(dir.join(API_KEY_FILE), "stored-key\n").unwrap();
        assert_eq!(config.resolve_api_key().unwrap(), "stored-key");
        let given = SimConfig { api_key: Some("given".into()), ..config };
        assert_eq!(given.resolve_api_key().unwrap(), "given");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        SimConfig::command().debug_assert();
    }
}
