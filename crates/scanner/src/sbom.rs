//! Reports in the formats other tools read: CycloneDX 1.5 and SPDX 2.3 SBOMs (JSON)
//! and SARIF 2.1.0 for code-scanning dashboards.

use crate::scan::Report;
use crate::severity::Severity;
use serde_json::{json, Value};

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}

/// A CycloneDX 1.5 BOM of `subject` (an image reference or digest), with its
/// packages as components and its findings as vulnerabilities.
pub fn cyclonedx(report: &Report, subject: &str) -> Value {
    let components: Vec<Value> = report
        .packages
        .iter()
        .map(|p| {
            json!({
                "type": "library",
                "bom-ref": p.purl,
                "name": p.name,
                "version": p.version,
                "purl": p.purl,
                "properties": [
                    {"name": "airlock:ecosystem", "value": p.ecosystem},
                    {"name": "airlock:source_name", "value": p.source_name},
                    {"name": "airlock:source_version", "value": p.source_version},
                    {"name": "airlock:layer", "value": p.layer},
                ],
            })
        })
        .collect();
    let vulnerabilities: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut rating = json!({"severity": f.severity.as_str().to_ascii_lowercase()});
            if let (Some(score), Some(vector)) = (f.cvss, &f.cvss_vector) {
                rating["score"] = json!(score);
                rating["vector"] = json!(vector);
                rating["method"] = json!(if vector.starts_with("CVSS:4") {
                    "CVSSv4"
                } else if vector.starts_with("CVSS:3.1") {
                    "CVSSv31"
                } else {
                    "CVSSv3"
                });
            }
            let mut v = json!({
                "bom-ref": format!("{}@{}", f.id, f.purl),
                "id": f.id,
                "source": {"name": "OSV"},
                "ratings": [rating],
                "affects": [{"ref": f.purl}],
            });
            if !f.aliases.is_empty() {
                v["references"] = json!(f
                    .aliases
                    .iter()
                    .map(|a| json!({"id": a, "source": {"name": "alias"}}))
                    .collect::<Vec<_>>());
            }
            if let Some(fixed) = &f.fixed_version {
                v["recommendation"] = json!(format!("upgrade {} to {fixed}", f.package));
            }
            v
        })
        .collect();
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        "version": 1,
        "metadata": {
            "timestamp": now_rfc3339(),
            "tools": {"components": [{"type": "application", "name": "airlock", "version": env!("CARGO_PKG_VERSION")}]},
            "component": {"type": "container", "bom-ref": subject, "name": subject},
        },
        "components": components,
        "vulnerabilities": vulnerabilities,
    })
}

/// An SPDX 2.3 document describing `subject` and the packages in it.
pub fn spdx(report: &Report, subject: &str) -> Value {
    let mut packages = vec![json!({
        "SPDXID": "SPDXRef-Image",
        "name": subject,
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": false,
        "primaryPackagePurpose": "CONTAINER",
    })];
    let mut relationships = vec![json!({
        "spdxElementId": "SPDXRef-DOCUMENT",
        "relationshipType": "DESCRIBES",
        "relatedSpdxElement": "SPDXRef-Image",
    })];
    for (i, p) in report.packages.iter().enumerate() {
        let id = format!("SPDXRef-Package-{i}");
        packages.push(json!({
            "SPDXID": id,
            "name": p.name,
            "versionInfo": p.version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "sourceInfo": format!("{} in layer {}", p.path, p.layer),
            "externalRefs": [{
                "referenceCategory": "PACKAGE-MANAGER",
                "referenceType": "purl",
                "referenceLocator": p.purl,
            }],
        }));
        relationships.push(json!({
            "spdxElementId": "SPDXRef-Image",
            "relationshipType": "CONTAINS",
            "relatedSpdxElement": id,
        }));
    }
    json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": subject,
        "documentNamespace": format!("https://airlock.invalid/spdx/{}", uuid::Uuid::new_v4()),
        "creationInfo": {"created": now_rfc3339(), "creators": [format!("Tool: airlock-{}", env!("CARGO_PKG_VERSION"))]},
        "packages": packages,
        "relationships": relationships,
    })
}

/// A score in the middle of the severity's CVSS band, for SARIF's
/// `security-severity` when there is no CVSS score.
fn typical_score(severity: Severity) -> f64 {
    match severity {
        Severity::Critical => 9.5,
        Severity::High => 8.0,
        Severity::Medium => 5.5,
        Severity::Low => 2.0,
        Severity::Unknown => 0.0,
    }
}

fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        _ => "note",
    }
}

/// SARIF 2.1.0: one rule per advisory, one result per finding; one rule per
/// configuration check (`AL-CFG-…`), one result per misconfiguration.
pub fn sarif(report: &Report, subject: &str) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let results: Vec<Value> = report
        .findings
        .iter()
        .map(|f| {
            if seen.insert(f.id.clone()) {
                rules.push(json!({
                    "id": f.id,
                    "shortDescription": {"text": f.summary.clone().unwrap_or_else(|| f.id.clone())},
                    "properties": {
                        "security-severity": format!("{:.1}", f.cvss.unwrap_or(typical_score(f.severity))),
                        "tags": ["security", "vulnerability"],
                    },
                }));
            }
            let level = sarif_level(f.severity);
            let fix = f
                .fixed_version
                .as_deref()
                .map(|v| format!("; fixed in {v}"))
                .unwrap_or_default();
            json!({
                "ruleId": f.id,
                "level": level,
                "message": {"text": format!("{} {} is affected by {} ({}){fix}", f.package, f.installed_version, f.id, f.severity)},
                "locations": [{"physicalLocation": {"artifactLocation": {"uri": subject}}}],
            })
        })
        .collect();
    let mut results = results;
    for m in &report.misconfigurations {
        if seen.insert(m.id.clone()) {
            rules.push(json!({
                "id": m.id,
                "shortDescription": {"text": m.title},
                "properties": {
                    "security-severity": format!("{:.1}", typical_score(m.severity)),
                    "tags": ["security", "misconfiguration"],
                },
            }));
        }
        let level = sarif_level(m.severity);
        let mut result = json!({
            "ruleId": m.id,
            "level": level,
            "message": {"text": format!("{} ({}): {}", m.title, m.severity, m.detail)},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": subject}}}],
        });
        if !m.paths.is_empty() {
            result["properties"] = json!({"paths": m.paths});
        }
        results.push(result);
    }
    json!({
        "version": "2.1.0",
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "runs": [{
            "tool": {"driver": {"name": "airlock", "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
            "results": results,
        }],
    })
}
