//! `airlock token …`: manages service tokens through the admin API of a running
//! server. The server URL comes from `--server` or `AIRLOCK_SERVER` (default
//! `http://127.0.0.1:5000`); credentials from `AIRLOCK_USER` (default `admin`) and
//! `AIRLOCK_PASSWORD`. Secrets are printed once, on creation and rotation.

use crate::config::parse_duration;
use anyhow::{bail, Context};
use clap::Subcommand;
use serde_json::{json, Value};

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

async fn call(
    conn: &Connection,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let user = std::env::var("AIRLOCK_USER").unwrap_or_else(|_| "admin".into());
    let password = std::env::var("AIRLOCK_PASSWORD")
        .context("set AIRLOCK_PASSWORD to the password of AIRLOCK_USER (default admin)")?;
    let url = format!("{}/api/v1{path}", conn.server.trim_end_matches('/'));
    let mut req = reqwest::Client::new()
        .request(method, &url)
        .basic_auth(&user, Some(password));
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

pub async fn run(conn: Connection, cmd: TokenCommand) -> anyhow::Result<()> {
    use reqwest::Method;
    match cmd {
        TokenCommand::Create {
            name,
            scopes,
            expires,
            allow_cidrs,
        } => {
            let cidrs = (!allow_cidrs.is_empty()).then_some(allow_cidrs);
            let v = call(
                &conn,
                Method::POST,
                "/tokens",
                Some(json!({"name": name, "scopes": scopes, "expires_in_secs": expires, "allowed_cidrs": cidrs})),
            )
            .await?;
            println!("created token {name}");
            println!(
                "password (shown once): {}",
                v["password"].as_str().unwrap_or_default()
            );
        }
        TokenCommand::List => {
            let v = call(&conn, Method::GET, "/tokens", None).await?;
            println!(
                "{:<24} {:<8} {:<12} scopes",
                "NAME", "ENABLED", "EXPIRES_AT"
            );
            for t in v["tokens"].as_array().into_iter().flatten() {
                let scopes: Vec<&str> = t["scopes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str())
                    .collect();
                println!(
                    "{:<24} {:<8} {:<12} {}",
                    t["name"].as_str().unwrap_or_default(),
                    t["enabled"],
                    t["expires_at"]
                        .as_i64()
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| "never".into()),
                    scopes.join(" ")
                );
            }
        }
        TokenCommand::Rotate { name, slot } => {
            let v = call(
                &conn,
                Method::POST,
                &format!("/tokens/{name}/passwords/{slot}"),
                None,
            )
            .await?;
            println!(
                "new password for {name} slot {slot} (shown once): {}",
                v["password"].as_str().unwrap_or_default()
            );
        }
        TokenCommand::Disable { name } => {
            call(
                &conn,
                Method::PATCH,
                &format!("/tokens/{name}"),
                Some(json!({"enabled": false})),
            )
            .await?;
            println!("disabled token {name}");
        }
        TokenCommand::Enable { name } => {
            call(
                &conn,
                Method::PATCH,
                &format!("/tokens/{name}"),
                Some(json!({"enabled": true})),
            )
            .await?;
            println!("enabled token {name}");
        }
        TokenCommand::Delete { name } => {
            call(&conn, Method::DELETE, &format!("/tokens/{name}"), None).await?;
            println!("deleted token {name}");
        }
    }
    Ok(())
}
