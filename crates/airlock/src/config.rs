//! Configuration: built-in secure defaults, then an optional TOML file, then
//! `AIRLOCK_*` environment variables, then command-line flags. Errors name the bad
//! key and where it came from.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Keys that may come from the environment as `AIRLOCK_<KEY>`.
const ENV_KEYS: &[&str] = &[
    "listen",
    "public_url",
    "data_dir",
    "tls_cert",
    "tls_key",
    "tls_client_ca",
    "max_blob_bytes",
    "upload_expiry_secs",
    "max_uploads_per_owner",
    "max_connections_per_address",
    "header_read_timeout_secs",
    "max_uploads_per_repository",
    "gc_interval_secs",
    "gc_grace_secs",
    "log",
    "log_format",
    "require_2fa_for_privileged",
    "scan_workers",
    "login_max_failures",
    "login_lockout_secs",
    "pat_max_lifetime_secs",
    "pat_allow_non_expiring",
    "audit_checkpoint_file",
    "audit_checkpoint_secs",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where to listen. Loopback by default: exposing the registry is a decision.
    pub listen: SocketAddr,
    /// How clients reach this registry (`https://registry.example.com`): the token
    /// realm in challenges. Default: the address it listens on.
    pub public_url: Option<String>,
    /// Blobs and the metadata database live here.
    pub data_dir: PathBuf,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificates: TLS clients may present a certificate signed by one;
    /// its subject common name (a user or service token) is their identity.
    pub tls_client_ca: Option<PathBuf>,
    pub max_blob_bytes: u64,
    pub upload_expiry_secs: i64,
    /// Most open connections from one client address; more are closed at once.
    pub max_connections_per_address: usize,
    /// How long a client may take to send a request's head (also how long a kept-alive
    /// connection may sit idle).
    pub header_read_timeout_secs: u64,
    /// Most open upload sessions one principal may have at once.
    pub max_uploads_per_owner: u64,
    /// Most open upload sessions in one repository at once.
    pub max_uploads_per_repository: u64,
    /// Run garbage collection in the background this often; 0 disables it.
    pub gc_interval_secs: u64,
    /// Garbage collection leaves anything touched this recently alone.
    pub gc_grace_secs: i64,
    /// Log filter (tracing `EnvFilter` syntax); `RUST_LOG` overrides it.
    pub log: String,
    /// `text` (coloured only on a terminal) or `json` (one object per line).
    #[serde(default)]
    pub log_format: LogFormat,
    /// Images scanned at once after a push (0 switches scan-on-push off).
    pub scan_workers: usize,
    /// Users holding admin, owner or signer rights must enrol a second factor before
    /// they can do anything else.
    #[serde(default)]
    pub require_2fa_for_privileged: bool,
    /// Repository patterns (`team/app`, `team/*`, `team/**`, `**`) whose scanned
    /// images get their CycloneDX and SPDX SBOMs pushed into the repository as OCI
    /// referrers. Empty by default: SBOMs are then only served by the scan API.
    /// The admin API can replace the list at run time.
    #[serde(default)]
    pub sbom_referrers: Vec<String>,
    /// Failed password logins within 5 minutes, per client address and per user
    /// name, before that address or name is locked out.
    pub login_max_failures: u32,
    /// How long such a lockout lasts.
    pub login_lockout_secs: u64,
    /// The longest life of a personal access token, and what one created without an
    /// expiry gets (1 year).
    pub pat_max_lifetime_secs: i64,
    /// Allow personal access tokens that never expire (asked for without an expiry).
    #[serde(default)]
    pub pat_allow_non_expiring: bool,
    /// Where signed audit checkpoints are appended (default
    /// `<data_dir>/audit-checkpoints.jsonl`); somewhere a database writer cannot
    /// reach is better still.
    pub audit_checkpoint_file: Option<PathBuf>,
    /// How often a checkpoint is published while the audit log grows.
    pub audit_checkpoint_secs: u64,
    /// Registry firewall: `[network]` with `default_action`, `allow`, `deny`,
    /// `trusted_proxies` (CIDR lists).
    #[serde(default)]
    pub network: airlock_server::network::NetworkRules,
}

impl Default for Config {
    fn default() -> Self {
        let limits = airlock_registry::Limits::default();
        Config {
            listen: ([127, 0, 0, 1], 5000).into(),
            public_url: None,
            data_dir: PathBuf::from("./airlock-data"),
            tls_cert: None,
            tls_key: None,
            tls_client_ca: None,
            max_blob_bytes: limits.max_blob_bytes,
            upload_expiry_secs: limits.upload_expiry_secs,
            max_connections_per_address: 256,
            header_read_timeout_secs: 30,
            max_uploads_per_owner: limits.max_uploads_per_owner,
            max_uploads_per_repository: limits.max_uploads_per_repository,
            gc_interval_secs: 0,
            gc_grace_secs: 3600,
            log: "info".into(),
            log_format: LogFormat::Text,
            require_2fa_for_privileged: false,
            scan_workers: 1,
            sbom_referrers: Vec::new(),
            login_max_failures: airlock_server::limiter::MAX_FAILURES,
            login_lockout_secs: airlock_server::limiter::LOCKOUT.as_secs(),
            pat_max_lifetime_secs: airlock_server::directory::PatLifetime::default().max_secs,
            pat_allow_non_expiring: false,
            audit_checkpoint_file: None,
            audit_checkpoint_secs: 60,
            network: Default::default(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Values given on the command line; only those present override.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_client_ca: Option<PathBuf>,
}

impl Config {
    pub fn load(file: Option<&Path>, overrides: Overrides) -> anyhow::Result<Config> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            if !file.exists() {
                anyhow::bail!("config file {} does not exist", file.display());
            }
            figment = figment.merge(Toml::file(file));
        }
        let config: Config = figment
            .merge(Env::prefixed("AIRLOCK_").only(ENV_KEYS))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid configuration: {e}"))?;
        if config.tls_cert.is_some() != config.tls_key.is_some() {
            anyhow::bail!("invalid configuration: tls_cert and tls_key must be given together");
        }
        if config.tls_client_ca.is_some() && config.tls_cert.is_none() {
            anyhow::bail!(
                "invalid configuration: tls_client_ca needs tls_cert and tls_key (HTTPS)"
            );
        }
        config.sbom_referrer_patterns()?;
        if let Some(url) = &config.public_url {
            let ok = (url.starts_with("http://") || url.starts_with("https://"))
                && url.len() < 256
                && !url.contains(['"', ' ', '\\', '?', '#']);
            if !ok {
                anyhow::bail!(
                    "invalid configuration: public_url must be an http:// or https:// URL without a query, e.g. https://registry.example.com"
                );
            }
        }
        Ok(config)
    }

    /// `sbom_referrers`, parsed.
    pub fn sbom_referrer_patterns(&self) -> anyhow::Result<Vec<airlock_access::RepoPattern>> {
        airlock_access::RepoPattern::parse_all(&self.sbom_referrers)
            .map_err(|e| anyhow::anyhow!("invalid configuration: sbom_referrers: {e}"))
    }

    /// Where audit checkpoints go.
    pub fn audit_checkpoint_path(&self) -> PathBuf {
        self.audit_checkpoint_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("audit-checkpoints.jsonl"))
    }

    pub fn limits(&self) -> airlock_registry::Limits {
        airlock_registry::Limits {
            max_blob_bytes: self.max_blob_bytes,
            upload_expiry_secs: self.upload_expiry_secs,
            max_uploads_per_owner: self.max_uploads_per_owner,
            max_uploads_per_repository: self.max_uploads_per_repository,
            ..airlock_registry::Limits::default()
        }
    }
}

/// Parses `90`, `90s`, `15m`, `2h`, `7d` into seconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: i64 = num.parse().map_err(|_| format!("invalid duration {s:?}"))?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(format!("invalid duration unit in {s:?} (use s, m, h or d)")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("duration {s:?} too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("2h"), Ok(7200));
        assert!(parse_duration("2w").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn defaults_are_secure() {
        let c = Config::default();
        assert!(c.listen.ip().is_loopback());
    }

    #[test]
    fn file_errors_name_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("airlock.toml");
        std::fs::write(&f, "listen = \"not an address\"\n").unwrap();
        let err = Config::load(Some(&f), Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("listen"), "{err}");
        std::fs::write(&f, "unknown_key = 1\n").unwrap();
        let err = Config::load(Some(&f), Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown_key"), "{err}");
    }
}
