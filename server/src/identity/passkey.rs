//! Passkeys (WebAuthn): a person adds one to their racer, then signs in with it on any device,
//! without a user name (a discoverable credential).
//!
//! Each ceremony is two requests. The start stores the library's state in the `ceremonies`
//! table under a random id, expiring after [`CEREMONY_MS`] (on the injected clock), and answers
//! the options for `navigator.credentials.create` / `.get` as WebAuthn's JSON form
//! (`{"publicKey": {...}}`, binary fields base64url). The finish takes the ceremony out of the
//! table (single use: a replay finds nothing, on any server) and verifies the browser's
//! `PublicKeyCredential.toJSON()` with webauthn-rs-core: the challenge, the origin (exactly
//! `--public-url`'s), the relying party id (its host) and the signature.
//!
//! Registration asks for a resident (discoverable) key, user verification preferred, and
//! excludes the racer's passkeys already stored. The WebAuthn user handle is the racer id (8
//! bytes, big-endian): at login the credential is found by its id, and the user handle the
//! authenticator returns must name the racer that owns it.
//!
//! Login checks the signature counter: a counter that does not move forwards (unless the key
//! keeps none: always 0) means the key may have been copied; the login is refused and logged as
//! a possibly cloned key. The counter is stored with a compare (`passkey_used`), so two servers
//! verifying the same key at once cannot both move it to the same value.

use alleycat_domain::api::{CeremonyFinish, CeremonyStart, Credential, RacerInfo};
use alleycat_ingest::db::{
    passkeys::{Ceremony, NewPasskey},
    Database, DbError,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use webauthn_rs_core::{
    error::WebauthnError,
    proto::{
        AttestationConveyancePreference, COSEAlgorithm, Credential as StoredCredential,
        PublicKeyCredential, RegisterPublicKeyCredential, UserVerificationPolicy,
    },
    WebauthnCore,
};

/// How long a ceremony may take between its start and its finish.
pub const CEREMONY_MS: u64 = 5 * 60 * 1000;

/// The relying party's name, shown by some authenticators.
const RP_NAME: &str = "Alleycat";

const REGISTER: &str = "register";
const LOGIN: &str = "login";

/// Why a passkey ceremony failed.
#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    /// No ceremony has this id: never started, finished already (a replay), or long expired.
    #[error("This passkey request is unknown or was used already: start again.")]
    UnknownCeremony,
    /// The ceremony took longer than [`CEREMONY_MS`].
    #[error("This passkey request expired (it has 5 minutes): start again.")]
    Expired,
    /// The ceremony is not of this kind, or another racer's.
    #[error("This passkey request was started for something else: start again.")]
    WrongCeremony,
    /// The credential is not the JSON a browser gives.
    #[error("The credential is not a WebAuthn credential as PublicKeyCredential.toJSON() gives it: {0}.")]
    Malformed(serde_json::Error),
    /// The browser's answer to a sign-in failed verification (origin, relying party,
    /// challenge, signature, user presence, …).
    #[error("The passkey was refused: {0}.")]
    Refused(WebauthnError),
    /// The browser's answer to a registration failed verification, or the options could not be
    /// made.
    #[error("The passkey could not be added: {0}.")]
    Invalid(WebauthnError),
    /// No stored passkey has this credential id (removed, or made for another site).
    #[error("This passkey is not known here (it may have been removed). Sign in another way, or create your racer.")]
    UnknownCredential,
    /// The signature counter did not move forwards: the key may have been copied.
    #[error("This passkey's signature counter went backwards, which a copied key does: it is refused. Sign in another way and remove it.")]
    PossiblyCloned,
    /// This passkey is registered already.
    #[error("This passkey is already registered.")]
    AlreadyRegistered,
    /// The database failed.
    #[error("the database failed: {0}")]
    Database(#[from] DbError),
    /// The library or the OS failed (state that does not serialise, no random bytes).
    #[error("passkey state: {0}")]
    Internal(String),
}

/// Passkey ceremonies for one relying party.
#[derive(Debug)]
pub struct Passkeys {
    core: WebauthnCore,
}

/// What a login proved: the racer, and the passkey used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedIn {
    /// The racer the passkey belongs to.
    pub racer_id: u64,
    /// The passkey's credential id.
    pub credential_id: String,
}

impl Passkeys {
    /// The relying party of `public_url`: its origin, and its host as the RP id.
    pub fn new(public_url: &url::Url) -> anyhow::Result<Self> {
        let rp_id = public_url
            .host_str()
            .ok_or_else(|| anyhow::anyhow!("{public_url} has no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']');
        if rp_id.parse::<std::net::IpAddr>().is_ok() {
            tracing::warn!(%public_url, "Passkeys need a domain name: browsers refuse them on an IP address. Set --public-url to a name (localhost on this machine).");
        }
        let mut origin = public_url.clone();
        origin.set_path("");
        let core = WebauthnCore::new_unsafe_experts_only(
            RP_NAME,
            rp_id,
            vec![origin],
            std::time::Duration::from_millis(CEREMONY_MS),
            Some(false),
            Some(false),
        );
        Ok(Self { core })
    }

    /// Starts adding a passkey to `racer` (who has the passkeys `existing` already).
    pub async fn start_registration(
        &self,
        db: &Database,
        racer: &RacerInfo,
        now_ms: u64,
    ) -> Result<CeremonyStart, PasskeyError> {
        let existing = db.passkeys(racer.id).await?;
        let exclude = existing.iter().filter_map(|c| URL_SAFE_NO_PAD.decode(&c.id).ok()).collect();
        let builder = self
            .core
            .new_challenge_register_builder(&user_handle(racer.id), &racer.name, &racer.name)
            .map_err(PasskeyError::Invalid)?
            .attestation(AttestationConveyancePreference::None)
            .credential_algorithms(COSEAlgorithm::secure_algs())
            .require_resident_key(true)
            .user_verification_policy(UserVerificationPolicy::Preferred)
            .exclude_credentials(Some(exclude));
        let (options, state) =
            self.core.generate_challenge_register(builder).map_err(PasskeyError::Invalid)?;
        let options = serde_json::json!({ "publicKey": options.public_key });
        let ceremony = Ceremony {
            kind: REGISTER.into(),
            racer_id: Some(racer.id),
            state: to_json(&state)?,
            expires_at_ms: now_ms + CEREMONY_MS,
        };
        begin(db, ceremony, options, now_ms).await
    }

    /// Finishes adding a passkey to the racer `racer_id`; returns it as the racer's list shows it.
    pub async fn finish_registration(
        &self,
        db: &Database,
        racer_id: u64,
        finish: &CeremonyFinish,
        now_ms: u64,
    ) -> Result<Credential, PasskeyError> {
        let ceremony = take(db, &finish.challenge_id, REGISTER, now_ms).await?;
        if ceremony.racer_id != Some(racer_id) {
            return Err(PasskeyError::WrongCeremony);
        }
        let state = from_json(&ceremony.state)?;
        let response: RegisterPublicKeyCredential =
            serde_json::from_value(finish.credential.clone()).map_err(PasskeyError::Malformed)?;
        let credential = self
            .core
            .register_credential(&response, &state, None)
            .map_err(PasskeyError::Invalid)?;
        let credential_id = URL_SAFE_NO_PAD.encode(&credential.cred_id);
        let label = label(now_ms);
        let stored = NewPasskey {
            credential_id: &credential_id,
            racer_id,
            credential: &to_json(&credential)?,
            counter: credential.counter,
            label: &label,
        };
        if !db.add_passkey(&stored, now_ms).await? {
            return Err(PasskeyError::AlreadyRegistered);
        }
        tracing::info!(racer = racer_id, "A passkey was added.");
        Ok(Credential {
            id: credential_id,
            label,
            created_at_ms: now_ms,
            last_used_ms: None,
            current: false,
        })
    }

    /// Starts a sign-in with any passkey of this site (no user name: the browser offers the
    /// discoverable credentials it has).
    pub async fn start_login(
        &self,
        db: &Database,
        now_ms: u64,
    ) -> Result<CeremonyStart, PasskeyError> {
        let builder = self
            .core
            .new_challenge_authenticate_builder(Vec::new(), Some(UserVerificationPolicy::Preferred))
            .map_err(PasskeyError::Refused)?
            .allow_backup_eligible_upgrade(true);
        let (options, state) =
            self.core.generate_challenge_authenticate(builder).map_err(PasskeyError::Refused)?;
        let options = serde_json::json!({ "publicKey": options.public_key });
        let ceremony = Ceremony {
            kind: LOGIN.into(),
            racer_id: None,
            state: to_json(&state)?,
            expires_at_ms: now_ms + CEREMONY_MS,
        };
        begin(db, ceremony, options, now_ms).await
    }

    /// Finishes a sign-in: which racer the passkey proves.
    pub async fn finish_login(
        &self,
        db: &Database,
        finish: &CeremonyFinish,
        now_ms: u64,
    ) -> Result<LoggedIn, PasskeyError> {
        let ceremony = take(db, &finish.challenge_id, LOGIN, now_ms).await?;
        let state = from_json(&ceremony.state)?;
        let response: PublicKeyCredential =
            serde_json::from_value(finish.credential.clone()).map_err(PasskeyError::Malformed)?;
        let credential_id = URL_SAFE_NO_PAD.encode(response.get_credential_id());
        let stored = db.passkey(&credential_id).await?.ok_or(PasskeyError::UnknownCredential)?;
        // A discoverable login names its user only through the user handle: it must be the
        // owner of the credential (WebAuthn's assertion step 6).
        if response.get_user_unique_id() != Some(&user_handle(stored.racer_id)[..]) {
            return Err(PasskeyError::UnknownCredential);
        }
        let mut credential: StoredCredential = from_json(&stored.credential)?;
        let result = match self.core.authenticate_single_credential(&response, &state, &credential)
        {
            Ok(result) => result,
            Err(WebauthnError::CredentialPossibleCompromise) => {
                return Err(possibly_cloned(stored.racer_id, &credential_id));
            }
            Err(error) => return Err(PasskeyError::Refused(error)),
        };
        credential.counter = result.counter();
        credential.backup_state = result.backup_state();
        credential.backup_eligible = result.backup_eligible();
        let moved_on = db
            .passkey_used(&credential_id, &to_json(&credential)?, result.counter(), now_ms)
            .await?;
        if !moved_on {
            return Err(possibly_cloned(stored.racer_id, &credential_id));
        }
        Ok(LoggedIn { racer_id: stored.racer_id, credential_id })
    }
}

/// Logs a counter that went backwards and answers the refusal.
fn possibly_cloned(racer: u64, credential_id: &str) -> PasskeyError {
    tracing::warn!(
        racer,
        credential = credential_id,
        "A passkey's signature counter went backwards: possibly a cloned key. The sign-in is refused."
    );
    PasskeyError::PossiblyCloned
}

/// The WebAuthn user handle of `racer_id`.
fn user_handle(racer_id: u64) -> [u8; 8] {
    racer_id.to_be_bytes()
}

/// A new passkey's label: "Passkey added 7 Dec 2026".
fn label(now_ms: u64) -> String {
    let date = i64::try_from(now_ms)
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .map_or_else(String::new, |at| at.format(" %-d %b %Y").to_string());
    format!("Passkey added{date}")
}

/// Stores `ceremony` under a new id and answers its start.
async fn begin(
    db: &Database,
    ceremony: Ceremony,
    options: serde_json::Value,
    now_ms: u64,
) -> Result<CeremonyStart, PasskeyError> {
    let challenge_id = super::random_id().map_err(|e| PasskeyError::Internal(e.to_string()))?;
    db.start_ceremony(&challenge_id, &ceremony, now_ms).await?;
    Ok(CeremonyStart { challenge_id, options })
}

/// Takes the ceremony `id` of `kind` out of the database, refusing it when expired.
async fn take(db: &Database, id: &str, kind: &str, now_ms: u64) -> Result<Ceremony, PasskeyError> {
    let ceremony = db.take_ceremony(id).await?.ok_or(PasskeyError::UnknownCeremony)?;
    if ceremony.kind != kind {
        return Err(PasskeyError::WrongCeremony);
    }
    if now_ms >= ceremony.expires_at_ms {
        return Err(PasskeyError::Expired);
    }
    Ok(ceremony)
}

fn to_json(value: &impl serde::Serialize) -> Result<String, PasskeyError> {
    serde_json::to_string(value).map_err(|e| PasskeyError::Internal(e.to_string()))
}

fn from_json<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, PasskeyError> {
    serde_json::from_str(json).map_err(|e| PasskeyError::Internal(e.to_string()))
}
