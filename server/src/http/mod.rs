//! The HTTP surface: one module per resource, assembled by [`app`].

mod assets;
mod config;
mod error;
mod health;

use axum::Router;

pub use error::ApiError;

use crate::AppState;

/// The whole HTTP application: the API under `/api`, health at `/healthz`, and the app's files
/// for everything else.
pub fn app(state: AppState) -> Router {
    let api = Router::new().merge(config::routes()).fallback(error::api_not_found);
    Router::new()
        .nest("/api", api)
        .merge(health::routes())
        .fallback_service(assets::service(&state.config().dist))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
