//! Authentication at the edge: nobody reaches the registry API anonymously.
//!
//! Until user accounts and token authentication exist, the one identity is the
//! built-in `admin`, checked with HTTP Basic against an argon2id hash. Verifying
//! argon2 costs tens of milliseconds by design, so a successful check is remembered
//! (by a SHA-256 of the header, never the secret itself) for a few minutes.

use crate::error::ApiError;
use crate::AppState;
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

/// Middleware: rejects requests without valid credentials with an OCI 401.
pub async fn require_auth(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let authorized = match req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(value) => state.auth.check(value).await,
        None => false,
    };
    if authorized {
        next.run(req).await
    } else {
        ApiError::unauthorized().into_response()
    }
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
