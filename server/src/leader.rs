//! The leader loop: delivery and merge run on the one server that holds the pipeline [`lease`]
//! (always this one with the embedded SQLite database; one of several sharing a PostgreSQL
//! database otherwise).
//!
//! The leader loop: wait for the lease (asking about every second); start delivery and merge;
//! check the lease every second; when it is lost, abort both at once (nothing buffered is
//! flushed, no checkpoint is written) and wait for the lease again. On shutdown the holder flushes
//! delivery and the merge as before, then gives the lease up.

use std::{sync::Arc, time::Duration};

use alleycat_ingest::{
    delivery::DeliveryConfig,
    lease::{self, Lease},
    merge::MergeConfig,
    pipeline::{Pipeline, PipelineConfig},
};
use tokio::{sync::oneshot, task::JoinHandle};

use crate::{AppState, ServeConfig};

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
        state.metrics().set_pipeline_leader(true);
        let lost = tokio::select! {
            error = lease::until_lost(held.as_mut(), lease::CHECK_INTERVAL) => Some(error),
            _ = &mut stop => None,
        };
        match lost {
            Some(error) => {
                tracing::error!(%error, "Lost the pipeline lease: stopping delivery and merge now.");
                pipeline.abort().await;
                state.metrics().set_pipeline_leader(false);
                state.metrics().lost_pipeline_lease();
                drop(held);
                tracing::info!("Delivery and merge stopped; waiting for the pipeline lease again.");
            }
            None => {
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
