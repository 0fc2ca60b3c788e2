//! The demo field (`--demo-racers N`): simulated racers riding every class against this server,
//! so the first page a newcomer opens is alive.
//!
//! They are the load generator's racers ([`alleycat_sim`]), posting over this server's own HTTP
//! API with its API key, exactly as an outside producer would: nothing here reaches into the
//! pipeline. They are the `N` racers with the highest roster ids (a person picking a racer
//! from the top of the list rarely meets them), spread over the six classes, and join the race
//! running now. On a first start, when no class has a history yet, they first backfill
//! [`DEMO_BACKFILL_RACES`] past races, so personal bests and leaderboards have something in them.

use std::net::SocketAddr;

use alleycat_domain::CLASSES;
use alleycat_sim::{ClassChoice, SimConfig};
use object_store::ObjectStoreExt;
use tokio::{sync::watch, task::JoinHandle};

use crate::AppState;

/// Past races the demo field rides when the history is empty.
pub const DEMO_BACKFILL_RACES: u32 = 3;
/// Seed of the demo riders.
pub const DEMO_SEED: u64 = 2026;

/// Where a client on this machine reaches a server listening on `address`.
fn loopback(address: SocketAddr) -> SocketAddr {
    let mut address = address;
    if address.ip().is_unspecified() {
        address.set_ip(match address {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    address
}

/// The racer ids the demo field rides as: the top `demo_racers` of a roster of `roster`, kept
/// out of the racer search and refused a session, so that no person rides as one of them (their
/// events would collide with the demo's).
pub fn riders(roster: usize, demo_racers: u32) -> std::ops::RangeInclusive<u64> {
    let roster = roster as u64;
    roster - u64::from(demo_racers).min(roster) + 1..=roster
}

/// Starts the demo field against the server listening on `address`, when asked for; it stops
/// once `closing` turns true.
pub fn start(
    state: &AppState,
    address: SocketAddr,
    closing: watch::Receiver<bool>,
) -> Option<JoinHandle<()>> {
    let roster = state.roster().len() as u32;
    let racers = state.config().demo_racers.min(roster);
    if racers == 0 {
        return None;
    }
    let state = state.clone();
    Some(tokio::spawn(async move {
        // Whether any class has a history file: a `head` each, without reading the files.
        let mut history_empty = true;
        for class in CLASSES {
            let path = alleycat_ingest::objects::history_path(class.id);
            if state.store().head(&path).await.is_ok() {
                history_empty = false;
                break;
            }
        }
        let config = SimConfig {
            servers: vec![format!("http://{}", loopback(address))],
            racers,
            class: ClassChoice::All,
            first_racer: *riders(roster as usize, racers).start(),
            seed: DEMO_SEED,
            forever: true,
            join_within: state.config().race_seconds,
            backfill: if history_empty { DEMO_BACKFILL_RACES } else { 0 },
            api_key: Some(state.keys().api_key().to_owned()),
            connections: 2,
            progress: false,
            ..SimConfig::default()
        };
        tracing::info!(racers, backfill = config.backfill, "Starting the demo field.");
        let mut closing = closing;
        let stop = async move {
            let _ = closing.wait_for(|&c| c).await;
        };
        match alleycat_sim::run(config, stop).await {
            Ok(report) => tracing::info!(
                acknowledged = report.summary.acknowledged,
                failed = report.summary.failed,
                "The demo field stopped."
            ),
            Err(error) => tracing::error!(%error, "The demo field could not ride."),
        }
    }))
}
