//! Severity of an advisory: from its CVSS vectors (v3.x or v4 base score) when it has
//! them, otherwise from the database's own rating (GitHub's `database_specific.severity`
//! and the like), otherwise unknown.

use crate::osv::{Advisory, Affected, SeverityScore};
use serde::{Deserialize, Serialize};
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    Unknown,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The qualitative rating of a CVSS base score.
    pub fn of_score(score: f64) -> Severity {
        match score {
            s if s >= 9.0 => Severity::Critical,
            s if s >= 7.0 => Severity::High,
            s if s >= 4.0 => Severity::Medium,
            s if s > 0.0 => Severity::Low,
            _ => Severity::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "UNKNOWN",
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

impl FromStr for Severity {
    type Err = String;

    fn from_str(s: &str) -> Result<Severity, String> {
        match s.to_ascii_uppercase().as_str() {
            "UNKNOWN" | "NONE" => Ok(Severity::Unknown),
            "LOW" | "NEGLIGIBLE" => Ok(Severity::Low),
            "MEDIUM" | "MODERATE" => Ok(Severity::Medium),
            "HIGH" | "IMPORTANT" => Ok(Severity::High),
            "CRITICAL" => Ok(Severity::Critical),
            other => Err(format!(
                "unknown severity {other:?}: use low, medium, high or critical"
            )),
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The base score of a CVSS vector (v3.0, v3.1 or v4.0).
pub fn cvss_score(vector: &str) -> Option<f64> {
    let v = cvss::Cvss::from_str(vector.trim()).ok()?;
    Some(v.score())
}

fn best_cvss(scores: &[SeverityScore]) -> Option<(f64, String)> {
    scores
        .iter()
        .filter(|s| s.kind.starts_with("CVSS_V"))
        .filter_map(|s| cvss_score(&s.score).map(|n| (n, s.score.clone())))
        .max_by(|a, b| a.0.total_cmp(&b.0))
}

fn rating(v: Option<&serde_json::Value>) -> Option<Severity> {
    v?.get("severity")?.as_str()?.parse().ok()
}

/// Severity and (when known) CVSS score and vector of one affected entry.
pub fn assess(advisory: &Advisory, affected: &Affected) -> (Severity, Option<f64>, Option<String>) {
    if let Some((score, vector)) =
        best_cvss(&affected.severity).or_else(|| best_cvss(&advisory.severity))
    {
        return (Severity::of_score(score), Some(score), Some(vector));
    }
    let sev = rating(affected.database_specific.as_ref())
        .or_else(|| rating(affected.ecosystem_specific.as_ref()))
        .or_else(|| rating(advisory.database_specific.as_ref()))
        .unwrap_or(Severity::Unknown);
    (sev, None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss_vectors_score() {
        let s = cvss_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap();
        assert!((s - 9.8).abs() < 1e-9, "{s}");
        let s = cvss_score("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N").unwrap();
        assert!((s - 6.1).abs() < 1e-9, "{s}");
        assert_eq!(Severity::of_score(9.8), Severity::Critical);
        assert_eq!(Severity::of_score(7.5), Severity::High);
        assert_eq!(Severity::of_score(0.0), Severity::Unknown);
        assert!(cvss_score("garbage").is_none());
        assert_eq!("moderate".parse::<Severity>(), Ok(Severity::Medium));
        assert!(Severity::Critical > Severity::High && Severity::Low > Severity::Unknown);
    }
}
