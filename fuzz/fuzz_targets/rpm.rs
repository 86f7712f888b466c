//! The RPM cataloger on arbitrary bytes, both as an rpmdb header blob and as an
//! `rpmdb.sqlite` image: never panics, never hangs; RPM ordering of what comes out
//! stays antisymmetric. Seed it with a real database (and raise `-max_len`) for the
//! SQLite side to get past the file header.
#![no_main]
use airlock_scanner::catalog::OsRelease;
use airlock_scanner::rpm;
use airlock_scanner::version::{compare, Ecosystem};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(h) = rpm::parse_header(data) {
        let _ = h.source();
        let evr = h.evr();
        assert_eq!(
            compare(Ecosystem::Rpm, &evr, &h.version),
            compare(Ecosystem::Rpm, &h.version, &evr).reverse()
        );
    }
    let os = OsRelease::parse("ID=rocky\nVERSION_ID=9.3\n");
    let packages = rpm::sqlite(data, &os, "l", "var/lib/rpm/rpmdb.sqlite");
    for p in &packages {
        assert!(!p.name.is_empty() && !p.version.is_empty());
    }
});
