//! Network rules (the registry firewall): which client addresses may talk to the
//! registry at all, and when a proxy's `X-Forwarded-For` is believed.
//!
//! The client address is the TCP peer, unless the peer is a trusted proxy: then the
//! `X-Forwarded-For` chain is walked from the right, skipping trusted proxies, and the
//! first untrusted address is the client. Forwarded headers (`X-Forwarded-For`,
//! `-Host`, `-Proto`) from anyone else are removed before any handler sees them, so
//! they cannot be used to slip past the rules or the login limits, nor to choose the
//! token realm clients are sent to.

use crate::directory::Directory;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

/// Most `X-Forwarded-For` entries looked at.
const MAX_FORWARDED: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DefaultAction {
    #[default]
    Allow,
    Deny,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkRules {
    /// What happens to an address no list names.
    pub default_action: DefaultAction,
    /// Always allowed (unless also denied).
    pub allow: Vec<IpNet>,
    /// Always refused; wins over `allow`.
    pub deny: Vec<IpNet>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
}

/// The client's address as the rules see it, in every request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

fn contains(nets: &[IpNet], ip: IpAddr) -> bool {
    let ip = canonical(ip);
    nets.iter().any(|n| n.contains(&ip))
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are their IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

impl NetworkRules {
    pub fn allows(&self, ip: IpAddr) -> bool {
        if contains(&self.deny, ip) {
            return false;
        }
        contains(&self.allow, ip) || self.default_action == DefaultAction::Allow
    }

    /// Whether `peer` is a proxy whose forwarded headers are believed.
    pub fn trusts(&self, peer: IpAddr) -> bool {
        contains(&self.trusted_proxies, peer)
    }

    /// The client address of a request from `peer` carrying `forwarded_for`.
    pub fn client(&self, peer: IpAddr, forwarded_for: Option<&str>) -> IpAddr {
        let peer = canonical(peer);
        if !contains(&self.trusted_proxies, peer) {
            return peer;
        }
        let Some(chain) = forwarded_for else {
            return peer;
        };
        let hops: Vec<&str> = chain.split(',').map(str::trim).collect();
        let mut client = peer;
        for hop in hops.iter().rev().take(MAX_FORWARDED) {
            let Ok(ip) = hop.parse::<IpAddr>() else {
                // Garbage in the chain: stop believing it here.
                return client;
            };
            let ip = canonical(ip);
            client = ip;
            if !contains(&self.trusted_proxies, ip) {
                return ip;
            }
        }
        client
    }
}

/// Where the rules in force come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleSource {
    /// The `[network]` section of the configuration (or the defaults).
    Config,
    /// Set at run time through the admin API (`airlock network …`); replaces the
    /// configuration's rules until reset.
    Stored,
}

/// The setting runtime rules are kept under.
pub const SETTING: &str = "network_rules";
const FRESHNESS: std::time::Duration = std::time::Duration::from_secs(1);

type Current = (Arc<NetworkRules>, RuleSource, std::time::Instant);

/// The rules in force: the configuration's, unless rules were stored at run time.
/// Stored rules are re-read at most a second old, so a change reaches every server
/// sharing the database within a second.
pub struct Firewall {
    config: Arc<NetworkRules>,
    current: Mutex<Option<Current>>,
}

impl Firewall {
    pub fn new(config: NetworkRules) -> Firewall {
        Firewall {
            config: Arc::new(config),
            current: Mutex::new(None),
        }
    }

    pub async fn rules(&self, directory: &Directory) -> (Arc<NetworkRules>, RuleSource) {
        if let Some((r, src, at)) = self.current.lock().expect("firewall lock").as_ref() {
            if at.elapsed() < FRESHNESS {
                return (r.clone(), *src);
            }
        }
        let (rules, src) = match directory.setting(SETTING).await {
            Ok(Some(json)) => match serde_json::from_str::<NetworkRules>(&json) {
                Ok(r) => (Arc::new(r), RuleSource::Stored),
                Err(e) => {
                    tracing::error!(error = %e, "stored network rules do not parse; using the configuration's");
                    (self.config.clone(), RuleSource::Config)
                }
            },
            Ok(None) => (self.config.clone(), RuleSource::Config),
            Err(e) => {
                tracing::error!(error = ?e, "reading stored network rules; using the configuration's");
                (self.config.clone(), RuleSource::Config)
            }
        };
        *self.current.lock().expect("firewall lock") =
            Some((rules.clone(), src, std::time::Instant::now()));
        (rules, src)
    }

    /// Stores rules that replace the configuration's (`None`: back to the configuration).
    pub async fn store(
        &self,
        directory: &Directory,
        rules: Option<&NetworkRules>,
    ) -> anyhow::Result<()> {
        let json = rules.map(serde_json::to_string).transpose()?;
        directory.set_setting(SETTING, json.as_deref()).await?;
        *self.current.lock().expect("firewall lock") = None;
        Ok(())
    }
}

/// Middleware (outermost): works out the client address and refuses addresses the
/// rules deny with `403 DENIED`.
pub async fn guard(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    let (rules, _) = state.network.rules(&state.directory).await;
    let client = rules.client(peer, forwarded);
    if !rules.allows(client) {
        tracing::info!(%client, %peer, "refused by network rules");
        state
            .audit
            .record(
                "-",
                &client.to_string(),
                "connect",
                req.uri().path(),
                false,
                "refused by network rules",
            )
            .await;
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "DENIED",
            "access from this address is not allowed",
        )
        .into_response();
    }
    if !rules.trusts(peer) {
        // What a proxy tells about the original request is believed only from a
        // trusted proxy: from anyone else it never reaches a handler.
        for h in ["x-forwarded-for", "x-forwarded-host", "x-forwarded-proto"] {
            req.headers_mut().remove(h);
        }
    }
    req.extensions_mut().insert(ClientIp(client));
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn allow_deny_default() {
        let r = NetworkRules {
            default_action: DefaultAction::Deny,
            allow: nets(&["10.0.0.0/8", "2001:db8::/32"]),
            deny: nets(&["10.9.0.0/16"]),
            trusted_proxies: vec![],
        };
        assert!(r.allows(ip("10.1.2.3")));
        assert!(!r.allows(ip("10.9.1.1")), "deny wins");
        assert!(!r.allows(ip("192.168.1.1")), "default deny");
        assert!(r.allows(ip("2001:db8::1")));
        assert!(!r.allows(ip("2001:db9::1")));
        assert!(
            r.allows(ip("::ffff:10.1.2.3")),
            "v4-mapped v6 is its v4 address"
        );
        let open = NetworkRules::default();
        assert!(open.allows(ip("203.0.113.9")));
    }

    #[test]
    fn forwarded_for_only_from_trusted_proxies() {
        let r = NetworkRules {
            trusted_proxies: nets(&["127.0.0.1/32", "10.0.0.0/24"]),
            ..NetworkRules::default()
        };
        // Untrusted peer: the header is ignored.
        assert_eq!(
            r.client(ip("198.51.100.7"), Some("10.9.9.9")),
            ip("198.51.100.7")
        );
        // Trusted peer: the rightmost untrusted hop is the client; spoofed hops to its
        // left (added by the client itself) do not matter.
        assert_eq!(
            r.client(ip("127.0.0.1"), Some("1.1.1.1, 203.0.113.5, 10.0.0.2")),
            ip("203.0.113.5")
        );
        assert_eq!(
            r.client(ip("127.0.0.1"), Some("garbage, 203.0.113.5")),
            ip("203.0.113.5")
        );
        assert_eq!(
            r.client(ip("127.0.0.1"), Some("203.0.113.5, garbage")),
            ip("127.0.0.1")
        );
        assert_eq!(r.client(ip("127.0.0.1"), None), ip("127.0.0.1"));
        assert_eq!(
            r.client(ip("127.0.0.1"), Some("2001:db8::5")),
            ip("2001:db8::5")
        );
    }
}
