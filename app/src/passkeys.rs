//! Passkeys (WebAuthn) in the browser: the two ceremonies, each a round trip between the server
//! and the browser's authenticator.
//!
//! - Adding: `POST /api/passkeys/register/start` gives `{"publicKey": {...}}` in WebAuthn's JSON
//!   form; `PublicKeyCredential.parseCreationOptionsFromJSON` turns it into the options of
//!   `navigator.credentials.create`, whose credential goes back as `credential.toJSON()` to
//!   `register/finish`.
//! - Signing in: the same with `login/start`, `parseRequestOptionsFromJSON`,
//!   `navigator.credentials.get` (no user name: the passkey says whose it is) and `login/finish`.
//!
//! web-sys has no bindings for the JSON helpers, so these calls go through `js_sys::Reflect`.
//! What the racer is told (why passkeys are missing, what a refusal means) is
//! `logic::passkey`.

use alleycat_domain::api::{CeremonyFinish, CeremonyStart, Credential, SessionResponse};
use js_sys::{Function, Object, Promise, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::{
    api,
    logic::passkey::{self, Ceremony, Unsupported},
};

/// Whether this page can use passkeys, and if not, why.
pub fn support() -> Result<(), Unsupported> {
    let Some(window) = web_sys::window() else { return Err(Unsupported::NoWebAuthn) };
    let class = property(&window, "PublicKeyCredential").filter(|c| !c.is_undefined());
    let has_helpers = class.as_ref().is_some_and(|c| {
        ["parseCreationOptionsFromJSON", "parseRequestOptionsFromJSON"]
            .iter()
            .all(|name| property(c, name).is_some_and(|f| f.is_function()))
    });
    let hostname = window.location().hostname().unwrap_or_default();
    passkey::support(window.is_secure_context(), &hostname, class.is_some(), has_helpers)
}

/// Adds a passkey for the racer of `token`: the passkey as the server keeps it.
pub async fn add(token: &str) -> Result<Credential, String> {
    let start = api::passkey_register_start(token).await?;
    let credential = ceremony(Ceremony::Add, &start).await?;
    let finish = CeremonyFinish { challenge_id: start.challenge_id, credential };
    api::passkey_register_finish(token, &finish).await
}

/// Signs in with one of this device's passkeys: the racer and a token (and the server makes
/// this device theirs).
pub async fn sign_in() -> Result<SessionResponse, String> {
    let start = api::passkey_login_start().await?;
    let credential = ceremony(Ceremony::SignIn, &start).await?;
    let finish = CeremonyFinish { challenge_id: start.challenge_id, credential };
    api::passkey_login_finish(&finish).await
}

/// Runs the browser's side of a ceremony with the server's options: the credential in its JSON
/// form.
async fn ceremony(kind: Ceremony, start: &CeremonyStart) -> Result<serde_json::Value, String> {
    support().map_err(|why| why.message().to_owned())?;
    let (parse, call) = match kind {
        Ceremony::Add => ("parseCreationOptionsFromJSON", "create"),
        Ceremony::SignIn => ("parseRequestOptionsFromJSON", "get"),
    };
    let public_key =
        start.options.get("publicKey").ok_or("The server's passkey options have no publicKey.")?;
    let options_json = JSON::parse(&public_key.to_string())
        .map_err(|_| "The server's passkey options are not JSON.".to_owned())?;
    let window = web_sys::window().ok_or("No browser window.")?;
    let class = property(&window, "PublicKeyCredential").ok_or("No PublicKeyCredential.")?;
    let options = invoke(&class, parse, &[options_json])
        .map_err(|e| refusal(kind, &e, "The server's passkey options were refused"))?;
    let init = Object::new();
    Reflect::set(&init, &"publicKey".into(), &options).map_err(|_| "Cannot set publicKey.")?;
    let credentials = property(&window, "navigator")
        .and_then(|navigator| property(&navigator, "credentials"))
        .ok_or("This browser has no navigator.credentials.")?;
    let promise: Promise = invoke(&credentials, call, &[init.into()])
        .and_then(|p| p.dyn_into().map_err(|_| JsValue::from_str("not a promise")))
        .map_err(|e| refusal(kind, &e, "The browser could not start the passkey request"))?;
    let credential = JsFuture::from(promise).await.map_err(|e| refusal(kind, &e, ""))?;
    if credential.is_null() || credential.is_undefined() {
        return Err(passkey::browser_error(kind, "NotAllowedError", ""));
    }
    let as_json = invoke(&credential, "toJSON", &[]).map_err(|e| refusal(kind, &e, "No toJSON"))?;
    let text: String = JSON::stringify(&as_json)
        .map_err(|_| "The browser's credential cannot be sent.".to_owned())?
        .into();
    serde_json::from_str(&text).map_err(|e| format!("The browser's credential is not JSON ({e})."))
}

/// `target[name]`, when the property exists.
fn property(target: &JsValue, name: &str) -> Option<JsValue> {
    Reflect::get(target, &name.into()).ok().filter(|v| !v.is_undefined())
}

/// Calls `target[name](...args)`.
fn invoke(target: &JsValue, name: &str, args: &[JsValue]) -> Result<JsValue, JsValue> {
    let function: Function = property(target, name)
        .and_then(|f| f.dyn_into().ok())
        .ok_or_else(|| JsValue::from_str(&format!("{name} is not a function")))?;
    let args: js_sys::Array = args.iter().collect();
    function.apply(target, &args)
}

/// The racer's sentence for a thrown error (a `DOMException`, usually), with `context` when the
/// error has no name of its own.
fn refusal(kind: Ceremony, error: &JsValue, context: &str) -> String {
    let text = |key: &str| property(error, key).and_then(|v| v.as_string()).unwrap_or_default();
    let (name, message) = (text("name"), text("message"));
    if name.is_empty() && !context.is_empty() {
        let detail = error.as_string().unwrap_or(message);
        return format!("{context} ({detail}).");
    }
    passkey::browser_error(kind, &name, &message)
}
