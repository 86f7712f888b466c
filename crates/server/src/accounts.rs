//! Service tokens (the registry's robot accounts): creation with generated
//! passwords, verification of `name:password` credentials, rotation of either of the
//! two password slots, enable/disable, expiry and deletion.
//!
//! Argon2 verification is slow by design, so a verified credential is remembered for
//! a few minutes (see `secrets`); but the token's row (enabled, expiry, the slot's current hash) is
//! re-read at most a second old on every request, so revocation, disabling and
//! rotation take effect within a second.

use crate::token::Stamp;
use airlock_access::{Identity, Principal, Scope};
use airlock_storage::{AccessStore, ServiceTokenRecord};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ROW_FRESHNESS: Duration = Duration::from_secs(1);
/// Token names share the Basic-auth user namespace with users; these stay reserved.
const RESERVED: [&str; 2] = ["admin", "token"];
pub const MAX_TOKEN_SCOPES: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Invalid(String),
    #[error("a token named {0:?} already exists")]
    Exists(String),
    #[error("no token named {0:?}")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

pub fn valid_token_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.'
        })
        && !RESERVED.contains(&name)
}

fn generate_password() -> String {
    crate::secrets::generate(40)
}

/// The identity a service token acts as. Its scopes are its rights.
pub fn token_identity(record: &ServiceTokenRecord) -> Identity {
    Identity {
        name: format!("token:{}", record.name),
        principals: vec![Principal::Token(record.name.clone())],
        grants: record
            .scopes
            .split(' ')
            .filter_map(|s| Scope::parse(s).ok())
            .collect(),
        limit: None,
        issued: None,
    }
}

/// The credential stamp of a token as stored now.
pub fn token_stamp(record: &ServiceTokenRecord) -> Stamp {
    Stamp {
        uid: record.uid.clone(),
        gen: record.generation,
    }
}

fn usable(record: &ServiceTokenRecord, at: i64) -> bool {
    record.enabled && record.expires_at.is_none_or(|e| at < e)
}

/// Whether a token limited to some networks may be used from `client`.
fn from_allowed_network(record: &ServiceTokenRecord, client: Option<IpAddr>) -> bool {
    crate::directory::within_cidrs(record.allowed_cidrs.as_deref(), client)
}

pub struct Accounts {
    store: Arc<dyn AccessStore>,
    rows: quick_cache::sync::Cache<String, (Option<ServiceTokenRecord>, Instant)>,
}

/// What a new token or a rotated password comes with: the only time the secret is seen.
#[derive(Debug, serde::Serialize)]
pub struct IssuedSecret {
    pub name: String,
    pub slot: u8,
    pub password: String,
}

impl Accounts {
    pub fn new(store: Arc<dyn AccessStore>) -> Self {
        Accounts {
            store,
            rows: quick_cache::sync::Cache::new(10_000),
        }
    }

    async fn row(&self, name: &str) -> anyhow::Result<Option<ServiceTokenRecord>> {
        if let Some((row, at)) = self.rows.get(name) {
            if at.elapsed() < ROW_FRESHNESS {
                return Ok(row);
            }
        }
        let row = self.store.token(name).await?;
        self.rows
            .insert(name.to_owned(), (row.clone(), Instant::now()));
        Ok(row)
    }

    fn forget(&self, name: &str) {
        self.rows.remove(name);
    }

    /// Whether a service token of that name exists (whatever its state), from the
    /// freshness cache the checks use.
    pub async fn is_token(&self, name: &str) -> bool {
        valid_token_name(name) && matches!(self.row(name).await, Ok(Some(_)))
    }

    /// The usable token `name`, whose secret hashes a login may be checked against,
    /// if it may be used from `client`.
    pub async fn password_candidate(
        &self,
        name: &str,
        password: &str,
        client: Option<IpAddr>,
    ) -> Option<ServiceTokenRecord> {
        if !valid_token_name(name) || password.len() > 1024 {
            return None;
        }
        let row = self.row(name).await.ok()??;
        (usable(&row, now()) && from_allowed_network(&row, client)).then_some(row)
    }

    /// The identity of the token `row` whose secret was just verified.
    pub fn signed_in(&self, row: &ServiceTokenRecord) -> Identity {
        self.touch(&row.name);
        token_identity(row)
    }

    /// The identity of a usable token named by a verified client certificate.
    pub async fn certificate_identity(
        &self,
        name: &str,
        client: Option<IpAddr>,
    ) -> Option<Identity> {
        if !valid_token_name(name) {
            return None;
        }
        match self.row(name).await {
            Ok(Some(row)) if usable(&row, now()) && from_allowed_network(&row, client) => {
                self.touch(name);
                Some(token_identity(&row))
            }
            _ => None,
        }
    }

    /// The identity of a usable token, for refresh grants.
    /// The token `name` as it is now — its identity and credential stamp — if it is
    /// usable, from `client`.
    pub async fn subject(&self, name: &str, client: Option<IpAddr>) -> Option<(Identity, Stamp)> {
        match self.row(name).await {
            Ok(Some(row)) if usable(&row, now()) && from_allowed_network(&row, client) => {
                Some((token_identity(&row), token_stamp(&row)))
            }
            _ => None,
        }
    }

    fn touch(&self, name: &str) {
        let store = self.store.clone();
        let name = name.to_owned();
        tokio::spawn(async move {
            let _ = store.touch_token(&name, now()).await;
        });
    }

    pub async fn create(
        &self,
        name: &str,
        scopes: &[String],
        expires_in_secs: Option<i64>,
        allowed_cidrs: Option<&[String]>,
    ) -> Result<IssuedSecret, AccountError> {
        if !valid_token_name(name) {
            return Err(AccountError::Invalid(format!(
                "invalid token name {name:?}: use 1-64 lowercase letters, digits, '-', '_', '.' (not admin or token)"
            )));
        }
        let invalid = |e: crate::directory::DirectoryError| AccountError::Invalid(e.to_string());
        let scopes = crate::directory::parse_scopes(scopes, MAX_TOKEN_SCOPES).map_err(invalid)?;
        let allowed_cidrs = crate::directory::parse_cidrs(allowed_cidrs).map_err(invalid)?;
        if let Some(e) = expires_in_secs {
            if e <= 0 {
                return Err(AccountError::Invalid("expiry must be in the future".into()));
            }
        }
        let password = generate_password();
        let hash = crate::secrets::hash_secret(&password).await?;
        let created = now();
        let record = ServiceTokenRecord {
            name: name.to_owned(),
            uid: crate::token::new_uid(),
            generation: 0,
            scopes,
            expires_at: expires_in_secs.map(|e| created.saturating_add(e)),
            password_hashes: [Some(hash), None],
            enabled: true,
            allowed_cidrs,
            created_at: created,
            last_used_at: None,
        };
        if !self.store.create_token(&record).await? {
            return Err(AccountError::Exists(name.to_owned()));
        }
        self.forget(name);
        Ok(IssuedSecret {
            name: name.to_owned(),
            slot: 1,
            password,
        })
    }

    /// Generates a new password for slot 1 or 2; the other slot keeps working.
    pub async fn rotate(&self, name: &str, slot: u8) -> Result<IssuedSecret, AccountError> {
        if slot != 1 && slot != 2 {
            return Err(AccountError::Invalid("password slot must be 1 or 2".into()));
        }
        let password = generate_password();
        let hash = crate::secrets::hash_secret(&password).await?;
        if !self
            .store
            .set_token_password(name, slot, Some(&hash))
            .await?
        {
            return Err(AccountError::NotFound(name.to_owned()));
        }
        self.forget(name);
        Ok(IssuedSecret {
            name: name.to_owned(),
            slot,
            password,
        })
    }

    pub async fn clear_password(&self, name: &str, slot: u8) -> Result<(), AccountError> {
        if slot != 1 && slot != 2 {
            return Err(AccountError::Invalid("password slot must be 1 or 2".into()));
        }
        if !self.store.set_token_password(name, slot, None).await? {
            return Err(AccountError::NotFound(name.to_owned()));
        }
        self.forget(name);
        Ok(())
    }

    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<(), AccountError> {
        if !self.store.set_token_enabled(name, enabled).await? {
            return Err(AccountError::NotFound(name.to_owned()));
        }
        self.forget(name);
        Ok(())
    }

    pub async fn delete(&self, name: &str) -> Result<(), AccountError> {
        if !self.store.delete_token(name).await? {
            return Err(AccountError::NotFound(name.to_owned()));
        }
        self.forget(name);
        Ok(())
    }

    pub async fn exists(&self, name: &str) -> bool {
        matches!(self.store.token(name).await, Ok(Some(_)))
    }

    pub async fn list(&self) -> Result<Vec<ServiceTokenRecord>, AccountError> {
        Ok(self.store.tokens().await?)
    }
}
