//! RubyGems version ordering, after `Gem::Version`: a version is digits, then
//! `.`-separated alphanumeric parts, optionally `-` and more parts (a `-` reads as
//! `.pre.`). It splits into runs of digits (numbers) and runs of letters (strings);
//! any letter makes it a pre-release. Trailing zeros of the release part and of the
//! pre-release part are dropped, missing parts count as 0, and a string sorts
//! before any number at the same position: `1.0.a < 1.0 = 1.0.0 < 1.0.1`.

use std::cmp::Ordering;

use super::generic::{self, cmp_padded, digit_run, Num};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Segment<'a> {
    /// Letters, compared byte-wise (case-sensitive, as Ruby compares strings).
    Text(&'a str),
    Num(Num<'a>),
}

const ZERO: Segment<'static> = Segment::Num(Num::ZERO);

/// Whether `s` matches `Gem::Version`'s pattern (after trimming):
/// `[0-9]+(\.[0-9a-zA-Z]+)*(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?`, or is empty.
fn is_valid(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    let bytes = s.as_bytes();
    let mut pos = digit_run(bytes);
    if pos == 0 {
        return false;
    }
    // The end of the run of ASCII letters and digits (and hyphens, if allowed) at `from`.
    let run = |from: usize, hyphens: bool| {
        from + bytes[from..]
            .iter()
            .take_while(|&&c| c.is_ascii_alphanumeric() || (hyphens && c == b'-'))
            .count()
    };
    // (\.[0-9a-zA-Z]+)*
    while bytes.get(pos) == Some(&b'.') {
        let end = run(pos + 1, false);
        if end == pos + 1 {
            return false;
        }
        pos = end;
    }
    // (-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?
    if bytes.get(pos) == Some(&b'-') {
        loop {
            let end = run(pos + 1, true);
            if end == pos + 1 {
                return false;
            }
            pos = end;
            if bytes.get(pos) != Some(&b'.') {
                break;
            }
        }
    }
    pos == bytes.len()
}

/// The canonical segments: runs of digits and of letters (each `-` adds "pre"),
/// with trailing zeros dropped from the release part and from the pre-release part.
fn canonical(s: &str) -> Vec<Segment<'_>> {
    let bytes = s.as_bytes();
    let mut segments = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let c = bytes[pos];
        let len = if c.is_ascii_digit() {
            digit_run(&bytes[pos..])
        } else if c.is_ascii_alphabetic() {
            bytes[pos..]
                .iter()
                .take_while(|c| c.is_ascii_alphabetic())
                .count()
        } else {
            if c == b'-' {
                segments.push(Segment::Text("pre"));
            }
            1
        };
        let run = &s[pos..pos + len];
        if c.is_ascii_digit() {
            segments.push(Segment::Num(Num::new(run)));
        } else if c.is_ascii_alphabetic() {
            segments.push(Segment::Text(run));
        }
        pos += len;
    }
    let split = segments
        .iter()
        .position(|s| matches!(s, Segment::Text(_)))
        .unwrap_or(segments.len());
    let (release, pre) = segments.split_at(split);
    let trim =
        |part: &[Segment<'_>]| part.len() - part.iter().rev().take_while(|&&s| s == ZERO).count();
    let mut out = release[..trim(release)].to_vec();
    out.extend_from_slice(&pre[..trim(pre)]);
    out
}

/// Compares two gem versions. Strings `Gem::Version` rejects sort before every
/// valid version, and among themselves by the generic ordering.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    match (is_valid(a), is_valid(b)) {
        (true, true) => cmp_padded(&canonical(a), &canonical(b), &ZERO),
        (false, true) => Ordering::Less,
        (true, false) => Ordering::Greater,
        (false, false) => generic::compare(a, b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::testing::assert_ladder;
    use Ordering::*;

    #[test]
    fn ladder() {
        let ladder = [
            "0.9", "1.0.a", "1.0.a.1", "1.0.a.2", "1.0.b1", "1.0-rc1", "1.0.pre", "1.0.rc1",
            "1.0.rc2", "1.0", "1.0.1.a", "1.0.1", "1.1", "1.9", "1.10", "2",
        ];
        assert_ladder(compare, &ladder);
    }

    #[test]
    fn equal_spellings() {
        for (a, b) in [
            ("1.0", "1"),
            ("1.0", "1.0.0"),
            ("1.0.a", "1.a"),
            ("1.0.a", "1.0.0.a"),
            ("1.0.a.0", "1.0.a"),
            ("1.0-1", "1.0.pre.1"),
            ("1.01", "1.1"),
            ("", "0"),
            ("1.0a", "1.0.a"),
        ] {
            assert_eq!(compare(a, b), Equal, "{a} vs {b}");
        }
    }

    #[test]
    fn case_matters_for_strings() {
        // Ruby compares strings byte-wise: "B" < "a".
        assert_eq!(compare("1.0.B", "1.0.a"), Less);
    }

    #[test]
    fn validity() {
        for s in [
            "",
            "1",
            "1.0",
            "1.0.a",
            "1.0.0-rc1",
            "1.0-x-y.z-1",
            "1.a1b2",
        ] {
            assert!(is_valid(s), "{s:?} should be valid");
        }
        for s in [
            "a", "1.", "1..0", "1.0-", "1.0-.a", "1.0_1", "1.0 a", "v1.0", "1.0+b", "1.0-a.",
        ] {
            assert!(!is_valid(s), "{s:?} should be invalid");
            assert_eq!(compare(s, "0"), Less, "{s:?}");
        }
    }
}
