//! Debian and Ubuntu version ordering, as dpkg defines it (deb-version(7)):
//! `[epoch:]upstream_version[-debian_revision]`, compared epoch first (as a number),
//! then the upstream version, then the revision, each of the last two with dpkg's
//! `verrevcmp`: alternating non-digit and digit runs, where in the non-digit runs
//! `~` sorts before everything (even the end of the string), letters before all
//! other characters, and digit runs compare as numbers.

use std::cmp::Ordering;

use super::generic::{self, cmp_digits};

/// A version split into its three fields (not validated beyond the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Version<'a> {
    epoch: &'a str,
    upstream: &'a str,
    revision: &'a str,
}

/// Splits a version the way dpkg's `parseversion` does: the epoch is what precedes
/// the first ':', the revision what follows the last '-'. `None` when the epoch is not
/// a (non-empty) number, which dpkg rejects.
fn parse(s: &str) -> Option<Version<'_>> {
    let (epoch, rest) = match s.split_once(':') {
        Some((epoch, rest)) => {
            if epoch.is_empty() || !epoch.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            (epoch, rest)
        }
        None => ("0", s),
    };
    let (upstream, revision) = match rest.rfind('-') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    Some(Version {
        epoch,
        upstream,
        revision,
    })
}

/// The weight of one character in a non-digit run; `None` is the end of the run (a
/// digit or the end of the string), which weighs like nothing at all.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(b'~') => -1,
        // dpkg reads `char`, which is signed: bytes past ASCII come out as c - 256,
        // and "+ 256" puts them back at their unsigned value.
        Some(c) if c >= 0x80 => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp` over one field (upstream version or revision).
fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let non_digit = |s: &[u8], k: usize| s.get(k).is_some_and(|c| !c.is_ascii_digit());
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(|c| c.is_ascii_digit());
    while i < a.len() || j < b.len() {
        // The non-digit run, character by character.
        while non_digit(a, i) || non_digit(b, j) {
            let (ac, bc) = (order(a.get(i).copied()), order(b.get(j).copied()));
            if ac != bc {
                return ac.cmp(&bc);
            }
            // Equal weights here mean both sides hold a real, equal character: the
            // end of a run weighs 0, and no non-digit character does.
            i += 1;
            j += 1;
        }
        // The digit run, as a number.
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

/// Compares two Debian versions. A version whose epoch is not a number sorts before
/// every well-formed one; two such versions fall back to the generic ordering.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => cmp_digits(x.epoch, y.epoch)
            .then_with(|| verrevcmp(x.upstream, y.upstream))
            .then_with(|| verrevcmp(x.revision, y.revision)),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (None, None) => generic::compare(a, b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::testing::{assert_ladder, assert_pairs};
    use Ordering::*;

    /// Pairs with the ordering dpkg gives them; `dpkg_agrees_with_the_table` checks
    /// each against the real tool where it is installed.
    const TABLE: &[(&str, &str, Ordering)] = &[
        ("1.0~rc1", "1.0", Less),
        ("1:0.1", "2.0", Greater),
        ("1.0-1", "1.0+dfsg-1", Less),
        ("2.8.6-1+squeeze4", "2.8.6-1+deb6u1", Greater),
        ("0.9~beta", "0.9", Less),
        ("0.9~beta", "0.9~beta1", Less),
        ("0.9~beta1", "0.9~beta2", Less),
        ("0.9~beta2", "0.9~rc1", Less),
        ("1.0~", "1.0", Less),
        ("1.0~~", "1.0~", Less),
        ("1.0~", "1.0~a", Less),
        ("1.0~rc1", "1.0~rc2", Less),
        ("1.0", "1.0-0", Equal),
        ("1.0", "0:1.0", Equal),
        ("0:2.3", "2.3", Equal),
        ("1.0", "1.0-1", Less),
        ("1.0a", "1.0", Greater),
        ("1.0a", "1.0.1", Less),
        ("1.0.a", "1.0a", Greater),
        ("1.0+b1", "1.0", Greater),
        ("1.0-1", "1.0-1+b1", Less),
        ("1.0-1~bpo11+1", "1.0-1", Less),
        ("2:1.0", "1:9.9", Greater),
        ("1:2.3", "2.3", Greater),
        ("1:1.0~rc1", "0:2.0", Greater),
        ("10.0", "9.9", Greater),
        ("1.10", "1.9", Greater),
        ("1.01", "1.1", Equal),
        ("2.0-1", "2.0-01", Equal),
        ("1.0.0", "1.0", Greater),
        ("0.0.0", "0", Greater),
        ("3.0-1", "3.0.0-1", Less),
        ("1.2.3-1ubuntu1", "1.2.3-1", Greater),
        ("1.2.3-1ubuntu1", "1.2.3-2", Less),
        ("1.2.3-0ubuntu1", "1.2.3-1", Less),
        ("5.1.4-0ubuntu1~20.04", "5.1.4-0ubuntu1", Less),
        ("8.4.0-2ubuntu1", "8.4.0-2ubuntu1.1", Less),
        ("7.74.0-1.3+deb11u7", "7.74.0-1.3+deb11u3", Greater),
        ("7.74.0-1.3+deb11u10", "7.74.0-1.3+deb11u9", Greater),
        ("1.1.1n-0+deb11u4", "1.1.1w-0+deb11u1", Less),
        ("2.36-9+deb12u3", "2.36-9", Greater),
        ("2.30.2-1+deb11u2", "2.36.1-8+deb12u1", Less),
        ("1.18.0-6+deb11u3", "1.18.0-6.1+deb11u3", Less),
        ("9.18.19-1~deb12u1", "9.18.19-1", Less),
        ("3.0.11-1~deb12u2", "3.0.11-1~deb12u1", Greater),
        ("252.19-1~deb12u1", "252.22-1~deb12u1", Less),
        ("1:1.2.13.dfsg-1", "1:1.2.11.dfsg-2+deb11u2", Greater),
        ("1.2~beta1+dfsg-1", "1.2+dfsg-1", Less),
        ("1.2+dfsg-1", "1.2.1-1", Less),
        ("1.2-1", "1.2+really1.1-1", Less),
        ("2.1.0+dfsg1-1", "2.1.0+dfsg-1", Greater),
        ("1.0~rc1-1", "1.0-1", Less),
        ("1.0-1~", "1.0-1", Less),
        ("1.0-A", "1.0-a", Less),
        ("1.0+git20200101", "1.0+git20200102", Less),
        ("1.0~git20200101", "1.0", Less),
        ("4.19.0-0", "4.19.0", Equal),
        ("1.0a~rc", "1.0a", Less),
        ("1.0-1-1", "1.0-2", Greater),
        ("1.0-1.1", "1.0-1", Greater),
        ("1.0+", "1.0.", Less),
        ("1.0.", "1.0a", Greater),
        ("18446744073709551616", "18446744073709551615", Greater),
    ];

    #[test]
    fn table_orders_as_dpkg_does() {
        assert!(TABLE.len() >= 40);
        assert_pairs(compare, TABLE);
    }

    #[test]
    fn fields_split_on_first_colon_and_last_hyphen() {
        assert_eq!(
            parse("1:2.3-4-5"),
            Some(Version {
                epoch: "1",
                upstream: "2.3-4",
                revision: "5"
            })
        );
        assert_eq!(
            parse("2.3"),
            Some(Version {
                epoch: "0",
                upstream: "2.3",
                revision: ""
            })
        );
        assert_eq!(parse("a:1.0"), None);
        assert_eq!(parse(":1.0"), None);
    }

    #[test]
    fn malformed_epochs_sort_first_and_consistently() {
        assert_eq!(compare("x:1.0", "0.1"), Less);
        assert_eq!(compare("0.1", "x:1.0"), Greater);
        assert_eq!(compare("x:1.0", "y:1.0"), Less);
        assert_eq!(compare("x:1.0", "x:1.0"), Equal);
        // The epoch is what precedes the first colon.
        assert_eq!(compare("1.0:1", "0.1"), Less);
    }

    #[test]
    fn epochs_beyond_machine_integers() {
        // dpkg itself refuses epochs past INT_MAX; we still order them by value.
        assert_eq!(
            compare("99999999999999999999:1.0", "99999999999999999998:2.0"),
            Greater
        );
        assert_eq!(compare("0000000000000000000001:1.0", "1:1.0"), Equal);
    }

    #[test]
    fn tilde_sorts_before_the_end() {
        let mut v = vec![
            "1.0", "1.0~", "1.0~~", "1.0~~a", "1.0~a", "1.0a", "1.0.0", "1.0+",
        ];
        v.sort_by(|a, b| compare(a, b));
        assert_eq!(
            v,
            ["1.0~~", "1.0~~a", "1.0~", "1.0~a", "1.0", "1.0a", "1.0+", "1.0.0"]
        );
    }

    /// Versions whose every pair goes through the real dpkg as well.
    const LADDER: &[&str] = &[
        "0",
        "0.1",
        "0.9~beta",
        "1.0~~",
        "1.0~rc1",
        "1.0~rc1-1",
        "1.0",
        "1.0-0.1",
        "1.0-1~bpo1",
        "1.0-1",
        "1.0-1ubuntu1",
        "1.0-1+b1",
        "1.0-2",
        "1.0a",
        "1.0+dfsg-1",
        "1.0.1",
        "1.01.2",
        "1.2",
        "1.10",
        "2.0",
        "10",
        "1:0",
        "1:0.1~",
        "2:0",
    ];

    #[test]
    fn ladder_is_sorted() {
        assert_ladder(compare, LADDER);
    }

    /// Asks the installed dpkg about `a OP b`.
    fn dpkg_says(a: &str, op: &str, b: &str) -> bool {
        let status = std::process::Command::new("/usr/bin/dpkg")
            .args(["--compare-versions", a, op, b])
            .status()
            .expect("run dpkg");
        status.success()
    }

    fn dpkg_ordering(a: &str, b: &str) -> Ordering {
        if dpkg_says(a, "lt", b) {
            Less
        } else if dpkg_says(a, "eq", b) {
            Equal
        } else {
            assert!(dpkg_says(a, "gt", b), "dpkg gives no order for {a} vs {b}");
            Greater
        }
    }

    #[test]
    fn dpkg_agrees_with_the_table() {
        if !std::path::Path::new("/usr/bin/dpkg").exists() {
            eprintln!("/usr/bin/dpkg is not installed: skipping the comparison with it");
            return;
        }
        for &(a, b, want) in TABLE {
            assert_eq!(dpkg_ordering(a, b), want, "dpkg on {a} vs {b}");
        }
        for (i, a) in LADDER.iter().enumerate() {
            for b in &LADDER[i + 1..] {
                assert_eq!(dpkg_ordering(a, b), Less, "dpkg on {a} vs {b}");
            }
        }
    }
}
