//! The app's pure logic: no DOM, no network, so it is tested natively with
//! `cargo test -p alleycat-app` (see the crate docs).

pub mod alltime;
pub mod avatar;
pub mod backoff;
pub mod board;
pub mod chart;
pub mod format;
pub mod heartbeat;
pub mod here_now;
pub mod keys;
pub mod outbox;
pub mod passkey;
pub mod ride;
pub mod route;
pub mod session;
