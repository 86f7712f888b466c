//! OSV advisories: the record format (the fields matching needs) and its range
//! semantics — `ECOSYSTEM` and `SEMVER` ranges of `introduced` / `fixed` /
//! `last_affected` / `limit` events, explicit `versions`, withdrawn records.

use crate::version::{self, Ecosystem};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Advisory {
    pub id: String,
    #[serde(default)]
    pub modified: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(default)]
    pub severity: Vec<SeverityScore>,
    #[serde(default)]
    pub affected: Vec<Affected>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeverityScore {
    #[serde(rename = "type")]
    pub kind: String,
    pub score: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Affected {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Package>,
    #[serde(default)]
    pub severity: Vec<SeverityScore>,
    #[serde(default)]
    pub ranges: Vec<Range>,
    #[serde(default)]
    pub versions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_specific: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecosystem_specific: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Package {
    pub ecosystem: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Range {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub events: Vec<Event>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

impl Event {
    fn version(&self) -> &str {
        match self {
            Event::Introduced(v) | Event::Fixed(v) | Event::LastAffected(v) | Event::Limit(v) => v,
        }
    }
}

impl Advisory {
    pub fn parse(json: &[u8]) -> Result<Advisory, serde_json::Error> {
        serde_json::from_slice(json)
    }

    pub fn is_withdrawn(&self) -> bool {
        self.withdrawn.is_some()
    }
}

fn ordering(kind: &str) -> Option<fn(Ecosystem, &str, &str) -> Ordering> {
    match kind {
        "ECOSYSTEM" => Some(version::compare),
        "SEMVER" => Some(|_, a, b| version::compare_semver(a, b)),
        // GIT ranges name commits, which installed packages do not have.
        _ => None,
    }
}

impl Range {
    /// Whether `installed` falls inside this range (OSV's evaluation: events in
    /// version order; `introduced` opens, `fixed` closes at the version,
    /// `last_affected` closes after it, `limit` caps everything).
    pub fn contains(&self, eco: Ecosystem, installed: &str) -> bool {
        let Some(cmp) = ordering(&self.kind) else {
            return false;
        };
        fn key(e: &Event) -> Option<&str> {
            match e {
                Event::Introduced(v) if v == "0" => None,
                other => Some(other.version()),
            }
        }
        for e in &self.events {
            if let Event::Limit(l) = e {
                if l != "*" && cmp(eco, installed, l) != Ordering::Less {
                    return false;
                }
            }
        }
        let mut events: Vec<&Event> = self
            .events
            .iter()
            .filter(|e| !matches!(e, Event::Limit(_)))
            .collect();
        events.sort_by(|a, b| match (key(a), key(b)) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => cmp(eco, x, y),
        });
        let mut affected = false;
        for e in events {
            match e {
                Event::Introduced(v) => {
                    if v == "0" || cmp(eco, installed, v) != Ordering::Less {
                        affected = true;
                    }
                }
                Event::Fixed(v) => {
                    if cmp(eco, installed, v) != Ordering::Less {
                        affected = false;
                    }
                }
                Event::LastAffected(v) => {
                    if cmp(eco, installed, v) == Ordering::Greater {
                        affected = false;
                    }
                }
                Event::Limit(_) => {}
            }
        }
        affected
    }

    /// The first `fixed` version above `installed`, if the range names one.
    pub fn fixed_after(&self, eco: Ecosystem, installed: &str) -> Option<String> {
        let cmp = ordering(&self.kind)?;
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Fixed(v) if cmp(eco, installed, v) == Ordering::Less => Some(v),
                _ => None,
            })
            .min_by(|a, b| cmp(eco, a, b))
            .cloned()
    }
}

impl Affected {
    /// Whether this entry affects `installed` of its package.
    pub fn affects(&self, eco: Ecosystem, installed: &str) -> bool {
        self.versions.iter().any(|v| v == installed)
            || self.ranges.iter().any(|r| r.contains(eco, installed))
    }

    /// The lowest fixed version above `installed`.
    pub fn fixed_version(&self, eco: Ecosystem, installed: &str) -> Option<String> {
        let cmp = |a: &String, b: &String| version::compare(eco, a, b);
        self.ranges
            .iter()
            .filter_map(|r| r.fixed_after(eco, installed))
            .min_by(cmp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(kind: &str, events: &[(&str, &str)]) -> Range {
        Range {
            kind: kind.into(),
            events: events
                .iter()
                .map(|(k, v)| {
                    let v = v.to_string();
                    match *k {
                        "introduced" => Event::Introduced(v),
                        "fixed" => Event::Fixed(v),
                        "last_affected" => Event::LastAffected(v),
                        _ => Event::Limit(v),
                    }
                })
                .collect(),
        }
    }

    #[test]
    fn introduced_fixed() {
        let r = range("SEMVER", &[("introduced", "0"), ("fixed", "1.2.3")]);
        let e = Ecosystem::CratesIo;
        assert!(r.contains(e, "0.1.0"));
        assert!(r.contains(e, "1.2.2"));
        assert!(r.contains(e, "1.2.3-rc.1"));
        assert!(!r.contains(e, "1.2.3"));
        assert!(!r.contains(e, "2.0.0"));
        assert_eq!(r.fixed_after(e, "1.0.0").as_deref(), Some("1.2.3"));
    }

    #[test]
    fn several_intervals_and_last_affected() {
        let r = range(
            "ECOSYSTEM",
            &[
                ("introduced", "1.0"),
                ("fixed", "1.5"),
                ("introduced", "2.0"),
                ("last_affected", "2.3"),
            ],
        );
        let e = Ecosystem::PyPI;
        assert!(!r.contains(e, "0.9"));
        assert!(r.contains(e, "1.0"));
        assert!(r.contains(e, "1.4.9"));
        assert!(!r.contains(e, "1.5"));
        assert!(!r.contains(e, "1.9"));
        assert!(r.contains(e, "2.0"));
        assert!(r.contains(e, "2.3"));
        assert!(!r.contains(e, "2.3.1"));
    }

    #[test]
    fn limit_caps_the_range() {
        let r = range("ECOSYSTEM", &[("introduced", "0"), ("limit", "3.0")]);
        assert!(r.contains(Ecosystem::PyPI, "2.9"));
        assert!(!r.contains(Ecosystem::PyPI, "3.0"));
    }

    #[test]
    fn debian_record_from_the_corpus() {
        let json = br#"{"id":"DLA-0001-1","modified":"2014-06-02T00:00:00Z","aliases":["CVE-2014-3466"],
          "affected":[{"package":{"ecosystem":"Debian:6.0","name":"gnutls26"},
          "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"2.8.6-1+squeeze4"}]}]}]}"#;
        let a = Advisory::parse(json).unwrap();
        let aff = &a.affected[0];
        let e = Ecosystem::Debian;
        assert!(aff.affects(e, "2.8.6-1+squeeze3"));
        assert!(aff.affects(e, "2.8.6-1"));
        assert!(!aff.affects(e, "2.8.6-1+squeeze4"));
        assert!(!aff.affects(e, "2.8.6-1+squeeze4+b1"));
        assert_eq!(
            aff.fixed_version(e, "2.8.6-1").as_deref(),
            Some("2.8.6-1+squeeze4")
        );
    }

    #[test]
    fn explicit_versions_and_git_ranges() {
        let a = Affected {
            package: None,
            severity: vec![],
            ranges: vec![range("GIT", &[("introduced", "0"), ("fixed", "abc123")])],
            versions: vec!["1.0.1".into()],
            database_specific: None,
            ecosystem_specific: None,
        };
        assert!(a.affects(Ecosystem::PyPI, "1.0.1"));
        assert!(
            !a.affects(Ecosystem::PyPI, "1.0.2"),
            "GIT ranges match nothing"
        );
    }
}
