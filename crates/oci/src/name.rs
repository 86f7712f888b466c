//! Repository names, per the OCI distribution spec grammar:
//! `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`.
//!
//! The grammar makes `..`, leading slashes and empty components impossible, which is
//! what keeps names safe to use in storage keys.

use std::fmt;

/// Longest accepted repository name. Distribution caps the full reference at 255.
pub const MAX_NAME_LEN: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("repository name is empty")]
    Empty,
    #[error("repository name longer than {MAX_NAME_LEN} characters")]
    TooLong,
    #[error("invalid repository name component {0:?}: use lowercase letters and digits separated by '.', '_', '__' or '-'")]
    BadComponent(String),
}

/// A validated repository name such as `team/app`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RepositoryName(String);

impl RepositoryName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        if s.is_empty() {
            return Err(NameError::Empty);
        }
        if s.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong);
        }
        for component in s.split('/') {
            if !valid_component(component) {
                let shown: String = component.chars().take(64).collect();
                return Err(NameError::BadComponent(shown));
            }
        }
        Ok(RepositoryName(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__", or one or more "-".
        let start = i;
        match b[i] {
            b'.' => i += 1,
            b'_' => {
                i += 1;
                if i < b.len() && b[i] == b'_' {
                    i += 1;
                }
            }
            b'-' => {
                while i < b.len() && b[i] == b'-' {
                    i += 1;
                }
            }
            _ => return false,
        }
        if i == start || i >= b.len() || !alnum(b[i]) {
            return false;
        }
    }
    true
}

impl AsRef<str> for RepositoryName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RepositoryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_spec_examples() {
        for ok in [
            "a",
            "library/alpine",
            "team/app",
            "a.b_c__d---e/f0",
            "my-org/sub.team/app_1",
        ] {
            assert!(RepositoryName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_traversal_and_bad_grammar() {
        for bad in [
            "", "/a", "a/", "a//b", "../etc", "a/../b", "a/./b", "A", "a___b", "a..b", "-a", "a-",
            "a_", "a b", "a\0b", "a%2fb",
        ] {
            assert!(RepositoryName::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            RepositoryName::parse(&"a".repeat(256)),
            Err(NameError::TooLong)
        );
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,300}") {
            let _ = RepositoryName::parse(&s);
        }

        #[test]
        fn valid_names_never_contain_dot_segments(s in "[a-z0-9._/-]{1,40}") {
            if let Ok(n) = RepositoryName::parse(&s) {
                prop_assert!(n.as_str().split('/').all(|c| c != "." && c != ".." && !c.is_empty()));
            }
        }

        #[test]
        fn generated_valid_names_parse(parts in proptest::collection::vec("[a-z0-9]{1,5}([._-][a-z0-9]{1,5}){0,2}", 1..5)) {
            let name = parts.join("/");
            prop_assert!(RepositoryName::parse(&name).is_ok(), "{}", name);
        }
    }
}
