//! The executable and Java archive parsers on arbitrary bytes: Go build info
//! (section, magic search, inline and pointer formats, module info), cargo-auditable
//! data and nested jars. Never a panic, a hang or unbounded memory; whatever comes
//! out is well-formed.
#![no_main]
use airlock_scanner::binaries::{self, BuiltFrom};
use airlock_scanner::java;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 3 {
        0 => check(binaries::inspect(rest)),
        1 => {
            // A file that is ELF by its magic only: the build info header is searched
            // for, 16-byte aligned, in what follows.
            let mut elf = b"\x7fELF".to_vec();
            elf.resize(16, 0);
            elf.extend_from_slice(rest);
            check(binaries::inspect(&elf));
        }
        _ => {
            for a in java::artifacts(rest, "app/x.jar") {
                assert!(!a.group_id.is_empty() && !a.artifact_id.is_empty());
                assert!(!a.version.chars().any(char::is_whitespace));
            }
        }
    }
});

fn check(found: Option<BuiltFrom>) {
    match found {
        Some(BuiltFrom::Go(info)) => {
            assert!(!info.go_version.is_empty());
            for p in binaries::go_packages(&info, "l", "p") {
                assert!(!p.name.is_empty() && !p.version.is_empty() && p.version != "(devel)");
                assert!(p.purl.starts_with("pkg:golang/"));
            }
        }
        Some(BuiltFrom::Rust(crates)) => {
            assert!(!crates.is_empty());
            assert!(crates
                .iter()
                .all(|c| !c.name.is_empty() && !c.version.is_empty()));
        }
        None => {}
    }
}
