//! `airlock scan`: the registry's scanner as a CI gate. Reads an image (OCI layout,
//! OCI or docker archive, or an unpacked root filesystem), lists its packages,
//! matches them against an OSV database and prints a table or JSON; exit code 1 when
//! a finding is at or above `--fail-on`.

use airlock_scanner::image::{self, Target};
use airlock_scanner::sbom;
use airlock_scanner::{AdvisoryIndex, Limits, Report, Severity};
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE or dir:ROOTFS.
    target: String,
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

/// Scans with `index` (or, without one, the database `--vulndb` names).
pub fn run(args: ScanArgs, index: Option<AdvisoryIndex>) -> anyhow::Result<ExitCode> {
    let target = Target::parse(&args.target)?;
    let index = match (index, &args.vulndb) {
        (Some(i), _) => i,
        (None, Some(path)) => {
            let (index, skipped) = AdvisoryIndex::load(path)
                .with_context(|| format!("loading the advisory database {}", path.display()))?;
            if !skipped.is_empty() {
                eprintln!(
                    "warning: {} advisory files did not parse (first: {}: {})",
                    skipped.len(),
                    skipped[0].file,
                    skipped[0].reason
                );
            }
            index
        }
        (None, None) => anyhow::bail!("no advisory database: give --vulndb PATH"),
    };
    let limits = Limits::default();
    let images =
        image::open(&target, &limits).with_context(|| format!("reading {}", args.target))?;
    let reports: Vec<PlatformReport> = images
        .into_iter()
        .map(|img| {
            let mut report =
                Report::new(&img.fs, &index).with_misconfigurations(img.config.as_ref(), &img.fs);
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
            // One image: its report; several platforms: a list of them.
            if reports.len() == 1 {
                serde_json::to_writer_pretty(&mut out, &reports[0])?;
            } else {
                serde_json::to_writer_pretty(
                    &mut out,
                    &serde_json::json!({ "platforms": reports }),
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
