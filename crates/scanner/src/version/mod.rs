//! Version ordering per package ecosystem: which of two version strings is newer,
//! by the rules of the ecosystem they come from (dpkg, apk, rpm, PEP 440, semver,
//! Go, Maven, RubyGems, Composer), for matching installed packages against OSV
//! advisory ranges.
//!
//! Every comparator is a total order over all strings and never panics: whatever a
//! package database or an advisory contains, sorting with it is safe. Strings an
//! ecosystem's grammar rejects sort before every valid version, and among themselves
//! by a generic natural ordering (the dpkg, apk, rpm, Maven and Composer rules read
//! any string, so they need no such fallback). Versions that are different spellings
//! of one version (`1.0` and `1.0.0` in PEP 440, `0:1.0` and `1.0` in dpkg) compare
//! `Equal`. Leading and trailing whitespace is ignored.

mod apk;
mod dpkg;
mod generic;
mod go;
mod maven;
mod packagist;
mod pep440;
mod rpm;
mod rubygems;
mod semver;

use std::cmp::Ordering;

/// A package ecosystem as OSV names it (the part before ':' for Debian/Alpine, e.g. "Debian:12" -> Debian).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ecosystem {
    Debian,
    Ubuntu,
    Alpine,
    /// RPM-based distributions: Red Hat, Rocky Linux, AlmaLinux, SUSE, openSUSE, ...
    Rpm,
    PyPI,
    Npm,
    CratesIo,
    Go,
    Maven,
    RubyGems,
    Packagist,
    /// Anything else: compared by the generic natural ordering.
    Other,
}

impl Ecosystem {
    /// Every ecosystem, `Other` last.
    pub const ALL: [Ecosystem; 12] = [
        Ecosystem::Debian,
        Ecosystem::Ubuntu,
        Ecosystem::Alpine,
        Ecosystem::Rpm,
        Ecosystem::PyPI,
        Ecosystem::Npm,
        Ecosystem::CratesIo,
        Ecosystem::Go,
        Ecosystem::Maven,
        Ecosystem::RubyGems,
        Ecosystem::Packagist,
        Ecosystem::Other,
    ];

    /// From an OSV ecosystem string: "Debian", "Debian:11", "Ubuntu:22.04", "Alpine:v3.19", "PyPI", "npm", "crates.io", "Go", "Maven", "RubyGems", "Packagist", "Red Hat", "Rocky Linux", "AlmaLinux", "openSUSE", "SUSE" ...; anything else -> Other.
    ///
    /// Only the part before the first ':' counts, and case is ignored. Wolfi and
    /// Chainguard (apk-based) map to `Alpine`; the other RPM distributions OSV
    /// knows (Mageia, openEuler, Azure Linux, Photon OS, ...) to `Rpm`.
    pub fn from_osv(s: &str) -> Ecosystem {
        let base = s.split(':').next().unwrap_or("").trim();
        let is = |name: &str| base.eq_ignore_ascii_case(name);
        if is("Debian") {
            Ecosystem::Debian
        } else if is("Ubuntu") {
            Ecosystem::Ubuntu
        } else if is("Alpine") || is("Wolfi") || is("Chainguard") {
            Ecosystem::Alpine
        } else if [
            "Red Hat",
            "Rocky Linux",
            "AlmaLinux",
            "openSUSE",
            "SUSE",
            "Mageia",
            "openEuler",
            "Azure Linux",
            "Mariner",
            "Photon OS",
            "CentOS",
            "Fedora",
            "Oracle Linux",
            "Amazon Linux",
        ]
        .iter()
        .any(|name| is(name))
        {
            Ecosystem::Rpm
        } else if is("PyPI") {
            Ecosystem::PyPI
        } else if is("npm") {
            Ecosystem::Npm
        } else if is("crates.io") {
            Ecosystem::CratesIo
        } else if is("Go") {
            Ecosystem::Go
        } else if is("Maven") {
            Ecosystem::Maven
        } else if is("RubyGems") {
            Ecosystem::RubyGems
        } else if is("Packagist") {
            Ecosystem::Packagist
        } else {
            Ecosystem::Other
        }
    }
}

/// Compares two versions of the ecosystem. Total order, never panics on any input (garbage sorts consistently, e.g. compare as strings as a last resort).
pub fn compare(eco: Ecosystem, a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim(), b.trim());
    if a == b {
        return Ordering::Equal;
    }
    match eco {
        Ecosystem::Debian | Ecosystem::Ubuntu => dpkg::compare(a, b),
        Ecosystem::Alpine => apk::compare(a, b),
        Ecosystem::Rpm => rpm::compare(a, b),
        Ecosystem::PyPI => pep440::compare(a, b),
        Ecosystem::Npm | Ecosystem::CratesIo => semver::compare(a, b),
        Ecosystem::Go => go::compare(a, b),
        Ecosystem::Maven => maven::compare(a, b),
        Ecosystem::RubyGems => rubygems::compare(a, b),
        Ecosystem::Packagist => packagist::compare(a, b),
        Ecosystem::Other => generic::compare(a, b),
    }
}

/// SEMVER-type OSV ranges use this (semver 2.0.0 precedence, tolerant of a leading 'v' and of missing minor/patch).
pub fn compare_semver(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim(), b.trim());
    if a == b {
        return Ordering::Equal;
    }
    semver::compare(a, b)
}

/// Assertions the comparators' tests share.
#[cfg(test)]
pub(crate) mod testing {
    use std::cmp::Ordering;

    /// Each (a, b, want): `a` compares to `b` as `want`, and `b` to `a` the reverse.
    pub fn assert_pairs(
        compare: impl Fn(&str, &str) -> Ordering,
        cases: &[(&str, &str, Ordering)],
    ) {
        for &(a, b, want) in cases {
            assert_eq!(compare(a, b), want, "{a} vs {b}");
            assert_eq!(compare(b, a), want.reverse(), "{b} vs {a}");
        }
    }

    /// A strictly increasing chain: every pair compares as its positions do.
    pub fn assert_ladder(compare: impl Fn(&str, &str) -> Ordering, ladder: &[&str]) {
        for (i, a) in ladder.iter().enumerate() {
            for (j, b) in ladder.iter().enumerate() {
                assert_eq!(compare(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use Ordering::*;

    #[test]
    fn ecosystems_from_osv_names() {
        let cases = [
            ("Debian", Ecosystem::Debian),
            ("Debian:11", Ecosystem::Debian),
            ("Debian:12", Ecosystem::Debian),
            ("Ubuntu", Ecosystem::Ubuntu),
            ("Ubuntu:22.04", Ecosystem::Ubuntu),
            ("Ubuntu:Pro:18.04:LTS", Ecosystem::Ubuntu),
            ("Alpine", Ecosystem::Alpine),
            ("Alpine:v3.19", Ecosystem::Alpine),
            ("Wolfi", Ecosystem::Alpine),
            ("Chainguard", Ecosystem::Alpine),
            ("Red Hat", Ecosystem::Rpm),
            ("Red Hat:enterprise_linux:9::appstream", Ecosystem::Rpm),
            ("Rocky Linux", Ecosystem::Rpm),
            ("Rocky Linux:9", Ecosystem::Rpm),
            ("AlmaLinux", Ecosystem::Rpm),
            ("AlmaLinux:8", Ecosystem::Rpm),
            ("openSUSE", Ecosystem::Rpm),
            ("openSUSE:Leap 15.5", Ecosystem::Rpm),
            ("SUSE", Ecosystem::Rpm),
            ("SUSE:Linux Enterprise Server 15 SP5", Ecosystem::Rpm),
            ("Mageia:9", Ecosystem::Rpm),
            ("PyPI", Ecosystem::PyPI),
            ("npm", Ecosystem::Npm),
            ("crates.io", Ecosystem::CratesIo),
            ("Go", Ecosystem::Go),
            ("Maven", Ecosystem::Maven),
            (
                "Maven:https://repo.maven.apache.org/maven2/",
                Ecosystem::Maven,
            ),
            ("RubyGems", Ecosystem::RubyGems),
            ("Packagist", Ecosystem::Packagist),
            ("NuGet", Ecosystem::Other),
            ("Hex", Ecosystem::Other),
            ("GIT", Ecosystem::Other),
            ("", Ecosystem::Other),
            ("Debianish", Ecosystem::Other),
        ];
        for (name, want) in cases {
            assert_eq!(Ecosystem::from_osv(name), want, "{name:?}");
        }
    }

    #[test]
    fn dispatch_uses_each_ecosystems_rules() {
        let cases = [
            (Ecosystem::Debian, "1.0~rc1", "1.0", Less),
            (Ecosystem::Ubuntu, "1:0.1", "2.0", Greater),
            (Ecosystem::Alpine, "1.2.3_rc1", "1.2.3", Less),
            (Ecosystem::Alpine, "1.2.3-r1", "1.2.3_p1", Less),
            (Ecosystem::Rpm, "1.0^git1", "1.0", Greater),
            (Ecosystem::Rpm, "1:1.0-1.el9", "2.0-1.el9", Greater),
            (Ecosystem::PyPI, "1.0.dev0", "1.0a1", Less),
            (Ecosystem::PyPI, "1.0", "1.0.0", Equal),
            (Ecosystem::Npm, "1.0.0-beta.11", "1.0.0-beta.2", Greater),
            (Ecosystem::CratesIo, "0.10.0", "0.9.9", Greater),
            (
                Ecosystem::Go,
                "v0.0.0-20191109021931-daa7c04131f5",
                "v0.1.0",
                Less,
            ),
            (Ecosystem::Go, "go1.21rc1", "go1.21.0", Less),
            (Ecosystem::Maven, "1.0-SNAPSHOT", "1.0", Less),
            (Ecosystem::Maven, "1.0.RELEASE", "1.0", Equal),
            (Ecosystem::RubyGems, "1.0.a", "1.0", Less),
            (Ecosystem::Packagist, "1.0.0-RC1", "1.0.0", Less),
            (Ecosystem::Other, "1.9", "1.10", Less),
            // Surrounding whitespace is ignored.
            (Ecosystem::Debian, " 1.0 ", "1.0", Equal),
            (Ecosystem::PyPI, "1.0\n", "1.0.0", Equal),
        ];
        for (eco, a, b, want) in cases {
            assert_eq!(compare(eco, a, b), want, "{eco:?}: {a} vs {b}");
            assert_eq!(compare(eco, b, a), want.reverse(), "{eco:?}: {b} vs {a}");
        }
    }

    #[test]
    fn semver_ranges() {
        assert_eq!(compare_semver("1.2.3", "v1.2.3"), Equal);
        assert_eq!(compare_semver("1", "1.0.0"), Equal);
        assert_eq!(compare_semver("1.2", "1.2.1"), Less);
        assert_eq!(compare_semver("1.0.0-rc.1", "1.0.0"), Less);
        assert_eq!(compare_semver("1.0.0+build", "1.0.0"), Equal);
        assert_eq!(compare_semver("0", "0.0.1"), Less);
        assert_eq!(compare_semver("garbage", "0.0.0"), Less);
    }

    /// Sorting a mixed bag with each comparator must not panic and must agree with
    /// every pairwise comparison.
    #[test]
    fn sorting_is_consistent() {
        let bag = [
            "",
            " ",
            "0",
            "1",
            "1.0",
            "1.0.0",
            "v1",
            "1.0~rc1",
            "1:1.0",
            "1.0-1",
            "1.0_rc1",
            "1.0-r1",
            "1.0a",
            "1.0.post1",
            "1!1.0",
            "1.0+local",
            "1.0-SNAPSHOT",
            "1.0.RELEASE",
            "go1.21rc1",
            "v0.0.0-2019-abc",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0^git",
            "x",
            "1..0",
            "1.0-",
            "-1",
            "~",
            "^",
            "1.0.a",
            "1.0.0-p1",
            "dev-master",
            "é",
            "1.é",
        ];
        for eco in Ecosystem::ALL {
            let mut sorted = bag.to_vec();
            sorted.sort_by(|a, b| compare(eco, a, b));
            for (i, a) in sorted.iter().enumerate() {
                for b in &sorted[i..] {
                    assert_ne!(compare(eco, a, b), Greater, "{eco:?}: {a:?} vs {b:?}");
                }
            }
        }
    }

    /// Strings built from the characters versions are made of, so that the
    /// interesting paths of every parser are reached often.
    fn versionish() -> impl Strategy<Value = String> {
        prop_oneof![
            "[0-9a-cepr.~^:+_!vV-]{0,12}",
            "(v|go)?[0-9]{1,3}(\\.[0-9]{1,3}){0,3}((-|_|~|\\.)?(rc|alpha|a|b|beta|dev|post|pre|p|sp|r|snapshot|ga)[0-9]{0,2}){0,2}(-r?[0-9]{1,2})?(\\+[a-z0-9.]{1,4})?",
        ]
    }

    fn any_string() -> impl Strategy<Value = String> {
        prop_oneof![any::<String>(), versionish()]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn reflexive_and_antisymmetric(a in any_string(), b in any_string()) {
            for eco in Ecosystem::ALL {
                prop_assert_eq!(compare(eco, &a, &a), Equal, "{:?}: {:?}", eco, a);
                prop_assert_eq!(compare(eco, &a, &b), compare(eco, &b, &a).reverse(), "{:?}: {:?} vs {:?}", eco, a, b);
            }
            prop_assert_eq!(compare_semver(&a, &a), Equal);
            prop_assert_eq!(compare_semver(&a, &b), compare_semver(&b, &a).reverse());
        }

        #[test]
        fn transitive(a in versionish(), b in versionish(), c in versionish()) {
            for eco in Ecosystem::ALL {
                let mut v = [&a, &b, &c];
                v.sort_by(|x, y| compare(eco, x, y));
                let (x, y, z) = (v[0], v[1], v[2]);
                prop_assert_ne!(compare(eco, x, y), Greater, "{:?}: {:?} {:?}", eco, x, y);
                prop_assert_ne!(compare(eco, y, z), Greater, "{:?}: {:?} {:?}", eco, y, z);
                prop_assert_ne!(compare(eco, x, z), Greater, "{:?}: {:?} {:?}", eco, x, z);
                // Equal to both neighbours means equal to each other.
                if compare(eco, x, y) == Equal && compare(eco, y, z) == Equal {
                    prop_assert_eq!(compare(eco, x, z), Equal, "{:?}: {:?} {:?}", eco, x, z);
                }
            }
        }
    }
}
