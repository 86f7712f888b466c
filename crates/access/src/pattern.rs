//! Repository patterns: `team/app` (exactly that), `team/*` (one more path
//! component), `team/**` (anything below `team/`), `**` (everything).

use airlock_oci::RepositoryName;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid repository pattern {0:?}: use a repository name, optionally ending in /* or /**, or **")]
pub struct PatternError(pub String);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RepoPattern {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Kind {
    Exact,
    /// The prefix (with its trailing slash) plus exactly one component.
    OneLevel(String),
    /// The prefix (with its trailing slash) plus one or more components.
    AnyDepth(String),
    Everything,
}

impl RepoPattern {
    pub fn parse(s: &str) -> Result<RepoPattern, PatternError> {
        let err = || PatternError(s.chars().take(300).collect());
        let kind = if s == "**" {
            Kind::Everything
        } else if let Some(prefix) = s.strip_suffix("/**") {
            RepositoryName::parse(prefix).map_err(|_| err())?;
            Kind::AnyDepth(format!("{prefix}/"))
        } else if let Some(prefix) = s.strip_suffix("/*") {
            RepositoryName::parse(prefix).map_err(|_| err())?;
            Kind::OneLevel(format!("{prefix}/"))
        } else {
            RepositoryName::parse(s).map_err(|_| err())?;
            Kind::Exact
        };
        Ok(RepoPattern {
            text: s.to_owned(),
            kind,
        })
    }

    /// Parses every pattern of a list; the first invalid one is the error.
    pub fn parse_all<S: AsRef<str>>(list: &[S]) -> Result<Vec<RepoPattern>, PatternError> {
        list.iter()
            .map(|p| RepoPattern::parse(p.as_ref()))
            .collect()
    }

    pub fn everything() -> RepoPattern {
        RepoPattern {
            text: "**".into(),
            kind: Kind::Everything,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn matches(&self, repo: &RepositoryName) -> bool {
        let name = repo.as_str();
        match &self.kind {
            Kind::Exact => name == self.text,
            Kind::OneLevel(prefix) => name
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| !rest.is_empty() && !rest.contains('/')),
            Kind::AnyDepth(prefix) => name
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| !rest.is_empty()),
            Kind::Everything => true,
        }
    }

    /// Whether every repository this pattern matches is also matched by `other`.
    pub fn is_within(&self, other: &RepoPattern) -> bool {
        match (&self.kind, &other.kind) {
            (_, Kind::Everything) => true,
            (Kind::Everything, _) => false,
            (Kind::Exact, _) => {
                other.matches(&RepositoryName::parse(&self.text).expect("validated"))
            }
            (Kind::OneLevel(a), Kind::OneLevel(b)) => a == b,
            (Kind::OneLevel(a) | Kind::AnyDepth(a), Kind::AnyDepth(b)) => a.starts_with(b.as_str()),
            _ => false,
        }
    }
}

impl fmt::Display for RepoPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(s: &str) -> RepositoryName {
        RepositoryName::parse(s).unwrap()
    }

    #[test]
    fn matching() {
        let cases = [
            ("team/app", "team/app", true),
            ("team/app", "team/app2", false),
            ("team/app", "team/app/sub", false),
            ("team/*", "team/app", true),
            ("team/*", "team/app/sub", false),
            ("team/*", "team", false),
            ("team/*", "teamx/app", false),
            ("team/**", "team/app/sub", true),
            ("team/**", "team", false),
            ("team/**", "teams/app", false),
            ("**", "anything/at/all", true),
        ];
        for (p, r, want) in cases {
            assert_eq!(
                RepoPattern::parse(p).unwrap().matches(&repo(r)),
                want,
                "{p} vs {r}"
            );
        }
    }

    #[test]
    fn invalid_patterns() {
        for p in [
            "", "*", "team/*/x", "../x", "team/", "Team/*", "a/**/b", "team/***",
        ] {
            assert!(RepoPattern::parse(p).is_err(), "{p}");
        }
    }

    #[test]
    fn containment() {
        let p = |s| RepoPattern::parse(s).unwrap();
        assert!(p("ci/app").is_within(&p("ci/*")));
        assert!(p("ci/*").is_within(&p("ci/**")));
        assert!(p("ci/a/*").is_within(&p("ci/**")));
        assert!(!p("ci/**").is_within(&p("ci/*")));
        assert!(!p("prod/app").is_within(&p("ci/**")));
        assert!(p("**").is_within(&p("**")));
        assert!(!p("**").is_within(&p("ci/**")));
    }
}
