//! `POST /api/v1/login` (password plus, where enrolled, a second factor → a
//! 12-hour session token for the admin API) and `GET /api/v1/me`.

use super::error;
use crate::auth::{Caller, LockedOut};
use crate::directory::PasswordLogin;
use crate::network::ClientIp;
use crate::token::SESSION_TTL_SECS;
use crate::AppState;
use airlock_access::Principal;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    user: String,
    password: String,
    /// A TOTP code or a recovery code.
    code: Option<String>,
}

pub async fn login(
    State(state): State<AppState>,
    Extension(ClientIp(client)): Extension<ClientIp>,
    Json(req): Json<Login>,
) -> Response {
    let ip = client.to_string();
    let (user_key, keys) = crate::auth::login_keys(&req.user, &ip);
    let attempt = match state.limiter.reserve(&keys) {
        Ok(a) => a,
        Err(retry_after) => return LockedOut { retry_after }.response(),
    };
    let outcome = state
        .directory
        .interactive_login(&req.user, &req.password, req.code.as_deref())
        .await;
    let (ok, reason) = match &outcome {
        PasswordLogin::Ok(_) => (true, "logged in"),
        PasswordLogin::MustEnrol(_) => (false, "second factor not enrolled"),
        PasswordLogin::SecondFactorRequired if req.code.is_some() => (false, "wrong second factor"),
        PasswordLogin::SecondFactorRequired => (false, "second factor required"),
        PasswordLogin::Refused => (false, "invalid credentials"),
        PasswordLogin::Busy => return crate::auth::busy_response(),
    };
    let who = crate::auth::shown_user(&req.user);
    state
        .audit
        .record(&who, &ip, "login", "admin API", ok, reason)
        .await;
    match outcome {
        PasswordLogin::Ok(identity) => {
            attempt.succeeded(&user_key);
            // The session carries the user's credential as it is now: a password
            // reset, a second factor added or removed, or disabling ends it.
            let Some((_, stamp)) =
                crate::auth::current_subject(&state, &identity.name, Some(client)).await
            else {
                return error(StatusCode::UNAUTHORIZED, "invalid credentials");
            };
            match state.tokens.issue_session(&identity.name, &stamp) {
                Ok(token) => (
                    [(header::CACHE_CONTROL, "no-store")],
                    Json(json!({ "token": token, "expires_in": SESSION_TTL_SECS })),
                )
                    .into_response(),
                Err(e) => super::internal(e),
            }
        }
        PasswordLogin::SecondFactorRequired if req.code.is_none() => {
            // The password was right: no failure to count, but no session either.
            drop(attempt);
            error(
                StatusCode::UNAUTHORIZED,
                "second factor required: give a code",
            )
        }
        PasswordLogin::MustEnrol(_) => error(StatusCode::FORBIDDEN, super::ENROL_FIRST),
        _ => {
            attempt.failed();
            error(StatusCode::UNAUTHORIZED, "invalid credentials")
        }
    }
}

/// Who the caller is and what they hold.
pub async fn me(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    let policy = state.directory.policy().await;
    let bindings: Vec<_> = policy
        .bindings
        .iter()
        .filter(|b| caller.identity.principals.contains(&b.principal))
        .map(|b| json!({"principal": b.principal.to_string(), "pattern": b.pattern.to_string(), "role": b.role.name()}))
        .collect();
    let user = caller.identity.principals.iter().find_map(|p| match p {
        Principal::User(u) => Some(u.clone()),
        _ => None,
    });
    let two_factor = match &user {
        Some(u) => state
            .directory
            .user(u)
            .await
            .map(|r| r.totp_confirmed)
            .unwrap_or(false),
        None => false,
    };
    Json(json!({
        "name": caller.identity.name,
        "user": user,
        "principals": caller.identity.principals.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "bindings": bindings,
        "scopes": caller.identity.grants.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        "limit": caller.identity.limit.as_ref().map(|l| l.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
        "two_factor": two_factor,
        "must_enrol_two_factor": caller.must_enrol,
    }))
    .into_response()
}
