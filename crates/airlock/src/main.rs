//! `airlock`: the registry server and its maintenance commands.

mod admin_client;
mod config;
mod connections;
mod registry_client;
mod scan_cli;
mod serve;
mod tls;
mod vulndb_cli;

use clap::{Parser, Subcommand};
use config::{parse_duration, Config, Overrides};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "airlock",
    version,
    about = "A secure OCI container registry in one binary"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct Common {
    /// TOML configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (default ./airlock-data).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the registry server.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on (default 127.0.0.1:5000).
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
        /// PEM certificate chain; serves HTTPS when given with --tls-key.
        #[arg(long, value_name = "FILE")]
        tls_cert: Option<PathBuf>,
        /// PEM private key.
        #[arg(long, value_name = "FILE")]
        tls_key: Option<PathBuf>,
        /// PEM CA certificates for client certificates (mTLS identities).
        #[arg(long, value_name = "FILE")]
        tls_client_ca: Option<PathBuf>,
    },
    /// Remove unreferenced blobs and expired uploads. Safe while the server runs.
    Gc {
        #[command(flatten)]
        common: Common,
        /// Only say what would be removed.
        #[arg(long)]
        dry_run: bool,
        /// Leave alone anything touched more recently than this (e.g. 30m, 1h).
        #[arg(long, value_parser = parse_duration)]
        grace: Option<i64>,
    },
    /// Verify every blob's digest and every reference in the metadata.
    Fsck {
        #[command(flatten)]
        common: Common,
    },
    /// Check or export the hash-chained audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Manage service tokens (robot accounts) on a running server.
    Token {
        #[command(flatten)]
        conn: admin_client::Connection,
        #[command(subcommand)]
        command: admin_client::TokenCommand,
    },
    /// Log in to a running server's admin API (password, then a second-factor code
    /// if the account has one); the session lasts 12 hours.
    Login {
        #[command(flatten)]
        conn: admin_client::Connection,
        #[arg(long, env = "AIRLOCK_USER", default_value = "admin")]
        user: String,
        /// A TOTP or recovery code (asked for when needed otherwise).
        #[arg(long)]
        code: Option<String>,
    },
    /// Scan an image for vulnerable packages (exit 1 at or above --fail-on).
    Scan {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        args: scan_cli::ScanArgs,
    },
    /// The vulnerability database (OSV advisories) in the data directory.
    Vulndb {
        #[command(subcommand)]
        command: VulndbCommand,
    },
    /// Forget the saved session.
    Logout,
    /// Who the admin API sees you as, and what you hold.
    Whoami {
        #[command(flatten)]
        conn: admin_client::Connection,
    },
    /// Manage users, passwords and your second factor.
    User {
        #[command(flatten)]
        conn: admin_client::Connection,
        #[command(subcommand)]
        command: admin_client::UserCommand,
    },
    /// Manage personal access tokens (what users give docker, podman, skopeo).
    Pat {
        #[command(flatten)]
        conn: admin_client::Connection,
        #[command(subcommand)]
        command: admin_client::PatCommand,
    },
    /// Manage groups of users.
    Group {
        #[command(flatten)]
        conn: admin_client::Connection,
        #[command(subcommand)]
        command: admin_client::GroupCommand,
    },
    /// Manage roles and role bindings (who holds which role on which repositories).
    Role {
        #[command(flatten)]
        conn: admin_client::Connection,
        #[command(subcommand)]
        command: admin_client::RoleCommand,
    },
    /// Show or change the network rules of a running server.
    Network {
        #[command(flatten)]
        conn: admin_client::Connection,
        #[command(subcommand)]
        command: admin_client::NetworkCommand,
    },
    /// SBOMs of scanned images, and where they are attached as referrers.
    Sbom {
        #[command(flatten)]
        conn: admin_client::Connection,
        #[command(subcommand)]
        command: admin_client::SbomCommand,
    },
}

#[derive(Subcommand)]
enum VulndbCommand {
    /// Import OSV advisories from a directory tree or a zip; only new and changed
    /// records are written.
    Import {
        #[command(flatten)]
        common: Common,
        path: PathBuf,
    },
    /// How many advisories are stored.
    Status {
        #[command(flatten)]
        common: Common,
    },
    /// Push the stored advisories as an OCI artifact (a zip layer) to a registry, for
    /// air-gapped installs to pull.
    Push {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        remote: registry_client::RemoteArgs,
        /// docker://HOST/REPOSITORY:TAG
        target: String,
    },
    /// Pull an advisory snapshot pushed with `vulndb push` and import it.
    Pull {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        remote: registry_client::RemoteArgs,
        /// docker://HOST/REPOSITORY:TAG (or @DIGEST)
        source: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the chain; exit 1 if any record was edited, removed or reordered.
    Verify {
        #[command(flatten)]
        common: Common,
        /// The signed checkpoints to check the log against (default: the configured
        /// audit_checkpoint_file, `<data-dir>/audit-checkpoints.jsonl`).
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
    /// Print records as JSON lines.
    Export {
        #[command(flatten)]
        common: Common,
        /// Only records younger than this (e.g. 24h, 7d); default everything.
        #[arg(long, value_parser = parse_duration)]
        since: Option<i64>,
        /// Output format (only jsonl).
        #[arg(long, default_value = "jsonl", value_parser = ["jsonl"])]
        format: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to standard error: as text, coloured only on a terminal (a file, a pipe or
/// journald get no escape codes), or one JSON object per line for log shippers
/// (`log_format = "json"`, `AIRLOCK_LOG_FORMAT=json`).
fn init_logging(config: &Config) {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match config.log_format {
        config::LogFormat::Json => logs.json().flatten_event(true).init(),
        config::LogFormat::Text => logs.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve {
            common,
            listen,
            tls_cert,
            tls_key,
            tls_client_ca,
        } => {
            let config = Config::load(
                common.config.as_deref(),
                Overrides {
                    listen,
                    data_dir: common.data_dir,
                    tls_cert,
                    tls_key,
                    tls_client_ca,
                },
            )?;
            init_logging(&config);
            serve::run(config).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Gc {
            common,
            dry_run,
            grace,
        } => {
            let config = load_for_maintenance(common)?;
            let registry =
                airlock_registry::Registry::open_local(&config.data_dir, config.limits()).await?;
            let opts = airlock_registry::GcOptions {
                grace_secs: grace.unwrap_or(config.gc_grace_secs),
                dry_run,
            };
            let report = registry.collect_garbage(&opts).await?;
            let verb = if dry_run { "would delete" } else { "deleted" };
            for d in &report.deleted_blobs {
                println!("{verb} blob {d}");
            }
            println!(
                "{verb} {} blobs ({} bytes), {} unreferenced links, {} expired uploads, {} orphaned upload areas",
                report.deleted_blobs.len(),
                report.freed_bytes,
                report.unlinked,
                report.expired_uploads,
                report.orphaned_upload_areas
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { command } => {
            use airlock_storage::AuditStore as _;
            match command {
                AuditCommand::Verify { common, checkpoint } => {
                    let config = load_for_maintenance(common)?;
                    let read_key = |name: &str| {
                        let path = config.data_dir.join(name);
                        std::fs::read(&path)
                            .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))
                    };
                    let key = airlock_server::audit::chain_key(&read_key(serve::SECRETS_KEY_FILE)?);
                    let signer = airlock_server::audit::CheckpointSigner::from_pkcs8(&read_key(
                        serve::SIGNING_KEY_FILE,
                    )?)?;
                    let file = checkpoint.unwrap_or_else(|| config.audit_checkpoint_path());
                    let checkpoints = if file.exists() {
                        airlock_server::audit::read_checkpoints(&file)?
                    } else {
                        Vec::new()
                    };
                    let store =
                        airlock_storage::SqliteMetaStore::open(&config.data_dir.join("airlock.db"))
                            .await?;
                    let records = store.audit_records(0).await?;
                    let verdict = airlock_storage::verify_chain(&records, &key).and_then(|n| {
                        airlock_server::audit::check_checkpoints(
                            &records,
                            &checkpoints,
                            signer.public_key(),
                        )
                        .map(|c| (n, c))
                    });
                    match verdict {
                        Ok((n, 0)) => {
                            println!("audit log intact: {n} records (no checkpoints in {}: a cut tail would not show)", file.display());
                            Ok(ExitCode::SUCCESS)
                        }
                        Ok((n, c)) => {
                            let last = checkpoints.last().map_or(0, |c| c.seq);
                            println!("audit log intact: {n} records; {c} signed checkpoints agree (the last saw record {last})");
                            Ok(ExitCode::SUCCESS)
                        }
                        Err(problem) => {
                            println!("audit log broken: {problem}");
                            Ok(ExitCode::FAILURE)
                        }
                    }
                }
                AuditCommand::Export {
                    common,
                    since,
                    format: _,
                } => {
                    let config = load_for_maintenance(common)?;
                    let store =
                        airlock_storage::SqliteMetaStore::open(&config.data_dir.join("airlock.db"))
                            .await?;
                    let since_ms = since
                        .map(|s| (airlock_storage::now_unix() - s) * 1000)
                        .unwrap_or(0);
                    for r in store.audit_records(since_ms).await? {
                        println!("{}", serde_json::to_string(&r)?);
                    }
                    Ok(ExitCode::SUCCESS)
                }
            }
        }
        Command::Token { conn, command } => {
            admin_client::tokens(conn, command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Login { conn, user, code } => {
            admin_client::login(conn, user, code).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Scan { common, args } => {
            use airlock_storage::AdvisoryStore as _;
            let advisories = match args.vulndb.clone() {
                Some(path) => scan_cli::from_database(path),
                None => {
                    let config = load_quiet(common)?;
                    let db = config.data_dir.join("airlock.db");
                    let store = match db.exists() {
                        true => airlock_storage::SqliteMetaStore::open(&db).await?,
                        false => anyhow::bail!("no advisories in {}: run `airlock vulndb import PATH` or give --vulndb PATH", config.data_dir.display()),
                    };
                    if store.count_advisories().await? == 0 {
                        anyhow::bail!("no advisories in {}: run `airlock vulndb import PATH` or give --vulndb PATH", config.data_dir.display());
                    }
                    let runtime = tokio::runtime::Handle::current();
                    let fetch: scan_cli::Advisories = Box::new(move |keys| {
                        let records = runtime.block_on(store.advisory_records_for(keys))?;
                        Ok(airlock_scanner::AdvisoryIndex::from_records(records))
                    });
                    fetch
                }
            };
            tokio::task::spawn_blocking(move || scan_cli::run(args, advisories)).await?
        }
        Command::Vulndb { command } => {
            use airlock_storage::AdvisoryStore as _;
            let (common, path) = match command {
                VulndbCommand::Import { common, path } => (common, Some(path)),
                VulndbCommand::Status { common } => (common, None),
                VulndbCommand::Push {
                    common,
                    remote,
                    target,
                } => {
                    let config = load_quiet(common)?;
                    let store =
                        airlock_storage::SqliteMetaStore::open(&config.data_dir.join("airlock.db"))
                            .await?;
                    let (digest, n) = vulndb_cli::push(&store, &target, &remote).await?;
                    println!("pushed {n} advisories to {target} ({digest})");
                    return Ok(ExitCode::SUCCESS);
                }
                VulndbCommand::Pull {
                    common,
                    remote,
                    source,
                } => {
                    let config = load_quiet(common)?;
                    std::fs::create_dir_all(&config.data_dir)?;
                    let store =
                        airlock_storage::SqliteMetaStore::open(&config.data_dir.join("airlock.db"))
                            .await?;
                    let r = vulndb_cli::pull(&store, &source, &remote).await?;
                    println!(
                        "pulled {source}: {} added, {} updated, {} unchanged, {} skipped",
                        r.counts.added,
                        r.counts.updated,
                        r.counts.unchanged,
                        r.skipped.len()
                    );
                    println!(
                        "{} advisories stored (generation {})",
                        store.count_advisories().await?,
                        store.advisory_generation().await?
                    );
                    return Ok(ExitCode::SUCCESS);
                }
            };
            let config = load_quiet(common)?;
            std::fs::create_dir_all(&config.data_dir)?;
            let store =
                airlock_storage::SqliteMetaStore::open(&config.data_dir.join("airlock.db")).await?;
            if let Some(path) = path {
                let started = std::time::Instant::now();
                let r = vulndb_cli::import(&store, &path).await?;
                println!(
                    "imported {}: {} added, {} updated, {} unchanged, {} skipped ({:.1} s)",
                    path.display(),
                    r.counts.added,
                    r.counts.updated,
                    r.counts.unchanged,
                    r.skipped.len(),
                    started.elapsed().as_secs_f64()
                );
                for s in r.skipped.iter().take(10) {
                    eprintln!("skipped {s}");
                }
            }
            println!(
                "{} advisories stored (generation {}; a running registry re-matches stored images within 30 s of a change)",
                store.count_advisories().await?,
                store.advisory_generation().await?
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Logout => {
            admin_client::logout()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Whoami { conn } => {
            admin_client::whoami(conn).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::User { conn, command } => {
            admin_client::users(conn, command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Pat { conn, command } => {
            admin_client::pats(conn, command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Group { conn, command } => {
            admin_client::groups(conn, command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Role { conn, command } => {
            admin_client::roles(conn, command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Network { conn, command } => {
            admin_client::network(conn, command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Sbom { conn, command } => {
            admin_client::sbom(conn, command).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Fsck { common } => {
            let config = load_for_maintenance(common)?;
            let registry =
                airlock_registry::Registry::open_local(&config.data_dir, config.limits()).await?;
            let report = registry.fsck().await?;
            for p in &report.problems {
                println!("problem: {p}");
            }
            println!(
                "checked {} blobs ({} bytes): {} problems, {} unreferenced files",
                report.blobs_checked,
                report.bytes_checked,
                report.problems.len(),
                report.unreferenced_files
            );
            Ok(if report.is_clean() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
    }
}

/// The configuration for a command beside the server (warnings only in the log).
fn load_quiet(common: Common) -> anyhow::Result<Config> {
    let config = Config::load(
        common.config.as_deref(),
        Overrides {
            data_dir: common.data_dir,
            ..Overrides::default()
        },
    )?;
    init_logging(&Config {
        log: "warn".into(),
        ..config.clone()
    });
    Ok(config)
}

fn load_for_maintenance(common: Common) -> anyhow::Result<Config> {
    let config = load_quiet(common)?;
    if !config.data_dir.join("airlock.db").exists() {
        anyhow::bail!("no registry data in {}", config.data_dir.display());
    }
    Ok(config)
}
