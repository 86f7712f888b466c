//! Ruby gemspecs and Composer `installed.json` on arbitrary bytes: never panics,
//! nothing evaluated; what comes out is bounded and orders antisymmetrically.
#![no_main]
use airlock_scanner::catalog;
use airlock_scanner::version::{compare, Ecosystem};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut versions = Vec::new();
    if let Some(p) = catalog::gemspec(&text, "l", "specifications/x.gemspec") {
        assert!(p.name.len() <= 214 && p.version.len() <= 128);
        versions.push((Ecosystem::RubyGems, p.version));
    }
    for p in catalog::composer_installed(data, "l", "vendor/composer/installed.json") {
        assert!(p.name.contains('/'));
        versions.push((Ecosystem::Packagist, p.version));
    }
    for w in versions.windows(2) {
        for eco in [w[0].0, w[1].0] {
            let (a, b) = (&w[0].1, &w[1].1);
            assert_eq!(compare(eco, a, b), compare(eco, b, a).reverse());
        }
    }
});
