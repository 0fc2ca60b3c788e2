//! Test support for Alleycat (dev-only, never published): real servers started for a test from
//! the binaries Debian's packages install (`scripts/setup.sh` installs them), each in a temporary
//! directory on a free loopback port, stopped when dropped. Nothing is downloaded. Also the
//! `alleycat` binary itself as tests start it, and a reader of what it delivered ([`alleycat`]).

pub mod alleycat;
pub mod child;
pub mod nats;
pub mod postgres;
