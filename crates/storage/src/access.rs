//! The `AccessStore` port: identities other than the built-in admin (service tokens
//! today). Secrets are stored only as argon2id hashes.

use async_trait::async_trait;

use crate::meta::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTokenRecord {
    pub name: String,
    /// Immutable and never reused: a token re-created under the same name is another.
    pub uid: String,
    /// Bumped by a secret rotation and by disabling or enabling the token.
    pub generation: i64,
    /// Space-separated scopes, as given at creation.
    pub scopes: String,
    pub expires_at: Option<i64>,
    /// Password hashes of slots 1 and 2.
    pub password_hashes: [Option<String>; 2],
    pub enabled: bool,
    pub allowed_cidrs: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[async_trait]
pub trait AccessStore: Send + Sync + 'static {
    /// Creates a token; `false` when the name is taken.
    async fn create_token(&self, token: &ServiceTokenRecord) -> Result<bool>;
    async fn token(&self, name: &str) -> Result<Option<ServiceTokenRecord>>;
    async fn tokens(&self) -> Result<Vec<ServiceTokenRecord>>;
    /// Sets (or clears) one password slot (1 or 2); `false` if there is no such token.
    async fn set_token_password(&self, name: &str, slot: u8, hash: Option<&str>) -> Result<bool>;
    async fn set_token_enabled(&self, name: &str, enabled: bool) -> Result<bool>;
    async fn delete_token(&self, name: &str) -> Result<bool>;
    async fn touch_token(&self, name: &str, now: i64) -> Result<()>;
}
