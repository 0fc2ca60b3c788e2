//! Readiness: whether this server can do its job now, component by component (`GET /readyz`,
//! and the `alleycat_ready` and `alleycat_component_ready` gauges of `/metrics`).
//!
//! | component | ready when | reported |
//! |---|---|---|
//! | `stream` | its last write (or its probe) succeeded | `writing` + when it last stored, or `failing` + the error and since when, or `stopped`; on JetStream also `noLeader` or `unreachable` + the error and since when |
//! | `database` | a trivial query answers within [`CHECK_TIMEOUT`] | `ok` or `unreachable` + the error |
//! | `objectStore` | a `HEAD` answers (found or not) within [`CHECK_TIMEOUT`] | `ok` or `unreachable` + the error |
//! | `pipeline` | delivery and merge run (on the lease holder), or wait for the lease | `running`, `standby`, or `failed` + the error and since when |
//! | `delivery` | always (a lag is reported, not refused) | `ok` or `lagging` + how far behind the stream it is, or `unknown` (the stream did not answer within [`crate::metrics::LAG_TIMEOUT`]) |
//! | `merge` | its writes succeed (history files, results database), or it does not run here | `ok` or `lagging` + the delivered objects not merged yet, or `failing` + the error and since when (retried) |
//!
//! The server is ready when every component is. Delivery and merge lag never make it unready:
//! events are durable in the stream meanwhile, and refusing them would not help delivery catch
//! up. What an orchestrator should do with each state is in README.md ("Health").

use std::{
    collections::BTreeMap,
    future::Future,
    sync::{Arc, Mutex},
    time::Duration,
};

use alleycat_ingest::{merge::MergeHealth, stream::StreamHealth};
use object_store::{path::Path, ObjectStoreExt};
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::AppState;

/// How long a reachability check of the database or the object store may take.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// Delivery behind the stream by more than this is reported as `lagging`.
pub const DELIVERY_LAG_WARNING: Duration = Duration::from_secs(5 * 60);
/// More delivered objects than this waiting for the merge is reported as `lagging`.
pub const MERGE_BACKLOG_WARNING: u64 = 100;

/// One component's state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Component {
    /// Whether it lets the server do its job.
    pub ready: bool,
    /// Its state (`writing`, `failing`, `ok`, `unreachable`, …) and details, as JSON.
    #[serde(flatten)]
    pub detail: serde_json::Map<String, Value>,
}

impl Component {
    fn new(ready: bool, detail: Value) -> Self {
        let detail = match detail {
            Value::Object(map) => map,
            state => serde_json::Map::from_iter([("state".to_owned(), state)]),
        };
        Self { ready, detail }
    }

    /// Its state name.
    pub fn state(&self) -> &str {
        self.detail.get("state").and_then(Value::as_str).unwrap_or("unknown")
    }
}

/// Every component's state, and whether the server is ready.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Readiness {
    /// Whether every component is ready.
    pub ready: bool,
    /// By component name.
    pub components: BTreeMap<&'static str, Component>,
}

impl Readiness {
    /// The readiness of `components`.
    pub fn of(components: BTreeMap<&'static str, Component>) -> Self {
        Self { ready: components.values().all(|c| c.ready), components }
    }
}

/// The stream's component: ready while it can store.
pub fn stream(health: &StreamHealth) -> Component {
    let detail = match health {
        StreamHealth::Writing { last_ok_ms } => json!({"state": "writing", "lastOkMs": last_ok_ms}),
        StreamHealth::Failing { shard, since_ms, error } => json!({
            "state": "failing", "shard": shard.to_string(), "sinceMs": since_ms, "error": error,
        }),
        StreamHealth::Stopped => json!({"state": "stopped"}),
        StreamHealth::NoLeader { since_ms, error } => {
            json!({"state": "noLeader", "sinceMs": since_ms, "error": error})
        }
        StreamHealth::Unreachable { since_ms, error } => {
            json!({"state": "unreachable", "sinceMs": since_ms, "error": error})
        }
        StreamHealth::Untracked => json!({"state": "untracked"}),
    };
    Component::new(health.can_store(), detail)
}

/// A dependency reached by `check` (the database, the object store): ready when it answers
/// within [`CHECK_TIMEOUT`].
pub async fn reachable<E: std::fmt::Display>(
    check: impl Future<Output = Result<(), E>>,
) -> Component {
    match tokio::time::timeout(CHECK_TIMEOUT, check).await {
        Ok(Ok(())) => Component::new(true, json!({"state": "ok"})),
        Ok(Err(error)) => {
            Component::new(false, json!({"state": "unreachable", "error": error.to_string()}))
        }
        Err(_) => Component::new(
            false,
            json!({"state": "unreachable", "error": format!("no answer within {CHECK_TIMEOUT:?}")}),
        ),
    }
}

/// Whether delivery and merge run here, wait for the lease, or failed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PipelineState {
    /// Waiting for the pipeline lease (another server holds it).
    #[default]
    Standby,
    /// This server holds the lease and runs delivery and merge.
    Running,
    /// A stage ended with an error or a panic; the server restarts the pipeline.
    Failed {
        /// Why.
        error: String,
        /// Since when (epoch ms).
        since_ms: u64,
    },
}

/// The pipeline's state, shared by the leader loop (which sets it) and readiness checks, with
/// the running merge's health.
#[derive(Debug, Clone, Default)]
pub struct PipelineStatus {
    state: Arc<Mutex<PipelineState>>,
    merge: Arc<Mutex<Option<watch::Receiver<MergeHealth>>>>,
}

impl PipelineStatus {
    /// Records the pipeline's state.
    pub fn set(&self, state: PipelineState) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = state;
    }

    /// The pipeline's state.
    pub fn get(&self) -> PipelineState {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Follows the health of the merge the leader loop just started.
    pub fn watch_merge(&self, health: watch::Receiver<MergeHealth>) {
        *self.merge.lock().unwrap_or_else(|p| p.into_inner()) = Some(health);
    }

    /// The merge's health while the pipeline runs here (`None` otherwise).
    pub fn merge(&self) -> Option<MergeHealth> {
        if self.get() != PipelineState::Running {
            return None;
        }
        self.merge.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|h| h.borrow().clone())
    }
}

/// Checks every component of the server now. Cheap: the stream's state is in memory; the
/// database answers `SELECT 1` and the object store a `HEAD`, each within [`CHECK_TIMEOUT`]
/// and both at once.
pub async fn check(state: &AppState) -> Readiness {
    let db = state.db().clone();
    let store = state.store().clone();
    let (database, object_store, lag) = tokio::join!(
        reachable(async move { db.ping().await }),
        reachable(async move {
            // Found or not, an answer means the store is reachable.
            match store.head(&Path::from("readyz-probe")).await {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(error) => Err(error),
            }
        }),
        crate::metrics::delivery_lag(state.stream().as_ref()),
    );
    let metrics = state.metrics();
    Readiness::of(BTreeMap::from([
        ("stream", stream(&state.stream().health())),
        ("database", database),
        ("objectStore", object_store),
        ("pipeline", pipeline(&state.pipeline_status().get(), metrics.pipeline_lease_losses())),
        ("delivery", delivery(lag)),
        ("merge", merge(metrics.merge_waiting(), state.pipeline_status().merge())),
    ]))
}

/// How often [`watch_stream`] looks at the stream.
pub const STREAM_WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// Watches the stream while the server runs. The stream answers its own I/O errors and probes
/// until it can store again, so only a writer that has stopped for good (its committer ended)
/// is fatal: then this logs it and starts the server's shutdown through `stop`, and returns
/// `true`, so that `run` fails and the process exits non-zero for its supervisor to restart it,
/// rather than keep serving while it cannot store. Returns `false` when the server closes first.
pub async fn watch_stream(state: AppState, stop: Arc<tokio::sync::watch::Sender<bool>>) -> bool {
    let mut closing = state.closing();
    loop {
        tokio::select! {
            () = tokio::time::sleep(STREAM_WATCH_INTERVAL) => {}
            _ = closing.wait_for(|closing| *closing) => return false,
        }
        if state.stream().health() == StreamHealth::Stopped {
            tracing::error!(
                "The stream's writer has stopped: nothing can be stored. Shutting down."
            );
            let _ = stop.send(true);
            return true;
        }
    }
}

/// The pipeline's component: ready unless a stage failed.
pub fn pipeline(state: &PipelineState, lease_losses: u64) -> Component {
    match state {
        PipelineState::Standby => {
            Component::new(true, json!({"state": "standby", "leaseLosses": lease_losses}))
        }
        PipelineState::Running => {
            Component::new(true, json!({"state": "running", "leaseLosses": lease_losses}))
        }
        PipelineState::Failed { error, since_ms } => Component::new(
            false,
            json!({"state": "failed", "error": error, "sinceMs": since_ms, "leaseLosses": lease_losses}),
        ),
    }
}

/// Delivery's component: how far behind the stream's tip it is (`None`: not known here).
pub fn delivery(lag: Option<(u64, u64)>) -> Component {
    match lag {
        Some((ms, records)) => {
            let state = if ms > DELIVERY_LAG_WARNING.as_millis() as u64 { "lagging" } else { "ok" };
            Component::new(true, json!({"state": state, "lagMs": ms, "lagRecords": records}))
        }
        None => Component::new(true, json!({"state": "unknown"})),
    }
}

/// The merge's component: delivered objects not merged yet, and whether its writes fail
/// (`health`, while the pipeline runs here).
pub fn merge(waiting: u64, health: Option<MergeHealth>) -> Component {
    if let Some(MergeHealth::Failing { error, since_ms }) = health {
        return Component::new(
            false,
            json!({"state": "failing", "error": error, "sinceMs": since_ms, "objectsWaiting": waiting}),
        );
    }
    let state = if waiting > MERGE_BACKLOG_WARNING { "lagging" } else { "ok" };
    Component::new(true, json!({"state": state, "objectsWaiting": waiting}))
}

#[cfg(test)]
mod tests {
    use alleycat_ingest::stream::ShardId;

    use super::*;

    #[test]
    fn a_failing_stream_makes_the_server_unready_and_says_why_and_since_when() {
        let failing = StreamHealth::Failing {
            shard: ShardId(2),
            since_ms: 1_000,
            error: "No space left on device (os error 28)".into(),
        };
        let readiness = Readiness::of(BTreeMap::from([
            ("stream", stream(&failing)),
            ("merge", merge(3, None)),
            ("delivery", delivery(Some((10, 2)))),
        ]));
        assert!(!readiness.ready);
        let json = serde_json::to_value(&readiness).unwrap();
        assert_eq!(json["components"]["stream"]["state"], "failing");
        assert_eq!(json["components"]["stream"]["sinceMs"], 1_000);
        assert_eq!(json["components"]["stream"]["shard"], "shardId-000000000002");
        assert_eq!(json["components"]["merge"]["ready"], true);
    }

    #[test]
    fn a_failing_merge_makes_the_server_unready_and_says_why_and_since_when() {
        let failing =
            MergeHealth::Failing { error: "database or disk is full".into(), since_ms: 7 };
        let component = merge(4, Some(failing));
        assert!(!component.ready);
        assert_eq!(component.state(), "failing");
        let json = serde_json::to_value(&component).unwrap();
        assert_eq!(json["error"], "database or disk is full");
        assert_eq!(json["sinceMs"], 7);
        assert_eq!(json["objectsWaiting"], 4);
    }

    #[test]
    fn lag_is_reported_but_never_makes_the_server_unready() {
        let readiness = Readiness::of(BTreeMap::from([
            ("stream", stream(&StreamHealth::Writing { last_ok_ms: Some(5) })),
            ("delivery", delivery(Some((3_600_000, 1_000_000)))),
            ("merge", merge(10_000, Some(MergeHealth::Ok))),
        ]));
        assert!(readiness.ready);
        assert_eq!(readiness.components["delivery"].state(), "lagging");
        assert_eq!(readiness.components["merge"].state(), "lagging");
    }
}
