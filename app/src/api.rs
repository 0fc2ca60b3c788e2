//! Typed calls to the server's API. Every call returns a sentence fit to show on failure.

use alleycat_domain::{
    api::{
        ApiError, ConfigResponse, EventsRequest, EventsResponse, LeaderboardResponse,
        PersonalBestsResponse, RaceResultsResponse, RacerInfo, RacerRacesResponse,
        RacerSearchResponse, RacesResponse, SessionRequest, SessionResponse,
    },
    ClassId, RaceId, RacerEvent,
};
use gloo_net::http::{Request, Response};
use serde::de::DeserializeOwned;

/// A failed API call, worded for the racer.
pub type ApiResult<T> = Result<T, String>;

/// `GET /api/config`.
pub async fn config() -> ApiResult<ConfigResponse> {
    get("/api/config").await
}

/// `POST /api/session`: a racer token for `racer_id`.
pub async fn session(racer_id: u64) -> ApiResult<SessionResponse> {
    let request = Request::post("/api/session")
        .json(&SessionRequest { racer_id })
        .map_err(|e| format!("Cannot prepare the request ({e})."))?;
    json(request.send().await.map_err(unreachable_server)?).await
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
