//! Alleycat's ingest pipeline, one stage per module, data flowing one way:
//!
//! racer event → [`stream`] (durable, sharded, replayable) → [`delivery`] (transform, buffer,
//! gzip, store objects) → [`merge`] (personal-best history files and race results).
//!
//! Delivery and merge run on one server at a time, the holder of the [`lease`]. The project's
//! database (results, roster, shared keys) is [`db`]; the object store is opened in [`objects`].
//!
//! No stage reaches back into an earlier one: delivery reads the stream through the
//! [`stream::Stream`] trait as a named consumer, and merge reads only what delivery stored.

pub mod db;
pub mod delivery;
pub mod lease;
pub mod merge;
pub mod objects;
pub mod pipeline;
pub mod stream;
