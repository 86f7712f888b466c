//! `airlock scan`: the registry's scanner as a CI gate. Reads an image (OCI layout,
//! OCI or docker archive, an unpacked root filesystem, or an image in a registry),
//! lists its packages, matches them against an OSV database and prints a table, JSON
//! or an SBOM; exit code 1 when a finding is at or above `--fail-on` (or a
//! misconfiguration at or above `--fail-on-misconfig`).

use crate::registry_client::{ImageRef, Remote, RemoteArgs};
use airlock_oci::{Digest, Digester};
use airlock_scanner::image::{self, Blobs, Target};
use airlock_scanner::layers::{read_layer, LayerDelta};
use airlock_scanner::matcher::{advisory_keys, PackageRef};
use airlock_scanner::{sbom, scan};
use airlock_scanner::{AdvisoryIndex, Limits, Report, Severity};
use anyhow::Context;
use std::cell::RefCell;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Cyclonedx,
    Spdx,
    Sarif,
}

#[derive(clap::Args)]
pub struct ScanArgs {
    /// oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, docker://HOST/REPO:TAG
    /// (or @DIGEST) or dir:ROOTFS.
    target: String,
    #[command(flatten)]
    remote: RemoteArgs,
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Exit with 1 when a vulnerability finding is at or above this severity (low,
    /// medium, high, critical).
    #[arg(long, value_parser = parse_severity)]
    fail_on: Option<Severity>,
    /// Exit with 1 when a misconfiguration (root user, secrets in the environment,
    /// setuid or world-writable files, no HEALTHCHECK) is at or above this severity.
    #[arg(long, value_parser = parse_severity)]
    fail_on_misconfig: Option<Severity>,
    /// Leave out findings without a fixed version.
    #[arg(long)]
    ignore_unfixed: bool,
    /// OSV advisories: a directory tree or a zip of OSV JSON files (default: those
    /// imported into the data directory with `airlock vulndb import`).
    #[arg(long, env = "AIRLOCK_VULNDB")]
    pub vulndb: Option<PathBuf>,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    s.parse()
}

/// One report per platform, with the platform's name.
#[derive(serde::Serialize)]
struct PlatformReport {
    #[serde(skip_serializing_if = "Option::is_none")]
    platform: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    manifest: Option<String>,
    #[serde(flatten)]
    report: Report,
}

/// Fetches the advisories about these (ecosystem, package) keys; called once the
/// image's packages are known.
pub type Advisories = Box<dyn FnOnce(&[(String, String)]) -> anyhow::Result<AdvisoryIndex> + Send>;

/// The advisories of the database at `path` (an OSV tree or zip) about the image's
/// packages. The files are read on their own thread while the image is read; once the
/// packages are known, each record's packages are read and only the records about
/// the image's are parsed whole.
pub fn from_database(path: std::path::PathBuf) -> Advisories {
    let reading = std::thread::spawn(move || {
        airlock_scanner::index::read_records(&path)
            .with_context(|| format!("loading the advisory database {}", path.display()))
    });
    Box::new(move |keys| {
        let records = reading
            .join()
            .map_err(|_| anyhow::anyhow!("reading the advisory database panicked"))??;
        let keys: std::collections::HashSet<(String, String)> = keys.iter().cloned().collect();
        let (index, skipped) = AdvisoryIndex::about(&records, &keys);
        if !skipped.is_empty() {
            eprintln!(
                "warning: {} advisory files did not parse (first: {}: {})",
                skipped.len(),
                skipped[0].file,
                skipped[0].reason
            );
        }
        std::mem::forget(records);
        Ok(index)
    })
}

/// Scans `args.target` with the advisories `advisories` gives for its packages.
pub fn run(args: ScanArgs, advisories: Advisories) -> anyhow::Result<ExitCode> {
    let target = Target::parse(&args.target)?;
    let limits = Limits::default();
    let progress = Progress::start(&args.target);
    let images = match &target {
        Target::Registry(r) => {
            let image = ImageRef::parse(r)?;
            let mut blobs = RegistryBlobs {
                remote: Remote::new(&image, &args.remote, false)?,
                runtime: tokio::runtime::Handle::current(),
                first: None,
            };
            let (digest, _, bytes) = blobs
                .runtime
                .block_on(blobs.remote.manifest(&image.reference))
                .with_context(|| format!("reading {image}"))?;
            blobs.first = Some((digest.clone(), bytes));
            image::from_manifest(&mut blobs, &digest, &limits)
                .with_context(|| format!("reading {image}"))?
        }
        _ => image::open(&target, &limits).with_context(|| format!("reading {}", args.target))?,
    };
    drop(progress);
    let catalogued: Vec<_> = images
        .into_iter()
        .map(|img| {
            let (os, packages) = scan::catalog(&img.fs);
            (img, os, packages)
        })
        .collect();
    let index =
        advisories(&advisory_keys(catalogued.iter().flat_map(
            |(_, _, packages)| packages.iter().map(PackageRef::from),
        )))?;
    let reports: Vec<PlatformReport> = catalogued
        .into_iter()
        .map(|(img, os, packages)| {
            let findings = scan::match_packages(&packages, &index);
            let mut report = Report {
                os,
                packages,
                findings,
                misconfigurations: Vec::new(),
            }
            .with_misconfigurations(img.config.as_ref(), &img.fs);
            if args.ignore_unfixed {
                report = report.without_unfixed();
            }
            PlatformReport {
                platform: img.platform,
                manifest: img.manifest_digest,
                report,
            }
        })
        .collect();
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            // One image: its report; several platforms: every platform's packages and
            // findings (each marked with its platform), and the reports per platform.
            if reports.len() == 1 {
                serde_json::to_writer_pretty(&mut out, &reports[0])?;
            } else {
                let marked = |list: serde_json::Value, platform: &Option<String>| {
                    let mut list = list;
                    for item in list.as_array_mut().into_iter().flatten() {
                        item["platform"] = serde_json::json!(platform);
                    }
                    list
                };
                let mut packages = Vec::new();
                let mut findings = Vec::new();
                for r in &reports {
                    let p = marked(serde_json::to_value(&r.report.packages)?, &r.platform);
                    let f = marked(serde_json::to_value(&r.report.findings)?, &r.platform);
                    packages.extend(p.as_array().cloned().unwrap_or_default());
                    findings.extend(f.as_array().cloned().unwrap_or_default());
                }
                serde_json::to_writer_pretty(
                    &mut out,
                    &serde_json::json!({
                        "packages": packages,
                        "findings": findings,
                        "platforms": reports,
                    }),
                )?;
            }
            writeln!(out)?;
        }
        Format::Table => {
            for r in &reports {
                print_table(&mut out, r)?;
            }
        }
        Format::Cyclonedx | Format::Spdx | Format::Sarif => {
            let docs: Vec<serde_json::Value> = reports
                .iter()
                .map(|r| {
                    let subject = match &r.platform {
                        Some(p) => format!("{} ({p})", args.target),
                        None => args.target.clone(),
                    };
                    match args.format {
                        Format::Cyclonedx => sbom::cyclonedx(&r.report, &subject),
                        Format::Spdx => sbom::spdx(&r.report, &subject),
                        _ => sbom::sarif(&r.report, &subject),
                    }
                })
                .collect();
            if docs.len() == 1 {
                serde_json::to_writer_pretty(&mut out, &docs[0])?;
            } else {
                serde_json::to_writer_pretty(&mut out, &docs)?;
            }
            writeln!(out)?;
        }
    }
    let mut failed = false;
    if let Some(t) = args.fail_on {
        let n: usize = reports.iter().map(|r| r.report.at_or_above(t)).sum();
        if n > 0 {
            eprintln!("{n} finding(s) at or above {}", t.as_str());
            failed = true;
        }
    }
    if let Some(t) = args.fail_on_misconfig {
        let n: usize = reports
            .iter()
            .map(|r| r.report.misconfigurations_at_or_above(t))
            .sum();
        if n > 0 {
            eprintln!("{n} misconfiguration(s) at or above {}", t.as_str());
            failed = true;
        }
    }
    // The process ends here: freeing the index and reports item by item would only
    // cost time.
    std::mem::forget(index);
    std::mem::forget(reports);
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn print_table(out: &mut impl Write, r: &PlatformReport) -> std::io::Result<()> {
    let os = r
        .report
        .os
        .as_ref()
        .map(|o| o.pretty_name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "unknown OS".into());
    let platform = r.platform.clone().unwrap_or_default();
    writeln!(
        out,
        "{os} {platform}: {} packages, {} findings, {} misconfigurations",
        r.report.packages.len(),
        r.report.findings.len(),
        r.report.misconfigurations.len()
    )?;
    for m in &r.report.misconfigurations {
        writeln!(
            out,
            "{:<10} {:<10} {}: {}",
            m.severity.as_str(),
            m.id,
            m.title,
            m.detail
        )?;
    }
    if r.report.findings.is_empty() {
        return Ok(());
    }
    writeln!(
        out,
        "{:<10} {:<22} {:<28} {:<24} {:<24}",
        "SEVERITY", "ID", "PACKAGE", "INSTALLED", "FIXED"
    )?;
    for f in &r.report.findings {
        writeln!(
            out,
            "{:<10} {:<22} {:<28} {:<24} {:<24}",
            f.severity.as_str(),
            f.id,
            f.package,
            f.installed_version,
            f.fixed_version.as_deref().unwrap_or("-")
        )?;
    }
    Ok(())
}

/// Largest configuration blob read from a registry.
const MAX_CONFIG: u64 = 4 << 20;

/// An image in a registry as a blob source: manifests and configurations fetched
/// whole (small), layers streamed through the layer walk, every blob checked against
/// its digest. Runs on a blocking thread of the CLI's runtime.
struct RegistryBlobs {
    remote: Remote,
    runtime: tokio::runtime::Handle,
    /// The manifest the reference resolved to, fetched already.
    first: Option<(String, Vec<u8>)>,
}

/// Hashes what is read through it, so the blob's digest is checked once it is read.
struct Verified<R> {
    inner: R,
    hash: Rc<RefCell<Digester>>,
}

impl<R: std::io::Read> std::io::Read for Verified<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.borrow_mut().update(&buf[..n]);
        Ok(n)
    }
}

/// Fails unless what went through `hash` has the digest `want`.
fn check(hash: &RefCell<Digester>, want: &Digest) -> anyhow::Result<()> {
    let got = hash.borrow().clone().finish();
    anyhow::ensure!(&got == want, "blob {want} hashes to {got}");
    Ok(())
}

impl RegistryBlobs {
    fn reader(
        &mut self,
        digest: &str,
    ) -> anyhow::Result<(impl std::io::Read, Rc<RefCell<Digester>>, Digest)> {
        let want = Digest::parse(digest).map_err(|e| anyhow::anyhow!("{digest:?}: {e}"))?;
        let stream = self.runtime.block_on(self.remote.blob_stream(digest))?;
        let hash = Rc::new(RefCell::new(Digester::new(want.algorithm())));
        let reader = Verified {
            inner: tokio_util::io::SyncIoBridge::new_with_handle(
                tokio_util::io::StreamReader::new(Box::pin(stream)),
                self.runtime.clone(),
            ),
            hash: hash.clone(),
        };
        Ok((reader, hash, want))
    }
}

impl Blobs for RegistryBlobs {
    fn small(&mut self, digest: &str) -> anyhow::Result<Vec<u8>> {
        use std::io::Read as _;
        let (reader, hash, want) = self.reader(digest)?;
        let mut bytes = Vec::new();
        reader.take(MAX_CONFIG + 1).read_to_end(&mut bytes)?;
        anyhow::ensure!(
            bytes.len() as u64 <= MAX_CONFIG,
            "blob {digest} is larger than 4 MiB"
        );
        check(&hash, &want)?;
        Ok(bytes)
    }

    fn manifest(&mut self, digest: &str) -> anyhow::Result<Vec<u8>> {
        if let Some((d, bytes)) = &self.first {
            if d == digest {
                return Ok(bytes.clone());
            }
        }
        Ok(self.runtime.block_on(self.remote.manifest(digest))?.2)
    }

    fn layer(&mut self, digest: &str, limits: &Limits) -> anyhow::Result<LayerDelta> {
        let (reader, hash, want) = self.reader(digest)?;
        let delta = read_layer(digest, reader, limits)?;
        check(&hash, &want)?;
        Ok(delta)
    }
}

/// A spinner on stderr, when it is a terminal, with the layer bytes read so far.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Progress {
    fn start(target: &str) -> Progress {
        use std::io::IsTerminal;
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        if !std::io::stderr().is_terminal() {
            return Progress { bar: None, stop };
        }
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {msg}: {bytes} of layers read ({bytes_per_sec}, {elapsed})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
        );
        bar.set_message(format!("scanning {target}"));
        let (b, s) = (bar.clone(), stop.clone());
        let base = airlock_scanner::layers::LAYER_BYTES_READ.load(Ordering::Relaxed);
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                let read = airlock_scanner::layers::LAYER_BYTES_READ.load(Ordering::Relaxed);
                b.set_position(read.saturating_sub(base));
                b.tick();
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        });
        Progress {
            bar: Some(bar),
            stop,
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
