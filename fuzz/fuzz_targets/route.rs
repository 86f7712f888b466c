//! Request routing and range headers: never panic on any path or header value; a
//! parsed range always lies inside the blob.
#![no_main]
use airlock_server::range::{parse_content_range, parse_range, RangeRequest};
use airlock_server::route;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let _ = route::parse(s);
    if let Some((start, end)) = parse_content_range(s) {
        assert!(start <= end);
    }
    for size in [0u64, 1, 1000, u64::MAX] {
        if let RangeRequest::Partial(r) = parse_range(s, size) {
            assert!(r.start <= r.end && r.end < size);
        }
    }
});
