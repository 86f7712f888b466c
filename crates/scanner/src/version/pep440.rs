//! PyPI version ordering: PEP 440, parsed with the spec's normalisation rules
//! (case-insensitive, optional leading `v`, `-`/`_`/`.` separators, alternate
//! spellings `alpha`/`beta`/`c`/`pre`/`preview`/`rev`/`r`, implicit numbers, `-N`
//! post-releases) and ordered as the `packaging` library orders versions:
//! epoch, release (trailing zeros ignored), then `.devN` < `aN` < `bN` < `rcN` <
//! final < `.postN`, dev releases of each of those before it, and local versions
//! (`+abc.1`) after the version they extend.

use std::cmp::Ordering;

use super::generic::{self, cmp_padded, digit_run, Num};

/// A pre-release marker: a, b, rc.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PreKind {
    Alpha,
    Beta,
    Rc,
}

/// One dot-separated part of a local version label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LocalPart<'a> {
    /// Letters (and digits mixed in), compared case-insensitively.
    Text(&'a str),
    Num(Num<'a>),
}

impl Ord for LocalPart<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (LocalPart::Num(a), LocalPart::Num(b)) => a.cmp(b),
            (LocalPart::Text(a), LocalPart::Text(b)) => a
                .bytes()
                .map(|c| c.to_ascii_lowercase())
                .cmp(b.bytes().map(|c| c.to_ascii_lowercase())),
            // Numeric parts outrank alphanumeric ones.
            (LocalPart::Text(_), LocalPart::Num(_)) => Ordering::Less,
            (LocalPart::Num(_), LocalPart::Text(_)) => Ordering::Greater,
        }
    }
}

impl PartialOrd for LocalPart<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A parsed PEP 440 version; numbers borrow the digits of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version<'a> {
    epoch: Num<'a>,
    release: Vec<Num<'a>>,
    pre: Option<(PreKind, Num<'a>)>,
    post: Option<Num<'a>>,
    dev: Option<Num<'a>>,
    local: Option<Vec<LocalPart<'a>>>,
}

/// Where the pre-release puts a version relative to its release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PreKey<'a> {
    /// A dev release of the final release itself (`1.0.dev1`): before every pre-release.
    DevOfFinal,
    Pre(PreKind, Num<'a>),
    /// No pre-release.
    Final,
}

/// Where the dev part puts a version: dev releases come before what they lead to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum DevKey<'a> {
    Dev(Num<'a>),
    None,
}

impl<'a> Version<'a> {
    fn pre_key(&self) -> PreKey<'a> {
        match self.pre {
            Some((kind, n)) => PreKey::Pre(kind, n),
            None if self.post.is_none() && self.dev.is_some() => PreKey::DevOfFinal,
            None => PreKey::Final,
        }
    }

    fn dev_key(&self) -> DevKey<'a> {
        self.dev.map_or(DevKey::None, DevKey::Dev)
    }
}

impl Ord for Version<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            // Release segments compare as if padded with zeros: 1.0 == 1.0.0.
            .then_with(|| cmp_padded(&self.release, &other.release, &Num::ZERO))
            .then_with(|| self.pre_key().cmp(&other.pre_key()))
            // No post-release sorts before any.
            .then_with(|| self.post.cmp(&other.post))
            .then_with(|| self.dev_key().cmp(&other.dev_key()))
            // No local label sorts before any; labels compare part by part, a label
            // that is a prefix of another first.
            .then_with(|| self.local.cmp(&other.local))
    }
}

impl PartialOrd for Version<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A cursor over the (ASCII-case-insensitive) input.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.s.as_bytes().get(self.pos + ahead).copied()
    }

    fn at_end(&self) -> bool {
        self.pos == self.s.len()
    }

    /// Takes a run of digits (possibly empty).
    fn digits(&mut self) -> &'a str {
        let len = digit_run(&self.s.as_bytes()[self.pos..]);
        let d = &self.s[self.pos..self.pos + len];
        self.pos += len;
        d
    }

    /// Takes one separator (`-`, `_` or `.`) if there is one.
    fn separator(&mut self) -> bool {
        let is_sep = matches!(self.peek(), Some(b'-' | b'_' | b'.'));
        if is_sep {
            self.pos += 1;
        }
        is_sep
    }

    /// Takes the first of `words` (tried in order) that the input continues with,
    /// ignoring ASCII case, and returns its index.
    fn word(&mut self, words: &[&str]) -> Option<usize> {
        let rest = &self.s.as_bytes()[self.pos..];
        let i = words.iter().position(|w| {
            rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w.as_bytes())
        })?;
        self.pos += words[i].len();
        Some(i)
    }

    /// After a pre/post/dev label: `[sep]N`, `N`, a lone separator, or nothing.
    /// The number defaults to 0.
    fn label_number(&mut self) -> Num<'a> {
        if matches!(self.peek(), Some(b'-' | b'_' | b'.'))
            && self.peek_at(1).is_some_and(|c| c.is_ascii_digit())
        {
            self.pos += 1;
        } else if !self.peek().is_some_and(|c| c.is_ascii_digit()) {
            // The grammar allows a separator after the label even without a number.
            self.separator();
            return Num::ZERO;
        }
        Num::new(self.digits())
    }
}

/// Parses a version as PEP 440's canonical regular expression accepts it.
fn parse(s: &str) -> Option<Version<'_>> {
    let mut c = Cursor { s, pos: 0 };
    if matches!(c.peek(), Some(b'v' | b'V')) {
        c.pos += 1;
    }

    // Epoch: digits followed by '!'.
    let start = c.pos;
    let mut epoch = Num::ZERO;
    let d = c.digits();
    if !d.is_empty() && c.peek() == Some(b'!') {
        epoch = Num::new(d);
        c.pos += 1;
    } else {
        c.pos = start;
    }

    // Release: N(.N)*
    let first = c.digits();
    if first.is_empty() {
        return None;
    }
    let mut release = vec![Num::new(first)];
    while c.peek() == Some(b'.') && c.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
        c.pos += 1;
        release.push(Num::new(c.digits()));
    }

    // Pre-release: [sep](alpha|a|beta|b|preview|pre|c|rc)[sep][N]
    let start = c.pos;
    c.separator();
    const PRE: [(&str, PreKind); 8] = [
        ("alpha", PreKind::Alpha),
        ("a", PreKind::Alpha),
        ("beta", PreKind::Beta),
        ("b", PreKind::Beta),
        ("preview", PreKind::Rc),
        ("pre", PreKind::Rc),
        ("rc", PreKind::Rc),
        ("c", PreKind::Rc),
    ];
    let pre = match c.word(&PRE.map(|(w, _)| w)) {
        Some(i) => Some((PRE[i].1, c.label_number())),
        None => {
            c.pos = start;
            None
        }
    };

    // Post-release: -N, or [sep](post|rev|r)[sep][N]
    let start = c.pos;
    let post = if c.peek() == Some(b'-') && c.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
        c.pos += 1;
        Some(Num::new(c.digits()))
    } else {
        c.separator();
        match c.word(&["post", "rev", "r"]) {
            Some(_) => Some(c.label_number()),
            None => {
                c.pos = start;
                None
            }
        }
    };

    // Dev release: [sep]dev[sep][N]
    let start = c.pos;
    c.separator();
    let dev = match c.word(&["dev"]) {
        Some(_) => Some(c.label_number()),
        None => {
            c.pos = start;
            None
        }
    };

    // Local version: +part([-_.]part)*, parts of ASCII letters and digits.
    let local = if c.peek() == Some(b'+') {
        c.pos += 1;
        let rest = &s[c.pos..];
        let parts: Vec<&str> = rest.split(['-', '_', '.']).collect();
        if parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return None;
        }
        c.pos = s.len();
        Some(
            parts
                .into_iter()
                .map(|p| {
                    if p.bytes().all(|b| b.is_ascii_digit()) {
                        LocalPart::Num(Num::new(p))
                    } else {
                        LocalPart::Text(p)
                    }
                })
                .collect(),
        )
    } else {
        None
    };

    c.at_end().then_some(Version {
        epoch,
        release,
        pre,
        post,
        dev,
        local,
    })
}

/// Compares two PyPI versions. Strings that are not PEP 440 versions sort before all
/// valid ones, and among themselves by the generic ordering.
pub(crate) fn compare(a: &str, b: &str) -> Ordering {
    generic::by_parse(a, b, parse)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    /// In increasing order (each checked against `packaging` 26).
    const LADDER: &[&str] = &[
        "1.0.dev0",
        "1.0.dev1",
        "1.0a1.dev1",
        "1.0a1",
        "1.0a1.post1.dev1",
        "1.0a1.post1",
        "1.0a2",
        "1.0b1.dev5",
        "1.0b1",
        "1.0b2.post345",
        "1.0rc1.dev0",
        "1.0rc1",
        "1.0rc2",
        "1.0",
        "1.0+abc",
        "1.0+abc.5",
        "1.0+5",
        "1.0+5.abc",
        "1.0.post1.dev0",
        "1.0.post1",
        "1.0.post1+local",
        "1.0.post2",
        "1.0.1.dev0",
        "1.0.1",
        "1.1",
        "1.10",
        "2!0.1",
        "2!0.1.post1",
    ];

    #[test]
    fn ladder() {
        for (i, a) in LADDER.iter().enumerate() {
            assert!(parse(a).is_some(), "{a} should parse");
            for (j, b) in LADDER.iter().enumerate() {
                assert_eq!(compare(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
    }

    /// Spellings `packaging` normalises to the same version.
    const SAME: &[(&str, &str)] = &[
        ("1.0", "1.0.0"),
        ("1.0", "1"),
        ("1.0", "v1.0"),
        ("1.0", "V1.0"),
        ("1.0", "0!1.0"),
        ("1.0", "01.00"),
        ("1.0a1", "1.0alpha1"),
        ("1.0a1", "1.0-a1"),
        ("1.0a1", "1.0.a.1"),
        ("1.0a1", "1.0_ALPHA_1"),
        ("1.0a0", "1.0a"),
        ("1.0b2", "1.0beta2"),
        ("1.0b2", "1.0-Beta-2"),
        ("1.0rc1", "1.0c1"),
        ("1.0rc1", "1.0pre1"),
        ("1.0rc1", "1.0preview1"),
        ("1.0rc1", "1.0-rc.1"),
        ("1.0.post1", "1.0-1"),
        ("1.0.post1", "1.0post1"),
        ("1.0.post1", "1.0-post-1"),
        ("1.0.post1", "1.0.rev1"),
        ("1.0.post1", "1.0r1"),
        ("1.0.post1", "1.0-r1"),
        ("1.0.post0", "1.0.post"),
        ("1.0.dev0", "1.0.dev"),
        ("1.0.dev0", "1.0-dev"),
        ("1.0.dev2", "1.0dev2"),
        ("1.0.dev2", "1.0_dev_2"),
        ("1.0a1.post2.dev3", "1.0-alpha.1-post.2-dev.3"),
        ("1.0+abc.1", "1.0+ABC-1"),
        ("1.0+abc.1", "1.0+abc_01"),
        ("1.0a", "1.0a."),
        ("1.0a.post1", "1.0a.-1"),
    ];

    #[test]
    fn normalised_spellings_are_equal() {
        for &(a, b) in SAME {
            assert!(parse(a).is_some(), "{a} should parse");
            assert!(parse(b).is_some(), "{b} should parse");
            assert_eq!(compare(a, b), Equal, "{a} vs {b}");
        }
    }

    #[test]
    fn invalid_versions() {
        for s in [
            "",
            "v",
            "abc",
            "1.0-foo",
            "1.0+",
            "1.0+abc..1",
            "1.0+abc!",
            "1.0.",
            "1..0",
            "1.0 beta",
            "1!",
            "!1.0",
            "1.0-",
            "1.0.post1.post2",
            "1.0a1b1",
            "1.0dev1a1",
            "1.0é",
        ] {
            assert!(parse(s).is_none(), "{s:?} should not parse");
        }
        // Invalid sorts before valid, consistently.
        assert_eq!(compare("abc", "0.0.dev0"), Less);
        assert_eq!(compare("0.0.dev0", "abc"), Greater);
        assert_eq!(compare("abc", "abd"), Less);
    }

    #[test]
    fn big_numbers() {
        assert_eq!(
            compare(
                "1.0.post99999999999999999999",
                "1.0.post99999999999999999998"
            ),
            Greater
        );
        assert_eq!(
            compare("20240101000000000000001", "20240101000000000000000"),
            Greater
        );
    }
}
