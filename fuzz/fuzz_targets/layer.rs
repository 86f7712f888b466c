//! The layer walk on arbitrary bytes (gzip, zstd or tar): an error or a filesystem,
//! never a panic, a hang or unbounded memory.
#![no_main]
use airlock_scanner::layers::{Filesystem, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_entries: 10_000,
        max_file_bytes: 1 << 20,
        max_kept_bytes: 4 << 20,
        max_ratio: 100,
        ratio_grace_bytes: 1 << 20,
    };
    let mut fs = Filesystem::default();
    if fs.apply_layer("sha256:fuzz", data, &limits).is_ok() {
        for path in fs.files.keys() {
            assert!(!path.starts_with('/') && !path.split('/').any(|p| p == ".."));
        }
    }
});
