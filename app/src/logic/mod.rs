//! The app's pure logic: no DOM, no network, so it is tested natively with
//! `cargo test -p alleycat-app --target x86_64-unknown-linux-gnu` (see the crate docs).

pub mod alltime;
pub mod avatar;
pub mod backoff;
pub mod board;
pub mod chart;
pub mod format;
pub mod ride;
