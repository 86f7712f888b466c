//! The admin API (`/api/v1`, JSON). Every route needs the `admin` action on the
//! registry. Secrets appear only in the response that creates them.

use crate::accounts::AccountError;
use crate::auth::{self, Caller};
use crate::AppState;
use airlock_access::{authorize, Action, Target};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/tokens", get(list_tokens).post(create_token))
        .route(
            "/tokens/{name}",
            get(show_token).patch(update_token).delete(delete_token),
        )
        .route(
            "/tokens/{name}/passwords/{slot}",
            post(rotate_password).delete(clear_password),
        )
}

fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({ "error": msg.into() }))).into_response()
}

/// The refusal for a caller without administrator rights, if it is one.
fn not_admin(caller: &Caller) -> Option<Response> {
    let d = authorize(
        &caller.identity,
        &auth::bindings(),
        Action::Admin,
        Target::Registry,
    );
    if d.allowed {
        return None;
    }
    tracing::info!(caller = %caller.identity.name, reason = %d.reason, "admin API denied");
    Some(error(
        StatusCode::FORBIDDEN,
        "administrator rights required",
    ))
}

impl IntoResponse for AccountError {
    fn into_response(self) -> Response {
        match self {
            AccountError::Invalid(m) => error(StatusCode::BAD_REQUEST, m),
            e @ AccountError::Exists(_) => error(StatusCode::CONFLICT, e.to_string()),
            e @ AccountError::NotFound(_) => error(StatusCode::NOT_FOUND, e.to_string()),
            AccountError::Store(e) => {
                tracing::error!(error = ?e, "admin API");
                error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
            }
        }
    }
}

/// Records an admin mutation in the audit log.
async fn audit(state: &AppState, caller: &Caller, action: &str, name: &str, ok: bool) {
    let reason = if ok { "done" } else { "failed" };
    state
        .audit
        .record(
            &caller.identity.name,
            &caller.client_ip,
            action,
            &format!("token:{name}"),
            ok,
            reason,
        )
        .await;
}

/// `204` on success, the error's answer otherwise.
fn no_content(result: Result<(), AccountError>) -> Response {
    match result {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

fn token_json(t: &airlock_storage::ServiceTokenRecord) -> serde_json::Value {
    json!({
        "name": t.name,
        "scopes": t.scopes.split(' ').collect::<Vec<_>>(),
        "expires_at": t.expires_at,
        "enabled": t.enabled,
        "passwords": [t.password_hashes[0].is_some(), t.password_hashes[1].is_some()],
        "allowed_cidrs": t.allowed_cidrs,
        "created_at": t.created_at,
        "last_used_at": t.last_used_at,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
    scopes: Vec<String>,
    expires_in_secs: Option<i64>,
    allowed_cidrs: Option<Vec<String>>,
}

async fn create_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Json(req): Json<NewToken>,
) -> Response {
    if let Some(r) = not_admin(&caller) {
        return r;
    }
    let cidrs = req.allowed_cidrs.map(|c| c.join(" "));
    let r = state
        .accounts
        .create(&req.name, &req.scopes, req.expires_in_secs, cidrs)
        .await;
    audit(&state, &caller, "token create", &req.name, r.is_ok()).await;
    match r {
        Ok(secret) => (StatusCode::CREATED, Json(secret)).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn list_tokens(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    if let Some(r) = not_admin(&caller) {
        return r;
    }
    match state.accounts.list().await {
        Ok(list) => Json(json!({ "tokens": list.iter().map(token_json).collect::<Vec<_>>() }))
            .into_response(),
        Err(e) => e.into_response(),
    }
}

async fn show_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    if let Some(r) = not_admin(&caller) {
        return r;
    }
    match state.accounts.list().await {
        Ok(list) => match list.iter().find(|t| t.name == name) {
            Some(t) => Json(token_json(t)).into_response(),
            None => AccountError::NotFound(name).into_response(),
        },
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenUpdate {
    enabled: bool,
}

async fn update_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Json(req): Json<TokenUpdate>,
) -> Response {
    if let Some(r) = not_admin(&caller) {
        return r;
    }
    let r = state.accounts.set_enabled(&name, req.enabled).await;
    let what = if req.enabled {
        "token enable"
    } else {
        "token disable"
    };
    audit(&state, &caller, what, &name, r.is_ok()).await;
    no_content(r)
}

async fn delete_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    if let Some(r) = not_admin(&caller) {
        return r;
    }
    let r = state.accounts.delete(&name).await;
    audit(&state, &caller, "token delete", &name, r.is_ok()).await;
    no_content(r)
}

async fn rotate_password(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((name, slot)): Path<(String, u8)>,
) -> Response {
    if let Some(r) = not_admin(&caller) {
        return r;
    }
    let r = state.accounts.rotate(&name, slot).await;
    audit(&state, &caller, "token rotate password", &name, r.is_ok()).await;
    match r {
        Ok(secret) => Json(secret).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn clear_password(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((name, slot)): Path<(String, u8)>,
) -> Response {
    if let Some(r) = not_admin(&caller) {
        return r;
    }
    let r = state.accounts.clear_password(&name, slot).await;
    audit(&state, &caller, "token clear password", &name, r.is_ok()).await;
    no_content(r)
}
