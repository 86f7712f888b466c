//! Packagist (Composer) version ordering, after PHP's `version_compare` as Composer
//! uses it on normalised versions: an optional leading `v` is dropped, the version
//! splits into runs of digits and of letters (every other character separates), and
//! parts compare by rank `dev` < `alpha` = `a` < `beta` = `b` < `RC` < number <
//! `patch` = `pl` = `p` (numbers among themselves by value). As Composer normalises
//! versions to four numeric components first, the leading numbers are padded to four
//! (`1.0-p1` is `1.0.0.0-patch1`, below `1.0.0.1`), and missing parts count as 0
//! elsewhere too, so `1.0` = `1.0.0`, and `1.0-stable` = `1.0`. Words PHP does not
//! know rank below all of these, among themselves alphabetically.

use std::cmp::Ordering;

use super::generic::{cmp_padded, digit_run, Num};

/// A part with its rank: the derived order (rank, then value) is the order of parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Part<'a> {
    /// A word PHP gives no rank to; compared case-insensitively, then byte-wise.
    Unknown(Lowered<'a>),
    Dev,
    Alpha,
    Beta,
    Rc,
    Num(Num<'a>),
    Patch,
}

/// A word compared by its ASCII-lowercased bytes, then by its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Lowered<'a>(&'a str);

impl Ord for Lowered<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        let lower = |s: &'_ str| {
            s.bytes()
                .map(|c| c.to_ascii_lowercase())
                .collect::<Vec<u8>>()
        };
        lower(self.0)
            .cmp(&lower(other.0))
            .then_with(|| self.0.cmp(other.0))
    }
}

impl PartialOrd for Lowered<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

const ZERO: Part<'static> = Part::Num(Num::ZERO);

/// Ranks a word the way PHP's `version_compare` does: by the first of its special
/// forms the word starts with ("dev", "alpha", "a", "beta", "b", "RC", "rc", "#",
/// "pl", "p"); Composer's "stable" means the release itself.
fn word(w: &str) -> Part<'_> {
    if w.eq_ignore_ascii_case("stable") {
        return ZERO;
    }
    let lower = w.to_ascii_lowercase();
    if lower.starts_with("dev") {
        Part::Dev
    } else if lower.starts_with('a') {
        Part::Alpha
    } else if lower.starts_with('b') {
        Part::Beta
    } else if w.starts_with("RC") || w.starts_with("rc") {
        Part::Rc
    } else if lower.starts_with('p') {
        Part::Patch
    } else {
        Part::Unknown(Lowered(w))
    }
}

fn parts(s: &str) -> Vec<Part<'_>> {
    let s = match s.strip_prefix(['v', 'V']) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => s,
    };
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let c = bytes[pos];
        if c.is_ascii_digit() {
            let len = digit_run(&bytes[pos..]);
            out.push(Part::Num(Num::new(&s[pos..pos + len])));
            pos += len;
        } else if c.is_ascii_alphabetic() {
            let len = bytes[pos..]
                .iter()
                .take_while(|c| c.is_ascii_alphabetic())
                .count();
            out.push(word(&s[pos..pos + len]));
            pos += len;
        } else {
            pos += 1;
        }
    }
    // Composer's four numeric components: pad the leading numbers.
    let leading = out.iter().take_while(|p| matches!(p, Part::Num(_))).count();
    if (1..4).contains(&leading) {
        out.splice(leading..leading, std::iter::repeat_n(ZERO, 4 - leading));
    }
    out
}

/// Compares two Composer versions. Every string has parts, so there is no fallback.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    cmp_padded(&parts(a), &parts(b), &ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::testing::assert_ladder;
    use Ordering::*;

    #[test]
    fn ladder() {
        let ladder = [
            "1.0.0-foo",
            "1.0.0-dev",
            "1.0.0-alpha1",
            "1.0.0-alpha2",
            "1.0.0-beta",
            "1.0.0-beta1",
            "1.0.0-beta.2",
            "1.0.0-RC1",
            "1.0.0-rc2",
            "1.0.0",
            "1.0.0-patch1",
            "1.0.0-p2",
            "1.0.0.1",
            "1.0.1",
            "1.10.0",
            "v2.0.0",
        ];
        assert_ladder(compare, &ladder);
    }

    #[test]
    fn equal_spellings() {
        for (a, b) in [
            ("1.0", "1.0.0"),
            ("1.0.0", "1.0.0.0"),
            ("v1.0.0", "1.0.0"),
            ("1.0.0-stable", "1.0.0"),
            ("1.0.0-beta1", "1.0.0-b1"),
            ("1.0.0-beta1", "1.0.0beta1"),
            ("1.0.0-beta1", "1.0.0_beta_1"),
            ("1.0.0-alpha1", "1.0.0-a1"),
            ("1.0.0-RC1", "1.0.0-rc1"),
            ("1.0.0-pl1", "1.0.0-patch1"),
            ("1.0.0+1", "1.0.0.1"),
            ("1.0-beta", "1.0.0.0-beta"),
        ] {
            assert_eq!(compare(a, b), Equal, "{a} vs {b}");
        }
    }

    #[test]
    fn unknown_words_sort_low_and_distinct() {
        assert_eq!(compare("1.0.0-foo", "1.0.0-xyz"), Less);
        // PHP ranks a word by the special form it starts with: "bar" reads as beta.
        assert_eq!(compare("1.0.0-foo", "1.0.0-bar"), Less);
        assert_eq!(compare("1.0.0-bar", "1.0.0-beta"), Equal);
        assert_eq!(compare("1.0.0-Foo", "1.0.0-foo"), Less);
        assert_eq!(compare("dev-master", "0.0.1"), Less);
        assert_eq!(compare("", "0"), Equal);
    }

    #[test]
    fn numbers_are_padded_to_four_before_a_suffix() {
        assert_eq!(compare("1.0-p1", "1.0.0.1"), Less);
        assert_eq!(compare("1.0-beta", "1.0.0.1-beta"), Less);
        assert_eq!(compare("1.2.3.4.5", "1.2.3.4"), Greater);
    }
}
