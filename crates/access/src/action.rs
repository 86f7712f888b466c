//! Actions and sets of actions.

use std::fmt;

/// What an identity wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Read manifests and blobs.
    Pull,
    /// Upload blobs and manifests, move tags.
    Push,
    /// Delete manifests, tags and blobs.
    Delete,
    /// Push signature artifacts (referrers that sign).
    Sign,
    /// See that repositories and tags exist.
    List,
    /// Change annotations, expiry and locks.
    Metadata,
    /// Read quarantined content and give verdicts.
    Quarantine,
    /// Everything, including managing identities.
    Admin,
}

impl Action {
    pub const ALL: [Action; 8] = [
        Action::Pull,
        Action::Push,
        Action::Delete,
        Action::Sign,
        Action::List,
        Action::Metadata,
        Action::Quarantine,
        Action::Admin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
            Action::Sign => "sign",
            Action::List => "list",
            Action::Metadata => "metadata",
            Action::Quarantine => "quarantine",
            Action::Admin => "admin",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action {0:?}: expected one of pull, push, delete, sign, list, metadata, quarantine, admin or *")]
pub struct ParseActionError(pub String);

impl std::str::FromStr for Action {
    type Err = ParseActionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| ParseActionError(s.chars().take(32).collect()))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ActionSet(u16);

impl ActionSet {
    pub const EMPTY: ActionSet = ActionSet(0);

    pub fn all() -> ActionSet {
        Action::ALL.into_iter().collect()
    }

    pub fn contains(self, a: Action) -> bool {
        self.0 & a.bit() != 0
    }

    pub fn insert(&mut self, a: Action) {
        self.0 |= a.bit();
    }

    pub fn union(self, other: ActionSet) -> ActionSet {
        ActionSet(self.0 | other.0)
    }

    pub fn intersection(self, other: ActionSet) -> ActionSet {
        ActionSet(self.0 & other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Action> {
        Action::ALL.into_iter().filter(move |a| self.contains(*a))
    }

    /// Parses `pull,push` or `*` (every action). Empty items are refused.
    pub fn parse_list(s: &str) -> Result<ActionSet, ParseActionError> {
        if s == "*" {
            return Ok(ActionSet::all());
        }
        s.split(',').map(|a| a.trim().parse::<Action>()).collect()
    }
}

impl FromIterator<Action> for ActionSet {
    fn from_iter<I: IntoIterator<Item = Action>>(iter: I) -> Self {
        let mut set = ActionSet::EMPTY;
        for a in iter {
            set.insert(a);
        }
        set
    }
}

impl fmt::Display for ActionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.iter().map(Action::as_str).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_print() {
        let s = ActionSet::parse_list("push,pull").unwrap();
        assert_eq!(s.to_string(), "pull,push");
        assert_eq!(ActionSet::parse_list("*").unwrap(), ActionSet::all());
        assert!(ActionSet::parse_list("pull,").is_err());
        assert!(ActionSet::parse_list("PULL").is_err());
        assert!(ActionSet::parse_list("").is_err());
    }

    #[test]
    fn set_algebra() {
        let a = ActionSet::parse_list("pull,push").unwrap();
        let b = ActionSet::parse_list("push,delete").unwrap();
        assert_eq!(a.intersection(b).to_string(), "push");
        assert_eq!(a.union(b).to_string(), "pull,push,delete");
        assert!(a.intersection(ActionSet::EMPTY).is_empty());
    }
}
