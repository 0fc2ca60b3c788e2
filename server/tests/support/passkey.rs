//! A software passkey for the tests: a discoverable P-256 (ES256) credential that answers the
//! server's ceremony options the way a browser and a platform authenticator do, written from the
//! WebAuthn specification independently of the server's library. Each field it signs can be
//! made wrong on purpose (origin, RP id, counter) to see the server refuse it.
//!
//! Registration: `attestationObject` = CBOR `{"fmt": "none", "attStmt": {}, "authData": …}`,
//! authData = SHA-256(rpId) ‖ flags (UP, UV, AT) ‖ counter (u32 BE) ‖ AAGUID (16 zero bytes) ‖
//! credential id length (u16 BE) ‖ credential id ‖ COSE EC2 key. Login: authData = SHA-256(rpId)
//! ‖ flags (UP, UV) ‖ counter, signed with clientDataJSON's SHA-256 appended; the signature in
//! DER. Everything travels base64url without padding, as `PublicKeyCredential.toJSON()` gives it.
#![allow(dead_code)]

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use ciborium::Value as Cbor;
use p256::ecdsa::{signature::Signer, Signature, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const USER_PRESENT: u8 = 0x01;
const USER_VERIFIED: u8 = 0x04;
const ATTESTED_CREDENTIAL: u8 = 0x40;

/// One software passkey.
pub struct SoftPasskey {
    key: SigningKey,
    /// The credential id.
    pub credential_id: Vec<u8>,
    /// The user handle the server gave at registration (sent back at login).
    pub user_handle: Option<Vec<u8>>,
    /// The signature counter, moved up by one at every login.
    pub counter: u32,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl SoftPasskey {
    /// A passkey whose key and credential id derive from `seed`.
    pub fn new(seed: &str) -> Self {
        let key = SigningKey::from_slice(&sha256(format!("key {seed}").as_bytes())).unwrap();
        let credential_id = sha256(format!("id {seed}").as_bytes())[..16].to_vec();
        Self { key, credential_id, user_handle: None, counter: 0 }
    }

    /// The credential id, base64url (as the server lists it).
    pub fn id(&self) -> String {
        b64(&self.credential_id)
    }

    /// The answer to `navigator.credentials.create(options)` made on a page at `origin`, for
    /// the relying party `rp_id` (the options' own when `None`).
    pub fn register(&mut self, options: &Value, origin: &str, rp_id: Option<&str>) -> Value {
        let public_key = &options["publicKey"];
        let rp_id = rp_id.unwrap_or_else(|| public_key["rp"]["id"].as_str().unwrap());
        self.user_handle =
            Some(URL_SAFE_NO_PAD.decode(public_key["user"]["id"].as_str().unwrap()).unwrap());
        let client_data = client_data("webauthn.create", public_key, origin);
        let mut auth_data =
            self.auth_data(rp_id, USER_PRESENT | USER_VERIFIED | ATTESTED_CREDENTIAL);
        auth_data.extend_from_slice(&[0; 16]);
        auth_data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&self.cose_key());
        let attestation = Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(vec![])),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
        ]);
        self.credential(json!({
            "clientDataJSON": b64(client_data.as_bytes()),
            "attestationObject": b64(&cbor(&attestation)),
            "transports": ["internal"],
        }))
    }

    /// A `PublicKeyCredential` of this key, as `credential.toJSON()` writes it, with `response`.
    fn credential(&self, response: Value) -> Value {
        json!({
            "id": self.id(),
            "rawId": self.id(),
            "type": "public-key",
            "authenticatorAttachment": "platform",
            "clientExtensionResults": {},
            "response": response,
        })
    }

    /// The answer to `navigator.credentials.get(options)` made on a page at `origin`, for the
    /// relying party `rp_id` (the options' own when `None`); the counter moves up first.
    pub fn login(&mut self, options: &Value, origin: &str, rp_id: Option<&str>) -> Value {
        let public_key = &options["publicKey"];
        let rp_id = rp_id.unwrap_or_else(|| public_key["rpId"].as_str().unwrap());
        self.counter += 1;
        let client_data = client_data("webauthn.get", public_key, origin);
        let auth_data = self.auth_data(rp_id, USER_PRESENT | USER_VERIFIED);
        let mut signed = auth_data.clone();
        signed.extend_from_slice(&sha256(client_data.as_bytes()));
        let signature: Signature = self.key.sign(&signed);
        self.credential(json!({
            "clientDataJSON": b64(client_data.as_bytes()),
            "authenticatorData": b64(&auth_data),
            "signature": b64(&der(&signature)),
            "userHandle": self.user_handle.as_deref().map(b64),
        }))
    }

    fn auth_data(&self, rp_id: &str, flags: u8) -> Vec<u8> {
        let mut data = sha256(rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend_from_slice(&self.counter.to_be_bytes());
        data
    }

    /// The public key as COSE EC2: kty 2, alg -7 (ES256), crv 1 (P-256), x, y.
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.verifying_key().to_sec1_point(false);
        let bytes = point.as_bytes();
        let int = |n: i64| Cbor::Integer(n.into());
        cbor(&Cbor::Map(vec![
            (int(1), int(2)),
            (int(3), int(-7)),
            (int(-1), int(1)),
            (int(-2), Cbor::Bytes(bytes[1..33].to_vec())),
            (int(-3), Cbor::Bytes(bytes[33..65].to_vec())),
        ]))
    }
}

fn client_data(kind: &str, public_key: &Value, origin: &str) -> String {
    json!({
        "type": kind,
        "challenge": public_key["challenge"].as_str().unwrap(),
        "origin": origin,
        "crossOrigin": false,
    })
    .to_string()
}

fn cbor(value: &Cbor) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).unwrap();
    out
}

/// An ECDSA signature in DER: SEQUENCE { INTEGER r, INTEGER s }.
fn der(signature: &Signature) -> Vec<u8> {
    let (r, s) = signature.split_bytes();
    let integer = |bytes: &[u8]| {
        let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|&b| b == 0).collect();
        let mut value =
            if trimmed.first().is_some_and(|&b| b & 0x80 != 0) { vec![0] } else { vec![] };
        value.extend(trimmed);
        let mut out = vec![0x02, value.len() as u8];
        out.extend(value);
        out
    };
    let body: Vec<u8> = [integer(&r), integer(&s)].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}
