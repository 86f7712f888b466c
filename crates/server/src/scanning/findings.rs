//! Findings as the registry keeps them, and re-matching. A stored report is an
//! inventory (packages per platform, as scanned) plus compact finding rows that point
//! into it by package position and into the advisory database by id; rows are
//! expanded to full findings only when shown. Re-matching reads the inventory alone,
//! matches it through one memoising [`Matcher`] for the whole run, and rewrites the
//! rows (with an event) only for images whose findings changed — which is what keeps
//! re-matching ten thousand images against a whole advisory database to seconds.

use airlock_scanner::matcher::{Hit, Matcher, PackageRef};
use airlock_scanner::{AdvisoryIndex, Finding, Severity};
use airlock_storage::{Rematch, StoredReport};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Entries of each list an event shows; the counts are always complete.
const EVENT_LIST_CAP: usize = 20;

/// One finding: (package position in its platform's inventory, advisory id, fixed
/// version, severity, CVSS score, CVSS vector).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row<'a>(
    pub u32,
    #[serde(borrow)] pub Cow<'a, str>,
    #[serde(borrow)] pub Option<Cow<'a, str>>,
    pub Severity,
    pub Option<f64>,
    #[serde(borrow)] pub Option<Cow<'a, str>>,
);

impl Row<'_> {
    fn key(&self) -> (u32, &str) {
        (self.0, &self.1)
    }
}

/// What findings need of a stored inventory: the packages of each platform, and —
/// for reports stored before findings were kept apart — the findings inside it.
#[derive(Deserialize)]
pub struct Inventory<'a> {
    #[serde(borrow, default)]
    pub platforms: Vec<InventoryPlatform<'a>>,
}

#[derive(Deserialize)]
pub struct InventoryPlatform<'a> {
    #[serde(borrow, default)]
    pub packages: Vec<InventoryPackage<'a>>,
    #[serde(default)]
    findings: Vec<Finding>,
}

#[derive(Deserialize)]
pub struct InventoryPackage<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    version: Cow<'a, str>,
    #[serde(borrow)]
    ecosystem: Cow<'a, str>,
    #[serde(borrow, default)]
    purl: Cow<'a, str>,
    #[serde(borrow, default)]
    source_name: Cow<'a, str>,
    #[serde(borrow, default)]
    source_version: Cow<'a, str>,
}

impl<'a> InventoryPackage<'a> {
    fn name(&self) -> &str {
        &self.name
    }
    fn version(&self) -> &str {
        &self.version
    }
    fn as_ref(&self) -> PackageRef<'_> {
        PackageRef {
            name: &self.name,
            version: &self.version,
            ecosystem: &self.ecosystem,
            purl: &self.purl,
            source_name: &self.source_name,
            source_version: &self.source_version,
        }
    }
}

/// A finding row as matching produces it: a package position and one of the
/// matcher's (shared) hits for it. Serialises exactly like [`Row`].
#[derive(Debug)]
pub struct NewRow {
    package: u32,
    hits: Arc<[Hit]>,
    which: usize,
}

impl NewRow {
    fn hit(&self) -> &Hit {
        &self.hits[self.which]
    }
    fn key(&self) -> (u32, &str) {
        (self.package, &self.hit().advisory.id)
    }
    pub fn severity(&self) -> Severity {
        self.hit().severity
    }
}

impl Serialize for NewRow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let h = self.hit();
        (
            self.package,
            &h.advisory.id,
            &h.fixed_version,
            h.severity,
            h.cvss,
            &h.cvss_vector,
        )
            .serialize(s)
    }
}

/// The finding rows of one platform's packages, most severe first; one per
/// (advisory, package name, installed version).
pub fn rows<'p>(
    packages: impl IntoIterator<Item = PackageRef<'p>>,
    matcher: &mut Matcher<'_>,
) -> Vec<NewRow> {
    let mut out: Vec<(NewRow, PackageRef<'p>)> = Vec::new();
    for (i, pkg) in packages.into_iter().enumerate() {
        let hits = matcher.hits_for(pkg);
        for which in 0..hits.len() {
            let row = NewRow {
                package: i as u32,
                hits: hits.clone(),
                which,
            };
            out.push((row, pkg));
        }
    }
    out.sort_unstable_by(|(a, ap), (b, bp)| {
        b.severity()
            .cmp(&a.severity())
            .then_with(|| ap.name.cmp(bp.name))
            .then_with(|| a.hit().advisory.id.cmp(&b.hit().advisory.id))
            .then_with(|| ap.version.cmp(bp.version))
            .then_with(|| a.package.cmp(&b.package))
    });
    // The same package listed twice (two copies of one wheel, say) is one finding.
    out.dedup_by(|(a, ap), (b, bp)| {
        Arc::ptr_eq(&a.hit().advisory, &b.hit().advisory)
            && ap.name == bp.name
            && ap.version == bp.version
    });
    out.into_iter().map(|(r, _)| r).collect()
}

/// Findings per severity.
pub fn summary(severities: impl IntoIterator<Item = Severity>) -> BTreeMap<Severity, usize> {
    let mut out = BTreeMap::new();
    for s in severities {
        *out.entry(s).or_insert(0) += 1;
    }
    out
}

/// A stored report as the API shows it: the inventory with each platform's findings
/// expanded (aliases and summaries from `index`) and a summary over all of them.
pub fn assemble(stored: &StoredReport, index: &AdvisoryIndex) -> anyhow::Result<Value> {
    let mut report: Value = serde_json::from_str(&stored.report)?;
    if let Some(findings) = &stored.findings {
        let per_platform: Vec<Vec<Row>> = serde_json::from_str(findings)?;
        if let Some(platforms) = report["platforms"].as_array_mut() {
            for (p, rows) in platforms.iter_mut().zip(per_platform) {
                let expanded: Vec<Value> = rows
                    .iter()
                    .map(|r| expand(r, &p["packages"][r.0 as usize], index))
                    .collect();
                p["findings"] = Value::Array(expanded);
            }
        }
    }
    let severities: Vec<Severity> = report["platforms"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| p["findings"].as_array().into_iter().flatten())
        .filter_map(|f| serde_json::from_value(f["severity"].clone()).ok())
        .collect();
    report["summary"] = serde_json::to_value(summary(severities))?;
    report["advisory_generation"] = json!(stored.generation);
    Ok(report)
}

/// One row as a finding (the shape `airlock scan --format json` prints).
fn expand(row: &Row, package: &Value, index: &AdvisoryIndex) -> Value {
    let advisory = index.get(&row.1);
    json!({
        "id": row.1,
        "aliases": advisory.map(|a| a.aliases.clone()).unwrap_or_default(),
        "package": package["name"],
        "installed_version": package["version"],
        "fixed_version": row.2,
        "severity": row.3,
        "cvss": row.4,
        "cvss_vector": row.5,
        "ecosystem": package["ecosystem"],
        "purl": package["purl"],
        "summary": advisory.and_then(|a| a.summary.clone()),
    })
}

/// The rows of a report stored before findings were kept apart.
fn legacy_rows<'a>(platform: &'a InventoryPlatform<'a>) -> Vec<Row<'a>> {
    let position: HashMap<(&str, &str), u32> = platform
        .packages
        .iter()
        .enumerate()
        .map(|(i, p)| ((&*p.name, &*p.version), i as u32))
        .collect();
    platform
        .findings
        .iter()
        .filter_map(|f| {
            let i = *position.get(&(f.package.as_str(), f.installed_version.as_str()))?;
            Some(Row(
                i,
                Cow::Borrowed(f.id.as_str()),
                f.fixed_version.as_deref().map(Cow::Borrowed),
                f.severity,
                f.cvss,
                f.cvss_vector.as_deref().map(Cow::Borrowed),
            ))
        })
        .collect()
}

/// One finding as an event lists it.
#[derive(Serialize)]
struct Brief<'a> {
    id: &'a str,
    package: Option<&'a str>,
    installed_version: Option<&'a str>,
    severity: Severity,
    fixed_version: Option<&'a str>,
}

/// The detail of a `findings_changed` event.
#[derive(Serialize, Default)]
struct Change<'a> {
    added: Vec<Brief<'a>>,
    removed: Vec<Brief<'a>>,
    changed: Vec<Brief<'a>>,
    added_count: usize,
    removed_count: usize,
    changed_count: usize,
    summary: BTreeMap<Severity, usize>,
}

/// What changed between two sets of rows of the same inventory, as an event detail
/// (lists capped, counts complete), or `None` when nothing an operator would act on
/// changed.
fn difference<'a>(
    inventory: &'a Inventory<'a>,
    old: &'a [Vec<Row<'a>>],
    new: &'a [Vec<NewRow>],
) -> Option<String> {
    let mut change: Change<'a> = Change::default();
    for (i, platform) in inventory.platforms.iter().enumerate() {
        let old = old.get(i).map(Vec::as_slice).unwrap_or_default();
        let new = new.get(i).map(Vec::as_slice).unwrap_or_default();
        let brief =
            |package: u32, id: &'a str, severity, fixed_version: Option<&'a str>| -> Brief<'a> {
                let p: Option<&'a InventoryPackage<'a>> = platform.packages.get(package as usize);
                Brief {
                    id,
                    package: p.map(InventoryPackage::name),
                    installed_version: p.map(InventoryPackage::version),
                    severity,
                    fixed_version,
                }
            };
        let note = |list: &mut Vec<Brief<'a>>, count: &mut usize, b: Brief<'a>| {
            *count += 1;
            if list.len() < EVENT_LIST_CAP {
                list.push(b);
            }
        };
        let old_by: HashMap<_, _> = old.iter().map(|r| (r.key(), r)).collect();
        for r in new {
            let h = r.hit();
            let b = brief(
                r.package,
                &h.advisory.id,
                h.severity,
                h.fixed_version.as_deref(),
            );
            match old_by.get(&r.key()) {
                None => note(&mut change.added, &mut change.added_count, b),
                Some(o) if o.3 != h.severity || o.2.as_deref() != h.fixed_version.as_deref() => {
                    note(&mut change.changed, &mut change.changed_count, b)
                }
                Some(_) => {}
            }
        }
        if !old.is_empty() {
            let new_by: HashSet<_> = new.iter().map(NewRow::key).collect();
            for r in old.iter().filter(|r| !new_by.contains(&r.key())) {
                let b = brief(r.0, &r.1, r.3, r.2.as_deref());
                note(&mut change.removed, &mut change.removed_count, b);
            }
        }
    }
    if change.added_count + change.removed_count + change.changed_count == 0 {
        return None;
    }
    change.summary = summary(new.iter().flatten().map(NewRow::severity));
    serde_json::to_string(&change).ok()
}

/// Re-matches one stored report; `None` when its inventory cannot be read (it stays
/// behind, for a rescan to replace).
pub fn rematch_one(stored: &StoredReport, matcher: &mut Matcher<'_>) -> Option<Rematch> {
    let inventory: Inventory = match serde_json::from_str(&stored.report) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(repository = %stored.repository, digest = %stored.digest, error = %e, "unreadable stored inventory");
            return None;
        }
    };
    let old: Vec<Vec<Row>> = match &stored.findings {
        Some(f) => serde_json::from_str(f).unwrap_or_default(),
        None => inventory.platforms.iter().map(legacy_rows).collect(),
    };
    let new: Vec<Vec<NewRow>> = inventory
        .platforms
        .iter()
        .map(|p| rows(p.packages.iter().map(InventoryPackage::as_ref), matcher))
        .collect();
    let event = difference(&inventory, &old, &new);
    let rewrite = event.is_some() || stored.findings.is_none();
    Some(Rematch {
        repository: stored.repository.clone(),
        digest: stored.digest.clone(),
        findings: rewrite.then(|| serde_json::to_string(&new).unwrap_or_else(|_| "[]".into())),
        event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_scanner::osv::Advisory;

    fn index() -> AdvisoryIndex {
        let mut idx = AdvisoryIndex::default();
        idx.insert(
            Advisory::parse(
                br#"{"id":"PYSEC-1","modified":"2024-01-01T00:00:00Z","aliases":["CVE-1"],
                "summary":"bad","affected":[{"package":{"ecosystem":"PyPI","name":"Flask"},
                "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.0"}]}]}]}"#,
            )
            .unwrap(),
        );
        idx
    }

    fn stored(findings: Option<&str>) -> StoredReport {
        StoredReport {
            repository: "r".into(),
            digest: "sha256:0".into(),
            scanned_at: 0,
            generation: 0,
            report: r#"{"platforms":[{"manifest":"m","packages":[
                {"name":"flask","version":"1.0","ecosystem":"PyPI","purl":"pkg:pypi/flask@1.0"},
                {"name":"flask","version":"3.0","ecosystem":"PyPI","purl":"pkg:pypi/flask@3.0"}],
                "findings":[]}]}"#
                .into(),
            findings: findings.map(str::to_owned),
        }
    }

    #[test]
    fn rematch_adds_expands_and_then_settles() {
        let idx = index();
        let mut m = Matcher::new(&idx);
        let r = rematch_one(&stored(Some("[[]]")), &mut m).unwrap();
        let event: Value = serde_json::from_str(r.event.as_deref().unwrap()).unwrap();
        assert_eq!(event["added_count"], 1);
        assert_eq!(event["added"][0]["installed_version"], "1.0");
        let rows = r.findings.unwrap();
        // Matching again against the same advisories changes nothing.
        let again = rematch_one(&stored(Some(&rows)), &mut m).unwrap();
        assert!(again.event.is_none() && again.findings.is_none());
        // Expanded, a row is a whole finding.
        let mut s = stored(Some(&rows));
        s.generation = 3;
        let v = assemble(&s, &idx).unwrap();
        let f = &v["platforms"][0]["findings"][0];
        assert_eq!(f["id"], "PYSEC-1");
        assert_eq!(f["aliases"], json!(["CVE-1"]));
        assert_eq!(f["fixed_version"], "2.0");
        assert_eq!(f["purl"], "pkg:pypi/flask@1.0");
        assert_eq!(v["summary"]["UNKNOWN"], 1);
        assert_eq!(v["advisory_generation"], 3);
        // The advisory withdrawn: the finding goes, with an event.
        let empty = AdvisoryIndex::default();
        let gone = rematch_one(&stored(Some(&rows)), &mut Matcher::new(&empty)).unwrap();
        let event: Value = serde_json::from_str(gone.event.as_deref().unwrap()).unwrap();
        assert_eq!(event["removed_count"], 1);
        assert_eq!(gone.findings.as_deref(), Some("[[]]"));
    }

    #[test]
    fn legacy_reports_are_converted_without_a_spurious_event() {
        let idx = index();
        let legacy = StoredReport {
            report: stored(None).report.replace(
                r#""findings":[]"#,
                r#""findings":[{"id":"PYSEC-1","aliases":[],"package":"flask","installed_version":"1.0",
                "fixed_version":"2.0","severity":"UNKNOWN","cvss":null,"ecosystem":"PyPI"}]"#,
            ),
            ..stored(None)
        };
        let r = rematch_one(&legacy, &mut Matcher::new(&idx)).unwrap();
        assert!(r.event.is_none(), "{:?}", r.event);
        assert!(r.findings.unwrap().contains("PYSEC-1"));
    }

    #[test]
    fn an_unreadable_inventory_is_left_alone() {
        let mut s = stored(None);
        s.report = "{not json".into();
        let idx = index();
        assert!(rematch_one(&s, &mut Matcher::new(&idx)).is_none());
    }
}
