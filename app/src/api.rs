//! Typed calls to the server's API. Every call returns a sentence fit to show on failure.

use alleycat_domain::{
    api::{
        ApiError, CeremonyFinish, CeremonyStart, ConfigResponse, CreateRacerRequest, Credential,
        CredentialList, EventsRequest, EventsResponse, LeaderboardResponse, PersonalBestsResponse,
        RaceResultsResponse, RacerInfo, RacerRacesResponse, RacerSearchResponse, RacesResponse,
        SessionResponse,
    },
    ClassId, RaceId, RacerEvent,
};
use gloo_net::http::{Request, RequestBuilder, Response};
use serde::{de::DeserializeOwned, Serialize};
use web_sys::RequestCredentials;

/// A failed API call, worded for the racer.
pub type ApiResult<T> = Result<T, String>;

/// `GET /api/config`.
pub async fn config() -> ApiResult<ConfigResponse> {
    get("/api/config").await
}

/// `GET /api/racers?q=…`: racers whose name or id matches `query`.
pub async fn search_racers(query: &str) -> ApiResult<RacerSearchResponse> {
    let response = Request::get("/api/racers")
        .query([("q", query)])
        .send()
        .await
        .map_err(unreachable_server)?;
    json(response).await
}

/// `GET /api/racers/{id}`.
pub async fn racer(id: u64) -> ApiResult<RacerInfo> {
    get(&format!("/api/racers/{id}")).await
}

/// `GET /api/racers/{id}/races[?before=RACE]`: their races, newest first, a page at a time.
pub async fn racer_races(id: u64, before: Option<RaceId>) -> ApiResult<RacerRacesResponse> {
    match before {
        Some(race) => get(&format!("/api/racers/{id}/races?before={race}")).await,
        None => get(&format!("/api/racers/{id}/races")).await,
    }
}

/// `GET /api/racers/{id}/bests`: their personal best in each class.
pub async fn racer_bests(id: u64) -> ApiResult<PersonalBestsResponse> {
    get(&format!("/api/racers/{id}/bests")).await
}

/// The ride of racer `id` in `race` (class `class`) as a FIT file, to download.
pub fn fit_file_url(id: u64, race: RaceId, class: ClassId) -> String {
    format!("/api/racers/{id}/races/{race}.fit?classId={class}")
}

/// `POST /api/events` with the racer token.
pub async fn post_events(token: &str, events: Vec<RacerEvent>) -> ApiResult<EventsResponse> {
    let request = Request::post("/api/events")
        .header("Authorization", &format!("Bearer {token}"))
        .json(&EventsRequest { events })
        .map_err(|e| format!("Cannot prepare the request ({e})."))?;
    json(request.send().await.map_err(unreachable_server)?).await
}

/// `GET /api/races?classId=N`.
pub async fn races(class_id: ClassId) -> ApiResult<RacesResponse> {
    get(&format!("/api/races?classId={class_id}")).await
}

/// `GET /api/races/{raceId}?classId=N`.
pub async fn race_results(race_id: RaceId, class_id: ClassId) -> ApiResult<RaceResultsResponse> {
    get(&format!("/api/races/{race_id}?classId={class_id}")).await
}

/// `GET /api/leaderboard?classId=N`.
pub async fn leaderboard(class_id: ClassId) -> ApiResult<LeaderboardResponse> {
    get(&format!("/api/leaderboard?classId={class_id}")).await
}

// ---- Who rides: the device cookie, the racer token and passkeys (#15) ----------------------
//
// Every call below sends the device cookie (`alleycat_device`, HttpOnly, for `/api`): it is
// what proves this device rides as its racer. Same-origin is fetch's default; saying so keeps
// it so.

/// `POST /api/session` with this device's cookie: its racer and a fresh token, or `None` when
/// the device has no racer (no cookie, or one that was revoked: 401).
pub async fn session() -> ApiResult<Option<SessionResponse>> {
    let response =
        send(with_cookie(Request::post("/api/session")), Some(&serde_json::json!({}))).await?;
    if response.status() == 401 {
        return Ok(None);
    }
    json(response).await.map(Some)
}

/// `DELETE /api/session`: this device forgets its racer (the server revokes the cookie).
pub async fn end_session() -> ApiResult<()> {
    no_content(send(with_cookie(Request::delete("/api/session")), None::<&()>).await?).await
}

/// Why the server did not create a racer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status (400 a bad name, 403 an invitation missing or used, 429 too many from
    /// this address); 0 when the server could not be reached.
    pub status: u16,
    /// The server's sentence, shown as it is.
    pub message: String,
}

/// `POST /api/racers`: creates a racer called `name` (with an invitation code when the server
/// takes new racers by invitation), and makes this device theirs (the answer sets the cookie).
pub async fn create_racer(name: &str, invite: Option<&str>) -> Result<SessionResponse, Refusal> {
    let body = CreateRacerRequest { name: name.to_owned(), invite: invite.map(str::to_owned) };
    let response = send(with_cookie(Request::post("/api/racers")), Some(&body))
        .await
        .map_err(|message| Refusal { status: 0, message })?;
    let status = response.status();
    json(response).await.map_err(|message| Refusal { status, message })
}

/// `POST /api/passkeys/register/start` as the racer of `token`.
pub async fn passkey_register_start(token: &str) -> ApiResult<CeremonyStart> {
    let request = bearer(Request::post("/api/passkeys/register/start"), token);
    json(send(request, Some(&serde_json::json!({}))).await?).await
}

/// `POST /api/passkeys/register/finish` as the racer of `token`: the passkey added.
pub async fn passkey_register_finish(
    token: &str,
    finish: &CeremonyFinish,
) -> ApiResult<Credential> {
    let request = bearer(Request::post("/api/passkeys/register/finish"), token);
    json(send(request, Some(finish)).await?).await
}

/// `POST /api/passkeys/login/start`: a challenge for any of this server's passkeys.
pub async fn passkey_login_start() -> ApiResult<CeremonyStart> {
    let request = with_cookie(Request::post("/api/passkeys/login/start"));
    json(send(request, Some(&serde_json::json!({}))).await?).await
}

/// `POST /api/passkeys/login/finish`: the passkey's racer and a token; the answer makes this
/// device theirs (a new cookie).
pub async fn passkey_login_finish(finish: &CeremonyFinish) -> ApiResult<SessionResponse> {
    let request = with_cookie(Request::post("/api/passkeys/login/finish"));
    json(send(request, Some(finish)).await?).await
}

/// What a racer can sign in with: passkeys or devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialKind {
    /// `/api/passkeys`.
    Passkey,
    /// `/api/devices` (device cookies).
    Device,
}

impl CredentialKind {
    fn path(self) -> &'static str {
        match self {
            Self::Passkey => "/api/passkeys",
            Self::Device => "/api/devices",
        }
    }
}

/// `GET /api/passkeys` or `GET /api/devices` as the racer of `token`, newest first.
pub async fn credentials(kind: CredentialKind, token: &str) -> ApiResult<CredentialList> {
    json(send(bearer(Request::get(kind.path()), token), None::<&()>).await?).await
}

/// `DELETE /api/passkeys/{id}` or `DELETE /api/devices/{id}` as the racer of `token`.
pub async fn remove_credential(kind: CredentialKind, token: &str, id: &str) -> ApiResult<()> {
    let url = format!("{}/{}", kind.path(), js_sys::encode_uri_component(id));
    no_content(send(bearer(Request::delete(&url), token), None::<&()>).await?).await
}

/// The request with this device's cookie.
fn with_cookie(request: RequestBuilder) -> RequestBuilder {
    request.credentials(RequestCredentials::SameOrigin)
}

/// The request as the racer of `token` (and with the device's cookie, which tells the server
/// which device is this one).
fn bearer(request: RequestBuilder, token: &str) -> RequestBuilder {
    with_cookie(request).header("Authorization", &format!("Bearer {token}"))
}

/// Sends the request, with `body` as JSON when there is one.
async fn send<B: Serialize + ?Sized>(
    request: RequestBuilder,
    body: Option<&B>,
) -> ApiResult<Response> {
    let request = match body {
        Some(body) => request.json(body),
        None => request.build(),
    }
    .map_err(|e| format!("Cannot prepare the request ({e})."))?;
    request.send().await.map_err(unreachable_server)
}

/// Success without a body (204), or the server's sentence.
async fn no_content(response: Response) -> ApiResult<()> {
    if response.ok() {
        return Ok(());
    }
    Err(error_message(response).await)
}

async fn get<T: DeserializeOwned>(url: &str) -> ApiResult<T> {
    json(Request::get(url).send().await.map_err(unreachable_server)?).await
}

fn unreachable_server(error: gloo_net::Error) -> String {
    format!("Cannot reach the Alleycat server ({error}).")
}

/// The body of a successful answer, or the server's own sentence on failure.
pub async fn json<T: DeserializeOwned>(response: Response) -> ApiResult<T> {
    if response.ok() {
        return response
            .json()
            .await
            .map_err(|e| format!("The server sent an unexpected answer ({e})."));
    }
    Err(error_message(response).await)
}

/// The server's sentence for a failed answer, or its status when it sent none.
pub async fn error_message(response: Response) -> String {
    match response.json::<ApiError>().await {
        Ok(error) => error.message,
        Err(_) => format!("The server answered {} {}.", response.status(), response.status_text()),
    }
}
