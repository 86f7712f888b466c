//! Java archives: the Maven artifacts inside a `.jar`, `.war`, `.ear`, `.jpi` or `.hpi`
//! and inside the archives nested in it (Spring Boot's `BOOT-INF/lib/`, a war's
//! `WEB-INF/lib/`, an ear's modules). An artifact is named by the
//! `META-INF/maven/**/pom.properties` that Maven writes; an archive without one falls
//! back to its `META-INF/MANIFEST.MF` only when that gives a group and a version the
//! file name agrees with, since a guessed name would match the wrong advisories.
//!
//! Archives come from images, so they are treated as hostile: nesting depth, entries
//! per archive, the size of a nested archive, the bytes inflated for one top-level
//! archive and the artifacts reported are all capped. A part beyond a cap is skipped,
//! the rest of the archive still counts. Nothing is written to disk.

use crate::catalog::encode as purl_segment;
use crate::catalog::Package;
use std::io::{Cursor, Read};

/// Archives opened inside the top-level one, counting down: a jar in a jar in a jar
/// in the top-level archive is as deep as it goes.
const MAX_NESTING: u32 = 3;
/// Entries of one archive (a large Spring Boot application has a few thousand).
const MAX_ENTRIES: usize = 100_000;
/// Inflated size of one nested archive.
const MAX_NESTED_BYTES: u64 = 32 << 20;
/// Bytes inflated for one top-level archive and everything nested in it.
const MAX_INFLATED_BYTES: u64 = 128 << 20;
/// Size of one `pom.properties` or `MANIFEST.MF`.
const MAX_METADATA_BYTES: u64 = 256 << 10;
/// Artifacts reported for one top-level archive.
const MAX_ARTIFACTS: usize = 10_000;

/// One Maven artifact found in a Java archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MavenArtifact {
    pub group_id: String,
    pub artifact_id: String,
    pub version: String,
    /// The nested archive it was found in, as `BOOT-INF/lib/a.jar!/lib/b.jar`;
    /// empty for the top-level archive itself.
    pub inside: String,
}

impl MavenArtifact {
    /// Roughly what it occupies in memory, for the scanner's kept-bytes limit.
    pub fn size(&self) -> u64 {
        (self.group_id.len() + self.artifact_id.len() + self.version.len() + self.inside.len())
            as u64
            + 96
    }
}

/// Whether a path names a Java archive, by its extension.
pub fn is_java_archive(path: &str) -> bool {
    let Some((_, ext)) = path.rsplit_once('.') else {
        return false;
    };
    ["jar", "war", "ear", "jpi", "hpi"]
        .iter()
        .any(|e| ext.eq_ignore_ascii_case(e))
}

/// The Maven artifacts of one archive and of the archives nested in it. `path` is
/// where the archive is (its file name is compared with the manifest's version).
pub fn artifacts(archive: &[u8], path: &str) -> Vec<MavenArtifact> {
    let mut walk = Walk {
        inflated: 0,
        found: Vec::new(),
    };
    walk.archive(archive, file_name(path), "", MAX_NESTING);
    walk.found
}

/// Budgets shared by one top-level archive and its nested archives.
struct Walk {
    inflated: u64,
    found: Vec<MavenArtifact>,
}

impl Walk {
    fn archive(&mut self, bytes: &[u8], name: &str, inside: &str, depth_left: u32) {
        let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else {
            return;
        };
        if zip.len() > MAX_ENTRIES {
            return;
        }
        let mut poms = Vec::new();
        let mut manifest = None;
        let mut nested = Vec::new();
        for i in 0..zip.len() {
            let Some(entry) = zip.name_for_index(i) else {
                continue;
            };
            if entry.ends_with('/') {
                continue;
            }
            if entry.starts_with("META-INF/maven/") && entry.ends_with("/pom.properties") {
                poms.push(i);
            } else if entry.eq_ignore_ascii_case("META-INF/MANIFEST.MF") {
                manifest = Some(i);
            } else if is_java_archive(entry) {
                nested.push(i);
            }
        }
        let before = self.found.len();
        for i in poms {
            let Some(text) = self.read(&mut zip, i, MAX_METADATA_BYTES) else {
                continue;
            };
            if let Some(artifact) = from_pom_properties(&String::from_utf8_lossy(&text), inside) {
                self.push(artifact);
            }
        }
        if self.found.len() == before {
            if let Some(i) = manifest {
                if let Some(text) = self.read(&mut zip, i, MAX_METADATA_BYTES) {
                    let text = String::from_utf8_lossy(&text);
                    if let Some(artifact) = from_manifest(&text, name, inside) {
                        self.push(artifact);
                    }
                }
            }
        }
        if depth_left == 0 {
            return;
        }
        for i in nested {
            let Some(entry) = zip.name_for_index(i).map(str::to_owned) else {
                continue;
            };
            let Some(inner) = self.read(&mut zip, i, MAX_NESTED_BYTES) else {
                continue;
            };
            let inside = if inside.is_empty() {
                entry.clone()
            } else {
                format!("{inside}!/{entry}")
            };
            self.archive(&inner, file_name(&entry), &inside, depth_left - 1);
        }
    }

    /// Inflates one entry, or nothing if it is larger than `limit` or the archive's
    /// budget, or unreadable.
    fn read(
        &mut self,
        zip: &mut zip::ZipArchive<Cursor<&[u8]>>,
        index: usize,
        limit: u64,
    ) -> Option<Vec<u8>> {
        let budget = MAX_INFLATED_BYTES.saturating_sub(self.inflated);
        let limit = limit.min(budget);
        let file = zip.by_index(index).ok()?;
        if file.size() > limit {
            return None;
        }
        // The declared size is not trusted: read one byte past the limit to notice.
        let mut out = Vec::with_capacity(file.size() as usize);
        let read = file.take(limit + 1).read_to_end(&mut out);
        self.inflated += out.len() as u64;
        (read.is_ok() && out.len() as u64 <= limit).then_some(out)
    }

    fn push(&mut self, artifact: MavenArtifact) {
        if self.found.len() < MAX_ARTIFACTS && !self.found.contains(&artifact) {
            self.found.push(artifact);
        }
    }
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `groupId`, `artifactId` and `version` of a `pom.properties` (Java properties:
/// `key=value` or `key: value`, `#` and `!` comments).
fn from_pom_properties(text: &str, inside: &str) -> Option<MavenArtifact> {
    let (mut group, mut artifact, mut version) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with(['#', '!']) {
            continue;
        }
        let Some((key, value)) = line.split_once(['=', ':']) else {
            continue;
        };
        let value = value.trim();
        match key.trim() {
            "groupId" => group = Some(value),
            "artifactId" => artifact = Some(value),
            "version" => version = Some(value),
            _ => {}
        }
    }
    artifact_of(group?, artifact?, version?, inside)
}

fn artifact_of(group: &str, artifact: &str, version: &str, inside: &str) -> Option<MavenArtifact> {
    let fine = |s: &str| !s.is_empty() && s.len() <= 256 && !s.contains(char::is_whitespace);
    (fine(group) && fine(artifact) && fine(version)).then(|| MavenArtifact {
        group_id: group.to_owned(),
        artifact_id: artifact.to_owned(),
        version: version.to_owned(),
        inside: inside.to_owned(),
    })
}

/// The main section of a `MANIFEST.MF` as (name, value) pairs; a line starting with
/// one space continues the previous value (manifests wrap at 72 bytes).
fn manifest_attributes(text: &str) -> Vec<(String, String)> {
    let mut attributes: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if let Some(more) = line.strip_prefix(' ') {
            if let Some((_, value)) = attributes.last_mut() {
                value.push_str(more);
            }
        } else if let Some((name, value)) = line.split_once(':') {
            attributes.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    attributes
}

/// An artifact from a manifest, when the file is named `ARTIFACT-VERSION.jar` for the
/// manifest's version, and the group is `Implementation-Vendor-Id` or the
/// `Bundle-SymbolicName` minus a trailing `.ARTIFACT`.
fn from_manifest(text: &str, file_name: &str, inside: &str) -> Option<MavenArtifact> {
    let attributes = manifest_attributes(text);
    let get = |name: &str| {
        attributes
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let version = get("Implementation-Version").or_else(|| get("Bundle-Version"))?;
    let stem = file_name
        .rsplit_once('.')
        .map_or(file_name, |(stem, _)| stem);
    let artifact = stem.strip_suffix(version)?.strip_suffix('-')?;
    let group = match get("Implementation-Vendor-Id") {
        Some(group) => group,
        None => {
            // `Bundle-SymbolicName: com.example.thing;singleton:=true`
            let symbolic = get("Bundle-SymbolicName")?.split(';').next()?.trim();
            symbolic.strip_suffix(artifact)?.strip_suffix('.')?
        }
    };
    artifact_of(group, artifact, version, inside)
}

/// The packages of the artifacts found in the archive at `path`.
pub fn packages(found: &[MavenArtifact], layer: &str, path: &str) -> Vec<Package> {
    found
        .iter()
        .map(|a| {
            let name = format!("{}:{}", a.group_id, a.artifact_id);
            let purl = format!(
                "pkg:maven/{}/{}@{}",
                purl_segment(&a.group_id),
                purl_segment(&a.artifact_id),
                purl_segment(&a.version)
            );
            Package {
                source_name: name.clone(),
                source_version: a.version.clone(),
                name,
                version: a.version.clone(),
                ecosystem: "Maven".into(),
                purl,
                layer: layer.to_owned(),
                path: if a.inside.is_empty() {
                    path.to_owned()
                } else {
                    format!("{path}!/{}", a.inside)
                },
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    /// A zip archive of (name, contents), deflated or stored.
    pub fn zip_of(entries: &[(&str, &[u8])], stored: bool) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let method = if stored {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .large_file(false);
        for (name, data) in entries {
            w.start_file(*name, options).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    pub fn pom(group: &str, artifact: &str, version: &str) -> Vec<u8> {
        format!("#Generated by Maven\n#Tue Dec 14 2021\nversion={version}\ngroupId={group}\nartifactId={artifact}\n")
            .into_bytes()
    }

    /// A jar with the pom.properties of one artifact.
    pub fn jar(group: &str, artifact: &str, version: &str) -> Vec<u8> {
        zip_of(
            &[
                ("META-INF/MANIFEST.MF", b"Manifest-Version: 1.0\r\n\r\n"),
                (
                    &format!("META-INF/maven/{group}/{artifact}/pom.properties"),
                    &pom(group, artifact, version),
                ),
                ("org/example/A.class", &[0xca, 0xfe, 0xba, 0xbe]),
            ],
            false,
        )
    }

    fn gav(found: &[MavenArtifact]) -> Vec<(String, String, String)> {
        found
            .iter()
            .map(|a| {
                (
                    format!("{}:{}", a.group_id, a.artifact_id),
                    a.version.clone(),
                    a.inside.clone(),
                )
            })
            .collect()
    }

    fn owned(items: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
        items
            .iter()
            .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
            .collect()
    }

    #[test]
    fn pom_properties_and_nested_jars() {
        let core = jar("org.apache.logging.log4j", "log4j-core", "2.14.1");
        let deepest = jar("com.example", "deepest", "4.0");
        let level3 = zip_of(&[("lib/deepest.jar", &deepest)], true);
        let level2 = zip_of(&[("lib/level3.jar", &level3)], true);
        let level1 = zip_of(&[("lib/level2.jar", &level2)], false);
        let boot = zip_of(
            &[
                (
                    "META-INF/maven/com.example/app/pom.properties",
                    &pom("com.example", "app", "1.0.0"),
                ),
                ("BOOT-INF/lib/log4j-core-2.14.1.jar", &core),
                ("BOOT-INF/lib/level1.jar", &level1),
                ("BOOT-INF/lib/broken.jar", b"not a zip"),
            ],
            true,
        );
        let found = artifacts(&boot, "app/app.jar");
        // deepest.jar is four archives down: beyond the nesting limit.
        assert_eq!(
            gav(&found),
            owned(&[
                ("com.example:app", "1.0.0", ""),
                (
                    "org.apache.logging.log4j:log4j-core",
                    "2.14.1",
                    "BOOT-INF/lib/log4j-core-2.14.1.jar"
                ),
            ])
        );
        let level2_top = zip_of(&[("lib/level3.jar", &level3)], true);
        let found = artifacts(&zip_of(&[("a.jar", &level2_top)], false), "x.war");
        assert_eq!(
            gav(&found),
            owned(&[(
                "com.example:deepest",
                "4.0",
                "a.jar!/lib/level3.jar!/lib/deepest.jar"
            )])
        );
        let p = packages(&found, "sha256:l", "srv/x.war");
        assert_eq!(p[0].purl, "pkg:maven/com.example/deepest@4.0");
        assert_eq!(
            p[0].path,
            "srv/x.war!/a.jar!/lib/level3.jar!/lib/deepest.jar"
        );
        assert_eq!(p[0].ecosystem, "Maven");
    }

    #[test]
    fn manifest_fallback_only_when_the_group_is_known() {
        let manifest = |body: &str| zip_of(&[("META-INF/MANIFEST.MF", body.as_bytes())], false);
        let vendor = manifest(
            "Manifest-Version: 1.0\r\nImplementation-Vendor-Id: commons-\r\n io\r\nImplementation-Version: 2.6\r\n\r\nName: x\r\nImplementation-Version: 9\r\n",
        );
        assert_eq!(
            gav(&artifacts(&vendor, "lib/commons-io-2.6.jar")),
            owned(&[("commons-io:commons-io", "2.6", "")])
        );
        let bundle = manifest(
            "Bundle-SymbolicName: com.fasterxml.jackson.core.jackson-databind;singleton:=true\nBundle-Version: 2.9.8\n",
        );
        assert_eq!(
            gav(&artifacts(&bundle, "jackson-databind-2.9.8.jar")),
            owned(&[("com.fasterxml.jackson.core:jackson-databind", "2.9.8", "")])
        );
        // File name disagrees with the version, or no group: nothing guessed.
        assert!(artifacts(&bundle, "jackson-databind.jar").is_empty());
        let titled = manifest("Implementation-Title: Thing\nImplementation-Version: 1.0\n");
        assert!(artifacts(&titled, "thing-1.0.jar").is_empty());
    }

    #[test]
    fn zip_bombs_and_oversized_nested_archives_are_skipped() {
        // A nested "jar" that inflates past the nested-archive limit.
        let zeros = vec![0u8; (MAX_NESTED_BYTES + 1) as usize];
        let outer = zip_of(
            &[
                ("lib/bomb.jar", &zeros),
                ("lib/ok.jar", &jar("com.example", "ok", "1.0")),
            ],
            false,
        );
        assert!(outer.len() < 1 << 20, "{} bytes", outer.len());
        assert_eq!(
            gav(&artifacts(&outer, "a.jar")),
            owned(&[("com.example:ok", "1.0", "lib/ok.jar")])
        );
        // Nested archives that together inflate past the per-archive budget: once
        // it is spent, only archives that fit in what is left are read.
        let filler = zip_of(&[("big.bin", &vec![0u8; 30 << 20])], true);
        let mut entries: Vec<(String, Vec<u8>)> =
            vec![("lib/0-first.jar".into(), jar("com.example", "first", "1.0"))];
        for i in 1..=6 {
            entries.push((format!("lib/{i}-filler.jar"), filler.clone()));
        }
        entries.push(("lib/9-last.jar".into(), jar("com.example", "last", "1.0")));
        let refs: Vec<(&str, &[u8])> = entries
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        let outer = zip_of(&refs, false);
        assert!(outer.len() < 4 << 20, "{} bytes", outer.len());
        let mut walk = Walk {
            inflated: 0,
            found: Vec::new(),
        };
        walk.archive(&outer, "a.jar", "", MAX_NESTING);
        assert!(walk.inflated <= MAX_INFLATED_BYTES, "{}", walk.inflated);
        assert!(walk.inflated >= 4 * (30 << 20), "{}", walk.inflated);
        assert_eq!(
            gav(&walk.found),
            owned(&[
                ("com.example:first", "1.0", "lib/0-first.jar"),
                ("com.example:last", "1.0", "lib/9-last.jar"),
            ])
        );
    }

    #[test]
    fn java_archive_names() {
        assert!(is_java_archive("opt/app/app.JAR"));
        assert!(is_java_archive("x.war") && is_java_archive("plugins/git.hpi"));
        assert!(!is_java_archive("jar") && !is_java_archive("a.jar.sha1"));
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let _ = artifacts(&data, "x.jar");
            let mut zipish = b"PK\x03\x04".to_vec();
            zipish.extend_from_slice(&data);
            let _ = artifacts(&zipish, "x.jar");
        }

        #[test]
        fn never_panics_on_arbitrary_metadata(pom in ".{0,300}", manifest in ".{0,300}") {
            let archive = zip_of(&[
                ("META-INF/maven/g/a/pom.properties", pom.as_bytes()),
                ("META-INF/MANIFEST.MF", manifest.as_bytes()),
            ], false);
            let _ = artifacts(&archive, "a-1.0.jar");
            let _ = from_manifest(&manifest, "a-1.0.jar", "");
        }
    }
}
