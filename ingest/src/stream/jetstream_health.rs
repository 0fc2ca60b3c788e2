//! The JetStream engine's health ([`super::Stream::health`]): whether puts can be stored now,
//! from the latest of two observations, whichever came last:
//!
//! - **the outcome of each put** ([`JetStreamHealth::put_stored`], [`JetStreamHealth::put_failed`]):
//!   a record whose publish or PubAck failed makes the engine `Failing` with that error at once;
//!   a record acknowledged makes it `Writing` again;
//! - **a probe** every [`PROBE_INTERVAL`] ([`spawn_probe`]), so that the state is known without
//!   puts, and returns to `Writing` by itself once the fault is gone: the stream's info, which
//!   only the stream's leader answers, within [`PROBE_TIMEOUT`], and in it the leader's view of
//!   its replicas. Not connected to any NATS server: `Unreachable`; connected, and no answer or
//!   an error (an election, the node it is connected to paused), or a leader that a quorum of
//!   the replicas no longer follows (nodes down: a leader cut off from the others keeps
//!   answering for a while, but cannot store): `NoLeader`.
//!
//! A failure's `since_ms` is when the current run of failures began (the engine's clock), kept
//! while the kind of failure changes. The probe ends once the engine is dropped.

use std::{
    sync::{Arc, Mutex, Weak},
    time::Duration,
};

use async_nats::{connection::State, jetstream::stream as js_stream, Client};

use super::{config::Clock, ShardId, StreamHealth};

/// How often the probe asks for the stream's info.
pub const PROBE_INTERVAL: Duration = super::config::PROBE_INTERVAL;
/// How long the probe waits for the stream's leader to answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// What is wrong, while something is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trouble {
    /// A put's publish or PubAck failed, on this shard.
    Put(ShardId),
    /// Connected, but the stream's leader did not answer the probe.
    NoLeader,
    /// Not connected to any NATS server.
    Unreachable,
}

#[derive(Debug, Default)]
struct Observed {
    /// When a put was last acknowledged.
    last_ok_ms: Option<u64>,
    /// The current failure: since when, what, the latest error.
    failing: Option<(u64, Trouble, String)>,
}

/// The engine's latest observations, shared by its puts and its probe.
#[derive(Debug, Default)]
pub(super) struct JetStreamHealth {
    observed: Mutex<Observed>,
}

impl JetStreamHealth {
    fn update(&self, change: impl FnOnce(&mut Observed)) {
        change(&mut self.observed.lock().unwrap_or_else(|p| p.into_inner()));
    }

    fn fail(&self, now_ms: u64, trouble: Trouble, error: String) {
        self.update(|o| {
            let since = o.failing.as_ref().map_or(now_ms, |(since, _, _)| *since);
            o.failing = Some((since, trouble, error));
        });
    }

    /// A put's record was acknowledged by JetStream at `now_ms`.
    pub(super) fn put_stored(&self, now_ms: u64) {
        self.update(|o| {
            o.last_ok_ms = Some(now_ms);
            o.failing = None;
        });
    }

    /// A put's record to `shard` was not acknowledged (its publish or PubAck failed).
    pub(super) fn put_failed(&self, now_ms: u64, shard: ShardId, error: String) {
        self.fail(now_ms, Trouble::Put(shard), error);
    }

    /// What the latest observation says.
    pub(super) fn get(&self) -> StreamHealth {
        let observed = self.observed.lock().unwrap_or_else(|p| p.into_inner());
        match &observed.failing {
            None => StreamHealth::Writing { last_ok_ms: observed.last_ok_ms },
            Some((since_ms, trouble, error)) => {
                let (since_ms, error) = (*since_ms, error.clone());
                match *trouble {
                    Trouble::Put(shard) => StreamHealth::Failing { shard, since_ms, error },
                    Trouble::NoLeader => StreamHealth::NoLeader { since_ms, error },
                    Trouble::Unreachable => StreamHealth::Unreachable { since_ms, error },
                }
            }
        }
    }
}

/// Starts the probe of `stream` (on `client`'s connection) into `health`; it ends once
/// `health` is dropped.
pub(super) fn spawn_probe(
    client: Client,
    stream: js_stream::Stream,
    clock: Arc<dyn Clock>,
    health: Weak<JetStreamHealth>,
) {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(PROBE_INTERVAL).await;
            let outcome = probe(&client, &stream).await;
            let Some(health) = health.upgrade() else { return };
            let now_ms = clock.now_ms();
            match outcome {
                Ok(()) => health.update(|o| o.failing = None),
                Err((trouble, error)) => health.fail(now_ms, trouble, error),
            }
        }
    });
}

/// One probe: the stream's info from its leader, within [`PROBE_TIMEOUT`].
async fn probe(client: &Client, stream: &js_stream::Stream) -> Result<(), (Trouble, String)> {
    if client.connection_state() != State::Connected {
        return Err((Trouble::Unreachable, "not connected to any NATS server".into()));
    }
    let info = match tokio::time::timeout(PROBE_TIMEOUT, stream.get_info()).await {
        Ok(Ok(info)) => info,
        Ok(Err(error)) => {
            return Err((Trouble::NoLeader, format!("stream info failed: {error}")));
        }
        Err(_) => {
            return Err((
                Trouble::NoLeader,
                format!("the stream's leader did not answer within {PROBE_TIMEOUT:?}"),
            ))
        }
    };
    let replicas = info.config.num_replicas.max(1);
    let followers = info
        .cluster
        .map_or(0, |c| c.replicas.iter().filter(|peer| peer.current && !peer.offline).count());
    // The leader counts itself.
    if followers + 1 < quorum(replicas) {
        return Err((
            Trouble::NoLeader,
            format!(
                "no quorum: the stream's leader has {} of {replicas} replicas current, needs {}",
                followers + 1,
                quorum(replicas)
            ),
        ));
    }
    Ok(())
}

/// The replicas that must store a message before JetStream acknowledges it.
fn quorum(replicas: usize) -> usize {
    replicas / 2 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_keeps_its_start_while_its_kind_changes_and_a_success_clears_it() {
        let health = JetStreamHealth::default();
        assert_eq!(health.get(), StreamHealth::Writing { last_ok_ms: None });
        health.put_failed(10, ShardId(1), "timed out".into());
        health.fail(20, Trouble::NoLeader, "no answer".into());
        assert_eq!(
            health.get(),
            StreamHealth::NoLeader { since_ms: 10, error: "no answer".into() }
        );
        health.put_stored(30);
        assert_eq!(health.get(), StreamHealth::Writing { last_ok_ms: Some(30) });
        health.fail(40, Trouble::Unreachable, "down".into());
        assert_eq!(health.get(), StreamHealth::Unreachable { since_ms: 40, error: "down".into() });
    }
}
