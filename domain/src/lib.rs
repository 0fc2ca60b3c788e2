//! Alleycat's shared domain: what a racer, a class, a race and an event are.
//!
//! This crate is used by the browser app (wasm32), the server and the ingest pipeline alike, so it
//! has no I/O and no platform-specific dependencies. Everything here is pure and deterministic.

pub mod api;
pub mod class;
pub mod clock;
pub mod event;
pub mod hash;
pub mod history;
pub mod output;
pub mod ride;
pub mod seconds;

pub use class::{Class, ClassId, CLASSES};
pub use clock::{RaceClock, RaceId, DEFAULT_RACE_SECONDS};
pub use event::{EventError, EventKind, RacerEvent, CADENCE_RANGE, RESISTANCE_RANGE};
pub use history::{gzip, ClassBests, History, HistoryError};
pub use output::output;
pub use seconds::SecondSet;
