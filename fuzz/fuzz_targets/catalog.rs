//! Package databases and metadata (dpkg status, apk installed, Python METADATA, npm
//! package.json, Cargo.lock, os-release) and version ordering: never panic, and the
//! ordering stays antisymmetric on whatever versions come out.
#![no_main]
use airlock_scanner::catalog::{self, OsRelease};
use airlock_scanner::version::{compare, Ecosystem};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let os = OsRelease::parse(&text);
    let _ = os.ecosystem();
    let mut packages = catalog::dpkg(&text, &os, "l", "p");
    packages.extend(catalog::apk(&text, &os, "l", "p"));
    packages.extend(catalog::python(&text, "l", "p"));
    packages.extend(catalog::npm(data, "l", "p"));
    packages.extend(catalog::cargo_lock(&text, "l", "p"));
    for eco in [Ecosystem::Debian, Ecosystem::Alpine, Ecosystem::PyPI, Ecosystem::Go, Ecosystem::Maven, Ecosystem::Rpm] {
        for w in packages.windows(2) {
            let (a, b) = (&w[0].version, &w[1].version);
            assert_eq!(compare(eco, a, b), compare(eco, b, a).reverse());
        }
        let (a, b) = text.split_once(' ').unwrap_or((&text, ""));
        assert_eq!(compare(eco, a, b), compare(eco, b, a).reverse());
    }
});
