//! `/token`: the Docker registry token service.
//!
//! - `GET /token?service=…&scope=…&scope=…` with HTTP Basic credentials (docker,
//!   podman, skopeo);
//! - `POST /token` with an OAuth2 form: `grant_type=password` (username, password)
//!   or `grant_type=refresh_token`, `scope` space-separated, `access_type=offline`
//!   for a refresh token (containerd, docker with identity tokens).
//!
//! The token grants, per requested scope, only the actions `authorize()` allows the
//! caller: the intersection of what was asked and what is allowed. Anonymous callers
//! get nothing: there is no anonymous access.

use crate::auth::{self, Caller, Door, Refused};
use crate::client_cert::ClientCertificate;
use crate::error::ApiError;
use crate::network::ClientIp;
use crate::token::{Stamp, ACCESS_TTL_SECS};
use crate::AppState;
use airlock_access::{authorize, Action, ActionSet, Binding, Identity, Resource, Scope, Target};
use airlock_oci::RepositoryName;
use axum::extract::{Extension, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use serde::Deserialize;

/// Most scopes one token request may name.
const MAX_SCOPES: usize = 32;

fn unauthorized(msg: &str) -> Response {
    ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", msg)
        .with_header(header::WWW_AUTHENTICATE, r#"Basic realm="airlock""#)
        .into_response()
}

fn bad_request(msg: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(
            serde_json::json!({"error": "invalid_request", "error_description": msg.into()}),
        ),
    )
        .into_response()
}

/// Parses requested scopes (each value may hold several, space-separated).
fn requested_scopes<'a>(values: impl Iterator<Item = &'a str>) -> Result<Vec<Scope>, String> {
    let mut out = Vec::new();
    for v in values {
        for s in v.split(' ').filter(|s| !s.is_empty()) {
            if out.len() == MAX_SCOPES {
                return Err(format!("more than {MAX_SCOPES} scopes"));
            }
            out.push(Scope::parse(s).map_err(|e| e.to_string())?);
        }
    }
    Ok(out)
}

/// What of each requested scope the identity may have. A request for a pattern is
/// granted nothing: tokens are issued for named repositories. The catalog scope is
/// granted to everyone, since the catalog is filtered by the caller's rights.
fn grant(identity: &Identity, bindings: &[Binding], requested: &[Scope]) -> Vec<Scope> {
    let mut granted = Vec::new();
    for scope in requested {
        let actions: ActionSet = match &scope.resource {
            // Everyone may ask for the catalog: it lists only what they may see.
            Resource::Catalog => Action::List.into_set(),
            Resource::Repository(p) => match RepositoryName::parse(p.as_str()) {
                Ok(repo) => scope
                    .actions
                    .iter()
                    .filter(|a| {
                        authorize(identity, bindings, *a, Target::Repository(&repo)).allowed
                    })
                    .collect(),
                Err(_) => ActionSet::EMPTY,
            },
        };
        if !actions.is_empty() {
            granted.push(Scope {
                resource: scope.resource.clone(),
                actions,
            });
        }
    }
    granted
}

/// An answer for a request naming another service, if it does.
fn wrong_service(state: &AppState, service: Option<&str>) -> Option<Response> {
    match service {
        Some(s) if s != state.tokens.audience() => Some(bad_request(format!(
            "this registry issues tokens for service {:?}",
            state.tokens.audience()
        ))),
        _ => None,
    }
}

async fn issue(
    state: &AppState,
    client_ip: &str,
    identity: &Identity,
    stamp: &Stamp,
    requested: &[Scope],
    refresh: bool,
) -> Response {
    let policy = state.directory.policy().await;
    let granted = grant(identity, &policy.bindings, requested);
    let shown = |v: &[Scope]| {
        v.iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    state
        .audit
        .record(
            &identity.name,
            client_ip,
            "token",
            &format!("requested [{}]", shown(requested)),
            true,
            &format!("granted [{}]", shown(&granted)),
        )
        .await;
    let (token, claims) = match state.tokens.issue(&identity.name, stamp, &granted) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "issuing a token");
            return ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "UNKNOWN",
                "internal server error",
            )
            .into_response();
        }
    };
    let mut body = serde_json::json!({
        "token": token,
        "access_token": token,
        "expires_in": ACCESS_TTL_SECS,
        // RFC 3339, as docker, containerd and skopeo parse it.
        "issued_at": rfc3339(claims.iat),
        "scope": granted.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(" "),
    });
    if refresh {
        match state.tokens.issue_refresh(&identity.name, stamp) {
            Ok(r) => body["refresh_token"] = r.into(),
            Err(e) => tracing::error!(error = %e, "issuing a refresh token"),
        }
    }
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}

/// The caller behind Basic credentials; the answer to give otherwise.
async fn basic_caller(
    state: &AppState,
    headers: &HeaderMap,
    client_ip: &str,
) -> Result<Caller, Response> {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.starts_with("Basic ") || v.starts_with("basic "))
    else {
        return Err(unauthorized("credentials required"));
    };
    login(state, value, client_ip).await
}

async fn login(state: &AppState, basic: &str, client_ip: &str) -> Result<Caller, Response> {
    match auth::authenticate(state, basic, client_ip, Door::Registry).await {
        Ok(c) => Ok(c),
        Err(Refused::LockedOut(locked)) => Err(locked.response()),
        Err(Refused::Busy) => Err(auth::busy_response()),
        Err(Refused::Invalid | Refused::NotRemembered) => {
            let who = auth::decode_basic(basic)
                .map(|(u, _)| auth::shown_user(&u))
                .unwrap_or_default();
            state
                .audit
                .record(
                    &who,
                    client_ip,
                    "authenticate",
                    "/token",
                    false,
                    "invalid credentials",
                )
                .await;
            Err(unauthorized(auth::INVALID_CREDENTIALS))
        }
    }
}

/// `GET /token` (Basic credentials, or a client certificate without them)
pub async fn get(
    State(state): State<AppState>,
    Extension(ClientIp(peer)): Extension<ClientIp>,
    cert: Option<Extension<Option<ClientCertificate>>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs: Vec<(String, String)> = raw
        .as_deref()
        .map(|q| crate::handlers::query_pairs(q, 2 * MAX_SCOPES).collect())
        .unwrap_or_default();
    let service = pairs
        .iter()
        .find(|(k, _)| k == "service")
        .map(|(_, v)| v.as_str());
    if let Some(r) = wrong_service(&state, service) {
        return r;
    }
    let requested = match requested_scopes(
        pairs
            .iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.as_str()),
    ) {
        Ok(s) => s,
        Err(e) => return bad_request(e),
    };
    let has_basic = headers.contains_key(header::AUTHORIZATION);
    let by_cert = match (has_basic, cert) {
        (false, Some(Extension(cert))) => {
            auth::certificate_caller(&state, cert, &peer.to_string()).await
        }
        _ => None,
    };
    let caller = match by_cert {
        Some(c) => c,
        None => match basic_caller(&state, &headers, &peer.to_string()).await {
            Ok(c) => c,
            Err(r) => return r,
        },
    };
    let offline = pairs
        .iter()
        .any(|(k, v)| k == "offline_token" && v == "true");
    issue(
        &state,
        &peer.to_string(),
        &caller.identity,
        &caller.stamp,
        &requested,
        offline,
    )
    .await
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    grant_type: String,
    service: Option<String>,
    #[allow(dead_code)]
    client_id: Option<String>,
    access_type: Option<String>,
    scope: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
}

/// `POST /token` (OAuth2 form).
pub async fn post(
    State(state): State<AppState>,
    Extension(ClientIp(peer)): Extension<ClientIp>,
    Form(form): Form<TokenForm>,
) -> Response {
    if let Some(r) = wrong_service(&state, form.service.as_deref()) {
        return r;
    }
    let requested = match requested_scopes(form.scope.as_deref().into_iter()) {
        Ok(s) => s,
        Err(e) => return bad_request(e),
    };
    let (identity, stamp) = match form.grant_type.as_str() {
        "password" => {
            let (Some(user), Some(password)) = (&form.username, &form.password) else {
                return bad_request("username and password are required");
            };
            use base64::Engine as _;
            let basic = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            );
            match login(&state, &basic, &peer.to_string()).await {
                Ok(c) => (c.identity, c.stamp),
                Err(r) => return r,
            }
        }
        "refresh_token" => {
            let Some(token) = &form.refresh_token else {
                return bad_request("refresh_token is required");
            };
            // The subject must still be the principal it was issued to, in the same
            // credential generation, usable from this address; a user who has since
            // enrolled a second factor uses personal access tokens instead.
            let subject = match state.tokens.verify_refresh(token) {
                Ok(claims) => auth::stamped_subject(&state, &claims, Some(peer)).await,
                Err(_) => None,
            };
            let second_factor = match &subject {
                Some((identity, _)) if !identity.name.contains(':') => state
                    .directory
                    .user(&identity.name)
                    .await
                    .is_ok_and(|u| u.totp_confirmed),
                _ => false,
            };
            match subject {
                Some(subject) if !second_factor => subject,
                _ => return unauthorized("invalid refresh token"),
            }
        }
        other => return bad_request(format!("unsupported grant_type {other:?}")),
    };
    let offline = form.access_type.as_deref() == Some("offline");
    issue(
        &state,
        &peer.to_string(),
        &identity,
        &stamp,
        &requested,
        offline,
    )
    .await
}

fn rfc3339(unix: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix as i64)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}
