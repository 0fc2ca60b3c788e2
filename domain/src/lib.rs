//! Alleycat's shared domain: what a racer, a class, a race and an event are.
//!
//! This crate is used by the browser app (wasm32), the server and the ingest pipeline alike, so it
//! has no I/O and no platform-specific dependencies. Everything here is pure and deterministic.

pub mod api;
pub mod ble;
pub mod class;
pub mod clock;
pub mod event;
pub mod fit;
pub mod hash;
pub mod history;
pub mod output;
pub mod racer;
pub mod ride;
pub mod seconds;

pub use class::{Class, ClassId, CLASSES};
#[cfg(not(target_arch = "wasm32"))]
pub use clock::SystemClock;
pub use clock::{Clock, ManualClock, RaceClock, RaceId, DEFAULT_RACE_SECONDS};
pub use event::{
    EventError, EventKind, RacerEvent, Source, CADENCE_RANGE, HEART_RATE_RANGE, POWER_RANGE,
    RESISTANCE_RANGE,
};
pub use history::{gzip, ClassBests, History, HistoryError};
pub use output::output;
pub use seconds::SecondSet;
