//! The layer walk: image layers read as streams (gzip, zstd or plain tar, told apart
//! by their first bytes), whiteouts and opaque directories applied across layers, and
//! only the files catalogers need kept in memory — within limits on entry count, file
//! size and decompression ratio. Nothing is extracted to disk, no link is followed:
//! a hard link to a wanted file is resolved inside the image, symlinks are ignored.
//! Executables and Java archives are read one at a time and dropped once the
//! packages they hold are read out of them (see [`Kind`]): only that list is kept.

use crate::binaries::{self, AuditedCrate, BuiltFrom, GoBuildInfo};
use crate::java::{self, is_java_archive, MavenArtifact};
use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read};

/// Compressed layer bytes read by every layer walk in this process so far: what a
/// progress display shows while a long scan runs.
pub static LAYER_BYTES_READ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Limits on what one image may make the scanner do.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Tar entries per layer.
    pub max_entries: u64,
    /// Size of one wanted file (a package database, a metadata file).
    pub max_file_bytes: u64,
    /// Wanted bytes kept from all layers together.
    pub max_kept_bytes: u64,
    /// Uncompressed / compressed, once more than `ratio_grace_bytes` came out.
    pub max_ratio: u64,
    pub ratio_grace_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_entries: 1_000_000,
            max_file_bytes: 64 << 20,
            max_kept_bytes: 512 << 20,
            max_ratio: 200,
            ratio_grace_bytes: 64 << 20,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("layer {layer}: {message}")]
    Bad { layer: String, message: String },
}

fn bad(layer: &str, message: impl Into<String>) -> LayerError {
    LayerError::Bad {
        layer: layer.to_owned(),
        message: message.into(),
    }
}

/// Which files the catalogers read.
pub fn wanted(path: &str) -> bool {
    matches!(
        path,
        "etc/os-release" | "usr/lib/os-release" | "var/lib/dpkg/status" | "lib/apk/db/installed"
    ) || path.starts_with("var/lib/dpkg/status.d/") && !path.ends_with(".md5sums")
        || path.ends_with(".dist-info/METADATA")
        || path.ends_with(".egg-info/PKG-INFO")
        || (path.ends_with("/package.json") && path.contains("node_modules/"))
        || path == "Cargo.lock"
        || path.ends_with("/Cargo.lock")
        || matches!(
            path,
            "var/lib/rpm/rpmdb.sqlite" | "usr/lib/sysimage/rpm/rpmdb.sqlite"
        )
        || (path.ends_with(".gemspec")
            && (path.starts_with("specifications/") || path.contains("/specifications/")))
        || path == "vendor/composer/installed.json"
        || path.ends_with("/vendor/composer/installed.json")
}

/// A file kept from the image, with the layer it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub layer: String,
    /// The file's contents when `kind` is [`Kind::File`]; empty otherwise.
    pub bytes: Vec<u8>,
    pub kind: Kind,
}

/// What was kept of a file: the file itself (a wanted metadata file), or only what
/// was read out of it — executables and Java archives are far too large to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    File,
    /// A Go executable's toolchain version and modules.
    GoBuildInfo(GoBuildInfo),
    /// The crates.io crates of a Rust executable built with cargo-auditable.
    RustAudit(Vec<AuditedCrate>),
    /// The Maven artifacts of a Java archive and the archives nested in it.
    Java(Vec<MavenArtifact>),
}

impl Kept {
    /// A wanted file, kept whole.
    pub fn file(layer: &str, bytes: Vec<u8>) -> Kept {
        Kept {
            layer: layer.to_owned(),
            bytes,
            kind: Kind::File,
        }
    }

    /// Roughly what it occupies, for [`Limits::max_kept_bytes`].
    pub fn size(&self) -> u64 {
        let extracted = match &self.kind {
            Kind::File => 0,
            Kind::GoBuildInfo(info) => info.size(),
            Kind::RustAudit(crates) => crates.iter().map(AuditedCrate::size).sum(),
            Kind::Java(found) => found.iter().map(MavenArtifact::size).sum(),
        };
        self.bytes.len() as u64 + extracted
    }
}

/// Smallest executable read for build metadata (smaller ones are scripts or stubs).
const MIN_EXECUTABLE_BYTES: u64 = 1024;

/// Whether a regular file that is not [`wanted`] whole is read for the packages it
/// holds: an executable (a Go or cargo-auditable binary, told by its bytes) or a
/// Java archive (by its name), no larger than a wanted file may be.
pub fn inspected(path: &str, mode: u32, size: u64, limits: &Limits) -> bool {
    if is_java_archive(path) {
        size <= limits.max_file_bytes
    } else {
        // Executables of any size: those over the limit are streamed, not held.
        mode & 0o111 != 0 && size >= MIN_EXECUTABLE_BYTES
    }
}

/// Reads an [`inspected`] file of `size` bytes and keeps what it says, if anything.
/// Only an ELF file is read past its first four bytes, and only one file is in
/// memory at a time; an ELF over `max_file_bytes` is streamed instead (Go build
/// info only).
fn inspect(
    layer: &str,
    path: &str,
    size: u64,
    file: impl Read,
    limits: &Limits,
) -> io::Result<Option<Kept>> {
    let mut file = file.take(size);
    let mut bytes = Vec::new();
    let kind = if is_java_archive(path) {
        bytes.reserve_exact(size as usize);
        file.read_to_end(&mut bytes)?;
        let found = java::artifacts(&bytes, path);
        (!found.is_empty()).then_some(Kind::Java(found))
    } else {
        let mut head = [0u8; 4];
        match file.read_exact(&mut head) {
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
            other => other?,
        }
        if !binaries::is_elf(&head) {
            return Ok(None);
        }
        if size > limits.max_file_bytes {
            // Too large to hold: Go build info is found in the stream.
            let info = binaries::go_build_info_streamed(io::Cursor::new(head).chain(file))?;
            return Ok(info.map(|info| Kept {
                layer: layer.to_owned(),
                bytes: Vec::new(),
                kind: Kind::GoBuildInfo(info),
            }));
        }
        bytes.reserve_exact(size as usize);
        bytes.extend_from_slice(&head);
        file.read_to_end(&mut bytes)?;
        binaries::inspect(&bytes).map(|found| match found {
            BuiltFrom::Go(info) => Kind::GoBuildInfo(info),
            BuiltFrom::Rust(crates) => Kind::RustAudit(crates),
        })
    };
    Ok(kind.map(|kind| Kept {
        layer: layer.to_owned(),
        bytes: Vec::new(),
        kind,
    }))
}

/// The image's wanted files after all layers, by path (no leading `/`).
#[derive(Debug, Default)]
pub struct Filesystem {
    pub files: BTreeMap<String, Kept>,
    kept_bytes: u64,
    /// Files and directories with permissions the configuration checks report
    /// (setuid, setgid, world-writable), at most [`MAX_SPECIAL`] of them.
    pub special: BTreeMap<String, Special>,
    /// Whether more special files were seen than [`MAX_SPECIAL`].
    pub special_truncated: bool,
}

/// Most setuid, setgid or world-writable paths tracked per layer and per image.
pub const MAX_SPECIAL: usize = 10_000;

/// A file or directory whose mode the configuration checks look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Special {
    pub layer: String,
    /// Permission bits, including setuid (0o4000), setgid (0o2000) and sticky (0o1000).
    pub mode: u32,
    pub is_dir: bool,
}

impl Special {
    /// A mode worth reporting: a setuid or setgid regular file, a world-writable
    /// regular file, or a world-writable directory without the sticky bit.
    fn of(mode: u32, is_dir: bool) -> bool {
        if is_dir {
            mode & 0o002 != 0 && mode & 0o1000 == 0
        } else {
            mode & 0o6002 != 0
        }
    }
}

/// Counts bytes read through it.
struct Counting<R> {
    inner: R,
    count: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        LAYER_BYTES_READ.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Stops a decompression bomb: fails once the output outgrows the input too much.
struct RatioGuard<R> {
    inner: R,
    compressed: std::rc::Rc<std::cell::Cell<u64>>,
    out: u64,
    limits: Limits,
}

impl<R: Read> Read for RatioGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.out += n as u64;
        if self.out > self.limits.ratio_grace_bytes
            && self.out
                > self
                    .compressed
                    .get()
                    .max(1)
                    .saturating_mul(self.limits.max_ratio)
        {
            return Err(io::Error::other(format!(
                "decompression ratio above {}:1 (a decompression bomb?)",
                self.limits.max_ratio
            )));
        }
        Ok(n)
    }
}

/// Normalises a tar path: no leading `./` or `/`; `None` for anything escaping the
/// root (`..`) or empty.
fn clean(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return None,
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// What one layer does to the filesystem below it: the wanted files it adds, the
/// paths it whites out, the directories it makes opaque and the hard links to wanted
/// files it makes. Layers are read independently (in any order, even in parallel)
/// and applied in order.
#[derive(Debug, Default)]
pub struct LayerDelta {
    layer: String,
    added: BTreeMap<String, Kept>,
    removed: Vec<String>,
    opaque: Vec<String>,
    hard_links: Vec<(String, String)>,
    /// Inspected files (executables, Java archives) this layer writes without
    /// anything to keep: whatever a lower layer's file at the path said is gone.
    replaced: Vec<String>,
    /// Entries of this layer with a special mode (see [`Special`]).
    special: BTreeMap<String, Special>,
    special_truncated: bool,
    /// Hashes of every path this layer has an entry for, sorted: an entry replaces
    /// the path's mode below, so a lower layer's setuid file rewritten (or
    /// `chmod`ed) here is no longer special. Eight bytes an entry, not the path.
    touched: Vec<u64>,
}

fn path_hash(path: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut h);
    h.finish()
}

impl LayerDelta {
    /// Notes one tar entry's mode: every entry replaces what was at its path.
    fn note_mode(&mut self, path: &str, kind: tar::EntryType, mode: u32) {
        self.touched.push(path_hash(path));
        self.special.remove(path);
        let is_dir = kind.is_dir();
        if !(kind.is_file() || kind.is_hard_link() || is_dir) || !Special::of(mode, is_dir) {
            return;
        }
        if self.special.len() >= MAX_SPECIAL {
            self.special_truncated = true;
            return;
        }
        self.special.insert(
            path.to_owned(),
            Special {
                layer: self.layer.clone(),
                mode: mode & 0o7777,
                is_dir,
            },
        );
    }
}

impl Filesystem {
    /// Reads one layer and applies it on top of the ones before it.
    pub fn apply_layer(
        &mut self,
        layer: &str,
        data: impl Read,
        limits: &Limits,
    ) -> Result<(), LayerError> {
        let delta = read_layer(layer, data, limits)?;
        self.apply(delta, limits)
    }

    /// Applies a layer read with [`read_layer`] on top of the ones before it.
    pub fn apply(&mut self, delta: LayerDelta, limits: &Limits) -> Result<(), LayerError> {
        let LayerDelta {
            layer,
            mut added,
            removed,
            opaque,
            hard_links,
            replaced,
            special,
            special_truncated,
            mut touched,
        } = delta;
        let size: u64 = added.values().map(Kept::size).sum();
        if self.kept_bytes + size > limits.max_kept_bytes {
            return Err(bad(
                &layer,
                "package metadata larger than the scanner's limit",
            ));
        }
        self.kept_bytes += size;
        // Whiteouts hide what lower layers had.
        for dir in &opaque {
            self.files.retain(|p, _| !p.starts_with(dir.as_str()));
        }
        for gone in &removed {
            let under = format!("{gone}/");
            self.files
                .retain(|p, _| p != gone && !p.starts_with(&under));
        }
        for path in &replaced {
            self.files.remove(path);
        }
        // Modes follow the same whiteouts, and an entry for a path replaces its mode.
        for dir in &opaque {
            self.special.retain(|p, _| !p.starts_with(dir.as_str()));
        }
        for gone in &removed {
            let under = format!("{gone}/");
            self.special
                .retain(|p, _| p != gone && !p.starts_with(&under));
        }
        touched.sort_unstable();
        self.special
            .retain(|p, _| touched.binary_search(&path_hash(p)).is_err());
        self.special_truncated |= special_truncated;
        for (path, s) in special {
            if self.special.len() >= MAX_SPECIAL {
                self.special_truncated = true;
                break;
            }
            self.special.insert(path, s);
        }
        for (path, target) in hard_links {
            let found = added
                .get(&target)
                .or_else(|| self.files.get(&target))
                .cloned();
            if let Some(k) = found {
                added.insert(path, k);
            }
        }
        self.files.extend(added);
        Ok(())
    }
}

/// Reads one layer (gzip, zstd or plain tar) into what it changes.
pub fn read_layer(layer: &str, data: impl Read, limits: &Limits) -> Result<LayerDelta, LayerError> {
    let compressed = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let mut input = BufReader::with_capacity(
        256 << 10,
        Counting {
            inner: data,
            count: compressed.clone(),
        },
    );
    let magic = input
        .fill_buf()
        .map_err(|e| bad(layer, e.to_string()))?
        .to_vec();
    let plain: Box<dyn Read> = if magic.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(input))
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(
            zstd::stream::read::Decoder::with_buffer(input)
                .map_err(|e| bad(layer, e.to_string()))?,
        )
    } else {
        Box::new(input)
    };
    let guarded = RatioGuard {
        inner: plain,
        compressed,
        out: 0,
        limits: *limits,
    };
    let mut archive = tar::Archive::new(guarded);
    let mut added: BTreeMap<String, Kept> = BTreeMap::new();
    let mut hard_links: Vec<(String, String)> = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    let mut opaque: Vec<String> = Vec::new();
    let mut replaced: Vec<String> = Vec::new();
    let mut entries_seen = 0u64;
    let mut kept_here = 0u64;
    let mut modes = LayerDelta {
        layer: layer.to_owned(),
        ..LayerDelta::default()
    };
    let entries = archive
        .entries()
        .map_err(|e| bad(layer, format!("not a tar archive: {e}")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(layer, format!("corrupt tar: {e}")))?;
        entries_seen += 1;
        if entries_seen > limits.max_entries {
            return Err(bad(
                layer,
                format!("more than {} entries", limits.max_entries),
            ));
        }
        let raw = entry.path_bytes();
        let Some(path) = std::str::from_utf8(&raw).ok().and_then(clean) else {
            continue; // unnamed, non-UTF-8 or escaping the root: nothing to read
        };
        let (dir, base) = match path.rsplit_once('/') {
            Some((d, b)) => (format!("{d}/"), b.to_owned()),
            None => (String::new(), path.clone()),
        };
        if base == ".wh..wh..opq" {
            opaque.push(dir);
            continue;
        }
        if let Some(hidden) = base.strip_prefix(".wh.") {
            removed.push(format!("{dir}{hidden}"));
            continue;
        }
        let kind = entry.header().entry_type();
        modes.note_mode(&path, kind, entry.header().mode().unwrap_or(0));
        let mode = entry.header().mode().unwrap_or(0);
        // Links to executables and Java archives too: what was read out of the target
        // holds for the link.
        let may_inspect = is_java_archive(&path) || mode & 0o111 != 0;
        if kind.is_hard_link() && (wanted(&path) || may_inspect) {
            if let Ok(Some(target)) = entry.link_name() {
                if let Some(target) = target.to_str().and_then(clean) {
                    hard_links.push((path, target));
                }
            }
            continue;
        }
        // A later entry for the same path replaces an earlier one.
        added.remove(&path);
        if !kind.is_file() {
            continue;
        }
        let size = entry.size();
        if !wanted(&path) {
            if !inspected(&path, mode, size, limits) {
                continue;
            }
            let found = inspect(layer, &path, size, &mut entry, limits)
                .map_err(|e| bad(layer, format!("reading {path}: {e}")))?;
            match found {
                Some(kept) => {
                    kept_here += kept.size();
                    if kept_here > limits.max_kept_bytes {
                        return Err(bad(
                            layer,
                            "package metadata larger than the scanner's limit",
                        ));
                    }
                    added.insert(path, kept);
                }
                None => replaced.push(path),
            }
            continue;
        }
        if size > limits.max_file_bytes {
            return Err(bad(
                layer,
                format!(
                    "{path} is {size} bytes, more than the {} allowed",
                    limits.max_file_bytes
                ),
            ));
        }
        kept_here += size;
        if kept_here > limits.max_kept_bytes {
            return Err(bad(
                layer,
                "package metadata larger than the scanner's limit",
            ));
        }
        let mut bytes = Vec::with_capacity(size as usize);
        (&mut entry)
            .take(limits.max_file_bytes)
            .read_to_end(&mut bytes)
            .map_err(|e| bad(layer, format!("reading {path}: {e}")))?;
        added.insert(path, Kept::file(layer, bytes));
    }
    // Drain the stream so a truncated or bomb-like tail is noticed.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| bad(layer, format!("corrupt layer: {e}")))?;
    Ok(LayerDelta {
        added,
        removed,
        opaque,
        hard_links,
        replaced,
        ..modes
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// A tar layer of (path, contents) entries; `None` contents make a directory.
    pub fn tar_layer(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in entries {
            let mut h = tar::Header::new_gnu();
            match data {
                Some(d) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(d.len() as u64);
                    h.set_mode(0o644);
                    b.append_data(&mut h, path, *d).unwrap();
                }
                None => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    h.set_mode(0o755);
                    b.append_data(&mut h, path, &[][..]).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    pub fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn whiteouts_and_opaque_directories() {
        let l1 = tar_layer(&[
            ("etc/os-release", Some(b"ID=debian\nVERSION_ID=12\n")),
            (
                "usr/lib/python3/site-packages/a-1.0.dist-info/METADATA",
                Some(b"Name: a\nVersion: 1.0\n"),
            ),
            (
                "usr/lib/python3/site-packages/b-1.0.dist-info/METADATA",
                Some(b"Name: b\nVersion: 1.0\n"),
            ),
            (
                "app/node_modules/x/package.json",
                Some(br#"{"name":"x","version":"1.0.0"}"#),
            ),
        ]);
        let l2 = tar_layer(&[
            (
                "usr/lib/python3/site-packages/.wh.a-1.0.dist-info",
                Some(b""),
            ),
            ("app/node_modules/.wh..wh..opq", Some(b"")),
            (
                "app/node_modules/y/package.json",
                Some(br#"{"name":"y","version":"2.0.0"}"#),
            ),
        ]);
        let mut fs = Filesystem::default();
        let limits = Limits::default();
        fs.apply_layer("sha256:1", &gzip(&l1)[..], &limits).unwrap();
        fs.apply_layer("sha256:2", &l2[..], &limits).unwrap();
        let paths: Vec<&str> = fs.files.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            vec![
                "app/node_modules/y/package.json",
                "etc/os-release",
                "usr/lib/python3/site-packages/b-1.0.dist-info/METADATA",
            ]
        );
        assert_eq!(
            fs.files["app/node_modules/y/package.json"].layer,
            "sha256:2"
        );
    }

    #[test]
    fn bad_layers_are_clear_errors() {
        let limits = Limits::default();
        let mut fs = Filesystem::default();
        // corrupt gzip
        let mut gz = gzip(&tar_layer(&[("etc/os-release", Some(b"ID=x\n"))]));
        let n = gz.len();
        gz[n / 2] ^= 0xff;
        gz.truncate(n - 4);
        assert!(fs.apply_layer("sha256:bad", &gz[..], &limits).is_err());
        // truncated tar
        let t = tar_layer(&[("var/lib/dpkg/status", Some(&[b'x'; 5000]))]);
        let err = fs
            .apply_layer("sha256:trunc", &t[..1024], &limits)
            .unwrap_err();
        assert!(err.to_string().contains("sha256:trunc"), "{err}");
        // path traversal entries are ignored, not followed
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_entry_type(tar::EntryType::Regular);
        let name = b"../../etc/os-release";
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.set_cksum();
        b.append(&h, &b"ID=x\n"[..]).unwrap();
        let t = b.into_inner().unwrap();
        let mut fs = Filesystem::default();
        fs.apply_layer("sha256:trav", &t[..], &limits).unwrap();
        assert!(fs.files.is_empty());
    }

    #[test]
    fn decompression_bombs_are_refused() {
        let huge = vec![0u8; 8 << 20];
        let t = tar_layer(&[("big", Some(&huge))]);
        let gz = gzip(&t);
        let limits = Limits {
            max_ratio: 10,
            ratio_grace_bytes: 1 << 20,
            ..Limits::default()
        };
        let err = Filesystem::default()
            .apply_layer("sha256:bomb", &gz[..], &limits)
            .unwrap_err();
        assert!(err.to_string().contains("decompression"), "{err}");
    }

    #[test]
    fn oversized_databases_are_refused() {
        let t = tar_layer(&[("var/lib/dpkg/status", Some(&[b'a'; 4096]))]);
        let limits = Limits {
            max_file_bytes: 1024,
            ..Limits::default()
        };
        let err = Filesystem::default()
            .apply_layer("l", &t[..], &limits)
            .unwrap_err();
        assert!(err.to_string().contains("bytes"), "{err}");
    }
}
