//! Who is calling: racers with signed tokens, producers with the API key.
//!
//! A racer token is `<racerId>.<expiresAtMs>.<signature>`, the signature being
//! HMAC-SHA256 over `<racerId>.<expiresAtMs>` with the server secret, base64url without padding.
//! The secret is 32 random bytes in `<data-dir>/secret`, made on first start; tokens stay valid
//! across restarts and are refused once expired or when any byte is changed.
//!
//! The API key lets a producer (the load generator, a backfill) post events for any racer. It is
//! `--api-key` when given, else the contents of `<data-dir>/api-key`, generated on first start.
//!
//! With a shared (PostgreSQL) database, several servers must agree on both, so that a token
//! signed by one verifies on another and producers can post to any: then both live in the
//! database's `shared_keys` table instead ([`Keys::load_shared`]), created by the first server to
//! start (`INSERT ... ON CONFLICT DO NOTHING`, then read back, so servers starting together end up
//! with the same keys). A configured `--api-key` still wins over the stored one.

use std::{fs, io, path::Path};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use alleycat_ingest::db::{Database, DbError};

const SECRET_FILE: &str = "secret";
/// The name of the token secret in the shared database.
pub const SHARED_SECRET: &str = "token-secret";
/// The name of the generated API key in the shared database.
pub const SHARED_API_KEY: &str = "api-key";
/// The file under the data directory holding the generated API key.
pub const API_KEY_FILE: &str = "api-key";

/// Who sent a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A producer holding the API key: trusted to send for any racer and past races.
    Producer,
    /// A racer holding a valid token for this racer id.
    Racer(u64),
}

/// The server's keys: the token secret and the API key.
#[derive(Clone)]
pub struct Keys {
    secret: [u8; 32],
    api_key: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys { .. }")
    }
}

/// Whether the API key was read, generated or given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKeySource {
    /// Given with `--api-key` / `ALLEYCAT_API_KEY`.
    Configured,
    /// Read from `<data-dir>/api-key` (or the shared database).
    Stored,
    /// Generated just now into `<data-dir>/api-key` (or the shared database).
    Generated,
}

impl Keys {
    /// Loads the keys from `data_dir`, creating the secret (and the API key, unless `api_key`
    /// is given) on first start.
    pub fn load(data_dir: &Path, api_key: Option<String>) -> io::Result<(Self, ApiKeySource)> {
        let secret_hex = read_or_create(&data_dir.join(SECRET_FILE))?;
        let secret = decode_secret(&secret_hex).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is not 64 hex digits", data_dir.join(SECRET_FILE).display()),
            )
        })?;
        let (api_key, source) = match api_key.filter(|k| !k.trim().is_empty()) {
            Some(key) => (key, ApiKeySource::Configured),
            None => {
                let path = data_dir.join(API_KEY_FILE);
                let existed = path.exists();
                let key = read_or_create(&path)?;
                (key, if existed { ApiKeySource::Stored } else { ApiKeySource::Generated })
            }
        };
        Ok((Self { secret, api_key }, source))
    }

    /// Loads the keys from the shared database `db`, the first server creating the secret (and
    /// the API key, unless `api_key` is given).
    pub async fn load_shared(
        db: &Database,
        api_key: Option<String>,
    ) -> Result<(Self, ApiKeySource), KeysError> {
        let (secret_hex, _) = db.shared_value(SHARED_SECRET, &random_hex()?).await?;
        let secret = decode_secret(&secret_hex).ok_or(KeysError::BadSharedSecret)?;
        let (api_key, source) = match api_key.filter(|k| !k.trim().is_empty()) {
            Some(key) => (key, ApiKeySource::Configured),
            None => {
                let (key, created) = db.shared_value(SHARED_API_KEY, &random_hex()?).await?;
                (key, if created { ApiKeySource::Generated } else { ApiKeySource::Stored })
            }
        };
        Ok((Self { secret, api_key }, source))
    }

    /// Keys from known values (tests).
    pub fn new(secret: [u8; 32], api_key: impl Into<String>) -> Self {
        Self { secret, api_key: api_key.into() }
    }

    /// The API key.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// A token for `racer_id`, valid until `expires_at_ms`.
    pub fn issue(&self, racer_id: u64, expires_at_ms: u64) -> String {
        let claims = format!("{racer_id}.{expires_at_ms}");
        let signature = URL_SAFE_NO_PAD.encode(self.mac(&claims).finalize().into_bytes());
        format!("{claims}.{signature}")
    }

    /// Who `credential` (a bearer token or the API key) belongs to, at `now_ms`; `None` when it
    /// is neither a valid, unexpired racer token nor the API key.
    pub fn identify(&self, credential: &str, now_ms: u64) -> Option<Caller> {
        if constant_time_eq(credential.as_bytes(), self.api_key.as_bytes()) {
            return Some(Caller::Producer);
        }
        let (claims, signature) = credential.rsplit_once('.')?;
        let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
        self.mac(claims).verify_slice(&signature).ok()?;
        let (racer, expires) = claims.split_once('.')?;
        let expires: u64 = expires.parse().ok()?;
        (now_ms < expires).then_some(())?;
        racer.parse().ok().filter(|&id| id > 0).map(Caller::Racer)
    }

    fn mac(&self, claims: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key");
        mac.update(claims.as_bytes());
        mac
    }
}

/// Why the shared keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The database failed.
    #[error("cannot read or store the shared keys: {0}")]
    Database(#[from] DbError),
    /// The stored token secret is not 64 hex digits.
    #[error("the shared token secret in the database is not 64 hex digits")]
    BadSharedSecret,
    /// The OS gave no random bytes.
    #[error("no random bytes from the OS: {0}")]
    Random(#[from] io::Error),
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn decode_secret(hex: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex.trim(), &mut out).ok()?;
    Some(out)
}

/// 32 random bytes in hex.
fn random_hex() -> io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(io::Error::other)?;
    Ok(hex::encode(bytes))
}

/// Reads a key file, or creates it with 32 random bytes in hex (readable by the owner only).
fn read_or_create(path: &Path) -> io::Result<String> {
    match fs::read_to_string(path) {
        Ok(text) => return Ok(text.trim().to_owned()),
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        Err(_) => {}
    }
    let hex = random_hex()?;
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&tmp)?;
        file.write_all(hex.as_bytes())?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    Ok(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        Keys::new([7; 32], "producer-key")
    }

    #[test]
    fn a_token_identifies_its_racer_until_it_expires() {
        let token = keys().issue(42, 10_000);
        assert_eq!(keys().identify(&token, 9_999), Some(Caller::Racer(42)));
        assert_eq!(keys().identify(&token, 10_000), None);
    }

    #[test]
    fn forged_or_altered_tokens_are_refused() {
        let token = keys().issue(42, 10_000);
        let other_racer = token.replacen("42.", "43.", 1);
        assert_eq!(keys().identify(&other_racer, 0), None);
        let longer = token.replacen(".10000.", ".99999999.", 1);
        assert_eq!(keys().identify(&longer, 0), None);
        let other_secret = Keys::new([8; 32], "producer-key").issue(42, 10_000);
        assert_eq!(keys().identify(&other_secret, 0), None);
        for junk in ["", ".", "42", "42.1.", "a.b.c", "producer-ke"] {
            assert_eq!(keys().identify(junk, 0), None, "{junk:?}");
        }
    }

    #[test]
    fn the_api_key_identifies_a_producer() {
        assert_eq!(keys().identify("producer-key", 0), Some(Caller::Producer));
    }

    #[test]
    fn keys_are_created_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let (first, source) = Keys::load(dir.path(), None).unwrap();
        assert_eq!(source, ApiKeySource::Generated);
        let (second, source) = Keys::load(dir.path(), None).unwrap();
        assert_eq!(source, ApiKeySource::Stored);
        assert_eq!(first.api_key(), second.api_key());
        let token = first.issue(5, u64::MAX);
        assert_eq!(second.identify(&token, 0), Some(Caller::Racer(5)));
        let (configured, source) = Keys::load(dir.path(), Some("given".into())).unwrap();
        assert_eq!((configured.api_key(), source), ("given", ApiKeySource::Configured));
    }

    async fn shared_keys_are_created_once_and_agree(db: &Database) {
        let (first, source) = Keys::load_shared(db, None).await.unwrap();
        assert_eq!(source, ApiKeySource::Generated);
        let (second, source) = Keys::load_shared(db, None).await.unwrap();
        assert_eq!(source, ApiKeySource::Stored);
        assert_eq!(first.api_key(), second.api_key());
        let token = first.issue(5, u64::MAX);
        assert_eq!(second.identify(&token, 0), Some(Caller::Racer(5)));
        let (configured, source) = Keys::load_shared(db, Some("given".into())).await.unwrap();
        assert_eq!((configured.api_key(), source), ("given", ApiKeySource::Configured));
        assert_eq!(configured.identify(&token, 0), Some(Caller::Racer(5)), "same secret");
    }

    #[tokio::test]
    async fn shared_keys_are_created_once_and_agree_in_sqlite() {
        shared_keys_are_created_once_and_agree(&Database::in_memory().await.unwrap()).await;
    }

    #[tokio::test]
    async fn shared_keys_are_created_once_and_agree_in_postgres_even_when_servers_race() {
        let server = alleycat_testkit::postgres::Postgres::start().unwrap();
        let url = server.create_database("keys").unwrap().parse().unwrap();
        let dbs = futures::future::try_join_all((0..4).map(|_| Database::connect_postgres(&url)))
            .await
            .unwrap();
        // Four servers starting at once all end up with the first writer's keys.
        let loaded =
            futures::future::try_join_all(dbs.iter().map(|db| Keys::load_shared(db, None)))
                .await
                .unwrap();
        let generated = loaded.iter().filter(|(_, s)| *s == ApiKeySource::Generated).count();
        assert_eq!(generated, 1);
        let token = loaded[0].0.issue(7, u64::MAX);
        for (keys, _) in &loaded {
            assert_eq!(keys.api_key(), loaded[0].0.api_key());
            assert_eq!(keys.identify(&token, 0), Some(Caller::Racer(7)));
        }
        let fresh = server.create_database("keys2").unwrap().parse().unwrap();
        shared_keys_are_created_once_and_agree(&Database::connect_postgres(&fresh).await.unwrap())
            .await;
    }
}
