//! Semantic Versioning 2.0.0 precedence, made tolerant for what advisories and
//! package indexes really contain: an optional leading `v`, missing minor and patch
//! (`1` == `1.0.0`), more than three numeric components (compared like the first
//! three, missing ones as zero), and a pre-release written without the `-`
//! (`1.0.0rc1`). Build metadata (`+...`) is ignored, as the spec says. Used for npm,
//! crates.io, OSV `SEMVER` ranges, and (through `go.rs`) Go.

use std::cmp::Ordering;

use super::generic::{self, cmp_padded, digit_run, Num};

/// One dot-separated pre-release identifier. Numeric identifiers sort before
/// alphanumeric ones; the variant order gives that.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Ident<'a> {
    Num(Num<'a>),
    /// Compared byte-wise (ASCII order), as the spec says.
    Text(&'a str),
}

impl<'a> Ident<'a> {
    pub(crate) fn new(s: &'a str) -> Ident<'a> {
        if !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) {
            Ident::Num(Num::new(s))
        } else {
            Ident::Text(s)
        }
    }
}

/// A version: numeric components and pre-release identifiers (empty for a release).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Version<'a> {
    pub(crate) core: Vec<Num<'a>>,
    pub(crate) pre: Vec<Ident<'a>>,
}

impl Ord for Version<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_padded(&self.core, &other.core, &Num::ZERO).then_with(|| {
            match (self.pre.is_empty(), other.pre.is_empty()) {
                // A release outranks its pre-releases.
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                // Identifier by identifier; a shorter list that is a prefix first.
                (false, false) => self.pre.cmp(&other.pre),
            }
        })
    }
}

impl PartialOrd for Version<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Parses the numeric core `N(.N)*` at the start of `s`; returns it and the rest.
pub(crate) fn parse_core(s: &str) -> Option<(Vec<Num<'_>>, &str)> {
    let mut rest = s;
    let mut core = Vec::new();
    loop {
        let len = digit_run(rest.as_bytes());
        if len == 0 {
            return None;
        }
        core.push(Num::new(&rest[..len]));
        rest = &rest[len..];
        match rest.strip_prefix('.') {
            Some(after) if after.starts_with(|c: char| c.is_ascii_digit()) => rest = after,
            _ => return Some((core, rest)),
        }
    }
}

/// Parses what follows the core: `[-pre][+build]`, or a pre-release glued to the
/// core (`rc1`, `beta.2`). Identifiers must be ASCII letters, digits and hyphens.
pub(crate) fn parse_tail(rest: &str) -> Option<Vec<Ident<'_>>> {
    let (pre, build) = match rest.split_once('+') {
        Some((pre, build)) => (pre, Some(build)),
        None => (rest, None),
    };
    let ident_ok = |s: &str| s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-');
    if let Some(build) = build {
        if build.is_empty() || !build.split('.').all(|p| !p.is_empty() && ident_ok(p)) {
            return None;
        }
    }
    let pre = match pre.strip_prefix('-') {
        Some(pre) => pre,
        None if pre.starts_with(|c: char| c.is_ascii_alphabetic()) => pre,
        None if pre.is_empty() => return Some(Vec::new()),
        None => return None,
    };
    if pre.is_empty() || !pre.split('.').all(|p| !p.is_empty() && ident_ok(p)) {
        return None;
    }
    Some(pre.split('.').map(Ident::new).collect())
}

/// Parses a version, tolerating a leading `v` or `V`.
pub(crate) fn parse(s: &str) -> Option<Version<'_>> {
    let s = s.strip_prefix(['v', 'V']).unwrap_or(s);
    let (core, rest) = parse_core(s)?;
    let pre = parse_tail(rest)?;
    Some(Version { core, pre })
}

/// Compares two versions by semver precedence. Strings that do not parse sort before
/// every version, and among themselves by the generic ordering.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    generic::by_parse(a, b, parse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::testing::{assert_ladder, assert_pairs};
    use Ordering::*;

    #[test]
    fn spec_precedence_example() {
        // The example chain from semver.org, section 11.
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "2.0.0",
            "2.1.0",
            "2.1.1",
        ];
        assert_ladder(compare, &chain);
    }

    #[test]
    fn table() {
        let cases = [
            ("1.0.0", "1.0.0", Equal),
            ("v1.2.3", "1.2.3", Equal),
            ("V1.2.3", "v1.2.3", Equal),
            ("1", "1.0.0", Equal),
            ("1.2", "1.2.0", Equal),
            ("1.2", "1.2.1", Less),
            ("1.0.0+build.1", "1.0.0+build.2", Equal),
            ("1.0.0-rc.1+build.1", "1.0.0-rc.1", Equal),
            ("1.0.0-alpha", "1.0.0", Less),
            ("1.0.0-0", "1.0.0-alpha", Less),
            ("1.0.0-2", "1.0.0-10", Less),
            ("1.0.0-a2", "1.0.0-a10", Greater),
            ("1.0.0-Z", "1.0.0-a", Less),
            ("1.0.0-alpha-1", "1.0.0-alpha", Greater),
            ("1.0.0-x.7.z.92", "1.0.0-x.7.z.93", Less),
            ("1.9.0", "1.10.0", Less),
            ("0.0.0", "0.0.1", Less),
            ("1.0.0rc1", "1.0.0-rc1", Equal),
            ("1.0.0beta", "1.0.0", Less),
            ("1.2.3.4", "1.2.3", Greater),
            ("1.2.3.0", "1.2.3", Equal),
            ("1.2.3.4", "1.2.4", Less),
            (
                "18446744073709551616.0.0",
                "18446744073709551615.0.0",
                Greater,
            ),
            (
                "1.0.0-18446744073709551616",
                "1.0.0-18446744073709551615",
                Greater,
            ),
        ];
        assert_pairs(compare, &cases);
    }

    #[test]
    fn invalid_sorts_first() {
        for s in [
            "",
            "v",
            "x1.0",
            "1.0.0-",
            "1.0.0+",
            "1.0.0-a..b",
            "1.0.0_1",
            "1.0.",
            "1.0.0 rc1",
            "1.0.0-é",
        ] {
            assert!(parse(s).is_none(), "{s:?} should not parse");
            assert_eq!(compare(s, "0.0.0-0"), Less, "{s:?}");
        }
        assert_eq!(compare("abc", "abd"), Less);
    }
}
