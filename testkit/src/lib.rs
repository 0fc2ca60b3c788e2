//! Test support for Alleycat (dev-only, never published): real servers started for a test from
//! the binaries Debian's packages install (`scripts/setup.sh` installs them), each in a temporary
//! directory on a free loopback port, stopped when dropped. Nothing is downloaded. Also the
//! `alleycat` binary itself as tests start it, and a reader of what it delivered ([`alleycat`]);
//! waits that always have a deadline ([`wait`]) and an HTTP client that does too ([`http`]).

pub mod alleycat;
pub mod child;
pub mod http;
pub mod nats;
pub mod postgres;
pub mod wait;

pub use wait::{eventually, output_within, within};
