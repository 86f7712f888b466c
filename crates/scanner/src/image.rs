//! Where images come from for a scan: an OCI layout directory (`oci:DIR[:TAG]`), an
//! OCI layout or `docker save` tarball (`oci-archive:FILE`, `docker-archive:FILE`),
//! an unpacked root filesystem (`dir:ROOTFS`), or — through a [`Blobs`] source the
//! caller provides — a registry (`docker://HOST/REPO:TAG`). Multi-platform indexes give one
//! filesystem per platform. Layers are streamed, never unpacked.

use crate::layers::{read_layer, Filesystem, LayerDelta, Limits};
use anyhow::{bail, Context};
use serde::Deserialize;
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
/// Files of a `dir:` target up to this size are read whole; larger ones are streamed.
const IN_MEMORY_FILE: u64 = 4 << 20;
/// Largest manifest, index or config read.
const MAX_JSON: u64 = 4 << 20;
/// Most platforms of one index, and most nested indexes.
const MAX_MANIFESTS: usize = 64;

/// What to scan, as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    OciDir {
        dir: PathBuf,
        tag: Option<String>,
    },
    OciArchive(PathBuf),
    DockerArchive(PathBuf),
    Dir(PathBuf),
    /// `docker://HOST/REPO:TAG`: read by the caller's registry client through
    /// [`from_manifest`]; holds what follows `docker://`.
    Registry(String),
}

impl Target {
    pub fn parse(s: &str) -> anyhow::Result<Target> {
        if let Some(rest) = s.strip_prefix("oci:") {
            let (dir, tag) = match rest.rsplit_once(':') {
                Some((d, t)) if !t.contains('/') && !d.is_empty() => (d, Some(t.to_owned())),
                _ => (rest, None),
            };
            return Ok(Target::OciDir {
                dir: dir.into(),
                tag,
            });
        }
        if let Some(f) = s.strip_prefix("oci-archive:") {
            return Ok(Target::OciArchive(f.split(':').next().unwrap_or(f).into()));
        }
        if let Some(f) = s.strip_prefix("docker-archive:") {
            return Ok(Target::DockerArchive(
                f.split(':').next().unwrap_or(f).into(),
            ));
        }
        if let Some(d) = s.strip_prefix("dir:") {
            return Ok(Target::Dir(d.into()));
        }
        if let Some(r) = s.strip_prefix("docker://") {
            return Ok(Target::Registry(r.to_owned()));
        }
        bail!("unknown target {s:?}: use oci:DIR[:TAG], oci-archive:FILE, docker-archive:FILE, docker://HOST/REPO:TAG or dir:ROOTFS")
    }
}

/// One scanned filesystem: a platform of an image, or the whole directory.
#[derive(Debug)]
pub struct Scanned {
    /// `linux/amd64` and the like, when the image says.
    pub platform: Option<String>,
    pub manifest_digest: Option<String>,
    pub config: Option<serde_json::Value>,
    pub fs: Filesystem,
}

#[derive(Debug, Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    annotations: HashMap<String, String>,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Debug, Deserialize)]
struct Platform {
    architecture: String,
    os: String,
    #[serde(default)]
    variant: Option<String>,
}

impl Platform {
    fn name(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{v}", self.os, self.architecture),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Index {
    manifests: Vec<Descriptor>,
}

#[derive(Debug, Deserialize)]
struct Manifest {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    #[serde(default)]
    manifests: Vec<Descriptor>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

/// Blobs by digest, from wherever the image lives: a layout, an archive, or a
/// registry (the CLI's `docker://` source implements this over HTTP).
pub trait Blobs {
    /// A small blob (a configuration), read whole.
    fn small(&mut self, digest: &str) -> anyhow::Result<Vec<u8>>;
    /// A manifest or index; in a layout or archive, just a small blob.
    fn manifest(&mut self, digest: &str) -> anyhow::Result<Vec<u8>> {
        self.small(digest)
    }
    /// One layer through the layer walk.
    fn layer(&mut self, digest: &str, limits: &Limits) -> anyhow::Result<LayerDelta>;
    /// Several layers through the layer walk, in order; sources that can read them
    /// side by side do.
    fn layers(&mut self, digests: &[String], limits: &Limits) -> anyhow::Result<Vec<LayerDelta>> {
        digests.iter().map(|d| self.layer(d, limits)).collect()
    }
    /// Reads these layers ahead when that is cheaper together (one pass over a tarball).
    fn prefetch(&mut self, digests: &[String], limits: &Limits) -> anyhow::Result<()> {
        let _ = (digests, limits);
        Ok(())
    }
}

fn blob_path(root: &Path, digest: &str) -> anyhow::Result<PathBuf> {
    let (alg, hex) = digest
        .split_once(':')
        .with_context(|| format!("invalid digest {digest:?}"))?;
    if !matches!(alg, "sha256" | "sha512")
        || hex.is_empty()
        || !hex.bytes().all(|b| b.is_ascii_hexdigit())
    {
        bail!("invalid digest {digest:?}");
    }
    Ok(root.join("blobs").join(alg).join(hex))
}

struct DirBlobs(PathBuf);

impl Blobs for DirBlobs {
    fn small(&mut self, digest: &str) -> anyhow::Result<Vec<u8>> {
        let p = blob_path(&self.0, digest)?;
        let mut out = Vec::new();
        std::fs::File::open(&p)
            .with_context(|| format!("blob {digest} is missing from the layout"))?
            .take(MAX_JSON)
            .read_to_end(&mut out)?;
        Ok(out)
    }

    fn layer(&mut self, digest: &str, limits: &Limits) -> anyhow::Result<LayerDelta> {
        let p = blob_path(&self.0, digest)?;
        let f = std::fs::File::open(&p)
            .with_context(|| format!("layer {digest} is missing from the layout"))?;
        Ok(read_layer(digest, f, limits)?)
    }

    /// Layers are independent files: read on every core at once.
    fn layers(&mut self, digests: &[String], limits: &Limits) -> anyhow::Result<Vec<LayerDelta>> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get().min(4))
            .min(digests.len());
        if threads <= 1 {
            return digests.iter().map(|d| self.layer(d, limits)).collect();
        }
        let next = AtomicUsize::new(0);
        let root = &self.0;
        let mut out: Vec<(usize, anyhow::Result<LayerDelta>)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    let next = &next;
                    scope.spawn(move || {
                        let mut done = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(d) = digests.get(i) else { break };
                            done.push((i, DirBlobs(root.clone()).layer(d, limits)));
                        }
                        done
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap_or_default())
                .collect()
        });
        anyhow::ensure!(out.len() == digests.len(), "a layer reader panicked");
        out.sort_by_key(|(i, _)| *i);
        out.into_iter().map(|(_, d)| d).collect()
    }
}

/// A tarball read twice: once for the small JSON documents, once for the layers.
struct ArchiveBlobs {
    file: PathBuf,
    small: HashMap<String, Vec<u8>>,
    layers: HashMap<String, LayerDelta>,
}

fn archive_name_to_digest(name: &str) -> Option<String> {
    let name = name.trim_start_matches("./");
    let rest = name.strip_prefix("blobs/")?;
    let (alg, hex) = rest.split_once('/')?;
    Some(format!("{alg}:{hex}"))
}

impl ArchiveBlobs {
    fn open(file: &Path) -> anyhow::Result<ArchiveBlobs> {
        let mut small = HashMap::new();
        let f = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
        let mut archive = tar::Archive::new(f);
        let mut total = 0u64;
        for entry in archive.entries().context("not a tar archive")? {
            let mut entry = entry.context("corrupt archive")?;
            let name = entry
                .path()?
                .to_string_lossy()
                .trim_start_matches("./")
                .to_owned();
            if entry.header().entry_type().is_file()
                && entry.size() <= MAX_JSON
                && (name.ends_with(".json") || name.starts_with("blobs/"))
            {
                total += entry.size();
                if total > 64 * MAX_JSON {
                    bail!("too many small files in {}", file.display());
                }
                let mut buf = Vec::new();
                entry.read_to_end(&mut buf)?;
                small.insert(name, buf);
            }
        }
        Ok(ArchiveBlobs {
            file: file.to_owned(),
            small,
            layers: HashMap::new(),
        })
    }

    fn read_layers(&mut self, wanted: &[String], limits: &Limits) -> anyhow::Result<()> {
        let f = std::fs::File::open(&self.file)?;
        let mut archive = tar::Archive::new(f);
        for entry in archive.entries()? {
            let entry = entry.context("corrupt archive")?;
            let name = entry
                .path()?
                .to_string_lossy()
                .trim_start_matches("./")
                .to_owned();
            let id = archive_name_to_digest(&name).unwrap_or_else(|| name.clone());
            if wanted.contains(&id) && !self.layers.contains_key(&id) {
                let delta = read_layer(&id, entry, limits)?;
                self.layers.insert(id, delta);
            }
        }
        Ok(())
    }
}

impl Blobs for ArchiveBlobs {
    fn small(&mut self, digest: &str) -> anyhow::Result<Vec<u8>> {
        let (alg, hex) = digest.split_once(':').unwrap_or(("", digest));
        self.small
            .get(&format!("blobs/{alg}/{hex}"))
            .or_else(|| self.small.get(digest))
            .cloned()
            .with_context(|| format!("{digest} is missing from the archive"))
    }

    fn prefetch(&mut self, digests: &[String], limits: &Limits) -> anyhow::Result<()> {
        self.read_layers(digests, limits)
    }

    fn layer(&mut self, digest: &str, limits: &Limits) -> anyhow::Result<LayerDelta> {
        if !self.layers.contains_key(digest) {
            self.read_layers(&[digest.to_owned()], limits)?;
        }
        self.layers
            .remove(digest)
            .with_context(|| format!("layer {digest} is missing from the archive"))
    }
}

/// The images of an OCI index: every platform of every (matching) entry.
fn from_index(
    blobs: &mut dyn Blobs,
    index: &[u8],
    tag: Option<&str>,
    limits: &Limits,
) -> anyhow::Result<Vec<Scanned>> {
    let index: Index = serde_json::from_slice(index).context("index.json is not an OCI index")?;
    let todo: Vec<Descriptor> = match tag {
        Some(t) => index
            .manifests
            .into_iter()
            .filter(|d| {
                d.annotations
                    .get("org.opencontainers.image.ref.name")
                    .map(String::as_str)
                    == Some(t)
            })
            .collect(),
        None => index.manifests,
    };
    if todo.is_empty() {
        bail!(
            "no image {} in the layout",
            tag.map(|t| format!("tagged {t:?}")).unwrap_or_default()
        );
    }
    walk(blobs, todo, limits)
}

/// The image (every platform of it, when it is an index) whose manifest has this
/// digest in `blobs`.
pub fn from_manifest(
    blobs: &mut dyn Blobs,
    digest: &str,
    limits: &Limits,
) -> anyhow::Result<Vec<Scanned>> {
    let top = Descriptor {
        media_type: String::new(),
        digest: digest.to_owned(),
        annotations: HashMap::new(),
        platform: None,
    };
    walk(blobs, vec![top], limits)
}

/// Reads the images of `todo`, descending into indexes.
fn walk(
    blobs: &mut dyn Blobs,
    mut todo: Vec<Descriptor>,
    limits: &Limits,
) -> anyhow::Result<Vec<Scanned>> {
    let mut images = Vec::new();
    let mut seen = 0;
    while let Some(desc) = todo.pop() {
        seen += 1;
        if seen > MAX_MANIFESTS {
            bail!("more than {MAX_MANIFESTS} manifests");
        }
        let bytes = blobs.manifest(&desc.digest)?;
        let m: Manifest = serde_json::from_slice(&bytes)
            .with_context(|| format!("manifest {} does not parse", desc.digest))?;
        if INDEX_TYPES.contains(&m.media_type.as_str())
            || INDEX_TYPES.contains(&desc.media_type.as_str())
            || !m.manifests.is_empty()
        {
            // Attestation manifests (unknown/unknown) describe no filesystem.
            todo.extend(
                m.manifests
                    .into_iter()
                    .filter(|d| d.platform.as_ref().is_none_or(|p| p.os != "unknown")),
            );
            continue;
        }
        let config = match &m.config {
            Some(c) => serde_json::from_slice(&blobs.small(&c.digest)?).ok(),
            None => None,
        };
        let digests: Vec<String> = m.layers.iter().map(|l| l.digest.clone()).collect();
        blobs.prefetch(&digests, limits)?;
        let mut fs = Filesystem::default();
        for delta in blobs.layers(&digests, limits)? {
            fs.apply(delta, limits)?;
        }
        images.push(Scanned {
            platform: desc.platform.as_ref().map(Platform::name),
            manifest_digest: Some(desc.digest.clone()),
            config,
            fs,
        });
    }
    images.reverse();
    Ok(images)
}

#[derive(Deserialize)]
struct DockerSaveEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// Reads the image (or every platform of it).
pub fn open(target: &Target, limits: &Limits) -> anyhow::Result<Vec<Scanned>> {
    match target {
        Target::OciDir { dir, tag } => {
            let index = std::fs::read(dir.join("index.json")).with_context(|| {
                format!("{} is not an OCI layout (no index.json)", dir.display())
            })?;
            let mut blobs = DirBlobs(dir.clone());
            from_index(&mut blobs, &index, tag.as_deref(), limits)
        }
        Target::OciArchive(file) => {
            let mut blobs = ArchiveBlobs::open(file)?;
            let index = blobs.small.get("index.json").cloned().with_context(|| {
                format!("{} is not an OCI archive (no index.json)", file.display())
            })?;
            from_index(&mut blobs, &index, None, limits)
        }
        Target::DockerArchive(file) => {
            let mut blobs = ArchiveBlobs::open(file)?;
            let manifest = blobs.small.get("manifest.json").cloned().with_context(|| {
                format!(
                    "{} is not a docker save archive (no manifest.json)",
                    file.display()
                )
            })?;
            let entries: Vec<DockerSaveEntry> =
                serde_json::from_slice(&manifest).context("manifest.json does not parse")?;
            let mut out = Vec::new();
            for e in entries.iter().take(MAX_MANIFESTS) {
                let ids: Vec<String> = e
                    .layers
                    .iter()
                    .map(|l| {
                        archive_name_to_digest(l)
                            .unwrap_or_else(|| l.trim_start_matches("./").to_owned())
                    })
                    .collect();
                blobs.read_layers(&ids, limits)?;
                let config = blobs
                    .small
                    .get(e.config.trim_start_matches("./"))
                    .and_then(|c| serde_json::from_slice(c).ok());
                let mut fs = Filesystem::default();
                for id in &ids {
                    let delta = blobs.layer(id, limits)?;
                    fs.apply(delta, limits)?;
                }
                out.push(Scanned {
                    platform: None,
                    manifest_digest: None,
                    config,
                    fs,
                });
            }
            Ok(out)
        }
        Target::Registry(r) => {
            bail!("docker://{r} needs a registry client: read it with from_manifest")
        }
        Target::Dir(root) => Ok(vec![Scanned {
            platform: None,
            manifest_digest: None,
            config: None,
            fs: from_directory(root, limits)?,
        }]),
    }
}

/// The wanted files of an unpacked root filesystem (symlinks not followed).
fn from_directory(root: &Path, limits: &Limits) -> anyhow::Result<Filesystem> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(root).with_context(|| format!("reading {}", root.display()))?;
    if !meta.is_dir() {
        bail!("{} is not a directory", root.display());
    }
    let mut fs = Filesystem::default();
    // Files whose mode matters (setuid, world-writable) but whose contents do not go
    // into one layer of bare headers; each file to read goes through the layer walk on
    // its own, so one file at a time is in memory.
    let mut modes = tar::Builder::new(Vec::new());
    let mut stack = vec![root.to_owned()];
    let mut seen = 0u64;
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            seen += 1;
            if seen > limits.max_entries {
                bail!(
                    "more than {} files under {}",
                    limits.max_entries,
                    root.display()
                );
            }
            let Ok(t) = entry.file_type() else { continue };
            let p = entry.path();
            if t.is_dir() {
                stack.push(p);
                continue;
            }
            if !t.is_file() {
                continue;
            }
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .into_owned();
            let Ok(meta) = entry.metadata() else { continue };
            let (size, mode) = (meta.len(), meta.permissions().mode());
            if crate::layers::wanted(&rel) {
                if size > limits.max_file_bytes {
                    bail!(
                        "{rel} is {size} bytes, more than the {} allowed",
                        limits.max_file_bytes
                    );
                }
            } else if !crate::layers::inspected(&rel, mode, size, limits) {
                if mode & 0o6002 != 0 {
                    let mut h = tar::Header::new_gnu();
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_mode(mode & 0o7777);
                    h.set_size(0);
                    modes.append_data(&mut h, &rel, std::io::empty())?;
                }
                continue;
            }
            if size <= IN_MEMORY_FILE {
                let mut one = tar::Builder::new(Vec::new());
                one.append_path_with_name(&p, &rel)?;
                fs.apply_layer("dir", &one.into_inner()?[..], limits)?;
            } else {
                // Streamed through a pipe: a large executable is never held whole.
                let (reader, writer) = std::io::pipe()?;
                let feeder = std::thread::spawn(move || -> std::io::Result<()> {
                    let mut one = tar::Builder::new(writer);
                    one.append_path_with_name(&p, &rel)?;
                    one.into_inner().map(drop)
                });
                let walked = fs.apply_layer("dir", reader, limits);
                let fed = feeder
                    .join()
                    .map_err(|_| anyhow::anyhow!("reading a file panicked"))?;
                walked?;
                fed?;
            }
        }
    }
    fs.apply_layer("dir", &modes.into_inner()?[..], limits)?;
    Ok(fs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!(
            Target::parse("oci:/tmp/img:v1").unwrap(),
            Target::OciDir {
                dir: "/tmp/img".into(),
                tag: Some("v1".into())
            }
        );
        assert_eq!(
            Target::parse("oci:img").unwrap(),
            Target::OciDir {
                dir: "img".into(),
                tag: None
            }
        );
        assert_eq!(Target::parse("dir:/").unwrap(), Target::Dir("/".into()));
        assert!(Target::parse("ftp://x").is_err());
    }
}
