//! The small catalogers without a target of their own (os-release, npm
//! package.json, Cargo.lock) and version ordering in every ecosystem: never panic,
//! and the ordering stays antisymmetric on whatever versions come out. The dpkg,
//! apk, Python, RPM and Ruby/Composer parsers have their own targets.
#![no_main]
use airlock_scanner::catalog::{self, OsRelease};
use airlock_scanner::version::{compare, Ecosystem};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let os = OsRelease::parse(&text);
    let _ = os.ecosystem();
    let mut packages: Vec<_> = catalog::npm(data, "l", "p").into_iter().collect();
    packages.extend(catalog::cargo_lock(&text, "l", "p"));
    for eco in Ecosystem::ALL {
        for w in packages.windows(2) {
            let (a, b) = (&w[0].version, &w[1].version);
            assert_eq!(compare(eco, a, b), compare(eco, b, a).reverse());
        }
        let (a, b) = text.split_once(' ').unwrap_or((&text, ""));
        assert_eq!(compare(eco, a, b), compare(eco, b, a).reverse());
    }
});
