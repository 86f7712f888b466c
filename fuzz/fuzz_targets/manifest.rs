//! `Manifest::parse` on arbitrary bytes and content types: never panics, never
//! accepts more than the size limit, and everything it accepts lists descriptors
//! whose digests are valid.
#![no_main]
use airlock_oci::manifest::MAX_MANIFEST_BYTES;
use airlock_oci::Manifest;
use libfuzzer_sys::fuzz_target;

const TYPES: [Option<&str>; 6] = [
    None,
    Some("application/vnd.oci.image.manifest.v1+json"),
    Some("application/vnd.oci.image.index.v1+json"),
    Some("application/vnd.docker.distribution.manifest.v2+json"),
    Some("application/vnd.docker.distribution.manifest.list.v2+json"),
    Some("application/json; charset=utf-8"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let content_type = TYPES[selector as usize % TYPES.len()];
    if let Ok(m) = Manifest::parse(body, content_type) {
        assert!(body.len() <= MAX_MANIFEST_BYTES);
        for d in m.required_blobs() {
            assert!(airlock_oci::Digest::parse(d.digest.as_str()).is_ok());
        }
    }
});
