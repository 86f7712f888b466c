//! `/api/v1/users`: users, their passwords, second factor and personal access tokens.

use super::{change, created, done, not_admin, not_self_or_admin, Who};
use crate::auth::Caller;
use crate::directory::DirectoryError;
use crate::AppState;
use airlock_storage::{PatRecord, UserRecord};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::json;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/users", get(list).post(create))
        .route("/users/{name}", get(show).patch(update).delete(delete))
        .route("/users/{name}/password", put(set_password))
        .route("/users/{name}/totp", post(enrol_totp).delete(remove_totp))
        .route("/users/{name}/totp/confirm", post(confirm_totp))
        .route("/users/{name}/pats", get(list_pats).post(create_pat))
        .route(
            "/users/{name}/pats/{id}",
            patch(update_pat).delete(delete_pat),
        )
        .route(
            "/users/{name}/pats/{id}/secrets/{slot}",
            post(rotate_pat).delete(clear_pat_secret),
        )
}

fn user_json(u: &UserRecord) -> serde_json::Value {
    json!({
        "name": u.name,
        "enabled": u.enabled,
        "created_at": u.created_at,
        "two_factor": u.totp_confirmed,
        "recovery_codes_left": if u.totp_confirmed { Some(u.recovery_codes.len()) } else { None },
    })
}

fn pat_json(p: &PatRecord) -> serde_json::Value {
    json!({
        "id": p.id,
        "name": p.name,
        "scopes": p.scopes.split(' ').collect::<Vec<_>>(),
        "expires_at": p.expires_at,
        "enabled": p.enabled,
        "secrets": [true, p.password2_hash.is_some()],
        "allowed_cidrs": p.allowed_cidrs.as_ref().map(|c| c.split(' ').collect::<Vec<_>>()),
        "created_at": p.created_at,
        "last_used_at": p.last_used_at,
    })
}

async fn list(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    if let Some(r) = not_admin(&state, &caller).await {
        return r;
    }
    match state.directory.users().await {
        Ok(users) => Json(json!({ "users": users.iter().map(user_json).collect::<Vec<_>>() }))
            .into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    name: String,
    /// Generated (and shown once) when absent.
    password: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Json(req): Json<NewUser>,
) -> Response {
    let run = async {
        if state.accounts.exists(&req.name).await {
            return Err(DirectoryError::Exists(format!(
                "service token {:?}",
                req.name
            )));
        }
        (state.directory)
            .create_user(&req.name, req.password.as_deref())
            .await
    };
    let target = format!("user:{}", req.name);
    change(
        &state,
        &caller,
        Who::Admin,
        "user create",
        &target,
        run,
        created,
    )
    .await
}

async fn show(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    if let Some(r) = not_self_or_admin(&state, &caller, &name).await {
        return r;
    }
    match state.directory.user(&name).await {
        Ok(u) => Json(user_json(&u)).into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    enabled: bool,
}

async fn update(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Json(req): Json<UserUpdate>,
) -> Response {
    let what = if req.enabled {
        "user enable"
    } else {
        "user disable"
    };
    let run = async {
        if !req.enabled && caller.identity.name == name {
            return Err(DirectoryError::Invalid(
                "you cannot disable yourself".into(),
            ));
        }
        state.directory.set_user_enabled(&name, req.enabled).await
    };
    change(
        &state,
        &caller,
        Who::Admin,
        what,
        &format!("user:{name}"),
        run,
        done,
    )
    .await
}

async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    let run = async {
        if caller.identity.name == name {
            return Err(DirectoryError::Invalid("you cannot delete yourself".into()));
        }
        state.directory.delete_user(&name).await
    };
    change(
        &state,
        &caller,
        Who::Admin,
        "user delete",
        &format!("user:{name}"),
        run,
        done,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    password: String,
    /// Required when changing one's own password.
    current_password: Option<String>,
}

async fn set_password(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Json(req): Json<NewPassword>,
) -> Response {
    // Changing one's own password proves the current one: a wrong one is a failed
    // login, counted and locked out like any other.
    let mut wrong_current = false;
    if caller.identity.name == name {
        let (user_key, keys) = crate::auth::login_keys(&name, &caller.client_ip);
        let attempt = match state.limiter.reserve(&keys) {
            Ok(a) => a,
            Err(retry_after) => return crate::auth::LockedOut { retry_after }.response(),
        };
        let current = req.current_password.as_deref().unwrap_or("");
        match state.directory.password_matches(&name, current).await {
            Ok(true) => attempt.succeeded(&user_key),
            Ok(false) => {
                attempt.failed();
                wrong_current = true;
            }
            Err(crate::secrets::Busy) => return crate::auth::busy_response(),
        }
    }
    let run = async {
        if wrong_current {
            return Err(DirectoryError::Invalid(
                "the current password is wrong".into(),
            ));
        }
        state.directory.set_password(&name, &req.password).await
    };
    let target = format!("user:{name}");
    change(
        &state,
        &caller,
        Who::SelfOrAdmin(&name),
        "user set password",
        &target,
        run,
        done,
    )
    .await
}

/// Starts enrolment: only the user themself, since the secret is shown in the answer.
async fn enrol_totp(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    let run = state.directory.enrol_totp(&name);
    let target = format!("user:{name}");
    change(
        &state,
        &caller,
        Who::Themself(&name),
        "2fa enrol",
        &target,
        run,
        |e| ([(axum::http::header::CACHE_CONTROL, "no-store")], Json(e)).into_response(),
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Code {
    code: String,
}

async fn confirm_totp(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Json(req): Json<Code>,
) -> Response {
    let run = state.directory.confirm_totp(&name, &req.code);
    let target = format!("user:{name}");
    change(
        &state,
        &caller,
        Who::Themself(&name),
        "2fa confirm",
        &target,
        run,
        done,
    )
    .await
}

/// Removes the second factor: administrators (a user who lost their device), or
/// the user themself, logged in with it.
async fn remove_totp(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    let run = state.directory.remove_totp(&name);
    let target = format!("user:{name}");
    change(
        &state,
        &caller,
        Who::SelfOrAdmin(&name),
        "2fa remove",
        &target,
        run,
        done,
    )
    .await
}

async fn list_pats(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Response {
    if let Some(r) = not_self_or_admin(&state, &caller, &name).await {
        return r;
    }
    match state.directory.pats(&name).await {
        Ok(p) => {
            Json(json!({ "tokens": p.iter().map(pat_json).collect::<Vec<_>>() })).into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPat {
    name: String,
    scopes: Vec<String>,
    expires_in_secs: Option<i64>,
    allowed_cidrs: Option<Vec<String>>,
    /// A fresh TOTP or recovery code: required when the caller has a second factor.
    code: Option<String>,
}

/// Whether the caller proves its second factor now, if it has one: a personal access
/// token outlives the session that creates it, so a stolen session alone must not be
/// enough to make one.
async fn fresh_second_factor(state: &AppState, caller: &Caller, code: Option<&str>) -> bool {
    let Some(user) = caller.identity.principals.iter().find_map(|p| match p {
        airlock_access::Principal::User(u) => Some(u.as_str()),
        _ => None,
    }) else {
        return true;
    };
    if caller.identity.name != user {
        return true; // a personal access token's own identity cannot create tokens
    }
    match state.directory.user(user).await {
        Ok(u) if u.totp_confirmed => match code {
            Some(code) => state.directory.second_factor(user, code).await,
            None => false,
        },
        Ok(_) => true,
        Err(_) => false,
    }
}

async fn create_pat(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    Json(req): Json<NewPat>,
) -> Response {
    if !fresh_second_factor(&state, &caller, req.code.as_deref()).await {
        super::audit(
            &state,
            &caller,
            "personal token create",
            &format!("user:{name} token {}", req.name),
            false,
        )
        .await;
        return super::error(
            axum::http::StatusCode::FORBIDDEN,
            "give a fresh second-factor code (code) to create a personal access token",
        );
    }
    let run = state.directory.create_pat(
        &name,
        &req.name,
        &req.scopes,
        req.expires_in_secs,
        req.allowed_cidrs.as_deref(),
    );
    let target = format!("user:{name} token {}", req.name);
    let who = Who::SelfOrAdmin(&name);
    change(
        &state,
        &caller,
        who,
        "personal token create",
        &target,
        run,
        created,
    )
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatUpdate {
    enabled: bool,
}

async fn update_pat(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((name, id)): Path<(String, String)>,
    Json(req): Json<PatUpdate>,
) -> Response {
    let what = if req.enabled {
        "personal token enable"
    } else {
        "personal token disable"
    };
    let run = state.directory.set_pat_enabled(&name, &id, req.enabled);
    let target = format!("user:{name} token {id}");
    change(
        &state,
        &caller,
        Who::SelfOrAdmin(&name),
        what,
        &target,
        run,
        done,
    )
    .await
}

async fn delete_pat(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((name, id)): Path<(String, String)>,
) -> Response {
    let run = state.directory.delete_pat(&name, &id);
    let target = format!("user:{name} token {id}");
    let who = Who::SelfOrAdmin(&name);
    change(
        &state,
        &caller,
        who,
        "personal token delete",
        &target,
        run,
        done,
    )
    .await
}

/// A new secret in slot 1 or 2 (shown once); the other slot keeps working.
async fn rotate_pat(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((name, id, slot)): Path<(String, String, u8)>,
) -> Response {
    let run = state.directory.rotate_pat(&name, &id, slot);
    let target = format!("user:{name} token {id} slot {slot}");
    let who = Who::SelfOrAdmin(&name);
    change(
        &state,
        &caller,
        who,
        "personal token rotate",
        &target,
        run,
        |shown| Json(shown).into_response(),
    )
    .await
}

/// Drops the second secret (only slot 2 can be cleared).
async fn clear_pat_secret(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((name, id, slot)): Path<(String, String, u8)>,
) -> Response {
    let run = async {
        if slot != 2 {
            return Err(DirectoryError::Invalid(
                "only secret slot 2 can be cleared; rotate slot 1 instead".into(),
            ));
        }
        state.directory.clear_pat_secret(&name, &id).await
    };
    let target = format!("user:{name} token {id} slot {slot}");
    let who = Who::SelfOrAdmin(&name);
    change(
        &state,
        &caller,
        who,
        "personal token clear secret",
        &target,
        run,
        done,
    )
    .await
}
