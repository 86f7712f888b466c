//! From an image's files to a report: catalog the packages, match them against the
//! advisory index, and grade the findings.

use crate::catalog::{self, OsRelease, Package};
use crate::index::AdvisoryIndex;
use crate::layers::{Filesystem, Kind};
use crate::matcher::{Matcher, PackageRef};
use crate::misconfig::{self, Misconfiguration};
use crate::severity::Severity;
use crate::{binaries, java};
use serde::{Deserialize, Serialize};

/// One advisory that affects one installed package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub id: String,
    pub aliases: Vec<String>,
    pub package: String,
    pub installed_version: String,
    pub fixed_version: Option<String>,
    pub severity: Severity,
    pub cvss: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss_vector: Option<String>,
    pub ecosystem: String,
    #[serde(default)]
    pub purl: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os: Option<OsRelease>,
    pub packages: Vec<Package>,
    pub findings: Vec<Finding>,
    /// Configuration checks (see [`crate::misconfig`]); absent from the JSON when
    /// there are none, as in reports made before the checks existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub misconfigurations: Vec<Misconfiguration>,
}

/// The packages described by the files of one image.
pub fn catalog(fs: &Filesystem) -> (Option<OsRelease>, Vec<Package>) {
    let text = |p: &str| {
        fs.files
            .get(p)
            .map(|k| String::from_utf8_lossy(&k.bytes).into_owned())
    };
    let os = text("etc/os-release")
        .or_else(|| text("usr/lib/os-release"))
        .map(|t| OsRelease::parse(&t));
    let os_or_default = os.clone().unwrap_or_default();
    let mut packages = Vec::new();
    for (path, kept) in &fs.files {
        let layer = kept.layer.as_str();
        // What was read out of executables and archives; the rest are files.
        match &kept.kind {
            Kind::File => {}
            Kind::GoBuildInfo(info) => {
                packages.extend(binaries::go_packages(info, layer, path));
                continue;
            }
            Kind::RustAudit(crates) => {
                packages.extend(binaries::rust_packages(crates, layer, path));
                continue;
            }
            Kind::Java(found) => {
                packages.extend(java::packages(found, layer, path));
                continue;
            }
        }
        let body = || String::from_utf8_lossy(&kept.bytes);
        if path == "var/lib/dpkg/status" || path.starts_with("var/lib/dpkg/status.d/") {
            packages.extend(catalog::dpkg(&body(), &os_or_default, layer, path));
        } else if path == "lib/apk/db/installed" {
            packages.extend(catalog::apk(&body(), &os_or_default, layer, path));
        } else if path.ends_with(".dist-info/METADATA") || path.ends_with(".egg-info/PKG-INFO") {
            packages.extend(catalog::python(&body(), layer, path));
        } else if path.ends_with("package.json") {
            packages.extend(catalog::npm(&kept.bytes, layer, path));
        } else if path.ends_with("Cargo.lock") {
            packages.extend(catalog::cargo_lock(&body(), layer, path));
        } else if path.ends_with("rpm/rpmdb.sqlite") {
            packages.extend(crate::rpm::sqlite(&kept.bytes, &os_or_default, layer, path));
        } else if path.ends_with(".gemspec") {
            packages.extend(catalog::gemspec(&body(), layer, path));
        } else if path.ends_with("vendor/composer/installed.json") {
            packages.extend(catalog::composer_installed(&kept.bytes, layer, path));
        }
    }
    packages.sort();
    packages.dedup_by(|a, b| a.purl == b.purl && a.path == b.path);
    (os, packages)
}

/// Every advisory in `index` that affects one of `packages`.
pub fn match_packages(packages: &[Package], index: &AdvisoryIndex) -> Vec<Finding> {
    Matcher::new(index).match_all(packages.iter().map(PackageRef::from))
}

impl Report {
    pub fn new(fs: &Filesystem, index: &AdvisoryIndex) -> Report {
        let (os, packages) = catalog(fs);
        let findings = match_packages(&packages, index);
        Report {
            os,
            packages,
            findings,
            misconfigurations: Vec::new(),
        }
    }

    /// Adds the configuration checks of the image: its configuration JSON (`None`
    /// when it has none, as for a directory scan) and the file modes in `fs`.
    pub fn with_misconfigurations(
        mut self,
        config: Option<&serde_json::Value>,
        fs: &Filesystem,
    ) -> Report {
        self.misconfigurations = misconfig::check(config, fs);
        self
    }

    /// The misconfigurations at or above `threshold`.
    pub fn misconfigurations_at_or_above(&self, threshold: Severity) -> usize {
        self.misconfigurations
            .iter()
            .filter(|m| m.severity >= threshold)
            .count()
    }

    /// Drops findings without a known fix.
    pub fn without_unfixed(mut self) -> Report {
        self.findings.retain(|f| f.fixed_version.is_some());
        self
    }

    /// The findings at or above `threshold`.
    pub fn at_or_above(&self, threshold: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity >= threshold)
            .count()
    }
}
