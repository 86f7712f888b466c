//! Authentication at the edge: nobody reaches the registry API anonymously.
//!
//! A caller presents either a Bearer token from `/token` (the Docker token flow every
//! client speaks) or HTTP Basic credentials: a user's password, a user's personal
//! access token, or a service token's password. The admin API also takes the session
//! tokens `POST /api/v1/login` issues (password plus second factor).
//!
//! The middleware only establishes *who* is calling; what they may do is decided per
//! endpoint by [`airlock_access::authorize`] in the dispatcher.

use crate::client_cert::ClientCertificate;
use crate::directory::{PasswordLogin, PAT_PREFIX};
use crate::error::ApiError;
use crate::secrets::{PasswordCheck, Unchecked, Verify};
use crate::token::{Claims, Stamp};
use crate::AppState;
use airlock_access::Identity;
use argon2::password_hash::{rand_core::OsRng, PasswordHasher, SaltString};
use argon2::Argon2;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;

pub const ADMIN_USER: &str = "admin";

/// Hashes a password with argon2id and a random salt (PHC string format).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

pub(crate) fn decode_basic(value: &str) -> Option<(String, String)> {
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    if encoded.len() > 4096 {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

/// The authenticated caller of a request, put in its extensions by [`require_auth`].
#[derive(Debug, Clone)]
pub struct Caller {
    pub identity: Identity,
    /// The peer address, for the audit log.
    pub client_ip: String,
    /// Authenticated by a Bearer token: a missing right is answered with a 401
    /// challenge for the needed scope, so the client can fetch a new token.
    pub via_token: bool,
    /// Policy requires this user to enrol a second factor before anything else: the
    /// admin API lets them do only that, the registry API nothing.
    pub must_enrol: bool,
    /// The credential this caller proved, and its generation: what tokens and
    /// sessions issued to the caller carry.
    pub stamp: Stamp,
}

/// Which door a request came through: the registry API (and `/token`) or the admin
/// API. Sessions (password + second factor) open only the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Door {
    Registry,
    Admin,
}

/// Why credentials did not get the caller in.
#[derive(Debug, Clone, Copy)]
pub enum Refused {
    /// Wrong, unknown, disabled, expired or not allowed here. One message for all,
    /// so nothing learns which.
    Invalid,
    LockedOut(LockedOut),
    /// Too many password checks running or waiting; nothing was checked.
    Busy,
    /// Asked to answer from remembered successes only, and this is none.
    NotRemembered,
}

impl From<Unchecked> for Refused {
    fn from(u: Unchecked) -> Self {
        match u {
            Unchecked::Busy => Refused::Busy,
            Unchecked::NotRemembered => Refused::NotRemembered,
        }
    }
}

/// `429` for an attempt refused unchecked because password checks are saturated.
pub fn busy_response() -> Response {
    ApiError::new(
        axum::http::StatusCode::TOO_MANY_REQUESTS,
        "TOOMANYREQUESTS",
        "too many logins being checked; try again shortly",
    )
    .with_header(header::RETRY_AFTER, "1")
    .into_response()
}

/// What a refused caller is told.
pub const INVALID_CREDENTIALS: &str = "invalid credentials (accounts with two-factor \
authentication use a personal access token with registry clients)";

/// A password login refused because of earlier failures.
#[derive(Debug, Clone, Copy)]
pub struct LockedOut {
    pub retry_after: std::time::Duration,
}

impl LockedOut {
    pub fn response(self) -> Response {
        let secs = self.retry_after.as_secs().max(1);
        ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "TOOMANYREQUESTS",
            "too many failed logins; try again later",
        )
        .with_header(header::RETRY_AFTER, secs.to_string())
        .into_response()
    }
}

/// A login name as audit records show it and lockouts count it (at most 64 chars).
pub(crate) fn shown_user(user: &str) -> String {
    user.chars().take(64).collect()
}

/// The lockout counters a password attempt by `user` from `client_ip` touches: the
/// user's own key, and both keys.
pub(crate) fn login_keys(user: &str, client_ip: &str) -> (String, [String; 2]) {
    let user_key = format!("user:{}", shown_user(user));
    (user_key.clone(), [format!("ip:{client_ip}"), user_key])
}

/// Who is calling, if the `Authorization` header proves it. Password attempts are
/// rate limited per client address and, for user names, per name: an attempt takes
/// its place under both before anything is checked (see [`crate::limiter`]). Machine
/// credentials — service tokens and personal access tokens, whose secrets are
/// random and long — are limited per address only, so nobody can lock a CI system
/// out by guessing at its name.
pub async fn authenticate(
    state: &AppState,
    authorization: &str,
    client_ip: &str,
    door: Door,
) -> Result<Caller, Refused> {
    let client = client_ip.parse().ok();
    let caller = if let Some((user, password)) = decode_basic(authorization) {
        let (user_key, keys) = login_keys(&user, client_ip);
        let machine = password.starts_with(PAT_PREFIX) || state.accounts.is_token(&user).await;
        let keys: &[String] = if machine { &keys[..1] } else { &keys };
        if let Some(retry_after) = state.limiter.locked(keys) {
            return Err(Refused::LockedOut(LockedOut { retry_after }));
        }
        // Credentials that succeeded a moment ago are answered without hashing and
        // without taking a place in the limiter: clients that send them on every
        // request, many at once, are not slowed down by the lockout's accounting.
        match check_credentials(state, authorization, client, door, Verify::RememberedOnly).await {
            Ok(caller) => Ok(caller),
            Err(_) => {
                let attempt = state
                    .limiter
                    .reserve(keys)
                    .map_err(|retry_after| Refused::LockedOut(LockedOut { retry_after }))?;
                let caller =
                    check_credentials(state, authorization, client, door, Verify::Full).await;
                match &caller {
                    Ok(_) => attempt.succeeded(&user_key),
                    Err(Refused::Invalid) => attempt.failed(),
                    Err(_) => drop(attempt),
                }
                caller
            }
        }
    } else {
        check_credentials(state, authorization, client, door, Verify::Full).await
    };
    caller.map(|mut c| {
        c.client_ip = client_ip.to_owned();
        c
    })
}

fn caller(identity: Identity, stamp: Stamp, via_token: bool) -> Caller {
    Caller {
        identity,
        client_ip: String::new(),
        via_token,
        must_enrol: false,
        stamp,
    }
}

/// The principal a token, refresh token or session names (`sub`: `token:NAME`,
/// `USER/pat:ID` or `USER`) as it is now: its identity and credential stamp, if it is
/// still usable from `client`.
pub async fn current_subject(
    state: &AppState,
    sub: &str,
    client: Option<std::net::IpAddr>,
) -> Option<(Identity, Stamp)> {
    match sub.strip_prefix("token:") {
        Some(name) => state.accounts.subject(name, client).await,
        None => state.directory.subject(sub, client).await,
    }
}

/// The principal `claims` were issued to, if it still has the immutable id and the
/// credential generation they carry (tokens without a stamp are refused).
pub async fn stamped_subject(
    state: &AppState,
    claims: &Claims,
    client: Option<std::net::IpAddr>,
) -> Option<(Identity, Stamp)> {
    let (identity, stamp) = current_subject(state, &claims.sub, client).await?;
    (claims.cred.as_ref() == Some(&stamp)).then_some((identity, stamp))
}

async fn check_credentials(
    state: &AppState,
    authorization: &str,
    client: Option<std::net::IpAddr>,
    door: Door,
    verify: Verify,
) -> Result<Caller, Refused> {
    if let Some(token) = authorization
        .strip_prefix("Bearer ")
        .or_else(|| authorization.strip_prefix("bearer "))
    {
        return bearer_caller(state, token.trim(), client, door)
            .await
            .ok_or(Refused::Invalid);
    }
    let (user, password) = decode_basic(authorization).ok_or(Refused::Invalid)?;
    if password.starts_with(PAT_PREFIX) {
        return match state
            .directory
            .pat_login(&user, &password, client, verify)
            .await
        {
            Ok(Some((identity, stamp))) => Ok(caller(identity, stamp, false)),
            Ok(None) => Err(Refused::Invalid),
            Err(e) => Err(e.into()),
        };
    }
    password_caller(state, &user, &password, client, door, verify).await
}

/// A name may be a service token's or a user's (or both). Every hash the password
/// may match is verified in one go, side by side; a name that is neither is verified
/// against a dummy hash. So a wrong password costs one verification whatever the name
/// is — a user's, a token's, or nobody's — and the time taken does not tell them
/// apart. (A token in the middle of a rotation, with two secrets, and a name that is
/// both a token's and a user's cost one more.)
async fn password_caller(
    state: &AppState,
    user: &str,
    password: &str,
    client: Option<std::net::IpAddr>,
    door: Door,
    verify: Verify,
) -> Result<Caller, Refused> {
    let token = state
        .accounts
        .password_candidate(user, password, client)
        .await;
    let account = state.directory.password_candidate(user).await;
    let token_hashes: Vec<&str> = token
        .iter()
        .flat_map(|t| t.password_hashes.iter().flatten())
        .map(String::as_str)
        .collect();
    let mut candidates: Vec<Option<&str>> = token_hashes.iter().map(|h| Some(*h)).collect();
    if account.is_some() || token.is_none() {
        candidates.push(account.as_ref().map(|a| a.password_hash.as_str()));
    }
    let matched = match PasswordCheck::default()
        .check(&candidates, password, verify)
        .await
    {
        Ok(Some(i)) => i,
        Ok(None) => return Err(Refused::Invalid),
        Err(e) => return Err(e.into()),
    };
    if let (Some(token), true) = (&token, matched < token_hashes.len()) {
        let stamp = crate::accounts::token_stamp(token);
        return Ok(caller(state.accounts.signed_in(token), stamp, false));
    }
    let Some(account) = account else {
        return Err(Refused::Invalid);
    };
    let stamp = crate::directory::user_stamp(&account);
    match state.directory.password_accepted(&account).await {
        PasswordLogin::Ok(identity) => Ok(caller(identity, stamp, false)),
        PasswordLogin::MustEnrol(identity) if door == Door::Admin => Ok(Caller {
            must_enrol: true,
            ..caller(identity, stamp, false)
        }),
        _ => Err(Refused::Invalid),
    }
}

/// The caller a Bearer token names: a registry JWT, or on the admin API a session.
/// Either is good only while its subject still has the id and credential generation
/// it was issued for; a JWT then grants at most its scopes ∩ what the subject may do
/// now, so a role unbound or a group left takes effect at once, not when it expires.
async fn bearer_caller(
    state: &AppState,
    token: &str,
    client: Option<std::net::IpAddr>,
    door: Door,
) -> Option<Caller> {
    if door == Door::Admin {
        if let Ok(claims) = state.tokens.verify_session(token) {
            if claims.sub.starts_with("token:") || claims.sub.contains("/pat:") {
                return None;
            }
            let (identity, stamp) = stamped_subject(state, &claims, client).await?;
            return Some(caller(identity, stamp, false));
        }
    }
    let claims = state.tokens.verify(token).ok()?;
    let (mut identity, stamp) = stamped_subject(state, &claims, client).await?;
    identity.issued = Some(claims.access.iter().filter_map(|a| a.to_scope()).collect());
    Some(caller(identity, stamp, true))
}

/// `WWW-Authenticate` for the token flow, naming the scope the request needs.
///
/// The realm is the configured `public_url` (or the address the server listens on)
/// with `/token`, never the request's `Host`: a reflected realm would send clients'
/// credentials wherever a request said. Behind a trusted proxy its
/// `X-Forwarded-Host` and `-Proto` name the public address (the network guard removes
/// them from everyone else's requests).
pub fn challenge(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    scope: Option<&str>,
    insufficient: bool,
) -> String {
    let forwarded = |name: &str| {
        headers
            .get(name)
            .and_then(|h| h.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|h| {
                !h.is_empty()
                    && h.len() < 256
                    && h.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            })
    };
    let realm = match (forwarded("x-forwarded-host"), &state.realm) {
        (Some(host), _) => {
            let proto = match forwarded("x-forwarded-proto") {
                Some("http") => "http",
                Some("https") => "https",
                _ => state.scheme,
            };
            format!("{proto}://{host}/token")
        }
        (None, Some(r)) => r.clone(),
        (None, None) => format!("{}://127.0.0.1/token", state.scheme),
    };
    let mut c = format!(
        r#"Bearer realm="{realm}",service="{}""#,
        state.tokens.audience()
    );
    if let Some(scope) = scope {
        c.push_str(&format!(r#",scope="{scope}""#));
    }
    if insufficient {
        c.push_str(r#",error="insufficient_scope""#);
    }
    c
}

/// Middleware for the registry API: establishes the caller or answers 401 with a
/// token challenge.
pub async fn require_auth(State(state): State<AppState>, req: Request, next: Next) -> Response {
    gate(state, req, next, Door::Registry).await
}

/// Middleware for the admin API: the same, plus login sessions.
pub async fn require_admin_auth(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    gate(state, req, next, Door::Admin).await
}

async fn gate(state: AppState, req: Request, next: Next, door: Door) -> Response {
    let client_ip = client_ip(&req);
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let refused = match &presented {
        None => {
            let cert = req
                .extensions()
                .get::<Option<ClientCertificate>>()
                .cloned()
                .flatten();
            if let Some(caller) = certificate_caller(&state, cert, &client_ip).await {
                return serve(caller, req, next).await;
            }
            None
        }
        Some(value) => match authenticate(&state, value, &client_ip, door).await {
            Ok(caller) => return serve(caller, req, next).await,
            Err(Refused::LockedOut(locked)) => {
                state
                    .audit
                    .record(
                        "-",
                        &client_ip,
                        "authenticate",
                        req.uri().path(),
                        false,
                        "locked out after failed logins",
                    )
                    .await;
                return locked.response();
            }
            Err(Refused::Busy) => return busy_response(),
            Err(Refused::Invalid | Refused::NotRemembered) => Some(value),
        },
    };
    if let Some(value) = refused {
        // Credentials that did not check out are evidence; a request without any
        // is just the start of the token flow.
        let who = decode_basic(value)
            .map(|(user, _)| shown_user(&user))
            .unwrap_or_else(|| "bearer token".into());
        state
            .audit
            .record(
                &who,
                &client_ip,
                "authenticate",
                req.uri().path(),
                false,
                "invalid credentials",
            )
            .await;
    }
    let message = if refused.is_some() {
        INVALID_CREDENTIALS
    } else {
        "authentication required"
    };
    let scope = crate::distribution::challenge_scope(req.method(), req.uri().path());
    ApiError::new(
        axum::http::StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        message,
    )
    .with_header(
        header::WWW_AUTHENTICATE,
        challenge(&state, req.headers(), scope.as_deref(), false),
    )
    .into_response()
}

/// Runs the request as `caller`, and names them to the access log.
async fn serve(caller: Caller, mut req: Request, next: Next) -> Response {
    let served = crate::access_log::Served(caller.identity.name.clone());
    req.extensions_mut().insert(caller);
    let mut resp = next.run(req).await;
    resp.extensions_mut().insert(served);
    resp
}

/// The caller a verified client certificate (mTLS) names, if the connection has one
/// and its common name is a usable user or service token.
pub(crate) async fn certificate_caller(
    state: &AppState,
    cert: Option<ClientCertificate>,
    client_ip: &str,
) -> Option<Caller> {
    let name = &cert?.common_name;
    let client = client_ip.parse().ok();
    let identity = match state.accounts.certificate_identity(name, client).await {
        Some(identity) => identity,
        None => state.directory.certificate_login(name).await?,
    };
    // Tokens issued to a certificate holder carry the credential as it is now.
    let (_, stamp) = current_subject(state, &identity.name, client).await?;
    Some(Caller {
        client_ip: client_ip.to_owned(),
        ..caller(identity, stamp, false)
    })
}

/// The client's address as the network rules established it.
pub fn client_ip(req: &Request) -> String {
    req.extensions()
        .get::<crate::network::ClientIp>()
        .map(|c| c.0.to_string())
        .unwrap_or_else(|| "-".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_basic_credentials() {
        let basic = |raw: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            )
        };
        assert_eq!(
            decode_basic(&basic("admin:s3:cret")),
            Some(("admin".into(), "s3:cret".into()))
        );
        assert_eq!(decode_basic(&basic("nocolon")), None);
        assert_eq!(decode_basic("Bearer abc"), None);
        assert_eq!(decode_basic("Basic !!!"), None);
        assert_eq!(decode_basic(&format!("Basic {}", "A".repeat(5000))), None);
    }
}
