//! Scopes in the Docker token format: `repository:<name or pattern>:<actions>` and
//! `registry:catalog:*`. Requested scopes name one repository; granted scopes (on
//! service tokens) may use patterns.

use crate::{ActionSet, RepoPattern};
use std::fmt;

/// Longest scope string looked at.
pub const MAX_SCOPE_LEN: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("scope too long")]
    TooLong,
    #[error("malformed scope {0:?}: expected repository:<name>:<actions> or registry:catalog:*")]
    Malformed(String),
    #[error(transparent)]
    Pattern(#[from] crate::PatternError),
    #[error(transparent)]
    Action(#[from] crate::ParseActionError),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resource {
    Repository(RepoPattern),
    Catalog,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    pub resource: Resource,
    pub actions: ActionSet,
}

impl Scope {
    pub fn parse(s: &str) -> Result<Scope, ScopeError> {
        if s.len() > MAX_SCOPE_LEN {
            return Err(ScopeError::TooLong);
        }
        let malformed = || ScopeError::Malformed(s.chars().take(100).collect());
        let (kind, rest) = s.split_once(':').ok_or_else(malformed)?;
        // The name may not contain ':', the actions never do: split at the last one.
        let (name, actions) = rest.rsplit_once(':').ok_or_else(malformed)?;
        match kind {
            "repository" => Ok(Scope {
                resource: Resource::Repository(RepoPattern::parse(name)?),
                actions: ActionSet::parse_list(actions)?,
            }),
            "registry" if name == "catalog" && actions == "*" => Ok(Scope {
                resource: Resource::Catalog,
                actions: crate::Action::List.into_set(),
            }),
            _ => Err(malformed()),
        }
    }
}

impl crate::Action {
    pub fn into_set(self) -> ActionSet {
        std::iter::once(self).collect()
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.resource {
            Resource::Repository(p) => write!(f, "repository:{p}:{}", self.actions),
            Resource::Catalog => f.write_str("registry:catalog:*"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_docker_scopes() {
        let s = Scope::parse("repository:team/app:pull,push").unwrap();
        assert_eq!(s.to_string(), "repository:team/app:pull,push");
        let s = Scope::parse("repository:ci/*:push").unwrap();
        assert_eq!(s.to_string(), "repository:ci/*:push");
        assert_eq!(
            Scope::parse("registry:catalog:*").unwrap().resource,
            Resource::Catalog
        );
        for bad in [
            "",
            "repository",
            "repository:team/app",
            "repository::pull",
            "repository:team/app:",
            "repository:team/app:fly",
            "registry:catalog:pull",
            "other:x:pull",
            "repository:../etc:pull",
        ] {
            assert!(Scope::parse(bad).is_err(), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_round_trips(s in ".{0,80}") {
            if let Ok(scope) = Scope::parse(&s) {
                let again = Scope::parse(&scope.to_string()).unwrap();
                prop_assert_eq!(again, scope);
            }
        }

        #[test]
        fn valid_scopes_round_trip(
            name in "[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,3}",
            suffix in prop::sample::select(vec!["", "/*", "/**"]),
            acts in prop::collection::vec(prop::sample::select(crate::Action::ALL.to_vec()), 1..4),
        ) {
            let text = format!("repository:{name}{suffix}:{}", acts.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(","));
            let scope = Scope::parse(&text).unwrap();
            prop_assert_eq!(Scope::parse(&scope.to_string()).unwrap(), scope);
        }
    }
}
