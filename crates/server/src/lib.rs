//! The HTTP edge of Airlock: routing, authentication, request ids, and the mapping
//! of every failure to an OCI error body. Handlers are thin: they parse the request
//! into domain types, call a `Registry` service, and shape the response.

pub mod access_log;
pub mod accounts;
mod api;
pub mod audit;
pub mod auth;
pub mod client_cert;
pub mod directory;
mod distribution;
pub mod error;
mod handlers;
pub mod limiter;
pub mod network;
pub mod range;
pub mod route;
pub mod scanning;
pub mod second_factor;
pub mod secrets;
pub mod token;
mod token_endpoint;

use airlock_registry::Registry;
use axum::http::{HeaderName, HeaderValue};
use axum::routing::{any, get};
use axum::Router;
use std::sync::Arc;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

pub use auth::hash_password;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub registry: Registry,
    pub directory: Arc<directory::Directory>,
    pub tokens: Arc<token::TokenService>,
    pub accounts: Arc<accounts::Accounts>,
    pub audit: audit::AuditLog,
    pub limiter: Arc<limiter::LoginLimiter>,
    pub network: Arc<network::Firewall>,
    /// Scan-on-push; `None` when scanning is switched off.
    pub scans: Option<Arc<scanning::ScanService>>,
    /// `http` or `https`: how clients reach us, for the token realm.
    pub scheme: &'static str,
    /// The token endpoint's URL as clients reach it: from `public_url`, else the
    /// address the server listens on. Never taken from a request's `Host`.
    pub realm: Option<String>,
}

/// Builds the application's routes and layers.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let v2 = Router::new()
        .route("/v2", get(handlers::api_version))
        .route("/v2/", get(handlers::api_version))
        .route("/v2/{*rest}", any(distribution::dispatch))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_auth,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("docker-distribution-api-version"),
            HeaderValue::from_static("registry/2.0"),
        ));
    // Everything but the health check is behind the network rules.
    let guarded = Router::new()
        .route(
            "/token",
            get(token_endpoint::get).post(token_endpoint::post),
        )
        .nest("/api/v1", api::routes(state.clone()))
        .merge(v2)
        .fallback(|| async { error::ApiError::not_found() })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            network::guard,
        ));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .merge(guarded)
        .with_state(state)
        .layer(axum::middleware::from_fn(access_log::log_request))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}
