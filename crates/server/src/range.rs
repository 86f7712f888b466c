//! HTTP byte ranges: `Range` on blob reads (RFC 9110 §14) and `Content-Range` on
//! chunked uploads (OCI distribution spec: `<start>-<end>`, inclusive).

/// A satisfiable range, resolved against the blob size: `start..=end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    /// Number of bytes; never zero, since both ends are inclusive.
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }
}

/// Result of reading a `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable single range: serve the whole blob (also for multi-range requests,
    /// which a server may ignore).
    Whole,
    Partial(ByteRange),
    Unsatisfiable,
}

/// Parses `bytes=a-b`, `bytes=a-`, `bytes=-n` against a blob of `size` bytes.
pub fn parse_range(header: &str, size: u64) -> RangeRequest {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeRequest::Unsatisfiable;
    };
    let num = |s: &str| -> Option<u64> {
        if s.is_empty() || s.len() > 19 || !s.bytes().all(|c| c.is_ascii_digit()) {
            None
        } else {
            s.parse().ok()
        }
    };
    let range = match (a.trim(), b.trim()) {
        ("", suffix) => match num(suffix) {
            Some(0) | None => return RangeRequest::Unsatisfiable,
            Some(n) if size == 0 => {
                let _ = n;
                return RangeRequest::Unsatisfiable;
            }
            Some(n) => ByteRange {
                start: size.saturating_sub(n),
                end: size - 1,
            },
        },
        (start, "") => match num(start) {
            Some(s) if s < size => ByteRange {
                start: s,
                end: size - 1,
            },
            _ => return RangeRequest::Unsatisfiable,
        },
        (start, end) => match (num(start), num(end)) {
            (Some(s), Some(e)) if s <= e && s < size => ByteRange {
                start: s,
                end: e.min(size - 1),
            },
            _ => return RangeRequest::Unsatisfiable,
        },
    };
    RangeRequest::Partial(range)
}

/// Parses an upload `Content-Range`: `a-b`, also tolerating `bytes a-b/total` and
/// `bytes=a-b`. Returns `(start, end)`, inclusive.
pub fn parse_content_range(header: &str) -> Option<(u64, u64)> {
    let h = header.trim();
    let h = h
        .strip_prefix("bytes=")
        .or_else(|| h.strip_prefix("bytes "))
        .unwrap_or(h);
    let h = h.split('/').next()?;
    let (a, b) = h.split_once('-')?;
    let parse = |s: &str| -> Option<u64> {
        let s = s.trim();
        (!s.is_empty() && s.len() <= 19 && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (start, end) = (parse(a)?, parse(b)?);
    (start <= end).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranges() {
        let p = |s: u64, e: u64| RangeRequest::Partial(ByteRange { start: s, end: e });
        assert_eq!(parse_range("bytes=0-9", 100), p(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), p(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), p(90, 99));
        assert_eq!(parse_range("bytes=-1000", 100), p(0, 99));
        assert_eq!(parse_range("bytes=50-1000", 100), p(50, 99));
        assert_eq!(parse_range("bytes=100-", 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range("bytes=9-0", 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range("bytes=x-y", 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-0", 0), RangeRequest::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), RangeRequest::Whole);
        assert_eq!(parse_range("items=0-1", 100), RangeRequest::Whole);
    }

    #[test]
    fn content_ranges() {
        assert_eq!(parse_content_range("0-99"), Some((0, 99)));
        assert_eq!(parse_content_range("bytes 100-199/*"), Some((100, 199)));
        assert_eq!(parse_content_range("bytes=5-5"), Some((5, 5)));
        assert_eq!(parse_content_range("9-0"), None);
        assert_eq!(parse_content_range("-1-5"), None);
        assert_eq!(parse_content_range("99999999999999999999-1"), None);
    }

    proptest! {
        #[test]
        fn partial_ranges_lie_inside_the_blob(h in "bytes=[0-9]{0,4}-[0-9]{0,4}", size in 0u64..5000) {
            if let RangeRequest::Partial(r) = parse_range(&h, size) {
                prop_assert!(r.start <= r.end && r.end < size);
            }
        }

        #[test]
        fn never_panics(h in ".{0,60}", size in any::<u64>()) {
            let _ = parse_range(&h, size);
            let _ = parse_content_range(&h);
        }
    }
}
