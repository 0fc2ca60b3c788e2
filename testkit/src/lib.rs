//! Alleycat's test support: real servers started for the tests, in temporary directories, and
//! stopped when dropped. Dev-only (`publish = false`); nothing here downloads anything, the
//! servers come from Debian's packages (`scripts/setup.sh` installs them).

pub mod nats;
