//! Generic "natural" version ordering for ecosystems without rules of their own
//! (`Ecosystem::Other`), the last-resort ordering for strings an ecosystem's parser
//! rejects, and the small helpers the per-ecosystem comparators share (unbounded
//! digit-string numbers).

use std::cmp::Ordering;

/// A non-negative integer written in ASCII digits, of any length: compared by value
/// without parsing into a machine integer, so no input can overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Num<'a>(&'a str);

impl<'a> Num<'a> {
    /// `digits` must hold ASCII digits only (possibly none, which reads as zero).
    pub(crate) fn new(digits: &'a str) -> Num<'a> {
        Num(digits.trim_start_matches('0'))
    }

    pub(crate) const ZERO: Num<'static> = Num("");
}

impl Ord for Num<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        // Leading zeros are gone, so the longer number is the larger one.
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(other.0))
    }
}

impl PartialOrd for Num<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Compares two ASCII digit strings as numbers (leading zeros ignored, any length).
pub(crate) fn cmp_digits(a: &str, b: &str) -> Ordering {
    Num::new(a).cmp(&Num::new(b))
}

/// Compares two sequences element by element as if the shorter were padded with
/// `pad` to the length of the longer.
pub(crate) fn cmp_padded<T: Ord>(a: &[T], b: &[T], pad: &T) -> Ordering {
    (0..a.len().max(b.len()))
        .map(|i| a.get(i).unwrap_or(pad).cmp(b.get(i).unwrap_or(pad)))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// Length of the run of ASCII digits at the start of `s`.
pub(crate) fn digit_run(s: &[u8]) -> usize {
    s.iter().take_while(|c| c.is_ascii_digit()).count()
}

/// One run of a string split into digit and non-digit runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part<'a> {
    Text(&'a str),
    Num(Num<'a>),
}

impl Ord for Part<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Part::Num(a), Part::Num(b)) => a.cmp(b),
            (Part::Text(a), Part::Text(b)) => a.cmp(b),
            // A number outranks text at the same position: "1a" < "11".
            (Part::Text(_), Part::Num(_)) => Ordering::Less,
            (Part::Num(_), Part::Text(_)) => Ordering::Greater,
        }
    }
}

impl PartialOrd for Part<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Splits `s` into maximal runs of ASCII digits and of everything else.
fn parts(s: &str) -> impl Iterator<Item = Part<'_>> {
    let mut rest = s;
    std::iter::from_fn(move || {
        let first = *rest.as_bytes().first()?;
        let len = if first.is_ascii_digit() {
            digit_run(rest.as_bytes())
        } else {
            rest.bytes().take_while(|c| !c.is_ascii_digit()).count()
        };
        // Both runs end at an ASCII byte or at the end, so `len` is a char boundary.
        let (head, tail) = rest.split_at(len);
        rest = tail;
        Some(if first.is_ascii_digit() {
            Part::Num(Num::new(head))
        } else {
            Part::Text(head)
        })
    })
}

/// Natural ordering: digit runs compare as numbers, other runs byte-wise, a string
/// that is a prefix (run-wise) of another sorts first. Strings that are naturally
/// equal but differ ("1.01" and "1.1") are then ordered byte-wise, so this is a
/// total order in which only identical strings are equal.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    parts(a).cmp(parts(b)).then_with(|| a.cmp(b))
}

/// Orders two strings by a version grammar: parsed versions by their own order;
/// strings the grammar rejects before every version, and among themselves by the
/// generic ordering.
pub(crate) fn by_parse<'a, T: Ord>(
    a: &'a str,
    b: &'a str,
    parse: impl Fn(&'a str) -> Option<T>,
) -> Ordering {
    match (parse(a), parse(b)) {
        (Some(x), Some(y)) => x.cmp(&y),
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (None, None) => compare(a, b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::testing::assert_pairs;
    use Ordering::*;

    #[test]
    fn digit_strings_compare_by_value() {
        assert_eq!(cmp_digits("10", "9"), Greater);
        assert_eq!(cmp_digits("007", "7"), Equal);
        assert_eq!(cmp_digits("", "0"), Equal);
        assert_eq!(cmp_digits("0", "1"), Less);
        assert_eq!(
            cmp_digits(
                "123456789012345678901234567890",
                "123456789012345678901234567891"
            ),
            Less
        );
        assert_eq!(
            cmp_digits("99999999999999999999999", "100000000000000000000000"),
            Less
        );
        assert_eq!(Num::new("000"), Num::ZERO);
    }

    #[test]
    fn natural_order() {
        let cases = [
            ("1.2", "1.10", Less),
            ("1.9", "1.10", Less),
            ("1.0", "1.0", Equal),
            ("1.0", "1.0.1", Less),
            ("1a", "11", Less),
            ("abc", "abd", Less),
            ("", "0", Less),
            ("release-2", "release-10", Less),
            ("2024.01.05", "2024.1.6", Less),
            // Naturally equal, then byte-wise.
            ("1.01", "1.1", Less),
            ("v1", "v01", Greater),
        ];
        assert_pairs(compare, &cases);
    }

    #[test]
    fn non_ascii_is_text() {
        assert_eq!(compare("1.é", "1.é"), Equal);
        assert_eq!(compare("1é2", "1é10"), Less);
        assert_ne!(compare("ü", "u"), Equal);
    }
}
