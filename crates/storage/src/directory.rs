//! The `DirectoryStore` port: users, groups, custom roles, role bindings, personal
//! access tokens and runtime settings. Names and patterns are stored as given; the
//! server validates them before they get here.

use async_trait::async_trait;

use crate::meta::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub name: String,
    /// Immutable and never reused: a user re-created under the same name is another.
    pub uid: String,
    /// Bumped by every change of the user's credentials (password, enabled, second
    /// factor); what was derived from an older generation is refused.
    pub generation: i64,
    pub password_hash: String,
    pub enabled: bool,
    pub created_at: i64,
    /// The sealed TOTP secret, once enrolment started.
    pub totp_secret: Option<String>,
    /// The second factor is in force (the user proved a code after enrolling).
    pub totp_confirmed: bool,
    /// The last TOTP time step accepted; a code is good once.
    pub totp_last_step: i64,
    /// SHA-256 (hex) of each unused recovery code.
    pub recovery_codes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    pub name: String,
    pub members: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    pub name: String,
    /// Comma-separated actions.
    pub actions: String,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BindingRecord {
    /// `user:NAME`, `group:NAME` or `token:NAME`.
    pub principal: String,
    pub pattern: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatRecord {
    pub id: String,
    /// Bumped by a secret rotation and by disabling or enabling the token.
    pub generation: i64,
    pub user: String,
    pub name: String,
    /// Space-separated scopes: the most the token can do for its user.
    pub scopes: String,
    pub expires_at: Option<i64>,
    pub password_hash: String,
    /// The second secret's hash, when one was issued.
    pub password2_hash: Option<String>,
    pub enabled: bool,
    pub allowed_cidrs: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// The second-factor state to store for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpUpdate {
    pub secret: Option<String>,
    pub confirmed: bool,
    pub recovery_codes: Vec<String>,
}

#[async_trait]
pub trait DirectoryStore: Send + Sync + 'static {
    /// Creates a user; `false` when the name is taken.
    async fn create_user(&self, user: &UserRecord) -> Result<bool>;
    async fn user(&self, name: &str) -> Result<Option<UserRecord>>;
    async fn users(&self) -> Result<Vec<UserRecord>>;
    async fn count_users(&self) -> Result<u64>;
    async fn set_user_password(&self, name: &str, hash: &str) -> Result<bool>;
    async fn set_user_enabled(&self, name: &str, enabled: bool) -> Result<bool>;
    /// Deletes a user with their memberships, bindings and personal access tokens.
    async fn delete_user(&self, name: &str) -> Result<bool>;
    async fn set_totp(&self, name: &str, totp: &TotpUpdate) -> Result<bool>;
    /// Records `step` as used if it is later than the last one used: `false` means
    /// the code was already used (or an older one), so it must be refused.
    async fn use_totp_step(&self, name: &str, step: i64) -> Result<bool>;
    /// Removes one unused recovery code; `false` if it was not there.
    async fn use_recovery_code(&self, name: &str, code_hash: &str) -> Result<bool>;

    async fn create_group(&self, name: &str, now: i64) -> Result<bool>;
    async fn delete_group(&self, name: &str) -> Result<bool>;
    async fn groups(&self) -> Result<Vec<GroupRecord>>;
    /// `false` when the group or the user does not exist; adding twice is fine.
    async fn add_member(&self, group: &str, user: &str) -> Result<bool>;
    async fn remove_member(&self, group: &str, user: &str) -> Result<bool>;

    async fn create_role(&self, role: &RoleRecord) -> Result<bool>;
    async fn delete_role(&self, name: &str) -> Result<bool>;
    async fn roles(&self) -> Result<Vec<RoleRecord>>;

    /// `false` when the same binding exists already.
    async fn add_binding(&self, binding: &BindingRecord) -> Result<bool>;
    async fn remove_binding(&self, binding: &BindingRecord) -> Result<bool>;
    async fn bindings(&self) -> Result<Vec<BindingRecord>>;

    /// `false` when the user already has a token of that name.
    async fn create_pat(&self, pat: &PatRecord) -> Result<bool>;
    async fn pat(&self, id: &str) -> Result<Option<PatRecord>>;
    async fn pats(&self, user: &str) -> Result<Vec<PatRecord>>;
    async fn set_pat_enabled(&self, id: &str, enabled: bool) -> Result<bool>;
    /// Sets (or clears) secret slot 1 or 2 of a token; slot 1 cannot be cleared.
    async fn set_pat_secret(&self, id: &str, slot: u8, hash: Option<&str>) -> Result<bool>;
    async fn delete_pat(&self, id: &str) -> Result<bool>;
    async fn touch_pat(&self, id: &str, now: i64) -> Result<()>;

    async fn setting(&self, key: &str) -> Result<Option<String>>;
    /// Sets (or, with `None`, removes) a setting.
    async fn set_setting(&self, key: &str, value: Option<&str>) -> Result<()>;
}
