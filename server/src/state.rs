//! The state every request handler uses: the server's settings and the parts opened at start
//! (built by [`startup`](crate::startup)).

use std::sync::Arc;

use alleycat_domain::{Clock, RaceClock};
use alleycat_ingest::{db::Database, stream::Stream};
use object_store::ObjectStore;
use tokio::sync::watch;

use crate::{
    admission::Admission, auth::Keys, demo, health, identity, live::LiveBoard, metrics,
    racers::Racers, roster::Roster, ServeConfig,
};

/// What every request handler can reach. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: ServeConfig,
    pub(crate) clock: RaceClock,
    pub(crate) time: Arc<dyn Clock>,
    pub(crate) keys: Keys,
    pub(crate) stream: Arc<dyn Stream>,
    pub(crate) store: Arc<dyn ObjectStore>,
    pub(crate) db: Database,
    pub(crate) racers: Arc<Racers>,
    pub(crate) public_url: url::Url,
    pub(crate) creation_limit: identity::limit::CreationLimit,
    pub(crate) passkeys: identity::passkey::Passkeys,
    pub(crate) board: Arc<LiveBoard>,
    pub(crate) admission: Admission,
    pub(crate) closing: watch::Receiver<bool>,
    pub(crate) metrics: metrics::Metrics,
    pub(crate) pipeline: health::PipelineStatus,
}

impl AppState {
    /// The settings the server runs with.
    pub fn config(&self) -> &ServeConfig {
        &self.inner.config
    }

    /// The race clock.
    pub fn clock(&self) -> RaceClock {
        self.inner.clock
    }

    /// Where the server reads the time: the wall clock, or the clock a test set (see
    /// [`crate::RunOptions::clock`]). Every handler, admission, the boards, the stream and the
    /// pipeline read this one.
    pub fn time(&self) -> &Arc<dyn Clock> {
        &self.inner.time
    }

    /// The time now on [`AppState::time`], epoch milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.inner.time.now_ms()
    }

    /// The token and API keys.
    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// The event stream.
    pub fn stream(&self) -> &Arc<dyn Stream> {
        &self.inner.stream
    }

    /// The object store holding delivered objects and history files.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.inner.store
    }

    /// The results database.
    pub fn db(&self) -> &Database {
        &self.inner.db
    }

    /// The generated roster (simulated racers).
    pub fn roster(&self) -> &Roster {
        self.inner.racers.roster()
    }

    /// Every racer: the roster and people's racers.
    pub fn racers(&self) -> &Racers {
        &self.inner.racers
    }

    /// The address people open the app at (`--public-url`, or `http://localhost:<port>`).
    pub fn public_url(&self) -> &url::Url {
        &self.inner.public_url
    }

    /// Whether the device cookie is `Secure`: the public URL is https.
    pub fn secure_cookies(&self) -> bool {
        self.inner.public_url.scheme() == "https"
    }

    /// The limit on racer creation per client address.
    pub fn creation_limit(&self) -> &identity::limit::CreationLimit {
        &self.inner.creation_limit
    }

    /// Passkey ceremonies for this server's relying party.
    pub fn passkeys(&self) -> &identity::passkey::Passkeys {
        &self.inner.passkeys
    }

    /// The here-now board.
    pub fn board(&self) -> &LiveBoard {
        &self.inner.board
    }

    /// Whether `racer` is one the demo field rides as (see [`demo::riders`]).
    pub fn is_demo_racer(&self, racer: u64) -> bool {
        let demo = self.config().demo_racers;
        demo > 0 && demo::riders(self.roster().len(), demo).contains(&racer)
    }

    /// The admission rules for events.
    pub fn admission(&self) -> &Admission {
        &self.inner.admission
    }

    /// Becomes `true` when the server starts shutting down (WebSockets close on it).
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.inner.closing.clone()
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &metrics::Metrics {
        &self.inner.metrics
    }

    /// Whether delivery and merge run here, wait for the lease, or failed (for `/readyz`).
    pub fn pipeline_status(&self) -> &health::PipelineStatus {
        &self.inner.pipeline
    }
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").field("config", &self.config).finish_non_exhaustive()
    }
}
