//! Maven version ordering, after Maven's `ComparableVersion`: the (lower-cased)
//! version is split at `.`, `-` and digit/letter transitions into numbers and
//! qualifiers; `-` and transitions open a nested list. Qualifiers order
//! `alpha` < `beta` < `milestone` < `rc` = `cr` < `snapshot` < `""` = `ga` = `final`
//! = `release` < `sp` < any other (alphabetically); `a1`/`b1`/`m1` stand for
//! alpha/beta/milestone when a number follows. Trailing "null" items (0, release
//! qualifiers, empty lists) are dropped, so `1` = `1.0` = `1-ga` = `1.0.RELEASE`, and
//! a qualifier after `.` that ends the version or is followed by a number counts as
//! after `-` (Maven 3.8+), so `1.foo` = `1-foo` and `2.CR2` = `2-RC2`.
//!
//! Maven's own comparison is not transitive on some inputs (it ranks a number above
//! a list or a qualifier at the same position, but a missing item as "null", which
//! ranks between them: Maven 3.8.7 has `1.0.alpha.1` < `1` < `1-sp` < `1.0.alpha.1`),
//! and a sort with a non-transitive comparator can panic. So the items of a list are
//! given ranks ("bands") that make one total order, chosen to agree with Maven
//! wherever Maven is consistent: every vector of Maven's own `ComparableVersionTest`
//! orders the same (see the tests), and so did every one of some 33,000 pairs of
//! versions starting with a non-zero digit, random or realistic, when checked against
//! maven-artifact 3.8.7. Where Maven contradicts itself, a version that leads to a
//! pre-release (`1.0.0.RC1`, `1-alpha`) stays below the release it leads to, and one
//! that leads past it (`1-sp`, `1-1`) above; so `1.sp.1` > `1-alpha` here, where
//! Maven has it below. Garbage that starts with a letter or a separator can also
//! differ from Maven.

use std::cmp::Ordering;

use super::generic::{cmp_padded, Num};

/// Known qualifiers in order; "" is the release itself.
const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const RELEASE: usize = 5;

/// A parsed item, as `ComparableVersion` builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    /// Digits, leading zeros removed.
    Int(String),
    /// A qualifier after aliases ("cr" -> "rc", "ga" -> "", ...).
    Str(String),
    List(Vec<Item>),
}

impl Item {
    fn int(digits: &str) -> Item {
        Item::Int(digits.trim_start_matches('0').to_owned())
    }

    /// A qualifier: `followed_by_digit` turns "a", "b", "m" into their long names.
    fn qualifier(s: &str, followed_by_digit: bool) -> Item {
        let s = match s {
            "a" if followed_by_digit => "alpha",
            "b" if followed_by_digit => "beta",
            "m" if followed_by_digit => "milestone",
            "ga" | "final" | "release" => "",
            "cr" => "rc",
            s => s,
        };
        Item::Str(s.to_owned())
    }

    fn parse(s: &str, is_digit: bool) -> Item {
        if is_digit {
            Item::int(s)
        } else {
            Item::qualifier(s, false)
        }
    }

    /// Whether the item is "null": 0, a release qualifier, an empty list.
    fn is_null(&self) -> bool {
        match self {
            Item::Int(d) => d.is_empty(),
            Item::Str(q) => q.is_empty(),
            Item::List(l) => l.is_empty(),
        }
    }
}

/// Rank of a qualifier: its index among the known ones, or past them all.
fn qualifier_rank(q: &str) -> usize {
    QUALIFIERS
        .iter()
        .position(|&k| k == q)
        .unwrap_or(QUALIFIERS.len())
}

/// Drops trailing null items; nulls just before a trailing list go too (Maven walks
/// back over lists and stops at the first non-null item that is not a list).
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if list[i].is_null() {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

/// How deep lists may nest. Maven has no limit, but each `-` or digit/letter
/// transition opens a list, and the comparison recurses into them: past this depth
/// items stay in the innermost list, so no input can exhaust the stack.
const MAX_DEPTH: usize = 32;

/// Parses a version into its item tree.
fn parse(version: &str) -> Vec<Item> {
    let version = version.to_lowercase();
    // The lists opened so far, outermost first: each one becomes the last item of
    // the one before it.
    let mut chain: Vec<Vec<Item>> = vec![Vec::new()];
    let open = |chain: &mut Vec<Vec<Item>>| {
        if chain.len() < MAX_DEPTH {
            chain.push(Vec::new());
        }
    };
    let mut is_digit = false;
    let mut start = 0;
    for (i, c) in version.char_indices() {
        // `chain` always holds at least one list.
        let current = chain.len() - 1;
        match c {
            '.' | '-' => {
                let item = if i == start {
                    Item::Int(String::new())
                } else {
                    Item::parse(&version[start..i], is_digit)
                };
                chain[current].push(item);
                start = i + 1;
                if c == '-' {
                    open(&mut chain);
                }
            }
            c if c.is_ascii_digit() => {
                if !is_digit && i > start {
                    // A qualifier after '.' counts as after '-' (".RC1" as "-RC1").
                    if !chain[current].is_empty() {
                        open(&mut chain);
                    }
                    let current = chain.len() - 1;
                    chain[current].push(Item::qualifier(&version[start..i], true));
                    start = i;
                    open(&mut chain);
                }
                is_digit = true;
            }
            _ => {
                if is_digit && i > start {
                    chain[current].push(Item::int(&version[start..i]));
                    start = i;
                    open(&mut chain);
                }
                is_digit = false;
            }
        }
    }
    if version.len() > start {
        let current = chain.len() - 1;
        // A trailing ".X" qualifier is read as "-X".
        if !is_digit && !chain[current].is_empty() {
            open(&mut chain);
        }
        let current = chain.len() - 1;
        chain[current].push(Item::parse(&version[start..], is_digit));
    }
    // Close the lists innermost first, normalising each before its parent sees it.
    let mut inner = chain.pop().unwrap_or_default();
    normalize(&mut inner);
    while let Some(mut parent) = chain.pop() {
        parent.push(Item::List(inner));
        normalize(&mut parent);
        inner = parent;
    }
    inner
}

/// Where an item sits relative to a missing one ("null") at the same position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    Below,
    Null,
    Above,
}

/// The bands of the total order on items, lowest first. `Padding` is what a list
/// that has run out offers at a position, and every null item ranks there too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Band {
    /// alpha .. snapshot.
    QualifierBelow,
    /// A list leading below null (`-alpha-1`).
    ListBelow,
    /// A 0 whose following items lead below null (the first 0 of `1.0.0.RC1`).
    ZeroBelow,
    Padding,
    /// sp and unknown qualifiers.
    QualifierAbove,
    /// A list leading above null (`-1`, `-sp`).
    ListAbove,
    /// A 0 whose following items lead above null (the 0 of `2.0.1`).
    ZeroAbove,
    Positive,
}

impl Band {
    fn class(self) -> Class {
        match self.cmp(&Band::Padding) {
            Ordering::Less => Class::Below,
            Ordering::Equal => Class::Null,
            Ordering::Greater => Class::Above,
        }
    }
}

/// An item with its band; values compare only within a band.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    band: Band,
    value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    None,
    Int(String),
    Qualifier(usize, String),
    List(Vec<Key>),
}

const PADDING: Key = Key {
    band: Band::Padding,
    value: Value::None,
};

/// The keys of a list's items, and the class of the list as a whole.
fn keys(items: &[Item]) -> (Vec<Key>, Class) {
    let mut out = Vec::with_capacity(items.len());
    // The class of the items after the current one: the first non-null item decides.
    let mut rest = Class::Null;
    for item in items.iter().rev() {
        let key = match item {
            Item::Int(d) if d.is_empty() => Key {
                band: match rest {
                    Class::Below => Band::ZeroBelow,
                    Class::Null => Band::Padding,
                    Class::Above => Band::ZeroAbove,
                },
                value: Value::None,
            },
            Item::Int(d) => Key {
                band: Band::Positive,
                value: Value::Int(d.clone()),
            },
            Item::Str(q) => {
                let rank = qualifier_rank(q);
                let band = match rank.cmp(&RELEASE) {
                    Ordering::Less => Band::QualifierBelow,
                    Ordering::Equal => Band::Padding,
                    Ordering::Greater => Band::QualifierAbove,
                };
                let value = if band == Band::Padding {
                    Value::None
                } else {
                    Value::Qualifier(rank, q.clone())
                };
                Key { band, value }
            }
            Item::List(l) => {
                let (inner, class) = keys(l);
                match class {
                    Class::Below => Key {
                        band: Band::ListBelow,
                        value: Value::List(inner),
                    },
                    Class::Null => PADDING,
                    Class::Above => Key {
                        band: Band::ListAbove,
                        value: Value::List(inner),
                    },
                }
            }
        };
        if key.band != Band::Padding {
            rest = key.band.class();
        }
        out.push(key);
    }
    out.reverse();
    (out, rest)
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.band
            .cmp(&other.band)
            .then_with(|| match (&self.value, &other.value) {
                (Value::Int(a), Value::Int(b)) => Num::new(a).cmp(&Num::new(b)),
                (Value::Qualifier(ra, a), Value::Qualifier(rb, b)) => {
                    ra.cmp(rb).then_with(|| a.cmp(b))
                }
                (Value::List(a), Value::List(b)) => cmp_lists(a, b),
                // Same band, so both are None (or the band holds one kind of value).
                _ => Ordering::Equal,
            })
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Item by item, the shorter list padded.
fn cmp_lists(a: &[Key], b: &[Key]) -> Ordering {
    cmp_padded(a, b, &PADDING)
}

/// Compares two Maven versions. Every string parses.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    let (ka, _) = keys(&parse(a));
    let (kb, _) = keys(&parse(b));
    cmp_lists(&ka, &kb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::testing::{assert_ladder, assert_pairs};
    use Ordering::*;

    fn assert_increasing(versions: &[&str]) {
        assert_ladder(compare, versions);
    }

    fn assert_all_equal(versions: &[&str]) {
        for a in versions {
            for b in versions {
                assert_eq!(compare(a, b), Equal, "{a} vs {b}");
            }
        }
    }

    /// Maven's ComparableVersionTest: VERSIONS_QUALIFIER, in increasing order.
    #[test]
    fn maven_qualifier_vectors() {
        assert_increasing(&[
            "1-alpha2snapshot",
            "1-alpha2",
            "1-alpha-123",
            "1-beta-2",
            "1-beta123",
            "1-m2",
            "1-m11",
            "1-rc",
            "1-cr2",
            "1-rc123",
            "1-SNAPSHOT",
            "1",
            "1-sp",
            "1-sp2",
            "1-sp123",
            "1-abc",
            "1-def",
            "1-pom-1",
            "1-1-snapshot",
            "1-1",
            "1-2",
            "1-123",
        ]);
    }

    /// Maven's ComparableVersionTest: VERSIONS_NUMBER, in increasing order.
    #[test]
    fn maven_number_vectors() {
        assert_increasing(&[
            "2.0", "2.0.a", "2-1", "2.0.2", "2.0.123", "2.1.0", "2.1-a", "2.1b", "2.1-c", "2.1-1",
            "2.1.0.1", "2.2", "2.123", "11.a2", "11.a11", "11.b2", "11.b11", "11.m2", "11.m11",
            "11", "11.a", "11b", "11c", "11m",
        ]);
    }

    #[test]
    fn equal_spellings() {
        assert_all_equal(&[
            "1",
            "1.0",
            "1.0.0",
            "1-0",
            "1.0-0",
            "1-ga",
            "1.ga",
            "1-final",
            "1.FINAL",
            "1.0.RELEASE",
            "1-release",
        ]);
        assert_all_equal(&["1-a1", "1-alpha-1", "1-alpha1", "1-ALPHA-1", "1-Alpha1"]);
        assert_all_equal(&["1-b2", "1-beta-2", "1-beta2"]);
        assert_all_equal(&["1-m3", "1-milestone-3"]);
        assert_all_equal(&["1-cr1", "1-rc1", "1-RC-1"]);
        assert_all_equal(&["1.foo", "1-foo", "1.0.foo", "1.0-foo"]);
        assert_all_equal(&["1..1", "1.0.1"]);
        assert_all_equal(&["0001.02", "1.2"]);
    }

    /// The examples of the POM reference's "Version Order Specification".
    #[test]
    fn pom_reference_examples() {
        assert_increasing(&["1", "1.1"]);
        assert_increasing(&["1-snapshot", "1", "1-sp"]);
        assert_increasing(&["1-foo2", "1-foo10"]);
        assert_increasing(&["1.foo", "1-1", "1.1"]);
        assert_increasing(&["1-ga", "1-sp"]);
        assert_increasing(&["1-ga.1", "1-sp.1"]);
        assert_increasing(&["1-sp-1", "1-1"]);
    }

    #[test]
    fn common_versions() {
        assert_increasing(&[
            "1.0-alpha-1",
            "1.0-alpha-2",
            "1.0-beta-1",
            "1.0-M1",
            "1.0-RC1",
            "1.0-SNAPSHOT",
            "1.0",
            "1.0.1-SNAPSHOT",
            "1.0.1",
            "1.1.0-alpha1",
            "1.1.0",
        ]);
        assert_increasing(&[
            "5.3.0.M1",
            "5.3.0.RC1",
            "5.3.0.RELEASE",
            "5.3.1.RELEASE",
            "5.3.10.RELEASE",
        ]);
        assert_increasing(&["5.4.0.CR1", "5.4.0.Final", "5.4.1.Final", "5.4.10.Final"]);
        assert_increasing(&["2.13.4", "2.13.4.1", "2.13.4.2", "2.13.5"]);
        assert_increasing(&[
            "9.4.43.v20210629",
            "9.4.44",
            "9.4.44.v20210927",
            "9.4.45.v20220203",
        ]);
        assert_increasing(&["30.1-android", "30.1-jre", "31.0.1-jre", "31.1-jre"]);
        assert_increasing(&["1.0.0-beta.1", "1.0.0-beta.2", "1.0.0-beta.10", "1.0.0"]);
        assert_increasing(&["2.5.6", "2.5.6.SEC01", "2.5.6.SEC03", "2.5.7"]);
        assert_increasing(&["1.0.0.RC1", "1.0.0", "1-sp"]);
        assert_eq!(
            compare("99999999999999999999999", "99999999999999999999998"),
            Greater
        );
    }

    #[test]
    fn tree() {
        let s = |q: &str| Item::Str(q.to_owned());
        let n = |d: &str| Item::int(d);
        assert_eq!(
            parse("1.0-alpha-1"),
            [
                n("1"),
                Item::List(vec![s("alpha"), Item::List(vec![n("1")])])
            ]
        );
        assert_eq!(parse("1.0.RELEASE"), [n("1")]);
        assert_eq!(
            parse("1-ga-1"),
            [n("1"), Item::List(vec![Item::List(vec![n("1")])])]
        );
        assert_eq!(
            parse("11.a2"),
            [
                n("11"),
                Item::List(vec![s("alpha"), Item::List(vec![n("2")])])
            ]
        );
        assert_eq!(parse("1.foo.1"), [n("1"), s("foo"), n("1")]);
        assert_eq!(parse(""), []);
        assert_eq!(parse("-"), []);
    }

    #[test]
    fn deep_nesting_is_capped() {
        let deep = "1-".repeat(100_000);
        let mut depth = 0;
        let mut items = parse(&deep);
        while let Some(Item::List(inner)) = items.last().cloned() {
            depth += 1;
            items = inner;
        }
        assert!(depth < MAX_DEPTH);
        assert_eq!(compare(&deep, &deep), Equal);
        assert_eq!(compare(&deep, "1-1"), Greater);
    }

    #[test]
    fn maven_inconsistencies_resolved_totally() {
        // Maven itself has "1.0.alpha.1" < "1", "1" < "1-sp" and "1-sp" <
        // "1.0.alpha.1" (a number beats a list). Here the first two hold and the
        // order stays transitive.
        assert_eq!(compare("1.0.alpha.1", "1"), Less);
        assert_eq!(compare("1", "1-sp"), Less);
        assert_eq!(compare("1.0.alpha.1", "1-sp"), Less);
        // Maven has a service pack below an alpha here.
        assert_eq!(compare("1.sp.1", "1-alpha"), Greater);
    }

    /// Pairs whose order was checked against maven-artifact 3.8.7.
    #[test]
    fn checked_against_maven_3_8_7() {
        let cases = [
            ("2.CR2", "2-RC2", Equal),
            ("1.1.CR2", "1.1.0.CR2", Equal),
            ("2-RC1", "2.CR2", Less),
            ("3.0-M1", "3.CR2", Less),
            ("1.v20210101", "1.0-jre", Greater),
            ("2.0.a", "2-1", Less),
            ("1.foo", "1-foo", Equal),
            ("1-ga-1", "1-1", Less),
            ("1.0.0.RC1", "1-sp", Less),
            ("1.0.alpha.1", "1", Less),
            ("1", "1-sp", Less),
            ("1.alpha.1", "1-sp", Less),
        ];
        assert_pairs(compare, &cases);
    }
}
