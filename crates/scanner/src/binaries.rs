//! Executables: what an ELF binary says was compiled into it. Go binaries carry their
//! build info (the toolchain version and every module, in a `.go.buildinfo` header
//! that the Go linker writes); Rust binaries built with `cargo auditable` carry their
//! dependency tree as zlib-compressed JSON in a `.dep-v0` section. Both become packages
//! (`Go` modules and `stdlib`, `crates.io` crates).
//!
//! Only ELF (Linux images) is read. Nothing here runs or disassembles code: the
//! metadata is located through the section table (or, for Go binaries without one,
//! through the header's magic), and strings of the older Go format are followed
//! through the program headers by virtual address. Every length, pointer and count
//! comes from the image, so all of them are bounds-checked and capped; a malformed
//! binary yields nothing, never a panic or a large allocation.
//!
//! The layer walk (`layers::read_layer`) decides which files are worth reading; this
//! module only looks at the bytes it is given.

use crate::catalog::{encode, Package};
use object::{Object, ObjectSection, ObjectSegment};
use serde::Deserialize;
use std::io::Read;

/// `\xff Go buildinf:`: starts the build info header, at a 16-byte-aligned offset.
const GO_MAGIC: &[u8; 14] = b"\xff Go buildinf:";
/// Magic, pointer size, flags, then two pointers (older format) or padding.
const GO_HEADER_BYTES: usize = 32;
/// Header flag: the two strings follow the header inline (Go 1.18 and later).
const GO_FLAG_INLINE: u8 = 2;
/// Header flag of the older format: pointers are big-endian.
const GO_FLAG_BIG_ENDIAN: u8 = 1;
/// Largest Go version or module info string read (the module info of large
/// programs is tens of kilobytes).
const MAX_GO_STRING: u64 = 1 << 20;
/// Module info is framed by 16 bytes on each side that mark it for the linker.
const MODINFO_SENTINEL_BYTES: usize = 16;
/// Largest decompressed cargo-auditable JSON.
const MAX_AUDIT_JSON: u64 = 8 << 20;

/// A Go binary's build info: toolchain version and modules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoBuildInfo {
    /// As the toolchain wrote it: `go1.21.3`, `go1.22.0 X:boringcrypto`, `devel …`.
    pub go_version: String,
    /// The main package's import path.
    pub path: String,
    /// The main module, unless it was built from a checkout (`(devel)`).
    pub main: Option<GoModule>,
    /// Dependencies, replacements already applied.
    pub deps: Vec<GoModule>,
}

/// One module compiled into a Go binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoModule {
    pub path: String,
    /// `v1.2.3`, a pseudo-version or `v2.0.0+incompatible`, as written.
    pub version: String,
}

/// One crates.io crate recorded by cargo-auditable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditedCrate {
    pub name: String,
    pub version: String,
}

/// What an executable was built from, when it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuiltFrom {
    Go(GoBuildInfo),
    /// cargo-auditable data: the crates.io crates (never empty).
    Rust(Vec<AuditedCrate>),
}

impl GoBuildInfo {
    /// Roughly what it occupies in memory, for the scanner's kept-bytes limit.
    pub fn size(&self) -> u64 {
        let modules: usize = self
            .main
            .iter()
            .chain(&self.deps)
            .map(|m| m.path.len() + m.version.len() + 48)
            .sum();
        (self.go_version.len() + self.path.len() + modules) as u64 + 96
    }
}

impl AuditedCrate {
    /// Roughly what it occupies in memory, for the scanner's kept-bytes limit.
    pub fn size(&self) -> u64 {
        (self.name.len() + self.version.len()) as u64 + 48
    }
}

/// Whether `head` (a file's first bytes) starts an ELF file.
pub fn is_elf(head: &[u8]) -> bool {
    head.starts_with(b"\x7fELF")
}

/// Reads an executable's Go build info or cargo-auditable data; `None` for anything
/// else (including malformed binaries).
pub fn inspect(data: &[u8]) -> Option<BuiltFrom> {
    if !is_elf(data) {
        return None;
    }
    let elf = object::File::parse(data).ok();
    if let Some(info) = go_build_info(data, elf.as_ref()) {
        return Some(BuiltFrom::Go(info));
    }
    let crates = rust_audit(elf.as_ref()?)?;
    (!crates.is_empty()).then_some(BuiltFrom::Rust(crates))
}

/// The Go build info of an ELF file.
///
/// With a section table, only `.go.buildinfo` is looked at, so a binary that is not
/// Go costs one section lookup. Without one (a stripped section table, or headers
/// `object` cannot read), the file is searched for the header's magic at 16-byte
/// alignment, as the Go linker places it.
fn go_build_info(data: &[u8], elf: Option<&object::File<'_>>) -> Option<GoBuildInfo> {
    let has_sections = elf.is_some_and(|f| f.sections().next().is_some());
    let region = match elf.and_then(|f| f.section_by_name(".go.buildinfo")) {
        Some(section) => section.data().ok()?,
        None if has_sections => return None,
        None => data,
    };
    let header = find_go_header(region)?;
    let (version, modinfo) = if header[15] & GO_FLAG_INLINE != 0 {
        let (version, rest) = varint_string(&header[GO_HEADER_BYTES..])?;
        let (modinfo, _) = varint_string(rest)?;
        (version, modinfo)
    } else {
        // Before Go 1.18: pointers to the runtime's version and module info strings.
        let pointers = Pointers::new(header[14], header[15] & GO_FLAG_BIG_ENDIAN != 0)?;
        let elf = elf?;
        let version_at = pointers.read(header.get(16..)?)?;
        let modinfo_at = pointers.read(header.get(16 + pointers.size..)?)?;
        let version = go_string(elf, &pointers, version_at)?;
        let modinfo = go_string(elf, &pointers, modinfo_at).unwrap_or_default();
        (version, modinfo)
    };
    let go_version = String::from_utf8_lossy(version).trim().to_owned();
    if go_version.is_empty() {
        return None;
    }
    Some(parse_modinfo(go_version, modinfo))
}

/// The Go build info of an executable too large to hold in memory, read as a stream
/// in flat memory: the 16-byte-aligned header is searched for chunk by chunk, and
/// only the bytes after it that the inline format (Go 1.18 and later) needs are
/// kept. The older pointer format needs the whole file and is not read this way.
/// The stream is read to its end either way.
pub fn go_build_info_streamed(
    mut file: impl std::io::Read,
) -> std::io::Result<Option<GoBuildInfo>> {
    const CHUNK: usize = 1 << 20;
    // The header, two length prefixes and two strings of at most MAX_GO_STRING.
    const TAIL: usize = GO_HEADER_BYTES + 20 + 2 * MAX_GO_STRING as usize;
    // What is left to search; it always starts at a file offset divisible by 16.
    let mut window: Vec<u8> = Vec::with_capacity(2 * CHUNK);
    let mut found: Option<Vec<u8>> = None;
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut chunk)?;
        if let Some(tail) = found.as_mut() {
            if tail.len() < TAIL {
                let take = (TAIL - tail.len()).min(n);
                tail.extend_from_slice(&chunk[..take]);
            }
        } else {
            window.extend_from_slice(&chunk[..n]);
            let mut at = 0;
            while at + GO_MAGIC.len() <= window.len() {
                if window[at..].starts_with(GO_MAGIC) {
                    let end = window.len().min(at + TAIL);
                    found = Some(window[at..end].to_vec());
                    break;
                }
                at += 16;
            }
            if found.is_none() {
                // Keep the aligned tail that could hold the start of the magic.
                let keep_from = window.len().saturating_sub(GO_MAGIC.len()) / 16 * 16;
                window.drain(..keep_from);
            } else {
                window = Vec::new();
            }
        }
        if n == 0 {
            break;
        }
    }
    let Some(header) = found else {
        return Ok(None);
    };
    if header.len() < GO_HEADER_BYTES || header[15] & GO_FLAG_INLINE == 0 {
        return Ok(None);
    }
    let parsed = varint_string(&header[GO_HEADER_BYTES..]).and_then(|(version, rest)| {
        let (modinfo, _) = varint_string(rest)?;
        let go_version = String::from_utf8_lossy(version).trim().to_owned();
        (!go_version.is_empty()).then(|| parse_modinfo(go_version, modinfo))
    });
    Ok(parsed)
}

/// The first 16-byte-aligned build info header in `region`, through its end.
fn find_go_header(region: &[u8]) -> Option<&[u8]> {
    (0..region.len())
        .step_by(16)
        .map(|at| &region[at..])
        .find(|rest| rest.starts_with(GO_MAGIC) && rest.len() >= GO_HEADER_BYTES)
}

/// An unsigned LEB128 length (Go's `uvarint`), then that many bytes.
fn varint_string(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut len: u64 = 0;
    for (i, &b) in data.iter().enumerate().take(10) {
        len |= u64::from(b & 0x7f).checked_shl(7 * i as u32)?;
        if b & 0x80 == 0 {
            let rest = &data[i + 1..];
            if len > MAX_GO_STRING || len > rest.len() as u64 {
                return None;
            }
            return Some(rest.split_at(len as usize));
        }
    }
    None
}

/// Pointer size and byte order of the older build info format.
struct Pointers {
    size: usize,
    big_endian: bool,
}

impl Pointers {
    fn new(size: u8, big_endian: bool) -> Option<Pointers> {
        matches!(size, 4 | 8).then_some(Pointers {
            size: size as usize,
            big_endian,
        })
    }

    fn read(&self, bytes: &[u8]) -> Option<u64> {
        let bytes = bytes.get(..self.size)?;
        let mut value = 0u64;
        for i in 0..self.size {
            let b = if self.big_endian {
                bytes[i]
            } else {
                bytes[self.size - 1 - i]
            };
            value = value << 8 | u64::from(b);
        }
        Some(value)
    }
}

/// A Go string (data pointer and length) at virtual address `at`.
fn go_string<'a>(elf: &object::File<'a>, pointers: &Pointers, at: u64) -> Option<&'a [u8]> {
    let header = at_address(elf, at, 2 * pointers.size as u64)?;
    let data = pointers.read(header)?;
    let len = pointers.read(header.get(pointers.size..)?)?;
    if len > MAX_GO_STRING {
        return None;
    }
    at_address(elf, data, len)
}

/// `size` bytes at virtual address `at`, from the file contents of a segment (or,
/// in files without program headers, a section).
fn at_address<'a>(elf: &object::File<'a>, at: u64, size: u64) -> Option<&'a [u8]> {
    elf.segments()
        .find_map(|s| s.data_range(at, size).ok().flatten())
        .or_else(|| {
            elf.sections()
                .find_map(|s| s.data_range(at, size).ok().flatten())
        })
}

/// Reads the module info text (`path`, `mod`, `dep`, `=>` and `build` lines, tab
/// separated) inside its sentinels.
fn parse_modinfo(go_version: String, framed: &[u8]) -> GoBuildInfo {
    let n = framed.len();
    let inner = if n > 2 * MODINFO_SENTINEL_BYTES && framed[n - MODINFO_SENTINEL_BYTES - 1] == b'\n'
    {
        &framed[MODINFO_SENTINEL_BYTES..n - MODINFO_SENTINEL_BYTES]
    } else {
        &[][..]
    };
    let text = String::from_utf8_lossy(inner);
    let mut path = String::new();
    let mut main: Option<GoModule> = None;
    // `None` for a module without a usable version, until a replacement says more.
    let mut deps: Vec<Option<GoModule>> = Vec::new();
    // Which module a `=>` line replaces: the main module, or the last dependency.
    enum Last {
        None,
        Main,
        Dep,
    }
    let mut last = Last::None;
    for line in text.lines() {
        let mut fields = line.split('\t');
        let key = fields.next().unwrap_or("");
        let module_path = fields.next().unwrap_or("").trim();
        let version = fields.next().unwrap_or("").trim();
        // Modules built from a checkout, a workspace or a local directory
        // replacement are `(devel)` (or, in old toolchains, versionless): not a
        // published version, so nothing an advisory could be matched against.
        let module =
            (!module_path.is_empty() && !version.is_empty() && version != "(devel)").then(|| {
                GoModule {
                    path: module_path.to_owned(),
                    version: version.to_owned(),
                }
            });
        last = match (key, last) {
            ("path", _) => {
                module_path.clone_into(&mut path);
                Last::None
            }
            ("mod", _) => {
                main = module;
                Last::Main
            }
            ("dep", _) => {
                deps.push(module);
                Last::Dep
            }
            ("=>", Last::Main) => {
                main = module;
                Last::None
            }
            ("=>", Last::Dep) => {
                if let Some(replaced) = deps.last_mut() {
                    *replaced = module;
                }
                Last::None
            }
            _ => Last::None,
        };
    }
    GoBuildInfo {
        go_version,
        path,
        main,
        deps: deps.into_iter().flatten().collect(),
    }
}

/// The crates.io crates of an ELF file's cargo-auditable `.dep-v0` section (the
/// root package, path and git dependencies have no advisories).
fn rust_audit(elf: &object::File<'_>) -> Option<Vec<AuditedCrate>> {
    #[derive(Deserialize)]
    struct Audit {
        packages: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        name: String,
        version: String,
        source: String,
        #[serde(default)]
        root: bool,
    }
    let compressed = elf.section_by_name(".dep-v0")?.data().ok()?;
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_AUDIT_JSON + 1)
        .read_to_end(&mut json)
        .ok()?;
    if json.len() as u64 > MAX_AUDIT_JSON {
        return None;
    }
    let audit: Audit = serde_json::from_slice(&json).ok()?;
    Some(
        audit
            .packages
            .into_iter()
            .filter(|p| p.source == "crates.io" && !p.root)
            .filter(|p| !p.name.is_empty() && !p.version.is_empty())
            .map(|p| AuditedCrate {
                name: p.name,
                version: p.version,
            })
            .collect(),
    )
}

/// The standard library version as the Go vulnerability database writes it, as
/// semver: `go1.21.3` is `1.21.3`, `go1.20` is `1.20.0`, and the pre-release
/// toolchains `go1.26rc2` and `go1.21beta1` are `1.26.0-rc.2` and `1.21.0-beta.1`
/// (the database's SEMVER ranges would order the raw `1.26rc2` before every
/// release). Development toolchains have none.
fn stdlib_version(go_version: &str) -> Option<String> {
    let token = go_version.split_whitespace().next()?;
    let v = token.strip_prefix("go")?;
    // `1.21`, `1.21.3`, `1.21rc2`, `1.21beta1`; a vendor build's `1.22-20231128-RC02`
    // is no release the database knows.
    let digits = v.len() - v.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    let (numbers, pre) = match ["rc", "beta"].iter().find_map(|kind| {
        let head = &v[..v.len() - digits];
        let numbers = head.strip_suffix(kind)?;
        (digits > 0).then(|| (numbers, Some((*kind, &v[v.len() - digits..]))))
    }) {
        Some(split) => split,
        None => (v, None),
    };
    let parts: Vec<&str> = numbers.split('.').collect();
    let release = (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 9 && p.bytes().all(|b| b.is_ascii_digit()));
    if !release {
        return None;
    }
    let core = if parts.len() == 2 {
        format!("{numbers}.0")
    } else {
        numbers.to_owned()
    };
    Some(match pre {
        Some((kind, n)) => format!("{core}-{kind}.{n}"),
        None => core,
    })
}

/// The packages of a Go binary's build info: the Go standard library (`stdlib`), the
/// main module when it has a version, and every dependency.
pub fn go_packages(info: &GoBuildInfo, layer: &str, path: &str) -> Vec<Package> {
    let package = |name: &str, version: &str| {
        let purl_path: Vec<String> = name.split('/').map(encode).collect();
        Package {
            name: name.to_owned(),
            version: version.to_owned(),
            ecosystem: "Go".into(),
            purl: format!("pkg:golang/{}@{}", purl_path.join("/"), encode(version)),
            source_name: name.to_owned(),
            source_version: version.to_owned(),
            layer: layer.to_owned(),
            path: path.to_owned(),
        }
    };
    let mut out: Vec<Package> = stdlib_version(&info.go_version)
        .map(|v| package("stdlib", &v))
        .into_iter()
        .collect();
    out.extend(
        info.main
            .iter()
            .chain(&info.deps)
            .map(|m| package(&m.path, &m.version)),
    );
    out
}

/// The packages of a Rust binary's cargo-auditable data.
pub fn rust_packages(crates: &[AuditedCrate], layer: &str, path: &str) -> Vec<Package> {
    crates
        .iter()
        .map(|c| Package {
            name: c.name.clone(),
            version: c.version.clone(),
            ecosystem: "crates.io".into(),
            purl: format!("pkg:cargo/{}@{}", encode(&c.name), encode(&c.version)),
            source_name: c.name.clone(),
            source_version: c.version.clone(),
            layer: layer.to_owned(),
            path: path.to_owned(),
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use object::write;
    use proptest::prelude::*;
    use std::io::Write;

    const START: &[u8; 16] = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6";
    const END: &[u8; 16] = b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2";

    /// Module info text with the linker's sentinels around it.
    pub fn framed_modinfo(text: &str) -> Vec<u8> {
        [&START[..], text.as_bytes(), &END[..]].concat()
    }

    fn uvarint(mut n: usize, out: &mut Vec<u8>) {
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }

    /// A Go 1.18+ build info header with inline strings.
    pub fn inline_header(go_version: &str, modinfo: &[u8]) -> Vec<u8> {
        let mut h = GO_MAGIC.to_vec();
        h.push(8);
        h.push(GO_FLAG_INLINE);
        h.resize(GO_HEADER_BYTES, 0);
        uvarint(go_version.len(), &mut h);
        h.extend_from_slice(go_version.as_bytes());
        uvarint(modinfo.len(), &mut h);
        h.extend_from_slice(modinfo);
        h
    }

    /// A relocatable x86-64 ELF object with one section of these contents.
    pub fn elf_with_section(name: &str, contents: &[u8]) -> Vec<u8> {
        let mut obj = write::Object::new(
            object::BinaryFormat::Elf,
            object::Architecture::X86_64,
            object::Endianness::Little,
        );
        let text = obj.add_section(Vec::new(), b".text".to_vec(), object::SectionKind::Text);
        obj.append_section_data(text, &[0xc3; 2048], 16);
        let id = obj.add_section(
            Vec::new(),
            name.as_bytes().to_vec(),
            object::SectionKind::ReadOnlyData,
        );
        obj.append_section_data(id, contents, 16);
        obj.write().unwrap()
    }

    /// An ELF with Go build info in a `.go.buildinfo` section.
    pub fn go_elf(go_version: &str, modinfo_text: &str) -> Vec<u8> {
        elf_with_section(
            ".go.buildinfo",
            &inline_header(go_version, &framed_modinfo(modinfo_text)),
        )
    }

    /// An ELF with cargo-auditable data for these packages.
    pub fn auditable_elf(packages_json: &str) -> Vec<u8> {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(packages_json.as_bytes()).unwrap();
        elf_with_section(".dep-v0", &z.finish().unwrap())
    }

    /// An executable ELF without a section table: one PT_LOAD segment mapping the
    /// whole file at `BASE`, holding a pre-1.18 build info header whose pointers lead
    /// to the version and module info strings.
    fn pointer_format_elf(is_64: bool, big_endian: bool, version: &str, modinfo: &[u8]) -> Vec<u8> {
        const BASE: u64 = 0x40_0000;
        let ps = if is_64 { 8 } else { 4 };
        let (ehsize, phsize) = if is_64 { (64, 56) } else { (52, 32) };
        let put = |out: &mut Vec<u8>, v: u64, n: usize| {
            let bytes = v.to_be_bytes();
            let mut field = bytes[8 - n..].to_vec();
            if !big_endian {
                field.reverse();
            }
            out.extend_from_slice(&field);
        };
        // Layout: headers, pad to 0x100, build info header (32), string headers, data.
        let header_at = 0x100u64;
        let strings_at = header_at + 32;
        let version_data = strings_at + 4 * ps as u64;
        let modinfo_data = version_data + version.len() as u64;
        let mut f = Vec::new();
        f.extend_from_slice(b"\x7fELF");
        f.push(if is_64 { 2 } else { 1 });
        f.push(if big_endian { 2 } else { 1 });
        f.push(1);
        f.resize(16, 0);
        put(&mut f, 2, 2); // ET_EXEC
        put(&mut f, if is_64 { 62 } else { 8 }, 2); // x86-64 / MIPS
        put(&mut f, 1, 4);
        put(&mut f, BASE, ps); // entry
        put(&mut f, ehsize as u64, ps); // phoff
        put(&mut f, 0, ps); // shoff
        put(&mut f, 0, 4); // flags
        put(&mut f, ehsize as u64, 2);
        put(&mut f, phsize as u64, 2);
        put(&mut f, 1, 2); // phnum
        put(&mut f, 0, 2); // shentsize
        put(&mut f, 0, 2); // shnum
        put(&mut f, 0, 2); // shstrndx
        assert_eq!(f.len(), ehsize);
        let file_size = modinfo_data + modinfo.len() as u64;
        put(&mut f, 1, 4); // PT_LOAD
        if is_64 {
            put(&mut f, 5, 4); // flags
            put(&mut f, 0, 8); // offset
            put(&mut f, BASE, 8);
            put(&mut f, BASE, 8);
            put(&mut f, file_size, 8);
            put(&mut f, file_size, 8);
            put(&mut f, 0x1000, 8);
        } else {
            put(&mut f, 0, 4);
            put(&mut f, BASE, 4);
            put(&mut f, BASE, 4);
            put(&mut f, file_size, 4);
            put(&mut f, file_size, 4);
            put(&mut f, 5, 4);
            put(&mut f, 0x1000, 4);
        }
        f.resize(header_at as usize, 0);
        f.extend_from_slice(GO_MAGIC);
        f.push(ps as u8);
        f.push(u8::from(big_endian));
        put(&mut f, BASE + strings_at, ps);
        put(&mut f, BASE + strings_at + 2 * ps as u64, ps);
        f.resize(strings_at as usize, 0);
        put(&mut f, BASE + version_data, ps);
        put(&mut f, version.len() as u64, ps);
        put(&mut f, BASE + modinfo_data, ps);
        put(&mut f, modinfo.len() as u64, ps);
        f.extend_from_slice(version.as_bytes());
        f.extend_from_slice(modinfo);
        f
    }

    const MODINFO: &str = "path\texample.com/app/cmd/app\n\
mod\texample.com/app\t(devel)\t\n\
dep\tgolang.org/x/text\tv0.3.2\th1:abc=\n\
dep\tgithub.com/old/thing\tv1.0.0\th1:def=\n\
=>\tgithub.com/new/thing\tv1.1.0\th1:ghi=\n\
dep\tgithub.com/local/fork\tv0.1.0\th1:jkl=\n\
=>\t../fork\t(devel)\t\n\
dep\tgithub.com/workspace/member\t(devel)\t\n\
dep\tgithub.com/x/y\tv0.0.0-20191109021931-daa7c04131f5\th1:mno=\n\
dep\tgithub.com/z/w\tv2.0.0+incompatible\th1:pqr=\n\
build\t-compiler=gc\n";

    fn module(path: &str, version: &str) -> GoModule {
        GoModule {
            path: path.into(),
            version: version.into(),
        }
    }

    fn expected_deps() -> Vec<GoModule> {
        vec![
            module("golang.org/x/text", "v0.3.2"),
            module("github.com/new/thing", "v1.1.0"),
            module("github.com/x/y", "v0.0.0-20191109021931-daa7c04131f5"),
            module("github.com/z/w", "v2.0.0+incompatible"),
        ]
    }

    /// Hands out `step` bytes per read, to cut the stream anywhere.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn streamed_build_info_across_chunk_boundaries() {
        let header = inline_header(
            "go1.21.3",
            &framed_modinfo("path\tx\nmod\tx\t(devel)\t\ndep\tgolang.org/x/net\tv0.17.0\th1:y=\n"),
        );
        for offset in [0usize, 16, (1 << 20) - 16, (1 << 20) - 8 * 16, 3 << 20] {
            let mut file = vec![0u8; offset];
            file.extend_from_slice(&header);
            file.resize(offset + header.len() + (2 << 20), 0xaa);
            for step in [7, 4096, 1 << 20] {
                let info = go_build_info_streamed(Trickle { data: &file, step })
                    .unwrap()
                    .unwrap_or_else(|| panic!("offset {offset} step {step}"));
                assert_eq!(info.go_version, "go1.21.3");
                assert_eq!(info.deps.len(), 1, "{info:?}");
            }
        }
        // Unaligned: not a header, as the Go linker never writes one there.
        let mut file = vec![0u8; 24];
        file.extend_from_slice(&header);
        assert!(go_build_info_streamed(&file[..]).unwrap().is_none());
        assert!(go_build_info_streamed(&[0u8; 100][..]).unwrap().is_none());
    }

    #[test]
    fn go_inline_build_info_from_section() {
        let elf = go_elf("go1.21.3", MODINFO);
        let Some(BuiltFrom::Go(info)) = inspect(&elf) else {
            panic!("no build info");
        };
        assert_eq!(info.go_version, "go1.21.3");
        assert_eq!(info.path, "example.com/app/cmd/app");
        assert_eq!(info.main, None, "(devel) main modules are skipped");
        assert_eq!(info.deps, expected_deps());
        let p = go_packages(&info, "sha256:l", "usr/bin/app");
        let names: Vec<(&str, &str)> = p
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(names[0], ("stdlib", "1.21.3"));
        assert_eq!(p[0].purl, "pkg:golang/stdlib@1.21.3");
        assert_eq!(p[1].purl, "pkg:golang/golang.org/x/text@v0.3.2");
        assert_eq!(p[4].purl, "pkg:golang/github.com/z/w@v2.0.0%2Bincompatible");
        assert!(p
            .iter()
            .all(|p| p.ecosystem == "Go" && p.path == "usr/bin/app"));
        assert_eq!(p.len(), 5);
    }

    #[test]
    fn go_main_module_with_a_version_and_its_replacement() {
        let info = parse_modinfo(
            "go1.22.1 X:boringcrypto".into(),
            &framed_modinfo("path\ta/b\nmod\ta/b\tv1.2.3\th1:x=\n=>\tc/d\tv1.2.4\t\n"),
        );
        assert_eq!(info.main, Some(module("c/d", "v1.2.4")));
        assert_eq!(stdlib_version(&info.go_version).as_deref(), Some("1.22.1"));
        assert_eq!(stdlib_version("devel go1.23-abcdef"), None);
        assert_eq!(stdlib_version("go1.21").as_deref(), Some("1.21.0"));
        assert_eq!(
            stdlib_version("go1.22-20231128-RC02 cl/586117301 X:boringcrypto"),
            None
        );
        assert_eq!(stdlib_version("go1.x"), None);
        // A versionless module replaced by a published one is the replacement; an
        // old toolchain's local replacement has no version at all.
        let info = parse_modinfo(
            "go1.22.1".into(),
            &framed_modinfo(
                "dep\ta/x\t(devel)\t\n=>\tb/y\tv1.0.0\t\ndep\tc/z\tv1.0.0\t\n=>\t../z\t\t\n",
            ),
        );
        assert_eq!(info.deps, vec![module("b/y", "v1.0.0")]);
        // Not framed: no modules, but the toolchain still counts.
        let bare = parse_modinfo("go1.20".into(), b"path\ta\nmod\ta\tv1\t\n");
        assert_eq!((bare.main, bare.deps.len()), (None, 0));
    }

    #[test]
    fn go_pointer_format_without_section_table() {
        for (is_64, big_endian) in [(true, false), (false, true), (false, false), (true, true)] {
            let elf = pointer_format_elf(is_64, big_endian, "go1.16.15", &framed_modinfo(MODINFO));
            let Some(BuiltFrom::Go(info)) = inspect(&elf) else {
                panic!("no build info (64-bit {is_64}, big-endian {big_endian})");
            };
            assert_eq!(info.go_version, "go1.16.15");
            assert_eq!(info.deps, expected_deps());
        }
    }

    #[test]
    fn go_header_without_section_table_is_found_by_magic() {
        // Not a parseable ELF beyond its magic, but the inline header is self-contained.
        let mut data = b"\x7fELF".to_vec();
        data.resize(4096, 0);
        data.extend(inline_header("go1.19.8", &framed_modinfo(MODINFO)));
        let Some(BuiltFrom::Go(info)) = inspect(&data) else {
            panic!("no build info");
        };
        assert_eq!(info.deps.len(), 4);
        // Misaligned: not a header.
        let mut data = b"\x7fELF".to_vec();
        data.resize(4097, 0);
        data.extend(inline_header("go1.19.8", &framed_modinfo(MODINFO)));
        assert_eq!(inspect(&data), None);
    }

    #[test]
    fn elf_without_go_or_audit_data_yields_nothing() {
        assert_eq!(
            inspect(&elf_with_section(".rodata", b"\xff Go buildinf:")),
            None
        );
        assert_eq!(inspect(b"#!/bin/sh\necho hi\n"), None);
        // Truncated and oversized string lengths.
        let mut h = inline_header("go1.21.0", &framed_modinfo(MODINFO));
        h.truncate(40);
        assert_eq!(inspect(&elf_with_section(".go.buildinfo", &h)), None);
        let mut h = GO_MAGIC.to_vec();
        h.extend([8, GO_FLAG_INLINE]);
        h.resize(32, 0);
        h.extend([0xff; 10]);
        assert_eq!(inspect(&elf_with_section(".go.buildinfo", &h)), None);
    }

    #[test]
    fn cargo_auditable_crates_io_packages() {
        let json = r#"{"packages":[
            {"name":"app","version":"0.1.0","source":"local","kind":"runtime","dependencies":[1,2],"root":true},
            {"name":"smallvec","version":"0.6.12","source":"crates.io","kind":"runtime","dependencies":[]},
            {"name":"forked","version":"1.0.0","source":"git","kind":"runtime","dependencies":[]},
            {"name":"cc","version":"1.0.83","source":"crates.io","kind":"build","dependencies":[]}
        ]}"#;
        let elf = auditable_elf(json);
        let Some(BuiltFrom::Rust(crates)) = inspect(&elf) else {
            panic!("no audit data");
        };
        let p = rust_packages(&crates, "l", "usr/local/bin/app");
        let purls: Vec<&str> = p.iter().map(|p| p.purl.as_str()).collect();
        assert_eq!(purls, ["pkg:cargo/smallvec@0.6.12", "pkg:cargo/cc@1.0.83"]);
        assert!(p.iter().all(|p| p.ecosystem == "crates.io"));
    }

    #[test]
    fn cargo_auditable_bombs_and_garbage_yield_nothing() {
        // 9 MiB of zeros compresses to a few kilobytes.
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        z.write_all(&vec![b' '; 9 << 20]).unwrap();
        let bomb = z.finish().unwrap();
        assert!(bomb.len() < 64 << 10);
        assert_eq!(inspect(&elf_with_section(".dep-v0", &bomb)), None);
        assert_eq!(inspect(&elf_with_section(".dep-v0", b"not zlib")), None);
        assert_eq!(inspect(&auditable_elf("{\"packages\":[]}")), None);
    }

    proptest! {
        #[test]
        fn parsers_never_panic(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let mut elf = b"\x7fELF".to_vec();
            elf.extend_from_slice(&data);
            let _ = inspect(&elf);
            let _ = inspect(&data);
            let _ = parse_modinfo(String::new(), &data);
            let _ = varint_string(&data);
        }

        #[test]
        fn go_headers_with_arbitrary_fields_never_panic(
            ptr_size in any::<u8>(),
            flags in any::<u8>(),
            tail in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let mut h = GO_MAGIC.to_vec();
            h.extend([ptr_size, flags]);
            h.extend_from_slice(&tail);
            let _ = inspect(&elf_with_section(".go.buildinfo", &h));
            let _ = inspect(&elf_with_section(".dep-v0", &tail));
        }
    }
}
