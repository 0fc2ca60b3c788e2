//! The HTTP surface: one module per resource, assembled by [`app`].

mod assets;
mod caller;
pub mod client;
mod config;
mod devices;
mod error;
mod events;
mod health;
mod history;
mod invites;
mod live;
mod passkeys;
mod racers;
mod races;
mod ride_history;
mod rides;
mod session;

use std::time::{Duration, Instant};

use axum::{
    extract::{DefaultBodyLimit, MatchedPath, Request, State},
    http::{header, HeaderValue, StatusCode},
    middleware::{self, Next},
    response::Response,
    Router,
};
use tower::limit::ConcurrencyLimitLayer;
use tower_http::{set_header::SetResponseHeaderLayer, timeout::TimeoutLayer, trace::TraceLayer};

pub use assets::content_security_policy;
pub use error::ApiError;

use crate::AppState;

/// The whole HTTP application: the API under `/api`, `/healthz` and `/metrics`, and the app's
/// files for everything else; with body limits, timeouts, a concurrency limit, security headers
/// and request logging.
pub fn app(state: AppState) -> Router {
    let config = state.config();
    let api = Router::new()
        .merge(config::routes())
        .merge(session::routes())
        .merge(events::routes())
        .merge(live::routes())
        .merge(history::routes())
        .merge(races::routes())
        .merge(racers::routes())
        .merge(passkeys::routes())
        .merge(devices::routes())
        .merge(invites::routes())
        .merge(rides::routes())
        .merge(ride_history::routes())
        .merge(health::api_routes())
        .fallback(error::api_not_found);
    Router::new()
        .nest("/api", api)
        .merge(health::routes())
        .fallback_service(assets::service(&config.dist))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), measure))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(config.request_timeout_seconds),
        ))
        .layer(ConcurrencyLimitLayer::new(config.max_concurrent_requests))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Records each request's latency under its matched route.
async fn measure(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    state
        .metrics()
        .request_seconds
        .get_or_create(&crate::metrics::RouteLabel { route, method })
        .observe(started.elapsed().as_secs_f64());
    response
}
