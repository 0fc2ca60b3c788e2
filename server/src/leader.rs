//! The leader loop: delivery and merge run on the one server that holds the pipeline [`lease`]
//! (always this one with the embedded SQLite database; one of several sharing a PostgreSQL
//! database otherwise).
//!
//! The leader loop: wait for the lease (asking about every second); start delivery and merge;
//! check the lease every second; when it is lost, abort both at once (nothing buffered is
//! flushed, no checkpoint is written) and wait for the lease again. On shutdown the holder flushes
//! delivery and the merge as before, then gives the lease up.
//!
//! Neither stage ends on an error it can retry (issue #19), but delivery gives up after
//! `max_retry`, and a panic ends a task. The loop checks both every second: when one has ended
//! by itself, it logs why, reports the pipeline `failed` (`/readyz` answers 503), gives the
//! lease up so that another server may take over, and starts again after [`RESTART_DELAY`].

use std::{sync::Arc, time::Duration};

use alleycat_ingest::{
    delivery::DeliveryConfig,
    lease::{self, Lease},
    merge::MergeConfig,
    pipeline::{Pipeline, PipelineConfig},
};
use tokio::{sync::oneshot, task::JoinHandle};

use crate::{health::PipelineState, AppState, ServeConfig};

/// How long the loop waits before starting a pipeline whose stage ended by itself again.
pub const RESTART_DELAY: Duration = Duration::from_secs(5);

/// How often the loop checks that delivery and merge still run.
const STAGE_CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Why the leader loop stopped running the pipeline.
enum Ended {
    /// The lease was lost.
    Lost(lease::LeaseError),
    /// Delivery or the merge ended by itself.
    Failed,
    /// The server is stopping.
    Stop,
}

/// Resolves once delivery or the merge has ended by itself.
async fn until_a_stage_ends(pipeline: &Pipeline) {
    while !pipeline.has_stopped() {
        tokio::time::sleep(STAGE_CHECK_INTERVAL).await;
    }
}

/// The leader loop, running.
pub struct Leader {
    task: JoinHandle<()>,
    stop: oneshot::Sender<()>,
}

/// Starts the leader loop: delivery and merge run while this server holds the database's
/// pipeline lease.
pub fn start(state: &AppState) -> Leader {
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(lead(state.clone(), state.db().lease(), stopped));
    Leader { task, stop }
}

fn pipeline_config(config: &ServeConfig) -> PipelineConfig {
    PipelineConfig {
        delivery: DeliveryConfig {
            buffer_bytes: config.delivery_buffer_bytes,
            interval: Duration::from_millis(config.delivery_interval_ms),
            race_seconds: config.race_seconds,
            ..DeliveryConfig::default()
        },
        merge: MergeConfig { race_seconds: config.race_seconds, ..MergeConfig::default() },
    }
}

/// Waits for the lease, runs the pipeline while it is held, and again, until `stop`.
async fn lead(state: AppState, lease: Arc<dyn Lease>, mut stop: oneshot::Receiver<()>) {
    loop {
        let mut held = tokio::select! {
            held = lease::acquire(lease.as_ref(), lease::RETRY_INTERVAL) => held,
            _ = &mut stop => return,
        };
        tracing::info!(lease = ?lease, "This server holds the pipeline lease: starting delivery and merge.");
        let pipeline = Pipeline::start(
            state.stream().clone(),
            state.store().clone(),
            state.db().clone(),
            pipeline_config(state.config()),
            state.time().clone(),
        );
        state.metrics().watch_delivery(pipeline.delivery_progress());
        state.metrics().watch_merge(pipeline.merge_progress());
        state.pipeline_status().watch_merge(pipeline.merge_health());
        state.metrics().set_pipeline_leader(true);
        state.pipeline_status().set(PipelineState::Running);
        let ended = tokio::select! {
            error = lease::until_lost(held.as_mut(), lease::CHECK_INTERVAL) => Ended::Lost(error),
            () = until_a_stage_ends(&pipeline) => Ended::Failed,
            _ = &mut stop => Ended::Stop,
        };
        match ended {
            Ended::Lost(error) => {
                tracing::error!(%error, "Lost the pipeline lease: stopping delivery and merge now.");
                pipeline.abort().await;
                state.metrics().set_pipeline_leader(false);
                state.metrics().lost_pipeline_lease();
                state.pipeline_status().set(PipelineState::Standby);
                drop(held);
                tracing::info!("Delivery and merge stopped; waiting for the pipeline lease again.");
            }
            Ended::Failed => {
                let error = match pipeline.shutdown().await {
                    Err(error) => error.to_string(),
                    Ok(()) => "a stage ended without an error".to_owned(),
                };
                tracing::error!(%error, restart_in_s = RESTART_DELAY.as_secs(),
                    "Delivery or merge stopped by itself: giving the lease up and restarting them.");
                state.metrics().set_pipeline_leader(false);
                state
                    .pipeline_status()
                    .set(PipelineState::Failed { error, since_ms: state.now_ms() });
                held.release().await;
                tokio::select! {
                    () = tokio::time::sleep(RESTART_DELAY) => {}
                    _ = &mut stop => return,
                }
            }
            Ended::Stop => {
                if let Err(error) = pipeline.shutdown().await {
                    tracing::error!(%error, "The pipeline stopped with an error.");
                }
                state.metrics().set_pipeline_leader(false);
                held.release().await;
                tracing::info!("Gave up the pipeline lease.");
                return;
            }
        }
    }
}

impl Leader {
    /// Flushes delivery, waits for the merge to fold what it delivered (when this server holds
    /// the lease), and gives the lease up.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        if let Err(error) = self.task.await {
            tracing::error!(%error, "The pipeline's leader task ended abnormally.");
        }
    }
}
