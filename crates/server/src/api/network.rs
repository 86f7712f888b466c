//! `/api/v1/network`: the network rules in force, changed at run time.

use super::{audit, error, internal, not_admin};
use crate::auth::Caller;
use crate::network::{ClientIp, NetworkRules};
use crate::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::json;

/// Most CIDRs in all lists together.
const MAX_RULES: usize = 1024;

pub fn routes() -> Router<AppState> {
    Router::new().route("/network", get(show).put(replace).delete(reset))
}

async fn show(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    if let Some(r) = not_admin(&state, &caller).await {
        return r;
    }
    let (rules, source) = state.network.rules(&state.directory).await;
    Json(json!({ "source": source, "rules": *rules })).into_response()
}

#[derive(Deserialize)]
pub struct Force {
    #[serde(default)]
    force: bool,
}

async fn replace(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Extension(ClientIp(client)): Extension<ClientIp>,
    Query(force): Query<Force>,
    Json(rules): Json<NetworkRules>,
) -> Response {
    if let Some(r) = not_admin(&state, &caller).await {
        return r;
    }
    let count = rules.allow.len() + rules.deny.len() + rules.trusted_proxies.len();
    if count > MAX_RULES {
        return error(
            StatusCode::BAD_REQUEST,
            format!("at most {MAX_RULES} CIDRs in all"),
        );
    }
    if !rules.allows(client) && !force.force {
        return error(
            StatusCode::CONFLICT,
            format!("these rules would refuse your own address {client}; add ?force=true to apply them anyway"),
        );
    }
    let r = state.network.store(&state.directory, Some(&rules)).await;
    let summary = serde_json::to_string(&rules).unwrap_or_default();
    audit(&state, &caller, "network set", &summary, r.is_ok()).await;
    match r {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => internal(e),
    }
}

/// Drops the stored rules: the configuration's apply again.
async fn reset(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    if let Some(r) = not_admin(&state, &caller).await {
        return r;
    }
    let r = state.network.store(&state.directory, None).await;
    audit(&state, &caller, "network reset", "network rules", r.is_ok()).await;
    match r {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => internal(e),
    }
}
