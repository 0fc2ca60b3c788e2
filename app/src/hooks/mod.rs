//! The ride's moving parts as hooks, one file each: each owns its signals, its tasks and their
//! cleanup, and keeps its decisions in `logic/` where they are tested natively. Call them from a
//! component's body (they register cleanups with the component's owner).
//!
//! - [`use_session`]: who this device rides as and their token (the app provides it once,
//!   [`provide_session`]), awaited by whoever needs the token.
//! - [`use_live`]: the racer's live WebSocket: the here-now ranking, and the link the sender
//!   rides over.
//! - [`use_history`]: the class's all-time history, downloaded before the race.
//! - [`use_names`]: racer names, learnt from the live board and looked up once each.
//! - [`use_heartbeat`]: the race clock, ticking, and one beat per second of the race.
//! - [`use_sender`]: keeps the rider's events in the outbox (saved, so a reload loses nothing)
//!   and sends them over the live WebSocket, or HTTP when it cannot be opened.
//! - [`use_ride_keys`]: the keyboard rides the bike.

pub mod use_heartbeat;
pub mod use_history;
pub mod use_live;
pub mod use_names;
pub mod use_ride_keys;
pub mod use_sender;
pub mod use_session;

pub use use_heartbeat::{use_heartbeat, RaceTime};
pub use use_history::{use_history, HistoryState};
pub use use_live::use_live;
pub use use_names::{use_names, Names};
pub use use_ride_keys::use_ride_keys;
pub use use_sender::{drain_saved, event_id, use_sender, Route, Sender};
pub use use_session::{provide_session, use_session, Identity, Session};
