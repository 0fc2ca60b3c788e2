//! Typed calls to the server's API. Every call returns a sentence fit to show on failure.

use alleycat_domain::api::{ApiError, ConfigResponse};
use gloo_net::http::{Request, Response};
use serde::de::DeserializeOwned;

/// A failed API call, worded for the racer.
pub type ApiResult<T> = Result<T, String>;

/// `GET /api/config`.
pub async fn config() -> ApiResult<ConfigResponse> {
    let response = Request::get("/api/config").send().await.map_err(unreachable_server)?;
    json(response).await
}

fn unreachable_server(error: gloo_net::Error) -> String {
    format!("Cannot reach the Alleycat server ({error}).")
}

async fn json<T: DeserializeOwned>(response: Response) -> ApiResult<T> {
    if response.ok() {
        return response
            .json()
            .await
            .map_err(|e| format!("The server sent an unexpected answer ({e})."));
    }
    match response.json::<ApiError>().await {
        Ok(error) => Err(error.message),
        Err(_) => {
            Err(format!("The server answered {} {}.", response.status(), response.status_text()))
        }
    }
}
