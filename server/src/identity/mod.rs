//! Who a racer is and how a person proves it: people's racers, device cookies, passkeys,
//! invitations and the limit on racer creation. ARCHITECTURE.md (Identity) lists every route
//! that issues or accepts a racer identity and how each checks it.
//!
//! A session (a signed racer token, [`crate::auth`]) is issued only against proof: the device
//! cookie set when the racer was created or signed in with a passkey ([`device`]), or a passkey
//! assertion ([`passkey`]). The generated roster (ids below
//! [`FIRST_PERSON_ID`](alleycat_domain::racer::FIRST_PERSON_ID)) is simulated: nobody gets a
//! session for it; producers ride it with the API key.
//!
//! Secrets (device cookies, invitation codes) are 32 random bytes, base64url; the database keeps
//! only their SHA-256 ([`sha256_hex`]), so a copy of it lets nobody in.

pub mod device;
pub mod invite;
pub mod limit;
pub mod passkey;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use sha2::{Digest, Sha256};

/// A new secret: 32 bytes from the OS's random source, base64url (43 characters).
pub fn random_secret() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A new public id (of a device, a ceremony): 16 random bytes in hex.
pub fn random_id() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    Ok(hex::encode(bytes))
}

/// The SHA-256 of `secret`, hex: how the database knows a secret without holding it.
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A random avatar seed for a new racer.
pub fn random_avatar_seed() -> std::io::Result<u64> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    Ok(u64::from_le_bytes(bytes))
}
