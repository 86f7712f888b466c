//! The apk installed-database parser on arbitrary text: never panics, and the
//! apk ordering stays antisymmetric on the versions that come out.
#![no_main]
use airlock_scanner::catalog::{self, OsRelease};
use airlock_scanner::version::{compare, Ecosystem};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let os = OsRelease::parse("ID=alpine\nVERSION_ID=3.19.1\n");
    let packages = catalog::apk(&text, &os, "l", "lib/apk/db/installed");
    for p in &packages {
        assert!(!p.name.is_empty() && !p.version.is_empty());
    }
    for w in packages.windows(2) {
        let (a, b) = (&w[0].version, &w[1].version);
        assert_eq!(
            compare(Ecosystem::Alpine, a, b),
            compare(Ecosystem::Alpine, b, a).reverse()
        );
    }
});
