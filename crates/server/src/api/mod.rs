//! The admin API (`/api/v1`, JSON, described by `openapi.json` beside this file and
//! served at `/api/v1/openapi.json`). Managing identities, rights and network rules
//! needs the `admin` action on the registry; people manage their own password,
//! second factor and personal access tokens. Secrets appear only in the response
//! that creates them, and every change is audited.

mod network;
mod rbac;
mod scans;
mod session;
mod tokens;
mod users;

use crate::auth::{self, Caller};
use crate::directory::DirectoryError;
use crate::AppState;
use airlock_access::{authorize, Action, Target};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

/// The OpenAPI description of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

pub fn routes(state: AppState) -> Router<AppState> {
    let authenticated = Router::new()
        .merge(tokens::routes())
        .merge(users::routes())
        .merge(rbac::routes())
        .merge(network::routes())
        .merge(scans::routes())
        .route("/me", get(session::me))
        .layer(axum::middleware::from_fn_with_state(
            state,
            auth::require_admin_auth,
        ));
    Router::new()
        .route("/login", post(session::login))
        .route(
            "/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }),
        )
        .merge(authenticated)
}

pub(crate) fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({ "error": msg.into() }))).into_response()
}

pub(crate) fn internal(e: anyhow::Error) -> Response {
    tracing::error!(error = ?e, "admin API");
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
}

const ENROL_FIRST: &str = "a second factor is required for this account: enrol one first \
(airlock user 2fa enrol)";

/// The refusal for a caller without administrator rights, if it is one.
pub(crate) async fn not_admin(state: &AppState, caller: &Caller) -> Option<Response> {
    if caller.must_enrol {
        return Some(error(StatusCode::FORBIDDEN, ENROL_FIRST));
    }
    let policy = state.directory.policy().await;
    let d = authorize(
        &caller.identity,
        &policy.bindings,
        Action::Admin,
        Target::Registry,
    );
    if d.allowed {
        return None;
    }
    state
        .audit
        .record(
            &caller.identity.name,
            &caller.client_ip,
            "admin API",
            "registry",
            false,
            &d.reason,
        )
        .await;
    Some(error(
        StatusCode::FORBIDDEN,
        "administrator rights required",
    ))
}

/// The refusal for a caller who is neither `user` (logged in as themselves, not
/// through a token, and not held back by the second-factor policy) nor an
/// administrator.
pub(crate) async fn not_self_or_admin(
    state: &AppState,
    caller: &Caller,
    user: &str,
) -> Option<Response> {
    if caller.identity.name == user && !caller.via_token && !caller.must_enrol {
        return None;
    }
    not_admin(state, caller).await
}

/// Records an admin mutation in the audit log.
pub(crate) async fn audit(state: &AppState, caller: &Caller, action: &str, target: &str, ok: bool) {
    let reason = if ok { "done" } else { "failed" };
    state
        .audit
        .record(
            &caller.identity.name,
            &caller.client_ip,
            action,
            target,
            ok,
            reason,
        )
        .await;
}

impl IntoResponse for DirectoryError {
    fn into_response(self) -> Response {
        match self {
            DirectoryError::Invalid(m) => error(StatusCode::BAD_REQUEST, m),
            e @ DirectoryError::Exists(_) => error(StatusCode::CONFLICT, e.to_string()),
            e @ DirectoryError::NotFound(_) => error(StatusCode::NOT_FOUND, e.to_string()),
            DirectoryError::Store(e) => internal(e),
        }
    }
}

/// Who may make a change.
pub(crate) enum Who<'a> {
    Admin,
    /// The named user themself (logged in, not through a token) or an administrator.
    SelfOrAdmin(&'a str),
    /// Only the named user themself (second-factor enrolment shows the secret), even
    /// one whom policy holds back until they enrol.
    Themself(&'a str),
}

/// Makes a change the way every mutating handler does: refuses callers who may not
/// make it, runs it, audits it, and answers with `ok(value)` or the error.
pub(crate) async fn change<T, E: IntoResponse>(
    state: &AppState,
    caller: &Caller,
    who: Who<'_>,
    what: &str,
    target: &str,
    run: impl std::future::Future<Output = Result<T, E>>,
    ok: impl FnOnce(T) -> Response,
) -> Response {
    let refusal = match who {
        Who::Admin => not_admin(state, caller).await,
        Who::SelfOrAdmin(user) => not_self_or_admin(state, caller, user).await,
        Who::Themself(user) if caller.identity.name == user && !caller.via_token => None,
        Who::Themself(_) => Some(error(
            StatusCode::FORBIDDEN,
            "only the user themself can do this",
        )),
    };
    if let Some(r) = refusal {
        return r;
    }
    let result = run.await;
    audit(state, caller, what, target, result.is_ok()).await;
    match result {
        Ok(v) => ok(v),
        Err(e) => e.into_response(),
    }
}

/// `204 No Content`.
pub(crate) fn done(_: ()) -> Response {
    StatusCode::NO_CONTENT.into_response()
}

/// `201 Created` with a JSON body.
pub(crate) fn created<T: serde::Serialize>(body: T) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
}
