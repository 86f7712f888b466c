//! `/api/v1/tokens`: service tokens (robot accounts).

use super::{change, created, done, not_admin, Who};
use crate::accounts::AccountError;
use crate::auth::Caller;
use crate::AppState;
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

impl IntoResponse for AccountError {
    fn into_response(self) -> Response {
        match self {
            AccountError::Invalid(m) => super::error(StatusCode::BAD_REQUEST, m),
            e @ AccountError::Exists(_) => super::error(StatusCode::CONFLICT, e.to_string()),
            e @ AccountError::NotFound(_) => super::error(StatusCode::NOT_FOUND, e.to_string()),
            AccountError::Store(e) => super::internal(e),
        }
    }
}

fn token_json(t: &airlock_storage::ServiceTokenRecord) -> serde_json::Value {
    json!({
        "name": t.name,
        "scopes": t.scopes.split(' ').collect::<Vec<_>>(),
        "expires_at": t.expires_at,
        "enabled": t.enabled,
        "passwords": [t.password_hashes[0].is_some(), t.password_hashes[1].is_some()],
        "allowed_cidrs": t.allowed_cidrs.as_ref().map(|c| c.split(' ').collect::<Vec<_>>()),
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
    let run = async {
        if matches!(state.directory.user_exists(&req.name).await, Ok(true)) {
            return Err(AccountError::Exists(req.name.clone()));
        }
        (state.accounts)
            .create(
                &req.name,
                &req.scopes,
                req.expires_in_secs,
                req.allowed_cidrs.as_deref(),
            )
            .await
    };
    let target = format!("token:{}", req.name);
    change(
        &state,
        &caller,
        Who::Admin,
        "token create",
        &target,
        run,
        created,
    )
    .await
}

async fn list_tokens(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Response {
    if let Some(r) = not_admin(&state, &caller).await {
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
    if let Some(r) = not_admin(&state, &caller).await {
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
    let what = if req.enabled {
        "token enable"
    } else {
        "token disable"
    };
    let run = state.accounts.set_enabled(&name, req.enabled);
    change(
        &state,
        &caller,
        Who::Admin,
        what,
        &format!("token:{name}"),
        run,
        done,
    )
    .await
}

async fn delete_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    let run = state.accounts.delete(&name);
    change(
        &state,
        &caller,
        Who::Admin,
        "token delete",
        &format!("token:{name}"),
        run,
        done,
    )
    .await
}

async fn rotate_password(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((name, slot)): Path<(String, u8)>,
) -> Response {
    let run = state.accounts.rotate(&name, slot);
    let target = format!("token:{name}");
    change(
        &state,
        &caller,
        Who::Admin,
        "token rotate password",
        &target,
        run,
        |secret| Json(secret).into_response(),
    )
    .await
}

async fn clear_password(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((name, slot)): Path<(String, u8)>,
) -> Response {
    let run = state.accounts.clear_password(&name, slot);
    let target = format!("token:{name}");
    change(
        &state,
        &caller,
        Who::Admin,
        "token clear password",
        &target,
        run,
        done,
    )
    .await
}
