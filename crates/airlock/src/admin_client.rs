//! The management subcommands (`airlock login`, `user`, `pat`, `group`, `role`,
//! `token`, `network`): clients of the admin API of a running server.
//!
//! The server URL comes from `--server` or `AIRLOCK_SERVER` (default
//! `http://127.0.0.1:5000`). Credentials: `AIRLOCK_PASSWORD` (with `AIRLOCK_USER`,
//! default `admin`) when set, otherwise the session `airlock login` saved (password
//! plus second factor; `AIRLOCK_SESSION_FILE`, default
//! `~/.config/airlock/session.json`, mode 0600). Secrets are printed once.

use crate::config::parse_duration;
use anyhow::{bail, Context};
use clap::Subcommand;
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Connection {
    /// Registry URL (default $AIRLOCK_SERVER or http://127.0.0.1:5000).
    #[arg(long, env = "AIRLOCK_SERVER", default_value = "http://127.0.0.1:5000")]
    server: String,
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create a token; prints its first password once.
    Create {
        name: String,
        /// A scope such as 'repository:team/*:pull,push' (repeatable).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Lifetime, e.g. 30d, 12h; none means it never expires.
        #[arg(long, value_parser = parse_duration)]
        expires: Option<i64>,
        /// Only usable from this network, e.g. 10.0.0.0/8 (repeatable).
        #[arg(long = "allow-cidr")]
        allow_cidrs: Vec<String>,
    },
    /// List tokens (never their secrets).
    List,
    /// Generate a new password in slot 1 or 2; the other slot keeps working.
    Rotate {
        name: String,
        #[arg(long, default_value_t = 1)]
        slot: u8,
    },
    Disable {
        name: String,
    },
    Enable {
        name: String,
    },
    /// Delete a token: it stops working at once.
    Delete {
        name: String,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user; without --password-stdin a password is generated and shown once.
    Create {
        name: String,
        /// Read the password from standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    List,
    Disable {
        name: String,
    },
    Enable {
        name: String,
    },
    /// Delete a user with their memberships, bindings and personal access tokens.
    Delete {
        name: String,
    },
    /// Set a password (read from standard input). Changing your own needs your
    /// current password in AIRLOCK_PASSWORD or a session.
    Passwd {
        name: String,
    },
    /// Your second factor (TOTP).
    #[command(name = "2fa", subcommand)]
    TwoFactor(TwoFactorCommand),
}

#[derive(Subcommand)]
pub enum TwoFactorCommand {
    /// Start enrolment: prints the secret, an otpauth:// URL and recovery codes once.
    Enrol,
    /// Finish enrolment with a code from the authenticator app.
    Confirm { code: String },
    /// Remove a second factor (yours, or as an administrator anyone's).
    Remove { name: Option<String> },
}

#[derive(Subcommand)]
pub enum PatCommand {
    /// Create a personal access token for registry clients; printed once.
    Create {
        name: String,
        /// The most the token may do, e.g. 'repository:team/*:pull' (repeatable).
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        #[arg(long, value_parser = parse_duration)]
        expires: Option<i64>,
        #[arg(long = "allow-cidr")]
        allow_cidrs: Vec<String>,
        /// Whose token (administrators only; default: you).
        #[arg(long)]
        user: Option<String>,
        /// A current TOTP or recovery code: required when you have a second factor.
        #[arg(long)]
        code: Option<String>,
    },
    List {
        #[arg(long)]
        user: Option<String>,
    },
    Disable {
        id: String,
        #[arg(long)]
        user: Option<String>,
    },
    Enable {
        id: String,
        #[arg(long)]
        user: Option<String>,
    },
    Delete {
        id: String,
        #[arg(long)]
        user: Option<String>,
    },
    /// A new secret in slot 1 or 2 (printed once); the other slot keeps working.
    Rotate {
        id: String,
        #[arg(long, default_value_t = 1)]
        slot: u8,
        #[arg(long)]
        user: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum GroupCommand {
    Create {
        name: String,
    },
    Delete {
        name: String,
    },
    List,
    /// Add a user to a group.
    Add {
        group: String,
        user: String,
    },
    /// Remove a user from a group.
    Remove {
        group: String,
        user: String,
    },
}

#[derive(Subcommand)]
pub enum RoleCommand {
    /// Built-in and custom roles with their actions.
    List,
    /// A custom role, e.g. --actions pull,list,metadata.
    Create {
        name: String,
        #[arg(long, required = true)]
        actions: String,
    },
    Delete {
        name: String,
    },
    /// Give PRINCIPAL (user:NAME, group:NAME, token:NAME) ROLE on PATTERN (team/app,
    /// team/*, team/**, **).
    Bind {
        principal: String,
        pattern: String,
        role: String,
    },
    Unbind {
        principal: String,
        pattern: String,
        role: String,
    },
    /// Every binding.
    Bindings,
}

#[derive(Subcommand)]
pub enum NetworkCommand {
    /// The rules in force and where they come from.
    Show,
    /// Replace the rules (stored; they override the configuration's until reset).
    Set {
        /// allow or deny: what happens to addresses no list names.
        #[arg(long = "default", default_value = "allow")]
        default_action: String,
        #[arg(long = "allow")]
        allow: Vec<String>,
        #[arg(long = "deny")]
        deny: Vec<String>,
        #[arg(long = "trusted-proxy")]
        trusted_proxies: Vec<String>,
        /// Apply even if the rules refuse your own address.
        #[arg(long)]
        force: bool,
    },
    /// Forget stored rules: the configuration's apply again.
    Reset,
}

#[derive(Subcommand)]
pub enum SbomCommand {
    /// Print the SBOM of a scanned image (generated from its stored inventory).
    Get {
        /// The image: REPOSITORY@DIGEST.
        image: String,
        /// cyclonedx or spdx.
        #[arg(long, default_value = "cyclonedx")]
        format: String,
        /// One platform of a multi-platform index (os/arch[/variant]).
        #[arg(long)]
        platform: Option<String>,
    },
    /// Which repositories get the SBOMs of their scanned images pushed as OCI
    /// referrers (none unless configured or set here).
    Referrers {
        #[command(subcommand)]
        command: SbomReferrersCommand,
    },
}

#[derive(Subcommand)]
pub enum SbomReferrersCommand {
    /// The patterns in force and where they come from.
    Show,
    /// Replace the patterns (stored; they override the configuration's until reset).
    /// No patterns: attach SBOMs nowhere.
    Set { patterns: Vec<String> },
    /// Forget stored patterns: the configuration's apply again.
    Reset,
}

fn session_path() -> anyhow::Result<PathBuf> {
    if let Ok(p) = std::env::var("AIRLOCK_SESSION_FILE") {
        return Ok(PathBuf::from(p));
    }
    let base = match std::env::var("XDG_CONFIG_HOME") {
        Ok(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(std::env::var("HOME").context("HOME is not set")?).join(".config"),
    };
    Ok(base.join("airlock").join("session.json"))
}

fn load_session(server: &str) -> Option<String> {
    let text = std::fs::read_to_string(session_path().ok()?).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    (v["server"].as_str() == Some(server))
        .then(|| v["token"].as_str().map(str::to_owned))
        .flatten()
}

fn read_line(prompt: &str) -> anyhow::Result<String> {
    eprint!("{prompt}");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

pub struct Client {
    base: String,
    http: reqwest::Client,
}

enum Auth {
    Basic(String, String),
    Bearer(String),
    None,
}

impl Client {
    pub fn new(conn: &Connection) -> Client {
        Client {
            base: conn.server.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    fn auth(&self) -> anyhow::Result<Auth> {
        if let Ok(password) = std::env::var("AIRLOCK_PASSWORD") {
            let user = std::env::var("AIRLOCK_USER").unwrap_or_else(|_| "admin".into());
            return Ok(Auth::Basic(user, password));
        }
        match load_session(&self.base) {
            Some(token) => Ok(Auth::Bearer(token)),
            None => bail!(
                "not logged in to {}: run `airlock login`, or set AIRLOCK_PASSWORD (and AIRLOCK_USER)",
                self.base
            ),
        }
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        auth: Auth,
    ) -> anyhow::Result<Value> {
        let url = format!("{}/api/v1{path}", self.base);
        let mut req = self.http.request(method, &url);
        req = match auth {
            Auth::Basic(u, p) => req.basic_auth(u, Some(p)),
            Auth::Bearer(t) => req.bearer_auth(t),
            Auth::None => req,
        };
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let status = resp.status();
        let text = resp.text().await.unwrap_or_default();
        let value: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if !status.is_success() {
            let msg = value["error"]
                .as_str()
                .or_else(|| value["errors"][0]["message"].as_str())
                .map(str::to_owned)
                .unwrap_or_else(|| value.to_string());
            bail!("{status}: {msg}");
        }
        Ok(value)
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let auth = self.auth()?;
        self.send(method, path, body, auth).await
    }

    /// The logged-in user's name.
    async fn me(&self) -> anyhow::Result<String> {
        let v = self.call(reqwest::Method::GET, "/me", None).await?;
        v["user"]
            .as_str()
            .map(str::to_owned)
            .context("these credentials are not a user's")
    }

    async fn user_or_me(&self, user: Option<String>) -> anyhow::Result<String> {
        match user {
            Some(u) => Ok(u),
            None => self.me().await,
        }
    }
}

/// `airlock login`: password (AIRLOCK_PASSWORD or standard input) and, when the
/// account has one, a second-factor code (--code or standard input).
pub async fn login(conn: Connection, user: String, code: Option<String>) -> anyhow::Result<()> {
    let client = Client::new(&conn);
    let password = match std::env::var("AIRLOCK_PASSWORD") {
        Ok(p) => p,
        Err(_) => read_line(&format!("password for {user}: "))?,
    };
    let attempt = |code: Option<String>| {
        client.send(
            reqwest::Method::POST,
            "/login",
            Some(json!({"user": user, "password": password, "code": code})),
            Auth::None,
        )
    };
    let v = match attempt(code.clone()).await {
        Ok(v) => v,
        Err(e) if code.is_none() && e.to_string().contains("second factor required") => {
            let code = read_line("authentication code: ")?;
            attempt(Some(code)).await?
        }
        Err(e) => return Err(e),
    };
    let token = v["token"].as_str().context("no session in the answer")?;
    let path = session_path()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let _ = std::fs::remove_file(&path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(
        json!({"server": client.base, "token": token})
            .to_string()
            .as_bytes(),
    )?;
    println!(
        "logged in to {} as {user} for {} hours (session in {})",
        client.base,
        v["expires_in"].as_u64().unwrap_or(0) / 3600,
        path.display()
    );
    Ok(())
}

pub fn logout() -> anyhow::Result<()> {
    let path = session_path()?;
    match std::fs::remove_file(&path) {
        Ok(()) => println!("logged out"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => println!("not logged in"),
        Err(e) => return Err(e).with_context(|| format!("removing {}", path.display())),
    }
    Ok(())
}

pub async fn whoami(conn: Connection) -> anyhow::Result<()> {
    let v = Client::new(&conn)
        .call(reqwest::Method::GET, "/me", None)
        .await?;
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(())
}

fn strings(v: &Value) -> String {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

fn expiry(v: &Value) -> String {
    v.as_i64()
        .map(|e| e.to_string())
        .unwrap_or_else(|| "never".into())
}

fn cidrs_or_none(cidrs: Vec<String>) -> Option<Vec<String>> {
    (!cidrs.is_empty()).then_some(cidrs)
}

pub async fn tokens(conn: Connection, cmd: TokenCommand) -> anyhow::Result<()> {
    use reqwest::Method;
    let c = Client::new(&conn);
    match cmd {
        TokenCommand::Create {
            name,
            scopes,
            expires,
            allow_cidrs,
        } => {
            let body = json!({"name": name, "scopes": scopes, "expires_in_secs": expires,
                "allowed_cidrs": cidrs_or_none(allow_cidrs)});
            let v = c.call(Method::POST, "/tokens", Some(body)).await?;
            println!("created token {name}");
            println!(
                "password (shown once): {}",
                v["password"].as_str().unwrap_or_default()
            );
        }
        TokenCommand::List => {
            let v = c.call(Method::GET, "/tokens", None).await?;
            println!(
                "{:<24} {:<8} {:<12} scopes",
                "NAME", "ENABLED", "EXPIRES_AT"
            );
            for t in v["tokens"].as_array().into_iter().flatten() {
                println!(
                    "{:<24} {:<8} {:<12} {}",
                    t["name"].as_str().unwrap_or_default(),
                    t["enabled"],
                    expiry(&t["expires_at"]),
                    strings(&t["scopes"])
                );
            }
        }
        TokenCommand::Rotate { name, slot } => {
            let path = format!("/tokens/{name}/passwords/{slot}");
            let v = c.call(Method::POST, &path, None).await?;
            println!(
                "new password for {name} slot {slot} (shown once): {}",
                v["password"].as_str().unwrap_or_default()
            );
        }
        TokenCommand::Disable { name } => {
            set_enabled(&c, &format!("/tokens/{name}"), false).await?;
            println!("disabled token {name}");
        }
        TokenCommand::Enable { name } => {
            set_enabled(&c, &format!("/tokens/{name}"), true).await?;
            println!("enabled token {name}");
        }
        TokenCommand::Delete { name } => {
            c.call(Method::DELETE, &format!("/tokens/{name}"), None)
                .await?;
            println!("deleted token {name}");
        }
    }
    Ok(())
}

async fn set_enabled(c: &Client, path: &str, enabled: bool) -> anyhow::Result<()> {
    c.call(
        reqwest::Method::PATCH,
        path,
        Some(json!({ "enabled": enabled })),
    )
    .await
    .map(drop)
}

pub async fn users(conn: Connection, cmd: UserCommand) -> anyhow::Result<()> {
    use reqwest::Method;
    let c = Client::new(&conn);
    match cmd {
        UserCommand::Create {
            name,
            password_stdin,
        } => {
            let password = if password_stdin {
                Some(read_line("")?)
            } else {
                None
            };
            let body = json!({"name": name, "password": password});
            let v = c.call(Method::POST, "/users", Some(body)).await?;
            println!("created user {name}");
            if let Some(p) = v["password"].as_str() {
                println!("password (shown once): {p}");
            }
        }
        UserCommand::List => {
            let v = c.call(Method::GET, "/users", None).await?;
            println!("{:<24} {:<8} 2FA", "NAME", "ENABLED");
            for u in v["users"].as_array().into_iter().flatten() {
                println!(
                    "{:<24} {:<8} {}",
                    u["name"].as_str().unwrap_or_default(),
                    u["enabled"],
                    u["two_factor"]
                );
            }
        }
        UserCommand::Disable { name } => {
            set_enabled(&c, &format!("/users/{name}"), false).await?;
            println!("disabled user {name}");
        }
        UserCommand::Enable { name } => {
            set_enabled(&c, &format!("/users/{name}"), true).await?;
            println!("enabled user {name}");
        }
        UserCommand::Delete { name } => {
            c.call(Method::DELETE, &format!("/users/{name}"), None)
                .await?;
            println!("deleted user {name}");
        }
        UserCommand::Passwd { name } => {
            let password = read_line(&format!("new password for {name}: "))?;
            let current = std::env::var("AIRLOCK_PASSWORD").ok();
            let body = json!({"password": password, "current_password": current});
            c.call(Method::PUT, &format!("/users/{name}/password"), Some(body))
                .await?;
            println!("password of {name} changed");
        }
        UserCommand::TwoFactor(cmd) => match cmd {
            TwoFactorCommand::Enrol => {
                let me = c.me().await?;
                let v = c
                    .call(Method::POST, &format!("/users/{me}/totp"), None)
                    .await?;
                println!(
                    "secret (add it to your authenticator app): {}",
                    v["secret"].as_str().unwrap_or_default()
                );
                println!(
                    "otpauth URL: {}",
                    v["otpauth_url"].as_str().unwrap_or_default()
                );
                println!("recovery codes (each works once; keep them safe):");
                for code in v["recovery_codes"].as_array().into_iter().flatten() {
                    println!("  {}", code.as_str().unwrap_or_default());
                }
                println!("finish with: airlock user 2fa confirm <code>");
            }
            TwoFactorCommand::Confirm { code } => {
                let me = c.me().await?;
                let body = json!({ "code": code });
                c.call(
                    Method::POST,
                    &format!("/users/{me}/totp/confirm"),
                    Some(body),
                )
                .await?;
                println!("second factor enrolled for {me}: log in with `airlock login`, and use personal access tokens with registry clients");
            }
            TwoFactorCommand::Remove { name } => {
                let name = c.user_or_me(name).await?;
                c.call(Method::DELETE, &format!("/users/{name}/totp"), None)
                    .await?;
                println!("second factor of {name} removed");
            }
        },
    }
    Ok(())
}

pub async fn pats(conn: Connection, cmd: PatCommand) -> anyhow::Result<()> {
    use reqwest::Method;
    let c = Client::new(&conn);
    match cmd {
        PatCommand::Create {
            name,
            scopes,
            expires,
            allow_cidrs,
            user,
            code,
        } => {
            let user = c.user_or_me(user).await?;
            let body = json!({"name": name, "scopes": scopes, "expires_in_secs": expires,
                "allowed_cidrs": cidrs_or_none(allow_cidrs), "code": code});
            let v = c
                .call(Method::POST, &format!("/users/{user}/pats"), Some(body))
                .await?;
            println!(
                "created personal access token {name} (id {}) for {user}",
                v["id"].as_str().unwrap_or_default()
            );
            println!(
                "token (shown once; use it as the password with docker, podman, skopeo): {}",
                v["token"].as_str().unwrap_or_default()
            );
        }
        PatCommand::List { user } => {
            let user = c.user_or_me(user).await?;
            let v = c
                .call(Method::GET, &format!("/users/{user}/pats"), None)
                .await?;
            println!(
                "{:<14} {:<20} {:<8} {:<12} scopes",
                "ID", "NAME", "ENABLED", "EXPIRES_AT"
            );
            for t in v["tokens"].as_array().into_iter().flatten() {
                println!(
                    "{:<14} {:<20} {:<8} {:<12} {}",
                    t["id"].as_str().unwrap_or_default(),
                    t["name"].as_str().unwrap_or_default(),
                    t["enabled"],
                    expiry(&t["expires_at"]),
                    strings(&t["scopes"])
                );
            }
        }
        PatCommand::Disable { id, user } => {
            let user = c.user_or_me(user).await?;
            set_enabled(&c, &format!("/users/{user}/pats/{id}"), false).await?;
            println!("disabled token {id}");
        }
        PatCommand::Enable { id, user } => {
            let user = c.user_or_me(user).await?;
            set_enabled(&c, &format!("/users/{user}/pats/{id}"), true).await?;
            println!("enabled token {id}");
        }
        PatCommand::Rotate { id, slot, user } => {
            let user = c.user_or_me(user).await?;
            let path = format!("/users/{user}/pats/{id}/secrets/{slot}");
            let v = c.call(Method::POST, &path, None).await?;
            println!(
                "new secret for token {id} slot {slot} (shown once): {}",
                v["token"].as_str().unwrap_or_default()
            );
        }
        PatCommand::Delete { id, user } => {
            let user = c.user_or_me(user).await?;
            c.call(Method::DELETE, &format!("/users/{user}/pats/{id}"), None)
                .await?;
            println!("deleted token {id}");
        }
    }
    Ok(())
}

pub async fn groups(conn: Connection, cmd: GroupCommand) -> anyhow::Result<()> {
    use reqwest::Method;
    let c = Client::new(&conn);
    match cmd {
        GroupCommand::Create { name } => {
            c.call(Method::POST, "/groups", Some(json!({ "name": name })))
                .await?;
            println!("created group {name}");
        }
        GroupCommand::Delete { name } => {
            c.call(Method::DELETE, &format!("/groups/{name}"), None)
                .await?;
            println!("deleted group {name}");
        }
        GroupCommand::List => {
            let v = c.call(Method::GET, "/groups", None).await?;
            for g in v["groups"].as_array().into_iter().flatten() {
                println!(
                    "{:<24} {}",
                    g["name"].as_str().unwrap_or_default(),
                    strings(&g["members"])
                );
            }
        }
        GroupCommand::Add { group, user } => {
            c.call(
                Method::PUT,
                &format!("/groups/{group}/members/{user}"),
                None,
            )
            .await?;
            println!("added {user} to {group}");
        }
        GroupCommand::Remove { group, user } => {
            c.call(
                Method::DELETE,
                &format!("/groups/{group}/members/{user}"),
                None,
            )
            .await?;
            println!("removed {user} from {group}");
        }
    }
    Ok(())
}

pub async fn roles(conn: Connection, cmd: RoleCommand) -> anyhow::Result<()> {
    use reqwest::Method;
    let c = Client::new(&conn);
    match cmd {
        RoleCommand::List => {
            let v = c.call(Method::GET, "/roles", None).await?;
            for r in v["roles"].as_array().into_iter().flatten() {
                let kind = if r["built_in"].as_bool() == Some(true) {
                    "built-in"
                } else {
                    "custom"
                };
                println!(
                    "{:<16} {:<9} {}",
                    r["name"].as_str().unwrap_or_default(),
                    kind,
                    strings(&r["actions"])
                );
            }
        }
        RoleCommand::Create { name, actions } => {
            let actions: Vec<&str> = actions.split(',').map(str::trim).collect();
            let body = json!({"name": name, "actions": actions});
            c.call(Method::POST, "/roles", Some(body)).await?;
            println!("created role {name}");
        }
        RoleCommand::Delete { name } => {
            c.call(Method::DELETE, &format!("/roles/{name}"), None)
                .await?;
            println!("deleted role {name} and its bindings");
        }
        RoleCommand::Bind {
            principal,
            pattern,
            role,
        } => {
            let body = json!({"principal": principal, "pattern": pattern, "role": role});
            c.call(Method::POST, "/bindings", Some(body)).await?;
            println!("{principal} is now {role} on {pattern}");
        }
        RoleCommand::Unbind {
            principal,
            pattern,
            role,
        } => {
            let body = json!({"principal": principal, "pattern": pattern, "role": role});
            c.call(Method::DELETE, "/bindings", Some(body)).await?;
            println!("{principal} is no longer {role} on {pattern}");
        }
        RoleCommand::Bindings => {
            let v = c.call(Method::GET, "/bindings", None).await?;
            println!("{:<32} {:<16} PATTERN", "PRINCIPAL", "ROLE");
            for b in v["bindings"].as_array().into_iter().flatten() {
                println!(
                    "{:<32} {:<16} {}",
                    b["principal"].as_str().unwrap_or_default(),
                    b["role"].as_str().unwrap_or_default(),
                    b["pattern"].as_str().unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}

pub async fn network(conn: Connection, cmd: NetworkCommand) -> anyhow::Result<()> {
    use reqwest::Method;
    let c = Client::new(&conn);
    match cmd {
        NetworkCommand::Show => {
            let v = c.call(Method::GET, "/network", None).await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        NetworkCommand::Set {
            default_action,
            allow,
            deny,
            trusted_proxies,
            force,
        } => {
            let body = json!({"default_action": default_action, "allow": allow, "deny": deny,
                "trusted_proxies": trusted_proxies});
            let path = if force {
                "/network?force=true"
            } else {
                "/network"
            };
            c.call(Method::PUT, path, Some(body)).await?;
            println!("network rules stored");
        }
        NetworkCommand::Reset => {
            c.call(Method::DELETE, "/network", None).await?;
            println!("network rules reset to the configuration's");
        }
    }
    Ok(())
}

pub async fn sbom(conn: Connection, cmd: SbomCommand) -> anyhow::Result<()> {
    use reqwest::Method;
    let c = Client::new(&conn);
    match cmd {
        SbomCommand::Get {
            image,
            format,
            platform,
        } => {
            let Some((repository, digest)) = image.split_once('@') else {
                bail!("give the image as REPOSITORY@DIGEST (for example team/app@sha256:…)");
            };
            let mut query = vec![
                ("repository", repository),
                ("digest", digest),
                ("format", format.as_str()),
            ];
            if let Some(p) = platform.as_deref() {
                query.push(("platform", p));
            }
            let encoded: Vec<String> = query
                .iter()
                .map(|(k, v)| {
                    let v = percent_encoding::utf8_percent_encode(
                        v,
                        percent_encoding::NON_ALPHANUMERIC,
                    );
                    format!("{k}={v}")
                })
                .collect();
            let v = c
                .call(
                    Method::GET,
                    &format!("/scans/sbom?{}", encoded.join("&")),
                    None,
                )
                .await?;
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        SbomCommand::Referrers { command } => match command {
            SbomReferrersCommand::Show => {
                let v = c.call(Method::GET, "/scans/sbom-referrers", None).await?;
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
            SbomReferrersCommand::Set { patterns } => {
                let v = c
                    .call(
                        Method::PUT,
                        "/scans/sbom-referrers",
                        Some(json!({ "patterns": patterns })),
                    )
                    .await?;
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
            SbomReferrersCommand::Reset => {
                c.call(Method::DELETE, "/scans/sbom-referrers", None)
                    .await?;
                println!("SBOM referrer patterns reset to the configuration's");
            }
        },
    }
    Ok(())
}
