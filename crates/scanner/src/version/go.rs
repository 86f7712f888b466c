//! Go version ordering. Module versions are semver with a mandatory `v` (accepted
//! here with or without it): `v1.2.3`, `v1.2.3-pre`, `+incompatible` (build
//! metadata, so ignored), and pseudo-versions such as
//! `v0.0.0-20191109021931-daa7c04131f5`, which are ordinary pre-releases whose
//! timestamp orders them. Go toolchain and standard-library versions (`go1.21.3`,
//! `1.21rc2`, `go1.21`) are read the way the Go vulnerability database writes them
//! as semver: `1.21rc2` is `1.21.0-rc.2`, `1.21` is `1.21.0`.

use std::cmp::Ordering;

use super::generic::{self, digit_run};
use super::semver::{self, Ident, Version};

/// Parses a module or toolchain version.
fn parse(s: &str) -> Option<Version<'_>> {
    let s = match s.strip_prefix("go") {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => s.strip_prefix(['v', 'V']).unwrap_or(s),
    };
    let (core, rest) = semver::parse_core(s)?;
    // A toolchain pre-release glued to the core: letters then a number ("rc2",
    // "beta1"), nothing after.
    let letters = rest.bytes().take_while(u8::is_ascii_lowercase).count();
    if letters > 0 {
        let digits = digit_run(&rest.as_bytes()[letters..]);
        if digits > 0 && letters + digits == rest.len() {
            let pre = vec![Ident::Text(&rest[..letters]), Ident::new(&rest[letters..])];
            return Some(Version { core, pre });
        }
    }
    let pre = semver::parse_tail(rest)?;
    Some(Version { core, pre })
}

/// Compares two Go versions; strings that are not versions sort first, and among
/// themselves by the generic ordering.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    generic::by_parse(a, b, parse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::testing::assert_ladder;
    use Ordering::*;

    #[test]
    fn module_versions() {
        let ladder = [
            "v0.0.0-20191109021931-daa7c04131f5",
            "v0.0.0-20200101000000-000000000000",
            "v0.1.0-rc.1",
            "v0.1.0",
            "v1.2.3-pre",
            "v1.2.4-0.20191109021931-daa7c04131f5",
            "v1.2.4-pre",
            "v1.2.4",
            "v1.2.5-0.20200101000000-abcdef012345",
            "v1.10.0",
            "v2.0.0+incompatible",
            "v2.1.0+incompatible",
            "v3.0.0",
        ];
        assert_ladder(compare, &ladder);
    }

    #[test]
    fn equivalent_spellings() {
        for (a, b) in [
            ("v1.2.3", "1.2.3"),
            ("v2.0.0+incompatible", "v2.0.0"),
            ("v1", "v1.0.0"),
            ("v1.2", "v1.2.0"),
            ("go1.21", "1.21.0"),
            ("go1.21.3", "v1.21.3"),
            ("go1.21rc2", "1.21.0-rc.2"),
            ("1.21rc2", "go1.21rc2"),
            ("go1.9beta1", "v1.9.0-beta.1"),
        ] {
            assert_eq!(compare(a, b), Equal, "{a} vs {b}");
        }
    }

    #[test]
    fn toolchain_versions() {
        let ladder = [
            "go1.9beta1",
            "go1.9beta2",
            "go1.9rc1",
            "go1.9",
            "go1.9.1",
            "go1.20",
            "go1.21rc1",
            "go1.21rc2",
            "go1.21rc10",
            "go1.21.0",
            "go1.21.3",
            "go1.22.0",
        ];
        assert_ladder(compare, &ladder);
    }

    #[test]
    fn garbage_sorts_first() {
        assert_eq!(compare("master", "v0.0.0"), Less);
        assert_eq!(compare("go", "v0.0.0"), Less);
        assert_eq!(compare("go1.21rc", "go1.21rc"), Equal);
        assert_eq!(compare("devel", "master"), Less);
    }
}
