//! The dpkg status parser on arbitrary text: never panics, and every package it
//! returns has a name and a version whose ordering is antisymmetric.
#![no_main]
use airlock_scanner::catalog::{self, OsRelease};
use airlock_scanner::version::{compare, Ecosystem};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let os = OsRelease::parse("ID=debian\nVERSION_ID=12\n");
    let packages = catalog::dpkg(&text, &os, "l", "var/lib/dpkg/status");
    for p in &packages {
        assert!(!p.name.is_empty() && !p.version.is_empty());
    }
    for w in packages.windows(2) {
        let (a, b) = (&w[0].version, &w[1].version);
        assert_eq!(
            compare(Ecosystem::Debian, a, b),
            compare(Ecosystem::Debian, b, a).reverse()
        );
    }
});
