//! `airlock serve`: opens the stores, creates the first admin on first start, starts
//! the optional background garbage collector, and serves HTTP or HTTPS.

use crate::config::Config;
use airlock_registry::{GcOptions, Registry};
use airlock_server::accounts::Accounts;
use airlock_server::audit::{self, AuditLog, CheckpointFile, CheckpointSigner};
use airlock_server::directory::{Directory, PatLifetime};
use airlock_server::limiter::LoginLimiter;
use airlock_server::network::Firewall;
use airlock_server::scanning::ScanService;
use airlock_server::secrets::Sealer;
use airlock_server::token::TokenService;
use airlock_server::{hash_password, router, AppState};
use airlock_storage::SqliteMetaStore;
use anyhow::Context;
use rand::distributions::{Alphanumeric, DistString};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Where the admin password hash lived before users were kept in the database.
const LEGACY_ADMIN_HASH_FILE: &str = "admin-password.argon2";
const INITIAL_PASSWORD_FILE: &str = "initial-admin-password";

/// Writes a new file readable by its owner only.
fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(contents)?;
    f.sync_all()?;
    Ok(())
}

/// A key file: read, or created once with `generate` (readable by the owner only).
fn key_file(
    data_dir: &Path,
    name: &str,
    generate: impl FnOnce() -> anyhow::Result<Vec<u8>>,
) -> anyhow::Result<Vec<u8>> {
    let path = data_dir.join(name);
    match std::fs::read(&path) {
        Ok(key) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = generate()?;
            write_private(&path, &key)?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// The first admin's password hash: from a data directory made before users were
/// kept in the database, from `AIRLOCK_ADMIN_PASSWORD`, or generated, printed once
/// and saved to `<data>/initial-admin-password` (0600).
fn initial_admin_hash(data_dir: &Path) -> anyhow::Result<String> {
    let legacy = data_dir.join(LEGACY_ADMIN_HASH_FILE);
    if legacy.exists() {
        return Ok(std::fs::read_to_string(&legacy)?.trim().to_owned());
    }
    let (password, generated) = match std::env::var("AIRLOCK_ADMIN_PASSWORD") {
        Ok(p) if !p.is_empty() => (p, false),
        _ => (
            Alphanumeric.sample_string(&mut rand::thread_rng(), 24),
            true,
        ),
    };
    let hash = hash_password(&password)?;
    if generated {
        let path = data_dir.join(INITIAL_PASSWORD_FILE);
        write_private(&path, format!("{password}\n").as_bytes())?;
        eprintln!(
            "created user 'admin' with a generated password, saved to {} (shown once): {password}",
            path.display()
        );
    }
    Ok(hash)
}

pub const SIGNING_KEY_FILE: &str = "token-signing-key.der";
/// AES-256-GCM key sealing the secrets that must be read back (TOTP keys); the audit
/// chain's key is derived from it.
pub const SECRETS_KEY_FILE: &str = "secrets.key";
/// `iss` of the tokens this registry signs.
const TOKEN_ISSUER: &str = "airlock";
/// The `service` clients ask tokens for (and the tokens' `aud`).
const TOKEN_SERVICE: &str = "airlock";

/// Holds an exclusive lock on the data directory for the server's lifetime, so two
/// servers never share (and clean up after) the same storage.
fn lock_data_dir(data_dir: &Path) -> anyhow::Result<std::fs::File> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
    make_private(data_dir, 0o700)?;
    let path = data_dir.join("serve.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    // SAFETY: flock on a descriptor we own; no memory is shared.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        anyhow::bail!(
            "another airlock server is already using the data directory {}",
            data_dir.display()
        );
    }
    Ok(file)
}

/// Narrows `path` to `mode` (owner only) if others may read it, with a warning: the
/// data directory holds password hashes, keys and every blob.
fn make_private(path: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    let current = meta.permissions().mode() & 0o777;
    if current & 0o077 != 0 {
        tracing::warn!(
            path = %path.display(),
            mode = format!("{current:o}"),
            "readable by others: narrowing to {mode:o}"
        );
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot change the mode of {}", path.display()))?;
    }
    Ok(())
}

pub async fn run(config: Config) -> anyhow::Result<()> {
    let _lock = lock_data_dir(&config.data_dir)?;
    let db = config.data_dir.join("airlock.db");
    if !db.exists() {
        // Created owner-only; SQLite gives its -wal and -shm files the same mode.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&db)
            .with_context(|| format!("creating {}", db.display()))?;
    }
    let store = Arc::new(SqliteMetaStore::open(&db).await?);
    for suffix in ["", "-wal", "-shm"] {
        make_private(Path::new(&format!("{}{suffix}", db.display())), 0o600)?;
    }
    let registry = Registry::open_local_with(&config.data_dir, store.clone(), config.limits())?;
    registry.recover().await?;
    let secrets_key = key_file(&config.data_dir, SECRETS_KEY_FILE, || {
        Ok(Sealer::generate_key().to_vec())
    })?;
    let sealer = Sealer::new(&secrets_key)?;
    let directory = Directory::new(store.clone(), sealer, config.require_2fa_for_privileged)
        .with_pat_lifetime(PatLifetime {
            max_secs: config.pat_max_lifetime_secs.max(1),
            allow_non_expiring: config.pat_allow_non_expiring,
        });
    directory
        .bootstrap_admin(|| initial_admin_hash(&config.data_dir))
        .await?;
    let signing_key = key_file(
        &config.data_dir,
        SIGNING_KEY_FILE,
        TokenService::generate_key,
    )?;
    let tokens = TokenService::from_pkcs8(&signing_key, TOKEN_ISSUER, TOKEN_SERVICE)?;
    let checkpoints = CheckpointFile::new(
        config.audit_checkpoint_path(),
        CheckpointSigner::from_pkcs8(&signing_key)?,
    );
    let audit = AuditLog::start(
        store.clone(),
        audit::chain_key(&secrets_key),
        Some(checkpoints),
        Duration::from_secs(config.audit_checkpoint_secs),
    );
    let tls = config.tls_cert.is_some() && config.tls_key.is_some();
    let sbom_referrers = config.sbom_referrer_patterns()?;
    let scans = (config.scan_workers > 0).then(|| {
        let scans = ScanService::new(registry.clone(), store.clone(), sbom_referrers);
        scans.start(config.scan_workers);
        scans
    });
    let listener = std::net::TcpListener::bind(config.listen)
        .with_context(|| format!("binding {}", config.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let scheme = if tls { "https" } else { "http" };
    let realm = match &config.public_url {
        Some(url) => format!("{}/token", url.trim_end_matches('/')),
        None => {
            if addr.ip().is_unspecified() {
                tracing::warn!(
                    "listening on every address without public_url: token challenges name {scheme}://{addr}/token, which clients elsewhere cannot reach; set public_url"
                );
            }
            format!("{scheme}://{addr}/token")
        }
    };
    let app = router(AppState {
        registry: registry.clone(),
        directory: Arc::new(directory),
        tokens: Arc::new(tokens),
        accounts: Arc::new(Accounts::new(store.clone())),
        audit: audit.clone(),
        limiter: Arc::new(LoginLimiter::new(
            config.login_max_failures,
            Duration::from_secs(config.login_lockout_secs),
        )),
        network: Arc::new(Firewall::new(config.network.clone())),
        scans,
        scheme,
        realm: Some(realm),
    });

    if config.gc_interval_secs > 0 {
        let every = Duration::from_secs(config.gc_interval_secs);
        let opts = GcOptions {
            grace_secs: config.gc_grace_secs,
            dry_run: false,
        };
        let registry = registry.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match registry.collect_garbage(&opts).await {
                    Ok(r) => tracing::info!(
                        deleted = r.deleted_blobs.len(),
                        freed_bytes = r.freed_bytes,
                        "garbage collection finished"
                    ),
                    Err(e) => tracing::warn!(error = ?e, "garbage collection failed"),
                }
            }
        });
    }

    let data = config.data_dir.display();
    let connections = crate::connections::ConnectionLimits::new(config.max_connections_per_address);
    let header_timeout = Duration::from_secs(config.header_read_timeout_secs.max(1));
    match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => {
            let tls = crate::tls::server_config(cert, key, config.tls_client_ca.as_deref())
                .context("setting up TLS")?;
            let mtls = if config.tls_client_ca.is_some() {
                ", client certificates accepted"
            } else {
                ""
            };
            eprintln!("airlock listening on https://{addr} (data in {data}{mtls})");
            let handle = axum_server::Handle::new();
            let h = handle.clone();
            tokio::spawn(async move {
                shutdown_signal().await;
                h.graceful_shutdown(Some(Duration::from_secs(10)));
            });
            let mut server = axum_server::from_tcp(listener)
                .acceptor(crate::tls::CertAcceptor::new(tls, connections))
                .handle(handle);
            *server.http_builder() = crate::connections::http_builder(header_timeout);
            server
                .serve(app.into_make_service_with_connect_info::<std::net::SocketAddr>())
                .await?;
        }
        _ => {
            eprintln!("airlock listening on http://{addr} (data in {data})");
            let listener = tokio::net::TcpListener::from_std(listener)?;
            crate::connections::serve_http(
                listener,
                app,
                connections,
                header_timeout,
                shutdown_signal(),
            )
            .await?;
        }
    }
    // The last checkpoint: what was logged up to the end.
    audit.checkpoint().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing the SIGTERM handler");
    tokio::select! {
        _ = ctrl_c => {}
        _ = term.recv() => {}
    }
    tracing::info!("shutting down");
}
