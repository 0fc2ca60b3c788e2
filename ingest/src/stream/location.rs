//! Where the event stream lives (`--stream`), and opening it there: the one place that knows
//! every engine, so callers hold an `Arc<dyn Stream>` and never branch on the engine.
//!
//! - `embedded`: the [`DiskStream`] in a directory of this server's (locked to it).
//! - `nats://host:port[,host:port…]`: a [`JetStreamStream`] on a NATS cluster, shared by every
//!   server that names it.
//!
//! A location that is neither is refused when the setting is parsed ([`LocationError`]), so a
//! typo in `--stream` is a configuration error, not a failure to reach a server.

use std::{path::PathBuf, str::FromStr, sync::Arc};

use super::{
    jetstream::{parse_servers, DEFAULT_STREAM_NAME},
    Clock, DiskStream, JetStreamConfig, JetStreamStream, RealFs, Stream, StreamConfig, StreamError,
};

/// Where the event stream lives, as `--stream` names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamLocation {
    /// `embedded`: the disk engine in the data directory (one server).
    Embedded,
    /// `nats://host:port[,host:port…]`: a JetStream stream on these NATS servers (shared by
    /// several servers).
    Nats {
        /// The servers, `host:port`.
        servers: Vec<String>,
    },
}

/// Why a `--stream` value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocationError {
    /// Neither `embedded` nor a `nats://` list.
    #[error(
        "unknown event stream {given:?}: use `embedded` (the data directory) or \
         `nats://host:port[,host:port...]` (NATS JetStream)"
    )]
    Unknown {
        /// What was given.
        given: String,
    },
    /// A `nats://` list with an address that does not parse.
    #[error("invalid NATS server address in {given:?}: {reason}")]
    InvalidServer {
        /// What was given.
        given: String,
        /// Why it does not parse.
        reason: String,
    },
}

impl FromStr for StreamLocation {
    type Err = LocationError;

    fn from_str(given: &str) -> Result<Self, LocationError> {
        if given == "embedded" {
            return Ok(Self::Embedded);
        }
        let Some(list) = given.strip_prefix("nats://") else {
            return Err(LocationError::Unknown { given: given.to_owned() });
        };
        let servers: Vec<String> = list
            .split(',')
            .map(|s| s.trim().strip_prefix("nats://").unwrap_or(s.trim()).to_owned())
            .collect();
        if servers.iter().any(|s| s.is_empty()) {
            return Err(LocationError::InvalidServer {
                given: given.to_owned(),
                reason: "an empty address in the list".into(),
            });
        }
        parse_servers(&servers).map_err(|e| LocationError::InvalidServer {
            given: given.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self::Nats { servers })
    }
}

/// What every engine is opened with, besides its location.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// Shards, retention and throttling (the disk engine's other settings at their defaults).
    pub stream: StreamConfig,
    /// The embedded engine's directory.
    pub dir: PathBuf,
    /// The JetStream stream's name (default [`DEFAULT_STREAM_NAME`]).
    pub jetstream_stream: String,
    /// Replicas when this server creates the JetStream stream (`None`: the engine's default).
    pub jetstream_replicas: Option<usize>,
}

impl StreamSettings {
    /// The defaults, with the embedded engine in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            stream: StreamConfig::default(),
            dir: dir.into(),
            jetstream_stream: DEFAULT_STREAM_NAME.to_owned(),
            jetstream_replicas: None,
        }
    }

    /// The JetStream engine's configuration on `servers`.
    pub fn jetstream(&self, servers: &[String]) -> JetStreamConfig {
        JetStreamConfig {
            stream_name: self.jetstream_stream.clone(),
            shards: self.stream.shards,
            retention: self.stream.retention,
            throttle: self.stream.throttle,
            replicas: self.jetstream_replicas,
            ..JetStreamConfig::new(servers.to_vec())
        }
    }
}

/// Why the stream could not be opened where its location says.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The embedded stream's directory could not be opened or recovered.
    #[error("cannot open the event stream in {dir}: {source}")]
    Embedded {
        /// The directory.
        dir: PathBuf,
        /// The engine's error.
        source: StreamError,
    },
    /// The JetStream stream could not be reached, created or checked.
    #[error("cannot open the event stream on NATS JetStream: {0}")]
    JetStream(StreamError),
}

/// Opens the stream at `location` with `settings`, reading the time (arrivals, retention, the
/// throttle) from `clock`.
pub async fn open(
    location: &StreamLocation,
    settings: &StreamSettings,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn Stream>, OpenError> {
    match location {
        StreamLocation::Embedded => {
            let (dir, config) = (settings.dir.clone(), settings.stream.clone());
            let opened = tokio::task::spawn_blocking(move || {
                DiskStream::open_with(Arc::new(RealFs), clock, dir, config)
            })
            .await
            .unwrap_or_else(|e| Err(StreamError::Io(std::io::Error::other(e))));
            match opened {
                Ok(stream) => Ok(Arc::new(stream)),
                Err(source) => Err(OpenError::Embedded { dir: settings.dir.clone(), source }),
            }
        }
        StreamLocation::Nats { servers } => {
            let stream = JetStreamStream::open_with_clock(clock, settings.jetstream(servers))
                .await
                .map_err(OpenError::JetStream)?;
            Ok(Arc::new(stream))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stream_location_is_embedded_or_a_nats_list() {
        assert_eq!("embedded".parse::<StreamLocation>().unwrap(), StreamLocation::Embedded);
        assert_eq!(
            "nats://127.0.0.1:4222,127.0.0.1:4223,nats://10.0.0.1:4222"
                .parse::<StreamLocation>()
                .unwrap(),
            StreamLocation::Nats {
                servers: vec![
                    "127.0.0.1:4222".into(),
                    "127.0.0.1:4223".into(),
                    "10.0.0.1:4222".into()
                ]
            }
        );
        assert!("nats://a:1,,b:2".parse::<StreamLocation>().is_err());
        assert!("nats://".parse::<StreamLocation>().is_err());
    }

    #[test]
    fn a_typo_in_the_location_is_a_configuration_error_that_names_both_choices() {
        let error = "embeded".parse::<StreamLocation>().unwrap_err();
        assert_eq!(error, LocationError::Unknown { given: "embeded".into() });
        let message = error.to_string();
        assert!(message.contains("use `embedded`") && message.contains("nats://"), "{message}");
        assert!(!message.contains("JetStream error"), "{message}");
    }
}
