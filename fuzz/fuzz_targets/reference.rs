//! Repository names, tags and references: never panic; accepted values round-trip,
//! never contain dot segments and respect the length limits.
#![no_main]
use airlock_oci::{Reference, RepositoryName, Tag};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(name) = RepositoryName::parse(s) {
        assert_eq!(name.as_str(), s);
        assert!(s.len() <= 255);
        assert!(s.split('/').all(|c| !c.is_empty() && c != "." && c != ".."));
    }
    if let Ok(tag) = Tag::parse(s) {
        assert_eq!(tag.as_str(), s);
        assert!(s.len() <= 128);
    }
    if let Ok(r) = Reference::parse(s) {
        assert_eq!(r.as_str(), s);
        assert_eq!(Reference::parse(&r.to_string()).unwrap(), r);
    }
});
