//! Authentication at the edge: nobody reaches the registry API anonymously.
//!
//! A caller presents either a Bearer token from `/token` (the Docker token flow every
//! client speaks) or HTTP Basic credentials. Until user accounts exist, the one
//! password identity is the built-in `admin`, checked against an argon2id hash.
//! Verifying argon2 costs tens of milliseconds by design, so a successful check is
//! remembered (by a SHA-256 of the header, never the secret itself) for a few minutes.
//!
//! The middleware only establishes *who* is calling; what they may do is decided per
//! endpoint by [`airlock_access::authorize`] in the dispatcher.

use crate::error::ApiError;
use crate::AppState;
use airlock_access::{Binding, Identity, Principal, Role};
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sha2::{Digest as _, Sha256};
use std::time::{Duration, Instant};

const REMEMBER: Duration = Duration::from_secs(300);
pub const ADMIN_USER: &str = "admin";

pub struct Authenticator {
    admin_hash: String,
    verified: quick_cache::sync::Cache<[u8; 32], Instant>,
}

/// Hashes a password with argon2id and a random salt (PHC string format).
pub fn hash_password(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
}

impl Authenticator {
    /// `admin_hash` is a PHC string from [`hash_password`].
    pub fn new(admin_hash: String) -> anyhow::Result<Self> {
        PasswordHash::new(&admin_hash).map_err(|e| anyhow::anyhow!("bad admin hash: {e}"))?;
        Ok(Authenticator {
            admin_hash,
            verified: quick_cache::sync::Cache::new(10_000),
        })
    }

    /// Checks an `Authorization` header value.
    pub async fn check(&self, authorization: &str) -> bool {
        let key: [u8; 32] = Sha256::digest(authorization.as_bytes()).into();
        if let Some(at) = self.verified.get(&key) {
            if at.elapsed() < REMEMBER {
                return true;
            }
        }
        let Some((user, password)) = decode_basic(authorization) else {
            return false;
        };
        if user != ADMIN_USER {
            return false;
        }
        let hash = self.admin_hash.clone();
        let ok = tokio::task::spawn_blocking(move || {
            PasswordHash::new(&hash)
                .map(|h| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &h)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false);
        if ok {
            self.verified.insert(key, Instant::now());
        }
        ok
    }
}

fn decode_basic(value: &str) -> Option<(String, String)> {
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
}

/// The identity behind the admin password.
pub fn admin_identity() -> Identity {
    Identity {
        name: ADMIN_USER.into(),
        principals: vec![Principal::User(ADMIN_USER.into())],
        ..Identity::default()
    }
}

/// The bindings in force. Until roles can be managed, `admin` is admin everywhere.
pub fn bindings() -> Vec<Binding> {
    vec![Binding {
        principal: Principal::User(ADMIN_USER.into()),
        pattern: airlock_access::RepoPattern::everything(),
        role: Role::Admin,
    }]
}

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

/// Who is calling, if the `Authorization` header proves anything. Password attempts
/// are rate limited per client address and per user name.
pub async fn authenticate(
    state: &AppState,
    authorization: &str,
    client_ip: &str,
) -> Result<Option<Caller>, LockedOut> {
    if let Some((user, _)) = decode_basic(authorization) {
        let user_key = format!("user:{}", user.chars().take(64).collect::<String>());
        let keys = [format!("ip:{client_ip}"), user_key.clone()];
        if let Some(retry_after) = state.limiter.locked(&keys) {
            return Err(LockedOut { retry_after });
        }
        let caller = check_credentials(state, authorization, client_ip.parse().ok()).await;
        match &caller {
            Some(_) => state.limiter.succeeded(&user_key),
            None => state.limiter.failed(&keys),
        }
        return Ok(caller.map(|mut c| {
            c.client_ip = client_ip.to_owned();
            c
        }));
    }
    Ok(
        check_credentials(state, authorization, client_ip.parse().ok())
            .await
            .map(|mut c| {
                c.client_ip = client_ip.to_owned();
                c
            }),
    )
}

async fn check_credentials(
    state: &AppState,
    authorization: &str,
    client: Option<std::net::IpAddr>,
) -> Option<Caller> {
    if let Some(token) = authorization
        .strip_prefix("Bearer ")
        .or_else(|| authorization.strip_prefix("bearer "))
    {
        let claims = state.tokens.verify(token.trim()).ok()?;
        // A JWT issued to a service token dies with it: revoked, disabled or expired
        // tokens stop working within a second, whatever the JWT's own expiry.
        if let Some(name) = claims.sub.strip_prefix("token:") {
            if !state.accounts.still_usable(name, client).await {
                return None;
            }
        }
        return Some(Caller {
            client_ip: String::new(),
            identity: Identity {
                name: claims.sub,
                principals: Vec::new(),
                grants: claims.access.iter().filter_map(|a| a.to_scope()).collect(),
                limit: None,
            },
            via_token: true,
        });
    }
    if let Some((user, password)) = decode_basic(authorization) {
        if user != ADMIN_USER {
            let identity = state.accounts.verify(&user, &password, client).await?;
            return Some(Caller {
                identity,
                client_ip: String::new(),
                via_token: false,
            });
        }
    }
    if state.auth.check(authorization).await {
        return Some(Caller {
            identity: admin_identity(),
            client_ip: String::new(),
            via_token: false,
        });
    }
    None
}

/// `WWW-Authenticate` for the token flow, naming the scope the request needs.
pub fn challenge(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    scope: Option<&str>,
    insufficient: bool,
) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.len() < 256 && !h.contains(['"', ' ', '\\']))
        .unwrap_or("127.0.0.1");
    let realm = match &state.realm {
        Some(r) => r.clone(),
        None => format!("{}://{host}/token", state.scheme),
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

/// Middleware: establishes the caller or answers 401 with a token challenge.
pub async fn require_auth(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let client_ip = client_ip(&req);
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let caller = match &presented {
        Some(value) => match authenticate(&state, value, &client_ip).await {
            Ok(c) => c,
            Err(locked) => {
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
        },
        None => None,
    };
    match caller {
        Some(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        None => {
            if let Some(value) = &presented {
                // Credentials that did not check out are evidence; a request without
                // any is just the start of the token flow.
                let who = decode_basic(value)
                    .map(|(user, _)| user.chars().take(64).collect::<String>())
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
            let scope = crate::distribution::challenge_scope(req.method(), req.uri().path());
            ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "UNAUTHORIZED",
                "authentication required",
            )
            .with_header(
                header::WWW_AUTHENTICATE,
                challenge(&state, req.headers(), scope.as_deref(), false),
            )
            .into_response()
        }
    }
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

    #[tokio::test]
    async fn checks_basic_credentials() {
        let auth = Authenticator::new(hash_password("s3cret").unwrap()).unwrap();
        let basic = |u: &str, p: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
            )
        };
        assert!(auth.check(&basic("admin", "s3cret")).await);
        assert!(auth.check(&basic("admin", "s3cret")).await); // remembered
        assert!(!auth.check(&basic("admin", "wrong")).await);
        assert!(!auth.check(&basic("root", "s3cret")).await);
        assert!(!auth.check("Bearer abc").await);
        assert!(!auth.check("Basic !!!").await);
    }
}
