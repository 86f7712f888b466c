//! Matching packages against the advisory index, memoised. What affects a package
//! depends only on (ecosystem, the name and version advisories are written against),
//! and an inventory of thousands of images repeats those triples endlessly: each is
//! matched once per [`Matcher`], and every later package with the same triple reuses
//! the result. The registry re-matches every stored inventory through one matcher
//! when the advisory database changes; a single scan uses one too.

use crate::catalog::Package;
use crate::index::{key, AdvisoryIndex};
use crate::osv::Advisory;
use crate::scan::Finding;
use crate::severity::{assess, Severity};
use crate::version::Ecosystem;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The fields of a package matching needs, borrowed from wherever they are kept.
#[derive(Debug, Clone, Copy)]
pub struct PackageRef<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub ecosystem: &'a str,
    pub purl: &'a str,
    pub source_name: &'a str,
    pub source_version: &'a str,
}

impl<'a> From<&'a Package> for PackageRef<'a> {
    fn from(p: &'a Package) -> Self {
        PackageRef {
            name: &p.name,
            version: &p.version,
            ecosystem: &p.ecosystem,
            purl: &p.purl,
            source_name: &p.source_name,
            source_version: &p.source_version,
        }
    }
}

/// One advisory affecting one (ecosystem, name, version).
#[derive(Debug)]
pub struct Hit {
    pub advisory: Arc<Advisory>,
    pub fixed_version: Option<String>,
    pub severity: Severity,
    pub cvss: Option<f64>,
    pub cvss_vector: Option<String>,
}

/// Whether advisories for this ecosystem are written against source packages.
/// Not so for RPM distributions: the OSV records of AlmaLinux, Rocky Linux and
/// openSUSE list each affected binary RPM (`openssl-libs`, not `openssl`).
fn by_source(eco: Ecosystem) -> bool {
    matches!(
        eco,
        Ecosystem::Debian | Ecosystem::Ubuntu | Ecosystem::Alpine
    )
}

/// The (ecosystem, package) keys advisories about these packages are filed under:
/// what to fetch from a store that holds more advisories than an image needs.
pub fn advisory_keys<'p>(
    packages: impl IntoIterator<Item = PackageRef<'p>>,
) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = packages
        .into_iter()
        .map(|p| {
            let name = if by_source(Ecosystem::from_osv(p.ecosystem)) {
                p.source_name
            } else {
                p.name
            };
            key(p.ecosystem, name)
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

pub struct Matcher<'i> {
    index: &'i AdvisoryIndex,
    memo: HashMap<String, Arc<[Hit]>>,
    scratch: String,
    /// The last ecosystem name seen and what it is (packages come in runs).
    last_ecosystem: (String, Ecosystem),
}

impl<'i> Matcher<'i> {
    pub fn new(index: &'i AdvisoryIndex) -> Matcher<'i> {
        Matcher {
            index,
            memo: HashMap::new(),
            scratch: String::new(),
            last_ecosystem: (String::new(), Ecosystem::from_osv("")),
        }
    }

    /// How many distinct (ecosystem, name, version) were matched so far.
    pub fn distinct(&self) -> usize {
        self.memo.len()
    }

    fn hits(&mut self, ecosystem: &str, name: &str, version: &str) -> Arc<[Hit]> {
        self.scratch.clear();
        for part in [ecosystem, "\0", name, "\0", version] {
            self.scratch.push_str(part);
        }
        if let Some(h) = self.memo.get(self.scratch.as_str()) {
            return h.clone();
        }
        let eco = Ecosystem::from_osv(ecosystem);
        let wanted = key(ecosystem, name);
        let mut hits: Vec<Hit> = Vec::new();
        for adv in self.index.lookup(ecosystem, name) {
            for aff in &adv.affected {
                let Some(p) = &aff.package else { continue };
                if key(&p.ecosystem, &p.name) != wanted || !aff.affects(eco, version) {
                    continue;
                }
                if hits.iter().any(|h| h.advisory.id == adv.id) {
                    continue; // one finding per advisory, whatever its affected entries
                }
                let (severity, cvss, cvss_vector) = assess(adv, aff);
                hits.push(Hit {
                    advisory: adv.clone(),
                    fixed_version: aff.fixed_version(eco, version),
                    severity,
                    cvss,
                    cvss_vector,
                });
            }
        }
        let hits: Arc<[Hit]> = hits.into();
        self.memo.insert(self.scratch.clone(), hits.clone());
        hits
    }

    /// The advisories affecting one package (by source package where the
    /// ecosystem's advisories are written that way), one per advisory.
    pub fn hits_for(&mut self, pkg: PackageRef<'_>) -> Arc<[Hit]> {
        if self.last_ecosystem.0 != pkg.ecosystem {
            self.last_ecosystem = (pkg.ecosystem.to_owned(), Ecosystem::from_osv(pkg.ecosystem));
        }
        let eco = self.last_ecosystem.1;
        if by_source(eco) {
            self.hits(pkg.ecosystem, pkg.source_name, pkg.source_version)
        } else {
            self.hits(pkg.ecosystem, pkg.name, pkg.version)
        }
    }

    /// Every advisory affecting one of `packages`, most severe first; one finding per
    /// (advisory, package, installed version).
    pub fn match_all<'p>(
        &mut self,
        packages: impl IntoIterator<Item = PackageRef<'p>>,
    ) -> Vec<Finding> {
        let mut findings = Vec::new();
        let mut seen: HashSet<(Arc<str>, &'p str, &'p str)> = HashSet::new();
        for pkg in packages {
            for hit in self.hits_for(pkg).iter() {
                let id: Arc<str> = Arc::from(hit.advisory.id.as_str());
                if !seen.insert((id, pkg.name, pkg.version)) {
                    continue;
                }
                findings.push(Finding {
                    id: hit.advisory.id.clone(),
                    aliases: hit.advisory.aliases.clone(),
                    package: pkg.name.to_owned(),
                    installed_version: pkg.version.to_owned(),
                    fixed_version: hit.fixed_version.clone(),
                    severity: hit.severity,
                    cvss: hit.cvss,
                    cvss_vector: hit.cvss_vector.clone(),
                    ecosystem: pkg.ecosystem.to_owned(),
                    purl: pkg.purl.to_owned(),
                    summary: hit.advisory.summary.clone(),
                });
            }
        }
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.package.cmp(&b.package))
                .then_with(|| a.id.cmp(&b.id))
                .then_with(|| a.installed_version.cmp(&b.installed_version))
        });
        findings
    }
}
