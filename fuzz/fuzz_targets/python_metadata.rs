//! Python `METADATA` / `PKG-INFO` on arbitrary text: never panics; a package that
//! comes out has a normalised, non-empty name, and PEP 440 ordering against a
//! second version taken from the input stays antisymmetric.
#![no_main]
use airlock_scanner::catalog::{self, normalize_pypi};
use airlock_scanner::version::{compare, Ecosystem};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(p) = catalog::python(&text, "l", "x.dist-info/METADATA") {
        assert!(!p.name.is_empty() && !p.version.is_empty());
        assert_eq!(normalize_pypi(&p.name), p.name);
        let other = text.lines().last().unwrap_or("");
        assert_eq!(
            compare(Ecosystem::PyPI, &p.version, other),
            compare(Ecosystem::PyPI, other, &p.version).reverse()
        );
    }
});
