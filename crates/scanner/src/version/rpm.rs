//! RPM version ordering (Red Hat, Rocky, AlmaLinux, SUSE, ...): `[epoch:]version[-release]`
//! compared epoch first (as a number, missing = 0), then version, then release
//! (a missing release sorts before any, even `~1`), the last two with rpm's
//! `rpmvercmp`: runs of ASCII
//! digits and of ASCII letters are compared (numbers as numbers, letters byte-wise,
//! a number newer than letters); every other character only separates runs, except
//! `~`, which sorts before everything (even the end), and `^`, which sorts after the
//! end but before any further run.

use std::cmp::Ordering;

use super::generic::{cmp_digits, digit_run, Num};

/// One element of a field as rpmvercmp sees it. The variant order is the order of
/// elements found at the same position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Segment<'a> {
    Tilde,
    End,
    Caret,
    Alpha(&'a str),
    Num(Num<'a>),
}

/// The segments of one field, ending with `End`.
fn segments(s: &str) -> impl Iterator<Item = Segment<'_>> {
    let mut rest = s;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        // Separators: anything that is not an ASCII letter or digit, '~' or '^'.
        rest =
            rest.trim_start_matches(|c: char| !c.is_ascii_alphanumeric() && c != '~' && c != '^');
        let bytes = rest.as_bytes();
        let Some(&c) = bytes.first() else {
            done = true;
            return Some(Segment::End);
        };
        let (len, segment) = match c {
            b'~' => (1, Segment::Tilde),
            b'^' => (1, Segment::Caret),
            c if c.is_ascii_digit() => {
                let len = digit_run(bytes);
                (len, Segment::Num(Num::new(&rest[..len])))
            }
            _ => {
                let len = bytes.iter().take_while(|c| c.is_ascii_alphabetic()).count();
                (len, Segment::Alpha(&rest[..len]))
            }
        };
        rest = &rest[len..];
        Some(segment)
    })
}

/// rpm's `rpmvercmp` over one field.
fn rpmvercmp(a: &str, b: &str) -> Ordering {
    segments(a).cmp(segments(b))
}

/// Splits `[epoch:]version[-release]` as rpm's `parseEVR` does: an epoch only when
/// the leading digits are followed by ':', the release after the last '-'.
fn split_evr(s: &str) -> (&str, &str, Option<&str>) {
    let digits = digit_run(s.as_bytes());
    let (epoch, rest) = match s[digits..].strip_prefix(':') {
        Some(rest) => (&s[..digits], rest),
        None => ("", s),
    };
    match rest.rfind('-') {
        Some(i) => (epoch, &rest[..i], Some(&rest[i + 1..])),
        None => (epoch, rest, None),
    }
}

/// Compares two RPM EVR strings. Every string parses, so this needs no fallback.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let (ea, va, ra) = split_evr(a);
    let (eb, vb, rb) = split_evr(b);
    cmp_digits(ea, eb)
        .then_with(|| rpmvercmp(va, vb))
        .then_with(|| match (ra, rb) {
            (Some(ra), Some(rb)) => rpmvercmp(ra, rb),
            // As rpm's `rpmverCmp`: a release, even an empty one, beats none.
            (ra, rb) => ra.is_some().cmp(&rb.is_some()),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::testing::assert_pairs;
    use Ordering::*;

    /// Checked against `rpm.vercmp` of rpm 4.18.
    const TABLE: &[(&str, &str, Ordering)] = &[
        ("1.0~rc1", "1.0", Less),
        ("1.0~rc1", "1.0~rc2", Less),
        ("1.0~rc1^git1", "1.0~rc2", Less),
        ("1.0~", "1.0", Less),
        ("1.0~~", "1.0~", Less),
        ("1.0^git1", "1.0", Greater),
        ("1.0^git1", "1.0.1", Less),
        ("1.0^git1", "1.0^git2", Less),
        ("1.0^", "1.0", Greater),
        ("1.0^", "1.0^a", Less),
        ("1.0^", "1.0~", Greater),
        ("1.0a", "1.0", Greater),
        ("1.0a", "1.0.1", Less),
        ("1.0", "1.0.a", Less),
        ("1.0", "1_0", Equal),
        ("1.0", "1.0.", Equal),
        ("1..0", "1.0", Equal),
        ("1e", "1.e", Equal),
        ("2.0", "1.999", Greater),
        ("1.10", "1.9", Greater),
        ("1.010", "1.10", Equal),
        ("1.a", "1.b", Less),
        ("1.A", "1.a", Less),
        ("1.0.0", "1.0", Greater),
        ("alpha", "beta", Less),
        ("1.0-1.el8", "1.0-2.el8", Less),
        ("1.0-1.el8", "1.0-1.el9", Less),
        ("1.0-1.el8_5", "1.0-1.el8_6", Less),
        ("1.0-1", "1.0", Greater),
        ("1.0", "1.0-0", Less),
        ("1.0", "1.0-~1", Less),
        ("1.0", "1.0-", Less),
        ("1.0-", "1.0-~", Greater),
        ("1:1.0-1", "2.0-1", Greater),
        ("0:1.0-1", "1.0-1", Equal),
        ("2:1.0", "1:9.9", Greater),
        ("2.6.32-754.35.1.el6", "2.6.32-754.36.1.el6", Less),
        ("5.14.0-362.8.1.el9_3", "5.14.0-362.13.1.el9_3", Less),
        ("1.1.1k-7.el8_6", "1:1.1.1k-12.el8_9", Less),
        ("3.0.7-24.el9", "3.0.7-27.el9", Less),
        ("2.28-225.el9_3.1", "2.28-225.el9_3", Greater),
        ("1.2.3-4.fc38", "1.2.3-4.fc39", Less),
        ("1.0-a~", "1.0-a", Less),
        ("1.0a1", "1.0.a1", Equal),
        ("1.0a1", "1.0alpha1", Less),
        ("1.0b", "1.0a9", Greater),
        ("1.0.1", "1.0a", Greater),
        ("12345678901234567890", "12345678901234567891", Less),
    ];

    #[test]
    fn table() {
        assert_pairs(compare, TABLE);
    }

    #[test]
    fn evr_split() {
        assert_eq!(split_evr("1:2.3-4.el9"), ("1", "2.3", Some("4.el9")));
        assert_eq!(split_evr("2.3"), ("", "2.3", None));
        assert_eq!(split_evr("2.3-"), ("", "2.3", Some("")));
        assert_eq!(split_evr("2.3-4-5"), ("", "2.3-4", Some("5")));
        assert_eq!(split_evr("a:1-2"), ("", "a:1", Some("2")));
        assert_eq!(split_evr(":1-2"), ("", "1", Some("2")));
    }

    #[test]
    fn segments_of_a_field() {
        let s: Vec<Segment> = segments("1.0~rc1^git.ab2").collect();
        assert_eq!(
            s,
            [
                Segment::Num(Num::new("1")),
                Segment::Num(Num::new("0")),
                Segment::Tilde,
                Segment::Alpha("rc"),
                Segment::Num(Num::new("1")),
                Segment::Caret,
                Segment::Alpha("git"),
                Segment::Alpha("ab"),
                Segment::Num(Num::new("2")),
                Segment::End,
            ]
        );
    }

    /// Where rpm is installed, its own `rpm.vercmp` must agree with the table.
    #[test]
    fn rpm_agrees_with_the_table() {
        if !std::path::Path::new("/usr/bin/rpm").exists() {
            eprintln!("/usr/bin/rpm is not installed: skipping the comparison with it");
            return;
        }
        let mut script = String::from("%{lua:");
        for &(a, b, _) in TABLE {
            script.push_str(&format!("print(rpm.vercmp('{a}', '{b}') .. ' ') "));
        }
        script.push('}');
        let out = std::process::Command::new("/usr/bin/rpm")
            .args(["--eval", &script])
            .output()
            .expect("run rpm");
        let text = String::from_utf8_lossy(&out.stdout);
        let got: Vec<&str> = text.split_whitespace().collect();
        assert_eq!(got.len(), TABLE.len(), "rpm printed {text:?}");
        for (&(a, b, want), got) in TABLE.iter().zip(got) {
            let got = match got {
                "-1" => Less,
                "0" => Equal,
                "1" => Greater,
                other => panic!("rpm printed {other:?} for {a} vs {b}"),
            };
            assert_eq!(got, want, "rpm on {a} vs {b}");
        }
    }
}
