//! `Digest::parse`: never panics; whatever it accepts prints back as the same text
//! and re-parses to the same value.
#![no_main]
use airlock_oci::Digest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = Digest::parse(s) {
        assert_eq!(d.as_str(), s);
        assert_eq!(d.hex().len(), d.algorithm().hex_len());
        assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
    }
});
