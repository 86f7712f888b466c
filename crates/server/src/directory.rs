//! The directory of people and their rights: users (argon2id passwords, optional
//! TOTP second factor), groups, custom roles, role bindings and personal access
//! tokens, and the policy snapshot every authorization decision reads.
//!
//! Rows that decide whether a credential still works (a user, a personal access
//! token) and the policy snapshot are re-read at most a second old, so disabling a
//! user, deleting a token or removing a binding takes effect within a second on every
//! server sharing the database.

use crate::second_factor;
use crate::secrets::{self, Busy, PasswordCheck, Sealer, Unchecked, Verify};
use crate::token::Stamp;
use airlock_access::{ActionSet, Binding, Identity, Principal, RepoPattern, Role, Scope};
use airlock_storage::{
    BindingRecord, DirectoryStore, PatRecord, RoleRecord, TotpUpdate, UserRecord,
};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const FRESHNESS: Duration = Duration::from_secs(1);
/// Prefix of every personal access token, so a PAT is recognised (and can be found
/// by secret scanners) without a database lookup.
pub const PAT_PREFIX: &str = "alp_";
const PAT_ID_LEN: usize = 12;
const PAT_SECRET_LEN: usize = 40;
pub const MAX_PATS_PER_USER: usize = 50;
pub const MIN_PASSWORD_LEN: usize = 12;
/// Names shared by users, groups, roles and service tokens: what stays reserved.
const RESERVED: [&str; 2] = ["token", "pat"];

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} already exists")]
    Exists(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

type Result<T> = std::result::Result<T, DirectoryError>;

fn now() -> i64 {
    airlock_storage::now_unix()
}

/// Names of users, groups and roles: 1-64 lowercase letters, digits, `-`, `_`, `.`.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_' || b == b'.'
        })
        && !RESERVED.contains(&name)
}

fn check_name(kind: &str, name: &str) -> Result<()> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(DirectoryError::Invalid(format!(
            "invalid {kind} name {name:?}: use 1-64 lowercase letters, digits, '-', '_', '.'"
        )))
    }
}

/// Parses scopes given for a token; space-joined canonical form.
pub fn parse_scopes(scopes: &[String], max: usize) -> Result<String> {
    if scopes.is_empty() || scopes.len() > max {
        return Err(DirectoryError::Invalid(format!(
            "give between 1 and {max} scopes"
        )));
    }
    let mut out = Vec::new();
    for s in scopes {
        out.push(
            Scope::parse(s)
                .map_err(|e| DirectoryError::Invalid(e.to_string()))?
                .to_string(),
        );
    }
    Ok(out.join(" "))
}

/// Checks a list of CIDRs; space-joined, or `None` for "anywhere".
pub fn parse_cidrs(cidrs: Option<&[String]>) -> Result<Option<String>> {
    let Some(cidrs) = cidrs else { return Ok(None) };
    if cidrs.is_empty() || cidrs.len() > 64 {
        return Err(DirectoryError::Invalid(
            "give between 1 and 64 allowed CIDRs".into(),
        ));
    }
    for c in cidrs {
        c.parse::<ipnet::IpNet>()
            .map_err(|_| DirectoryError::Invalid(format!("invalid CIDR {c:?}")))?;
    }
    Ok(Some(cidrs.join(" ")))
}

/// Whether `client` is inside the space-separated `cidrs` (always, without a list).
pub fn within_cidrs(cidrs: Option<&str>, client: Option<IpAddr>) -> bool {
    let Some(cidrs) = cidrs else { return true };
    let Some(client) = client else { return false };
    cidrs
        .split(' ')
        .filter_map(|c| c.parse::<ipnet::IpNet>().ok())
        .any(|net| net.contains(&client))
}

/// Everything authorization needs to know about bindings, at one moment.
#[derive(Debug, Default)]
pub struct Policy {
    pub bindings: Vec<Binding>,
    groups_of: HashMap<String, Vec<String>>,
    custom_roles: HashMap<String, ActionSet>,
}

impl Policy {
    /// A policy of given bindings (tests, bootstrapping).
    pub fn of(bindings: Vec<Binding>) -> Policy {
        Policy {
            bindings,
            ..Policy::default()
        }
    }

    /// A role by name: built-in or custom.
    pub fn role(&self, name: &str) -> Option<Role> {
        Role::built_in(name).or_else(|| {
            self.custom_roles.get(name).map(|a| Role::Custom {
                name: name.to_owned(),
                actions: *a,
            })
        })
    }

    /// A user and the groups they are in.
    pub fn principals(&self, user: &str) -> Vec<Principal> {
        let mut p = vec![Principal::User(user.to_owned())];
        if let Some(groups) = self.groups_of.get(user) {
            p.extend(groups.iter().cloned().map(Principal::Group));
        }
        p
    }

    /// Whether the user holds admin, owner or signer rights anywhere (directly or
    /// through a group): the users a mandatory second factor applies to.
    pub fn privileged(&self, user: &str) -> bool {
        let principals = self.principals(user);
        self.bindings.iter().any(|b| {
            principals.contains(&b.principal) && {
                let a = b.role.actions();
                a.contains(airlock_access::Action::Admin)
                    || a.contains(airlock_access::Action::Sign)
                    || b.role == Role::Owner
            }
        })
    }

    pub fn user_identity(&self, user: &str) -> Identity {
        Identity {
            name: user.to_owned(),
            principals: self.principals(user),
            grants: Vec::new(),
            limit: None,
            issued: None,
        }
    }
}

/// The result of checking a user's password.
#[derive(Debug)]
pub enum PasswordLogin {
    Ok(Identity),
    /// Right password, but the user has a second factor: a code is needed (and
    /// registry clients, which cannot give one, must use a personal access token).
    SecondFactorRequired,
    /// Right password, but policy requires a second factor the user has not enrolled:
    /// they may do nothing but enrol.
    MustEnrol(Identity),
    Refused,
    /// Too many password checks running or waiting: nothing was checked.
    Busy,
}

/// A secret shown once: a generated password or a new personal access token.
#[derive(Debug, serde::Serialize)]
pub struct Shown {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

type Fresh<T> = quick_cache::sync::Cache<String, (Option<T>, Instant)>;

pub struct Directory {
    store: Arc<dyn DirectoryStore>,
    check: PasswordCheck,
    sealer: Sealer,
    mandatory_2fa: bool,
    policy: Mutex<Option<(Arc<Policy>, Instant)>>,
    users: Fresh<UserRecord>,
    pats: Fresh<PatRecord>,
    pat_lifetime: PatLifetime,
}

/// How long personal access tokens may live.
#[derive(Debug, Clone, Copy)]
pub struct PatLifetime {
    /// The longest lifetime, and the one a token created without an expiry gets.
    pub max_secs: i64,
    /// Whether a token may be created that never expires (asked for with no expiry).
    pub allow_non_expiring: bool,
}

impl Default for PatLifetime {
    fn default() -> Self {
        PatLifetime {
            max_secs: 365 * 86_400,
            allow_non_expiring: false,
        }
    }
}

impl Directory {
    pub fn new(store: Arc<dyn DirectoryStore>, sealer: Sealer, mandatory_2fa: bool) -> Self {
        Directory {
            store,
            check: PasswordCheck::default(),
            sealer,
            mandatory_2fa,
            policy: Mutex::new(None),
            users: quick_cache::sync::Cache::new(10_000),
            pats: quick_cache::sync::Cache::new(10_000),
            pat_lifetime: PatLifetime::default(),
        }
    }

    /// Sets how long personal access tokens may live.
    pub fn with_pat_lifetime(mut self, lifetime: PatLifetime) -> Self {
        self.pat_lifetime = lifetime;
        self
    }

    pub fn mandatory_2fa(&self) -> bool {
        self.mandatory_2fa
    }

    /// First start: with no users at all, creates `admin` (with the hash `hash()`
    /// gives) as administrator of everything. Whether it did.
    pub async fn bootstrap_admin(
        &self,
        hash: impl FnOnce() -> anyhow::Result<String>,
    ) -> anyhow::Result<bool> {
        if self.store.count_users().await? > 0 {
            return Ok(false);
        }
        let created = self
            .store
            .create_user(&UserRecord {
                name: crate::auth::ADMIN_USER.into(),
                uid: crate::token::new_uid(),
                generation: 0,
                password_hash: hash()?,
                enabled: true,
                created_at: now(),
                totp_secret: None,
                totp_confirmed: false,
                totp_last_step: 0,
                recovery_codes: Vec::new(),
            })
            .await?;
        self.store
            .add_binding(&BindingRecord {
                principal: format!("user:{}", crate::auth::ADMIN_USER),
                pattern: RepoPattern::everything().to_string(),
                role: Role::Admin.name().to_owned(),
            })
            .await?;
        Ok(created)
    }

    // ---- reading, at most a second old ----

    /// The bindings in force, at most a second old.
    pub async fn policy(&self) -> Arc<Policy> {
        if let Some((p, at)) = self.policy.lock().expect("policy lock").as_ref() {
            if at.elapsed() < FRESHNESS {
                return p.clone();
            }
        }
        match self.load_policy().await {
            Ok(p) => {
                let p = Arc::new(p);
                *self.policy.lock().expect("policy lock") = Some((p.clone(), Instant::now()));
                p
            }
            Err(e) => {
                // Fail closed: without the bindings nothing is allowed.
                tracing::error!(error = ?e, "loading the access policy");
                Arc::new(Policy::default())
            }
        }
    }

    async fn load_policy(&self) -> anyhow::Result<Policy> {
        let mut policy = Policy::default();
        for r in self.store.roles().await? {
            if let Ok(a) = ActionSet::parse_list(&r.actions) {
                policy.custom_roles.insert(r.name, a);
            }
        }
        for g in self.store.groups().await? {
            for m in g.members {
                policy.groups_of.entry(m).or_default().push(g.name.clone());
            }
        }
        for b in self.store.bindings().await? {
            let (Some(principal), Ok(pattern), Some(role)) = (
                Principal::parse(&b.principal),
                RepoPattern::parse(&b.pattern),
                policy.role(&b.role),
            ) else {
                tracing::warn!(?b, "ignoring a binding that no longer parses");
                continue;
            };
            policy.bindings.push(Binding {
                principal,
                pattern,
                role,
            });
        }
        Ok(policy)
    }

    fn changed(&self) {
        *self.policy.lock().expect("policy lock") = None;
    }

    async fn fresh<T: Clone>(
        cache: &Fresh<T>,
        key: &str,
        load: impl std::future::Future<Output = anyhow::Result<Option<T>>>,
    ) -> Option<T> {
        if let Some((row, at)) = cache.get(key) {
            if at.elapsed() < FRESHNESS {
                return row;
            }
        }
        let row = load.await.ok()?;
        cache.insert(key.to_owned(), (row.clone(), Instant::now()));
        row
    }

    async fn user_row(&self, name: &str) -> Option<UserRecord> {
        Self::fresh(&self.users, name, self.store.user(name)).await
    }

    async fn pat_row(&self, id: &str) -> Option<PatRecord> {
        Self::fresh(&self.pats, id, self.store.pat(id)).await
    }

    pub async fn user_exists(&self, name: &str) -> anyhow::Result<bool> {
        Ok(self.store.user(name).await?.is_some())
    }

    // ---- authentication ----

    /// The enabled user `name`, whose password hash a login may be checked against.
    pub async fn password_candidate(&self, name: &str) -> Option<UserRecord> {
        self.user_row(name).await.filter(|r| r.enabled)
    }

    /// Checks a user's password (not a personal access token).
    /// An unknown or disabled user is checked against a dummy hash, so the time taken
    /// does not tell which names exist.
    pub async fn password_login(&self, user: &str, password: &str) -> PasswordLogin {
        let row = self.password_candidate(user).await;
        let hash = row.as_ref().map(|r| r.password_hash.as_str());
        match self.check.first_match(&[hash], password).await {
            Err(Busy) => PasswordLogin::Busy,
            Ok(None) => PasswordLogin::Refused,
            Ok(Some(_)) => match row {
                Some(row) => self.password_accepted(&row).await,
                None => PasswordLogin::Refused,
            },
        }
    }

    /// What a right password of the user `row` gets: a second factor to give, an
    /// enrolment to make first, or in.
    pub async fn password_accepted(&self, row: &UserRecord) -> PasswordLogin {
        if row.totp_confirmed {
            return PasswordLogin::SecondFactorRequired;
        }
        let policy = self.policy().await;
        let identity = policy.user_identity(&row.name);
        if self.mandatory_2fa && policy.privileged(&row.name) {
            return PasswordLogin::MustEnrol(identity);
        }
        PasswordLogin::Ok(identity)
    }

    /// Password and (for users with a second factor) a TOTP or recovery code: what
    /// logging in to the admin API takes.
    pub async fn interactive_login(
        &self,
        user: &str,
        password: &str,
        code: Option<&str>,
    ) -> PasswordLogin {
        match self.password_login(user, password).await {
            PasswordLogin::SecondFactorRequired => match code {
                Some(code) if self.second_factor(user, code).await => {
                    PasswordLogin::Ok(self.policy().await.user_identity(user))
                }
                _ => PasswordLogin::SecondFactorRequired,
            },
            other => other,
        }
    }

    /// The identity of an enabled user named by a verified client certificate. The
    /// certificate's private key is a factor of its own, so no password or code is
    /// asked for.
    pub async fn certificate_login(&self, user: &str) -> Option<Identity> {
        let row = self.user_row(user).await?;
        if !row.enabled {
            return None;
        }
        Some(self.policy().await.user_identity(user))
    }

    /// Checks a TOTP code (good once) or a recovery code (good once).
    pub async fn second_factor(&self, user: &str, code: &str) -> bool {
        let Ok(Some(row)) = self.store.user(user).await else {
            return false;
        };
        let Some(sealed) = &row.totp_secret else {
            return false;
        };
        let code = code.trim();
        if second_factor::is_totp_code(code) {
            let Ok(secret) = self.sealer.open(sealed) else {
                tracing::error!(user, "a TOTP secret does not open with the secrets key");
                return false;
            };
            let unix = now().max(0) as u64;
            let Some(step) = second_factor::matching_step(&secret, code, unix) else {
                return false;
            };
            matches!(self.store.use_totp_step(user, step).await, Ok(true))
        } else if row.totp_confirmed && code.len() <= 32 {
            let keyed = second_factor::recovery_hash(self.sealer.recovery_key(), code);
            let mut used = matches!(self.store.use_recovery_code(user, &keyed).await, Ok(true));
            if !used {
                // Codes enrolled before the hashes were keyed.
                let legacy = second_factor::legacy_recovery_hash(code);
                used = matches!(self.store.use_recovery_code(user, &legacy).await, Ok(true));
            }
            self.users.remove(user);
            used
        } else {
            false
        }
    }

    /// Checks a personal access token presented by `user`.
    pub async fn pat_login(
        &self,
        user: &str,
        token: &str,
        client: Option<IpAddr>,
        verify: Verify,
    ) -> std::result::Result<Option<(Identity, Stamp)>, Unchecked> {
        let row = match pat_id(token) {
            Some(id) => self.pat_row(id).await,
            None => None,
        };
        let row = match row {
            Some(r) if r.user == user && self.pat_usable(&r, client).await => Some(r),
            _ => None,
        };
        // Both secret slots side by side; an unknown token against a dummy hash.
        let candidates: Vec<Option<&str>> = match &row {
            Some(r) => std::iter::once(&r.password_hash)
                .chain(r.password2_hash.as_ref())
                .map(|h| Some(h.as_str()))
                .collect(),
            None => vec![None],
        };
        if self
            .check
            .check(&candidates, token, verify)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        let Some(row) = row else {
            return Ok(None);
        };
        let id = row.id.clone();
        let store = self.store.clone();
        tokio::spawn(async move {
            let _ = store.touch_pat(&id, now()).await;
        });
        Ok(Some((self.pat_identity(&row).await, pat_stamp(&row))))
    }

    async fn pat_usable(&self, row: &PatRecord, client: Option<IpAddr>) -> bool {
        row.enabled
            && row.expires_at.is_none_or(|e| now() < e)
            && within_cidrs(row.allowed_cidrs.as_deref(), client)
            && self.user_row(&row.user).await.is_some_and(|u| u.enabled)
    }

    async fn pat_identity(&self, row: &PatRecord) -> Identity {
        let mut identity = self.policy().await.user_identity(&row.user);
        identity.name = pat_subject(&row.user, &row.id);
        identity.limit = Some(
            row.scopes
                .split(' ')
                .filter_map(|s| Scope::parse(s).ok())
                .collect(),
        );
        identity
    }

    /// The user or personal access token a token was issued to (its `sub`: `USER` or
    /// `USER/pat:ID`) as it is now — its identity and credential stamp — if it is
    /// usable, from `client`. Disabling or deleting either ends what was derived from
    /// it within a second.
    pub async fn subject(&self, sub: &str, client: Option<IpAddr>) -> Option<(Identity, Stamp)> {
        match sub.split_once("/pat:") {
            Some((_, id)) => {
                let row = self.pat_row(id).await?;
                if !self.pat_usable(&row, client).await {
                    return None;
                }
                Some((self.pat_identity(&row).await, pat_stamp(&row)))
            }
            None => {
                let row = self.user_row(sub).await?;
                if !row.enabled {
                    return None;
                }
                Some((self.policy().await.user_identity(sub), user_stamp(&row)))
            }
        }
    }

    // ---- users ----

    pub async fn create_user(&self, name: &str, password: Option<&str>) -> Result<Shown> {
        check_name("user", name)?;
        let (password, generated) = match password {
            Some(p) => {
                check_password(p)?;
                (p.to_owned(), false)
            }
            None => (secrets::generate(24), true),
        };
        let record = UserRecord {
            uid: crate::token::new_uid(),
            generation: 0,
            name: name.to_owned(),
            password_hash: secrets::hash_secret(&password).await?,
            enabled: true,
            created_at: now(),
            totp_secret: None,
            totp_confirmed: false,
            totp_last_step: 0,
            recovery_codes: Vec::new(),
        };
        if !self.store.create_user(&record).await? {
            return Err(DirectoryError::Exists(format!("user {name:?}")));
        }
        self.users.remove(name);
        Ok(Shown {
            name: name.to_owned(),
            id: None,
            password: generated.then_some(password),
            token: None,
        })
    }

    pub async fn users(&self) -> Result<Vec<UserRecord>> {
        Ok(self.store.users().await?)
    }

    pub async fn user(&self, name: &str) -> Result<UserRecord> {
        self.store
            .user(name)
            .await?
            .ok_or_else(|| DirectoryError::NotFound(format!("user {name:?}")))
    }

    pub async fn set_password(&self, name: &str, password: &str) -> Result<()> {
        check_password(password)?;
        let hash = secrets::hash_secret(password).await?;
        if !self.store.set_user_password(name, &hash).await? {
            return Err(DirectoryError::NotFound(format!("user {name:?}")));
        }
        self.users.remove(name);
        Ok(())
    }

    /// Whether `password` is the user's current password (for self-service changes).
    pub async fn password_matches(
        &self,
        name: &str,
        password: &str,
    ) -> std::result::Result<bool, Busy> {
        match self.store.user(name).await {
            Ok(Some(u)) => self.check.matches(&u.password_hash, password).await,
            _ => Ok(false),
        }
    }

    pub async fn set_user_enabled(&self, name: &str, enabled: bool) -> Result<()> {
        if !self.store.set_user_enabled(name, enabled).await? {
            return Err(DirectoryError::NotFound(format!("user {name:?}")));
        }
        self.users.remove(name);
        Ok(())
    }

    pub async fn delete_user(&self, name: &str) -> Result<()> {
        if !self.store.delete_user(name).await? {
            return Err(DirectoryError::NotFound(format!("user {name:?}")));
        }
        self.users.remove(name);
        self.pats.clear();
        self.changed();
        Ok(())
    }

    // ---- second factor ----

    /// Starts (or restarts, while unconfirmed) TOTP enrolment.
    pub async fn enrol_totp(&self, name: &str) -> Result<second_factor::Enrolment> {
        let user = self.user(name).await?;
        if user.totp_confirmed {
            return Err(DirectoryError::Invalid(
                "a second factor is already enrolled; remove it first".into(),
            ));
        }
        let e = second_factor::enrol(name, self.sealer.recovery_key())?;
        let update = TotpUpdate {
            secret: Some(self.sealer.seal(&e.secret_bytes)?),
            confirmed: false,
            recovery_codes: e.recovery_hashes.clone(),
        };
        self.store.set_totp(name, &update).await?;
        self.users.remove(name);
        Ok(e)
    }

    /// Confirms enrolment with a first code; from then on the factor is required.
    pub async fn confirm_totp(&self, name: &str, code: &str) -> Result<()> {
        let user = self.user(name).await?;
        let Some(sealed) = user.totp_secret.clone() else {
            return Err(DirectoryError::Invalid(
                "start enrolment first (POST …/totp)".into(),
            ));
        };
        if user.totp_confirmed {
            return Err(DirectoryError::Invalid("already confirmed".into()));
        }
        let secret = self.sealer.open(&sealed)?;
        let step = second_factor::matching_step(&secret, code.trim(), now().max(0) as u64);
        let fresh = match step {
            Some(step) => self.store.use_totp_step(name, step).await?,
            None => false,
        };
        if !fresh {
            return Err(DirectoryError::Invalid("wrong or already used code".into()));
        }
        let update = TotpUpdate {
            secret: Some(sealed),
            confirmed: true,
            recovery_codes: user.recovery_codes,
        };
        self.store.set_totp(name, &update).await?;
        self.users.remove(name);
        Ok(())
    }

    pub async fn remove_totp(&self, name: &str) -> Result<()> {
        let update = TotpUpdate {
            secret: None,
            confirmed: false,
            recovery_codes: Vec::new(),
        };
        if !self.store.set_totp(name, &update).await? {
            return Err(DirectoryError::NotFound(format!("user {name:?}")));
        }
        self.users.remove(name);
        Ok(())
    }

    // ---- groups, roles, bindings ----

    pub async fn create_group(&self, name: &str) -> Result<()> {
        check_name("group", name)?;
        if !self.store.create_group(name, now()).await? {
            return Err(DirectoryError::Exists(format!("group {name:?}")));
        }
        Ok(())
    }

    pub async fn delete_group(&self, name: &str) -> Result<()> {
        if !self.store.delete_group(name).await? {
            return Err(DirectoryError::NotFound(format!("group {name:?}")));
        }
        self.changed();
        Ok(())
    }

    pub async fn groups(&self) -> Result<Vec<airlock_storage::GroupRecord>> {
        Ok(self.store.groups().await?)
    }

    pub async fn add_member(&self, group: &str, user: &str) -> Result<()> {
        if !self.store.add_member(group, user).await? {
            return Err(DirectoryError::NotFound(format!(
                "group {group:?} or user {user:?}"
            )));
        }
        self.changed();
        Ok(())
    }

    pub async fn remove_member(&self, group: &str, user: &str) -> Result<()> {
        if !self.store.remove_member(group, user).await? {
            return Err(DirectoryError::NotFound(format!(
                "user {user:?} in group {group:?}"
            )));
        }
        self.changed();
        Ok(())
    }

    pub async fn create_role(&self, name: &str, actions: &str) -> Result<ActionSet> {
        check_name("role", name)?;
        if Role::built_in(name).is_some() {
            return Err(DirectoryError::Exists(format!("built-in role {name:?}")));
        }
        let set =
            ActionSet::parse_list(actions).map_err(|e| DirectoryError::Invalid(e.to_string()))?;
        if set.is_empty() {
            return Err(DirectoryError::Invalid("a role needs actions".into()));
        }
        let record = RoleRecord {
            name: name.to_owned(),
            actions: set.to_string(),
        };
        if !self.store.create_role(&record).await? {
            return Err(DirectoryError::Exists(format!("role {name:?}")));
        }
        self.changed();
        Ok(set)
    }

    pub async fn delete_role(&self, name: &str) -> Result<()> {
        if Role::built_in(name).is_some() {
            return Err(DirectoryError::Invalid(format!(
                "{name:?} is a built-in role"
            )));
        }
        if !self.store.delete_role(name).await? {
            return Err(DirectoryError::NotFound(format!("role {name:?}")));
        }
        self.changed();
        Ok(())
    }

    /// Every role: built-in first, then custom.
    pub async fn roles(&self) -> Result<Vec<(String, ActionSet, bool)>> {
        let mut out: Vec<(String, ActionSet, bool)> = Role::BUILT_IN
            .iter()
            .map(|r| (r.name().to_owned(), r.actions(), true))
            .collect();
        for r in self.store.roles().await? {
            if let Ok(a) = ActionSet::parse_list(&r.actions) {
                out.push((r.name, a, false));
            }
        }
        Ok(out)
    }

    /// Checks a binding's parts: the principal must exist (`token_exists` answers for
    /// service tokens), the pattern parse and the role be known.
    pub async fn validate_binding(
        &self,
        b: &BindingRecord,
        token_exists: bool,
    ) -> Result<BindingRecord> {
        let principal = Principal::parse(&b.principal).ok_or_else(|| {
            DirectoryError::Invalid(format!(
                "invalid principal {:?}: use user:NAME, group:NAME or token:NAME",
                b.principal
            ))
        })?;
        let exists = match &principal {
            Principal::User(n) => self.store.user(n).await?.is_some(),
            Principal::Group(n) => self.store.groups().await?.iter().any(|g| &g.name == n),
            Principal::Token(_) => token_exists,
        };
        if !exists {
            return Err(DirectoryError::NotFound(principal.to_string()));
        }
        let pattern = RepoPattern::parse(&b.pattern)
            .map_err(|e| DirectoryError::Invalid(format!("pattern {:?}: {e}", b.pattern)))?;
        if self.policy().await.role(&b.role).is_none() {
            return Err(DirectoryError::NotFound(format!("role {:?}", b.role)));
        }
        Ok(BindingRecord {
            principal: principal.to_string(),
            pattern: pattern.to_string(),
            role: b.role.clone(),
        })
    }

    pub async fn add_binding(&self, b: &BindingRecord) -> Result<()> {
        if !self.store.add_binding(b).await? {
            return Err(DirectoryError::Exists("that binding".into()));
        }
        self.changed();
        Ok(())
    }

    pub async fn remove_binding(&self, b: &BindingRecord) -> Result<()> {
        if !self.store.remove_binding(b).await? {
            return Err(DirectoryError::NotFound("that binding".into()));
        }
        self.changed();
        Ok(())
    }

    pub async fn bindings(&self) -> Result<Vec<BindingRecord>> {
        Ok(self.store.bindings().await?)
    }

    // ---- personal access tokens ----

    pub async fn create_pat(
        &self,
        user: &str,
        name: &str,
        scopes: &[String],
        expires_in_secs: Option<i64>,
        cidrs: Option<&[String]>,
    ) -> Result<Shown> {
        check_name("token", name)?;
        let scopes = parse_scopes(scopes, crate::accounts::MAX_TOKEN_SCOPES)?;
        let allowed_cidrs = parse_cidrs(cidrs)?;
        if expires_in_secs.is_some_and(|e| e <= 0) {
            return Err(DirectoryError::Invalid(
                "expiry must be in the future".into(),
            ));
        }
        let limit = self.pat_lifetime;
        let expires_in_secs = match expires_in_secs {
            Some(e) if e > limit.max_secs && !limit.allow_non_expiring => {
                return Err(DirectoryError::Invalid(format!(
                    "a personal access token may live at most {} days on this registry",
                    limit.max_secs / 86_400
                )))
            }
            Some(e) => Some(e),
            None if limit.allow_non_expiring => None,
            None => Some(limit.max_secs),
        };
        self.user(user).await?;
        if self.store.pats(user).await?.len() >= MAX_PATS_PER_USER {
            return Err(DirectoryError::Invalid(format!(
                "a user may have at most {MAX_PATS_PER_USER} personal access tokens"
            )));
        }
        let id = secrets::generate(PAT_ID_LEN).to_ascii_lowercase();
        let token = format!("{PAT_PREFIX}{id}_{}", secrets::generate(PAT_SECRET_LEN));
        let created = now();
        let record = PatRecord {
            id: id.clone(),
            generation: 0,
            user: user.to_owned(),
            name: name.to_owned(),
            scopes,
            expires_at: expires_in_secs.map(|e| created.saturating_add(e)),
            password_hash: secrets::hash_secret(&token).await?,
            password2_hash: None,
            enabled: true,
            allowed_cidrs,
            created_at: created,
            last_used_at: None,
        };
        if !self.store.create_pat(&record).await? {
            return Err(DirectoryError::Exists(format!(
                "a token named {name:?} for {user:?}"
            )));
        }
        Ok(Shown {
            name: name.to_owned(),
            id: Some(id),
            password: None,
            token: Some(token),
        })
    }

    /// A user's personal access tokens; `NotFound` for a user that does not exist.
    pub async fn pats(&self, user: &str) -> Result<Vec<PatRecord>> {
        self.user(user).await?;
        Ok(self.store.pats(user).await?)
    }

    /// A user's token by id; `NotFound` for another user's.
    async fn own_pat(&self, user: &str, id: &str) -> Result<PatRecord> {
        match self.store.pat(id).await? {
            Some(p) if p.user == user => Ok(p),
            _ => Err(DirectoryError::NotFound(format!(
                "token {id:?} of {user:?}"
            ))),
        }
    }

    pub async fn set_pat_enabled(&self, user: &str, id: &str, enabled: bool) -> Result<()> {
        self.own_pat(user, id).await?;
        self.store.set_pat_enabled(id, enabled).await?;
        self.pats.remove(id);
        Ok(())
    }

    /// A new secret for slot 1 or 2 of a token (same id, scopes and expiry); the
    /// other slot keeps working, so clients can move over without downtime.
    pub async fn rotate_pat(&self, user: &str, id: &str, slot: u8) -> Result<Shown> {
        if slot != 1 && slot != 2 {
            return Err(DirectoryError::Invalid("secret slot must be 1 or 2".into()));
        }
        let pat = self.own_pat(user, id).await?;
        let token = format!("{PAT_PREFIX}{id}_{}", secrets::generate(PAT_SECRET_LEN));
        let hash = secrets::hash_secret(&token).await?;
        self.store.set_pat_secret(id, slot, Some(&hash)).await?;
        self.pats.remove(id);
        Ok(Shown {
            name: pat.name,
            id: Some(id.to_owned()),
            password: None,
            token: Some(token),
        })
    }

    /// Drops the second secret of a token.
    pub async fn clear_pat_secret(&self, user: &str, id: &str) -> Result<()> {
        self.own_pat(user, id).await?;
        self.store.set_pat_secret(id, 2, None).await?;
        self.pats.remove(id);
        Ok(())
    }

    pub async fn delete_pat(&self, user: &str, id: &str) -> Result<()> {
        self.own_pat(user, id).await?;
        self.store.delete_pat(id).await?;
        self.pats.remove(id);
        Ok(())
    }

    // ---- settings ----

    pub async fn setting(&self, key: &str) -> anyhow::Result<Option<String>> {
        self.store.setting(key).await
    }

    pub async fn set_setting(&self, key: &str, value: Option<&str>) -> anyhow::Result<()> {
        self.store.set_setting(key, value).await
    }
}

fn check_password(p: &str) -> Result<()> {
    if p.chars().count() < MIN_PASSWORD_LEN || p.len() > secrets::MAX_PASSWORD_BYTES {
        return Err(DirectoryError::Invalid(format!(
            "a password needs at least {MIN_PASSWORD_LEN} characters"
        )));
    }
    Ok(())
}

/// The id inside a personal access token (`alp_<id>_<secret>`), if it is one.
pub fn pat_id(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(PAT_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    (id.len() == PAT_ID_LEN
        && id.bytes().all(|b| b.is_ascii_alphanumeric())
        && secret.len() == PAT_SECRET_LEN)
        .then_some(id)
}

/// How a personal access token appears in audit records and as a JWT subject.
/// The credential stamp of a user as stored now.
pub fn user_stamp(row: &UserRecord) -> Stamp {
    Stamp {
        uid: row.uid.clone(),
        gen: row.generation,
    }
}

/// The credential stamp of a personal access token (its id is immutable already).
fn pat_stamp(row: &PatRecord) -> Stamp {
    Stamp {
        uid: row.id.clone(),
        gen: row.generation,
    }
}

pub fn pat_subject(user: &str, id: &str) -> String {
    format!("{user}/pat:{id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_access::{authorize, Action, Target};
    use airlock_oci::RepositoryName;
    use airlock_storage::SqliteMetaStore;

    async fn directory(mandatory: bool) -> (Directory, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetaStore::open(&dir.path().join("db")).await.unwrap();
        let sealer = Sealer::new(&Sealer::generate_key()).unwrap();
        (Directory::new(Arc::new(store), sealer, mandatory), dir)
    }

    fn binding(p: &str, pattern: &str, role: &str) -> BindingRecord {
        BindingRecord {
            principal: p.into(),
            pattern: pattern.into(),
            role: role.into(),
        }
    }

    #[tokio::test]
    async fn groups_and_custom_roles_reach_decisions() {
        let (d, _t) = directory(false).await;
        d.create_user("alice", Some("correct horse battery"))
            .await
            .unwrap();
        d.create_group("devs").await.unwrap();
        d.add_member("devs", "alice").await.unwrap();
        d.create_role("pusher", "push,list").await.unwrap();
        let b = d
            .validate_binding(&binding("group:devs", "team/*", "pusher"), false)
            .await
            .unwrap();
        d.add_binding(&b).await.unwrap();
        let PasswordLogin::Ok(alice) = d.password_login("alice", "correct horse battery").await
        else {
            panic!("login")
        };
        let repo = RepositoryName::parse("team/app").unwrap();
        let policy = d.policy().await;
        let can = |a| authorize(&alice, &policy.bindings, a, Target::Repository(&repo)).allowed;
        assert!(can(Action::Push));
        assert!(!can(Action::Pull), "the custom role has no pull");
        d.remove_member("devs", "alice").await.unwrap();
        let policy = d.policy().await;
        let alice = policy.user_identity("alice");
        assert!(
            !authorize(
                &alice,
                &policy.bindings,
                Action::Push,
                Target::Repository(&repo)
            )
            .allowed
        );
        assert!(matches!(
            d.validate_binding(&binding("user:nobody", "a", "reader"), false)
                .await,
            Err(DirectoryError::NotFound(_))
        ));
        assert!(matches!(
            d.validate_binding(&binding("user:alice", "a", "nosuchrole"), false)
                .await,
            Err(DirectoryError::NotFound(_))
        ));
        assert!(matches!(
            d.validate_binding(&binding("robot", "a", "reader"), false)
                .await,
            Err(DirectoryError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn totp_codes_work_once_and_recovery_codes_too() {
        let (d, _t) = directory(false).await;
        d.create_user("alice", Some("correct horse battery"))
            .await
            .unwrap();
        let e = d.enrol_totp("alice").await.unwrap();
        // Not in force until confirmed.
        assert!(matches!(
            d.password_login("alice", "correct horse battery").await,
            PasswordLogin::Ok(_)
        ));
        let t = now() as u64;
        let code = second_factor::code_at(&e.secret_bytes, t).unwrap();
        d.confirm_totp("alice", &code).await.unwrap();
        assert!(matches!(
            d.password_login("alice", "correct horse battery").await,
            PasswordLogin::SecondFactorRequired
        ));
        // The confirming code is spent; the next step's code works once.
        let pw = "correct horse battery";
        assert!(matches!(
            d.interactive_login("alice", pw, Some(&code)).await,
            PasswordLogin::SecondFactorRequired
        ));
        let next = second_factor::code_at(&e.secret_bytes, t + 30).unwrap();
        assert!(matches!(
            d.interactive_login("alice", pw, Some(&next)).await,
            PasswordLogin::Ok(_)
        ));
        assert!(matches!(
            d.interactive_login("alice", pw, Some(&next)).await,
            PasswordLogin::SecondFactorRequired
        ));
        let rc = &e.recovery_codes[3];
        assert!(matches!(
            d.interactive_login("alice", pw, Some(rc)).await,
            PasswordLogin::Ok(_)
        ));
        assert!(matches!(
            d.interactive_login("alice", pw, Some(rc)).await,
            PasswordLogin::SecondFactorRequired
        ));
        assert!(matches!(
            d.interactive_login("alice", "wrong password!!", Some(&e.recovery_codes[4]))
                .await,
            PasswordLogin::Refused
        ));
    }

    #[tokio::test]
    async fn mandatory_second_factor_for_privileged_users() {
        let (d, _t) = directory(true).await;
        d.create_user("alice", Some("correct horse battery"))
            .await
            .unwrap();
        d.create_user("bob", Some("correct horse battery"))
            .await
            .unwrap();
        for (who, role) in [("alice", "signer"), ("bob", "reader")] {
            let b = d
                .validate_binding(&binding(&format!("user:{who}"), "team/*", role), false)
                .await
                .unwrap();
            d.add_binding(&b).await.unwrap();
        }
        assert!(matches!(
            d.password_login("alice", "correct horse battery").await,
            PasswordLogin::MustEnrol(_)
        ));
        assert!(matches!(
            d.password_login("bob", "correct horse battery").await,
            PasswordLogin::Ok(_)
        ));
    }

    #[tokio::test]
    async fn personal_access_tokens_narrow_their_user() {
        let (d, _t) = directory(false).await;
        d.create_user("alice", Some("correct horse battery"))
            .await
            .unwrap();
        let b = d
            .validate_binding(&binding("user:alice", "team/*", "owner"), false)
            .await
            .unwrap();
        d.add_binding(&b).await.unwrap();
        let shown = d
            .create_pat(
                "alice",
                "laptop",
                &["repository:team/app:pull".into()],
                Some(3600),
                None,
            )
            .await
            .unwrap();
        let token = shown.token.unwrap();
        assert!(
            d.pat_login("bob", &token, None, Verify::Full)
                .await
                .unwrap()
                .is_none(),
            "another user"
        );
        let (id, _) = d
            .pat_login("alice", &token, None, Verify::Full)
            .await
            .unwrap()
            .unwrap();
        let policy = d.policy().await;
        let repo = RepositoryName::parse("team/app").unwrap();
        let can = |a| authorize(&id, &policy.bindings, a, Target::Repository(&repo)).allowed;
        assert!(can(Action::Pull));
        assert!(
            !can(Action::Push),
            "the token is pull-only though alice owns team/*"
        );
        assert!(d.subject(&id.name, None).await.is_some());
        d.set_pat_enabled("alice", shown.id.as_deref().unwrap(), false)
            .await
            .unwrap();
        assert!(d
            .pat_login("alice", &token, None, Verify::Full)
            .await
            .unwrap()
            .is_none());
        assert!(d.subject(&id.name, None).await.is_none());
        assert!(d
            .pat_login("alice", "alp_short_x", None, Verify::Full)
            .await
            .unwrap()
            .is_none());

        // Two secrets: rotate slot 2, both work; replace slot 1, the old one stops.
        let id = shown.id.as_deref().unwrap();
        d.set_pat_enabled("alice", id, true).await.unwrap();
        let second = d.rotate_pat("alice", id, 2).await.unwrap().token.unwrap();
        assert!(d
            .pat_login("alice", &token, None, Verify::Full)
            .await
            .unwrap()
            .is_some());
        assert!(d
            .pat_login("alice", &second, None, Verify::Full)
            .await
            .unwrap()
            .is_some());
        let first = d.rotate_pat("alice", id, 1).await.unwrap().token.unwrap();
        assert!(
            d.pat_login("alice", &token, None, Verify::Full)
                .await
                .unwrap()
                .is_none(),
            "replaced"
        );
        assert!(d
            .pat_login("alice", &first, None, Verify::Full)
            .await
            .unwrap()
            .is_some());
        d.clear_pat_secret("alice", id).await.unwrap();
        assert!(
            d.pat_login("alice", &second, None, Verify::Full)
                .await
                .unwrap()
                .is_none(),
            "cleared"
        );
        assert!(d.rotate_pat("bob", id, 1).await.is_err(), "not bob's");
    }
}
