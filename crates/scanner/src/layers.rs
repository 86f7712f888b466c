//! The layer walk: image layers read as streams (gzip, zstd or plain tar, told apart
//! by their first bytes), whiteouts and opaque directories applied across layers, and
//! only the files catalogers need kept in memory — within limits on entry count, file
//! size and decompression ratio. Nothing is extracted to disk, no link is followed:
//! a hard link to a wanted file is resolved inside the image, symlinks are ignored.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read};

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
}

/// A file kept from the image, with the layer it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub layer: String,
    pub bytes: Vec<u8>,
}

/// The image's wanted files after all layers, by path (no leading `/`).
#[derive(Debug, Default)]
pub struct Filesystem {
    pub files: BTreeMap<String, Kept>,
    kept_bytes: u64,
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
        } = delta;
        let size: u64 = added.values().map(|k| k.bytes.len() as u64).sum();
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
    let mut entries_seen = 0u64;
    let mut kept_here = 0u64;
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
        if kind.is_hard_link() && wanted(&path) {
            if let Ok(Some(target)) = entry.link_name() {
                if let Some(target) = target.to_str().and_then(clean) {
                    hard_links.push((path, target));
                }
            }
            continue;
        }
        // A later entry for the same path replaces an earlier one.
        added.remove(&path);
        if !kind.is_file() || !wanted(&path) {
            continue;
        }
        let size = entry.size();
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
        added.insert(
            path,
            Kept {
                layer: layer.to_owned(),
                bytes,
            },
        );
    }
    // Drain the stream so a truncated or bomb-like tail is noticed.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(|e| bad(layer, format!("corrupt layer: {e}")))?;
    Ok(LayerDelta {
        layer: layer.to_owned(),
        added,
        removed,
        opaque,
        hard_links,
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
