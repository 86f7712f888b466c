//! Alpine (apk) version ordering, as the current apk-tools tokenizer (`version.c`,
//! the one with commit-hash tokens) defines it. The grammar is
//! `digit{.digit}...{letter}{_suffix{#}}...{~hash}{-r#}`: the string is read as a
//! sequence of tokens and two versions are compared token by token. Suffixes order
//! `_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p`; where one
//! version stops and the other goes on, the longer is newer unless what follows is a
//! pre-release suffix. A component after the first with a leading zero compares as a
//! string (`1.02 < 1.1`). Anything the grammar does not allow ends the token stream
//! with an "invalid" token, which apk orders too (below a version that ends there).
//!
//! Two deliberate differences from apk: numbers compare by value at any length (apk
//! reads them into 64 bits), and two malformed versions apk calls equal are ordered
//! as strings. Older apk-tools 2.x releases tokenised a few malformed or unusual
//! versions differently (leading-zero components, a letter followed by digits).

use std::cmp::Ordering;

use super::generic::{self, cmp_digits, digit_run};

/// Token kinds, in apk's order: where two versions first differ in kind, the one
/// whose kind comes later here is the older (see [`compare`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    InitialDigit,
    Digit,
    Letter,
    Suffix,
    SuffixNo,
    CommitHash,
    Revision,
    End,
    Invalid,
}

/// Suffix names in apk's order; `NONE` (no suffix) sits between the pre-release and
/// the post-release ones.
const SUFFIXES: [&str; 9] = ["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"];
const SUFFIX_NONE: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Token<'a> {
    kind: Kind,
    /// The token's text: digits for the numeric kinds, the letter, the suffix name
    /// or the hash.
    text: &'a str,
    /// For suffixes, the rank in the order above (pre-release ones below `SUFFIX_NONE`,
    /// post-release ones at or above it).
    suffix: usize,
}

impl<'a> Token<'a> {
    fn new(kind: Kind, text: &'a str) -> Token<'a> {
        Token {
            kind,
            text,
            suffix: 0,
        }
    }

    fn is_pre_release_suffix(&self) -> bool {
        self.kind == Kind::Suffix && self.suffix < SUFFIX_NONE
    }

    /// Compares two tokens of the same kind.
    fn cmp_value(&self, other: &Token<'_>) -> Ordering {
        match self.kind {
            // A component with a leading zero compares as a string (Gentoo's rule),
            // so "1.02" < "1.1"; otherwise as numbers.
            Kind::Digit if self.text.starts_with('0') || other.text.starts_with('0') => {
                self.text.cmp(other.text)
            }
            Kind::InitialDigit | Kind::Digit | Kind::SuffixNo | Kind::Revision => {
                cmp_digits(self.text, other.text)
            }
            Kind::Suffix => self.suffix.cmp(&other.suffix),
            Kind::Letter | Kind::CommitHash | Kind::End | Kind::Invalid => {
                self.text.cmp(other.text)
            }
        }
    }
}

/// Reads `s` into tokens; the last one is always `End` or `Invalid`.
fn tokenize(s: &str) -> Vec<Token<'_>> {
    let bytes = s.as_bytes();
    let mut tokens = Vec::new();
    let first = digit_run(bytes);
    if first == 0 {
        tokens.push(Token::new(Kind::Invalid, ""));
        return tokens;
    }
    tokens.push(Token::new(Kind::InitialDigit, &s[..first]));
    let mut pos = first;
    // The end of the run of bytes matching `pred` from `from`. apk's character classes
    // take in every byte past ASCII, which the predicates below copy; runs then end
    // at an ASCII byte or at the end, so always at a char boundary.
    let run = |from: usize, pred: fn(&u8) -> bool| {
        from + bytes[from..].iter().take_while(|c| pred(c)).count()
    };
    loop {
        let prev = tokens.last().map_or(Kind::Invalid, |t| t.kind);
        let Some(&c) = bytes.get(pos) else {
            tokens.push(Token::new(Kind::End, ""));
            return tokens;
        };
        let token = match c {
            b'a'..=b'z' if prev <= Kind::Digit => {
                pos += 1;
                Some(Token::new(Kind::Letter, &s[pos - 1..pos]))
            }
            b'.' | b'0'..=b'9' => {
                let kind = match (c, prev) {
                    (b'.', Kind::InitialDigit | Kind::Digit) => {
                        pos += 1;
                        Some(Kind::Digit)
                    }
                    (b'.', _) => None,
                    (_, Kind::Suffix) => Some(Kind::SuffixNo),
                    // Digits right after digits cannot happen (runs are maximal);
                    // right after a letter or anything later they are not allowed.
                    _ => None,
                };
                let end = run(pos, u8::is_ascii_digit);
                match kind {
                    Some(kind) if end > pos => {
                        let t = Token::new(kind, &s[pos..end]);
                        pos = end;
                        Some(t)
                    }
                    _ => None,
                }
            }
            b'_' if prev <= Kind::SuffixNo => {
                let end = run(pos + 1, |&c| c.is_ascii_lowercase() || c >= 0x80);
                let name = &s[pos + 1..end];
                SUFFIXES.iter().position(|&n| n == name).map(|rank| {
                    pos = end;
                    // Ranks past the pre-release ones shift up by one to leave
                    // room for "no suffix".
                    let suffix = if rank < SUFFIX_NONE { rank } else { rank + 1 };
                    Token {
                        kind: Kind::Suffix,
                        text: name,
                        suffix,
                    }
                })
            }
            b'~' if prev < Kind::CommitHash => {
                let end = run(pos + 1, |&c| {
                    matches!(c, b'0'..=b'9' | b'a'..=b'f') || c >= 0x80
                });
                (end > pos + 1).then(|| {
                    let t = Token::new(Kind::CommitHash, &s[pos + 1..end]);
                    pos = end;
                    t
                })
            }
            b'-' if prev < Kind::Revision && bytes.get(pos + 1) == Some(&b'r') => {
                let end = run(pos + 2, u8::is_ascii_digit);
                (end > pos + 2).then(|| {
                    let t = Token::new(Kind::Revision, &s[pos + 2..end]);
                    pos = end;
                    t
                })
            }
            _ => None,
        };
        match token {
            Some(t) => tokens.push(t),
            None => {
                tokens.push(Token::new(Kind::Invalid, ""));
                return tokens;
            }
        }
    }
}

/// Compares two Alpine versions. Where apk calls two malformed versions equal (both
/// turn invalid at the same point after equal tokens), they are ordered as strings,
/// so only versions apk really considers equal compare `Equal`.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let (ta, tb) = (tokenize(a), tokenize(b));
    // Both streams end with End or Invalid, and the loop stops at the first of those
    // (or at the first difference in kind), so neither index runs past its stream.
    let mut i = 0;
    while ta[i].kind == tb[i].kind && ta[i].kind < Kind::End {
        match ta[i].cmp_value(&tb[i]) {
            Ordering::Equal => i += 1,
            other => return other,
        }
    }
    let (x, y) = (&ta[i], &tb[i]);
    if x.kind == y.kind {
        return if x.kind == Kind::Invalid {
            generic::compare(a, b)
        } else {
            Ordering::Equal
        };
    }
    if x.is_pre_release_suffix() {
        return Ordering::Less;
    }
    if y.is_pre_release_suffix() {
        return Ordering::Greater;
    }
    // The later kind is the older version: "1.0" (End) < "1.0-r1" (Revision)
    // < "1.0_p1" (Suffix) < "1.0a" (Letter) < "1.0.1" (Digit).
    y.kind.cmp(&x.kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::testing::{assert_ladder, assert_pairs};
    use Ordering::*;

    const TABLE: &[(&str, &str, Ordering)] = &[
        ("1.2.3_rc1", "1.2.3", Less),
        ("1.2.3_p2", "1.2.3", Greater),
        ("1.2.3-r4", "1.2.3", Greater),
        ("1.2.3-r4", "1.2.3-r10", Less),
        ("1.2.3-r0", "1.2.3", Greater),
        ("1.2.3a", "1.2.3", Greater),
        ("1.2.3a", "1.2.3b", Less),
        ("1.2.3a", "1.2.4", Less),
        ("1.2.3a", "1.2.3.1", Less),
        ("1.2.3z", "1.2.3.0", Less),
        ("1.2.3_rc", "1.2.3_rc1", Less),
        ("1.2.3_rc1", "1.2.3_rc2", Less),
        ("1.2.3_rc9", "1.2.3_rc10", Less),
        ("1.2.3_rc1", "1.2.3_rc01", Equal),
        ("1.2.3_p1", "1.2.3_p1-r1", Less),
        ("1.2.3-r1", "1.2.3_p1", Less),
        ("1.2.3_rc1-r5", "1.2.3-r0", Less),
        ("1.2.3_rc1", "1.2.2", Greater),
        ("1.2.3_p1", "1.2.3_git99", Greater),
        ("1.2.3_git20200101", "1.2.3_git20200202", Less),
        ("1.2.3_git20200101", "1.2.3", Greater),
        ("1.2.3_alpha1_p1", "1.2.3_alpha1", Greater),
        ("1.2.3_alpha1_alpha1", "1.2.3_alpha1", Less),
        ("1.2.3_alpha1_p1", "1.2.3_alpha2", Less),
        ("1.02", "1.1", Less),
        ("1.010", "1.01", Greater),
        ("1.0", "1.00", Less),
        ("1.001", "1.01", Less),
        ("1.10", "1.9", Greater),
        ("2.0", "1.99999", Greater),
        ("01.2", "1.2", Equal),
        ("1.0.0", "1.0", Greater),
        ("1a", "1", Greater),
        ("1.0a", "1.0.0", Less),
        ("1.2.3~abc", "1.2.3", Greater),
        ("1.2.3~abc", "1.2.3~abd", Less),
        ("1.2.3~abc-r1", "1.2.3-r1", Greater),
        ("1.2.3~abc-r1", "1.2.3~abc-r2", Less),
        ("6.4_p20231125-r1", "6.4_p20230101-r5", Greater),
        ("3.0.12-r0", "3.0.12-r1", Less),
        ("1.36.1-r15", "1.36.1-r20", Less),
        ("3.1.4-r5", "3.1.4-r1", Greater),
        ("2.12.1_p20230114-r2", "2.12.1-r2", Greater),
        ("18446744073709551616", "18446744073709551615", Greater),
        // Malformed tails: apk's "invalid" token sorts below the end of a version.
        ("1.0_foo", "1.0", Less),
        ("1.0-foo", "1.0", Less),
        ("1.0fo", "1.0f", Less),
        ("1.0a.1", "1.0a", Less),
        ("", "0", Less),
        ("x", "0", Less),
    ];

    #[test]
    fn table() {
        assert_pairs(compare, TABLE);
    }

    #[test]
    fn suffix_ladder() {
        let ladder = [
            "1.0_alpha",
            "1.0_alpha1",
            "1.0_beta",
            "1.0_beta2",
            "1.0_pre1",
            "1.0_rc",
            "1.0_rc1",
            "1.0",
            "1.0-r1",
            "1.0_cvs",
            "1.0_svn",
            "1.0_git",
            "1.0_git20240101",
            "1.0_hg",
            "1.0_p",
            "1.0_p1",
            "1.0_p1-r1",
            "1.0a",
            "1.0b_rc1",
            "1.0b",
            "1.0.1_alpha",
            "1.0.1",
        ];
        assert_ladder(compare, &ladder);
    }

    #[test]
    fn tokens() {
        let kinds: Vec<Kind> = tokenize("1.2.3a_rc1_p2~f00d-r4")
            .iter()
            .map(|t| t.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                Kind::InitialDigit,
                Kind::Digit,
                Kind::Digit,
                Kind::Letter,
                Kind::Suffix,
                Kind::SuffixNo,
                Kind::Suffix,
                Kind::SuffixNo,
                Kind::CommitHash,
                Kind::Revision,
                Kind::End
            ]
        );
        let last = |s: &str| tokenize(s).last().unwrap().kind;
        assert_eq!(last("1.2"), Kind::End);
        assert_eq!(last("1.2-r"), Kind::Invalid);
        assert_eq!(last("1.2-r1_p1"), Kind::Invalid);
        assert_eq!(last("1.2_"), Kind::Invalid);
        assert_eq!(last("1.2."), Kind::Invalid);
        assert_eq!(last("1.2a3"), Kind::Invalid);
        assert_eq!(last("1.2~"), Kind::Invalid);
        assert_eq!(last("1.2~xyz"), Kind::Invalid);
        assert_eq!(last("1.2_pre1.1"), Kind::Invalid);
        assert_eq!(last("1.2A"), Kind::Invalid);
        assert_eq!(last("1.2-r1-r2"), Kind::Invalid);
        assert_eq!(last("1.2~ab~cd"), Kind::Invalid);
        // Hashes are lowercase hex only.
        assert_eq!(last("1.2~ABC"), Kind::Invalid);
        assert_eq!(last("1.2~abc"), Kind::End);
    }

    #[test]
    fn malformed_versions_equal_to_apk_still_differ() {
        assert_eq!(compare("1.0_foo", "1.0_bar"), Greater);
        assert_eq!(compare("1.0_foo", "1.0_foo"), Equal);
        assert_eq!(compare("abc", "abd"), Less);
    }
}
