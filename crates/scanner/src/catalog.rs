//! Catalogers: from the few files that describe what is installed (os-release, the
//! dpkg and apk databases, Python and npm package metadata, `Cargo.lock`, installed
//! Ruby gemspecs, Composer's `installed.json`) to packages with their ecosystem,
//! purl and — for distribution packages — the source package that advisories are
//! written against. The RPM database has its own module, [`crate::rpm`].

use serde::{Deserialize, Serialize};

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Package {
    pub name: String,
    pub version: String,
    /// As OSV names it: `Debian:12`, `Alpine:v3.19`, `PyPI`, `npm`, `crates.io`, `Go`.
    pub ecosystem: String,
    pub purl: String,
    /// The distribution source package (dpkg `Source:`, apk origin); the name itself
    /// when there is none.
    pub source_name: String,
    pub source_version: String,
    /// Digest of the layer the package's metadata came from.
    pub layer: String,
    /// Where in the image the metadata was found.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
}

/// The operating system an image says it is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OsRelease {
    pub id: String,
    pub version_id: String,
    pub pretty_name: String,
}

impl OsRelease {
    pub fn parse(text: &str) -> OsRelease {
        let mut os = OsRelease::default();
        for line in text.lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            let v = v.trim().trim_matches(|c| c == '"' || c == '\'').to_owned();
            match k.trim() {
                "ID" => os.id = v.to_ascii_lowercase(),
                "VERSION_ID" => os.version_id = v,
                "PRETTY_NAME" => os.pretty_name = v,
                _ => {}
            }
        }
        os
    }

    /// The OSV ecosystem of the distribution's packages, e.g. `Debian:12`,
    /// `Ubuntu:22.04`, `Alpine:v3.19`.
    pub fn ecosystem(&self) -> Option<String> {
        match self.id.as_str() {
            "debian" => {
                let major = self.version_id.split('.').next().unwrap_or("");
                (!major.is_empty()).then(|| format!("Debian:{major}"))
            }
            "ubuntu" => {
                (!self.version_id.is_empty()).then(|| format!("Ubuntu:{}", self.version_id))
            }
            "alpine" => {
                let mut parts = self.version_id.split('.');
                match (parts.next(), parts.next()) {
                    (Some(a), Some(b)) => Some(format!("Alpine:v{a}.{b}")),
                    _ => None,
                }
            }
            // RPM distributions whose OSV ecosystem os-release names exactly. Left
            // out on purpose: RHEL (OSV files it per CPE product stream,
            // `Red Hat:enterprise_linux:9::appstream`, which an image does not
            // tell), SLES (per SUSE product and module), Fedora and CentOS (no OSV
            // ecosystem).
            "rocky" | "almalinux" => {
                let major = self.version_id.split('.').next().unwrap_or("");
                let name = if self.id == "rocky" {
                    "Rocky Linux"
                } else {
                    "AlmaLinux"
                };
                (!major.is_empty()).then(|| format!("{name}:{major}"))
            }
            "opensuse-leap" => {
                (!self.version_id.is_empty()).then(|| format!("openSUSE:Leap {}", self.version_id))
            }
            "opensuse-tumbleweed" => Some("openSUSE:Tumbleweed".into()),
            _ => None,
        }
    }

    fn purl_namespace(&self) -> &str {
        match self.id.as_str() {
            "" => "unknown",
            id => id,
        }
    }
}

/// Splits RFC 822-style stanzas (dpkg status, PKG-INFO) into field lists.
/// Continuation lines (starting with space or tab) belong to the previous field.
fn stanzas(text: &str) -> Vec<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut cur: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            cur.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn field<'a>(stanza: &'a [(String, String)], name: &str) -> Option<&'a str> {
    stanza
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Percent-encodes a purl segment (everything but unreserved characters).
pub(crate) fn encode(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '_' | '~' => c.to_string(),
            c => {
                let mut buf = [0u8; 4];
                c.encode_utf8(&mut buf)
                    .bytes()
                    .map(|b| format!("%{b:02X}"))
                    .collect()
            }
        })
        .collect()
}

/// Packages of a dpkg `status` file (or a distroless `status.d/` entry). Only
/// installed packages count; `Source: name (version)` gives the source version.
pub fn dpkg(text: &str, os: &OsRelease, layer: &str, path: &str) -> Vec<Package> {
    let eco = os.ecosystem().unwrap_or_else(|| "Debian".into());
    let mut out = Vec::new();
    for s in stanzas(text) {
        let (Some(name), Some(version)) = (field(&s, "Package"), field(&s, "Version")) else {
            continue;
        };
        if name.is_empty() || version.is_empty() {
            continue; // found by the dpkg fuzz target: `Package:` with no value
        }
        if let Some(status) = field(&s, "Status") {
            if status.split_whitespace().last() != Some("installed") {
                continue;
            }
        }
        let (source_name, source_version) = match field(&s, "Source") {
            Some(src) => match src.split_once('(') {
                Some((n, v)) => (
                    n.trim().to_owned(),
                    v.trim_end_matches(')').trim().to_owned(),
                ),
                None => (src.trim().to_owned(), version.to_owned()),
            },
            None => (name.to_owned(), version.to_owned()),
        };
        let arch = field(&s, "Architecture").unwrap_or("");
        let mut purl = format!(
            "pkg:deb/{}/{}@{}",
            os.purl_namespace(),
            encode(name),
            encode(version)
        );
        let mut qualifiers = Vec::new();
        if !arch.is_empty() {
            qualifiers.push(format!("arch={}", encode(arch)));
        }
        if source_name != name {
            qualifiers.push(format!("upstream={}", encode(&source_name)));
        }
        if !qualifiers.is_empty() {
            purl.push('?');
            purl.push_str(&qualifiers.join("&"));
        }
        out.push(Package {
            name: name.to_owned(),
            version: version.to_owned(),
            ecosystem: eco.clone(),
            purl,
            source_name,
            source_version,
            layer: layer.to_owned(),
            path: path.to_owned(),
        });
    }
    out
}

/// Packages of Alpine's `lib/apk/db/installed` (`P:` name, `V:` version, `o:` origin).
pub fn apk(text: &str, os: &OsRelease, layer: &str, path: &str) -> Vec<Package> {
    let eco = os.ecosystem().unwrap_or_else(|| "Alpine".into());
    let mut out = Vec::new();
    let mut flush = |name: &mut Option<String>,
                     version: &mut Option<String>,
                     origin: &mut Option<String>,
                     arch: &mut Option<String>| {
        if let (Some(n), Some(v)) = (name.take(), version.take()) {
            if n.is_empty() || v.is_empty() {
                *origin = None;
                *arch = None;
                return;
            }
            let src = origin.take().unwrap_or_else(|| n.clone());
            let mut purl = format!("pkg:apk/alpine/{}@{}", encode(&n), encode(&v));
            if let Some(a) = arch.take() {
                purl.push_str(&format!("?arch={}", encode(&a)));
            }
            out.push(Package {
                name: n,
                version: v.clone(),
                ecosystem: eco.clone(),
                purl,
                source_name: src,
                source_version: v,
                layer: layer.to_owned(),
                path: path.to_owned(),
            });
        }
        *origin = None;
        *arch = None;
    };
    let (mut name, mut version, mut origin, mut arch) = (None, None, None, None);
    for line in text.lines() {
        if line.trim().is_empty() {
            flush(&mut name, &mut version, &mut origin, &mut arch);
            continue;
        }
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        match k {
            "P" => name = Some(v.to_owned()),
            "V" => version = Some(v.to_owned()),
            "o" => origin = Some(v.to_owned()),
            "A" => arch = Some(v.to_owned()),
            _ => {}
        }
    }
    flush(&mut name, &mut version, &mut origin, &mut arch);
    out
}

/// PEP 503 normalisation: lowercase, runs of `-`, `_`, `.` become one `-`.
pub fn normalize_pypi(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if c == '-' || c == '_' || c == '.' {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// A Python distribution from `*.dist-info/METADATA` or `*.egg-info/PKG-INFO`.
pub fn python(text: &str, layer: &str, path: &str) -> Option<Package> {
    let head = text.split("\n\n").next().unwrap_or("");
    let s = stanzas(head).into_iter().next()?;
    let name = normalize_pypi(field(&s, "Name")?);
    let version = field(&s, "Version")?.to_owned();
    if name.is_empty() || version.is_empty() {
        return None;
    }
    Some(Package {
        purl: format!("pkg:pypi/{}@{}", encode(&name), encode(&version)),
        source_name: name.clone(),
        source_version: version.clone(),
        name,
        version,
        ecosystem: "PyPI".into(),
        layer: layer.to_owned(),
        path: path.to_owned(),
    })
}

/// An npm package from `node_modules/**/package.json`.
pub fn npm(json: &[u8], layer: &str, path: &str) -> Option<Package> {
    #[derive(Deserialize)]
    struct Manifest {
        name: Option<String>,
        version: Option<String>,
    }
    let m: Manifest = serde_json::from_slice(json).ok()?;
    let (name, version) = (m.name?, m.version?);
    if name.is_empty() || version.is_empty() || name.len() > 214 {
        return None;
    }
    let purl_name = match name.split_once('/') {
        Some((scope, n)) if scope.starts_with('@') => format!("{}/{}", encode(scope), encode(n)),
        _ => encode(&name),
    };
    Some(Package {
        purl: format!("pkg:npm/{purl_name}@{}", encode(&version)),
        source_name: name.clone(),
        source_version: version.clone(),
        name,
        version,
        ecosystem: "npm".into(),
        layer: layer.to_owned(),
        path: path.to_owned(),
    })
}

/// Crates of a `Cargo.lock` (registry packages only: path and git dependencies have
/// no advisories).
pub fn cargo_lock(text: &str, layer: &str, path: &str) -> Vec<Package> {
    #[derive(Deserialize)]
    struct Lock {
        #[serde(default)]
        package: Vec<Entry>,
    }
    #[derive(Deserialize)]
    struct Entry {
        name: String,
        version: String,
        source: Option<String>,
    }
    let Ok(lock) = toml::from_str::<Lock>(text) else {
        return Vec::new();
    };
    lock.package
        .into_iter()
        .filter(|p| {
            p.source
                .as_deref()
                .is_some_and(|s| s.starts_with("registry+"))
        })
        .map(|p| Package {
            purl: format!("pkg:cargo/{}@{}", encode(&p.name), encode(&p.version)),
            source_name: p.name.clone(),
            source_version: p.version.clone(),
            name: p.name,
            version: p.version,
            ecosystem: "crates.io".into(),
            layer: layer.to_owned(),
            path: path.to_owned(),
        })
        .collect()
}

/// Longest gem or Composer package name and version taken from metadata.
const MAX_NAME: usize = 214;
const MAX_VERSION: usize = 128;

/// A gem from an installed gemspec (`**/specifications/*.gemspec`): the
/// `<var>.name = "rake".freeze` and `<var>.version = "13.0.6"` assignments that
/// RubyGems writes when it installs a gem. The file is Ruby, and is only read:
/// string literals (`"…"`, `'…'`, `%q{…}`) with an optional `.freeze`, nothing
/// evaluated.
pub fn gemspec(text: &str, layer: &str, path: &str) -> Option<Package> {
    // `Gem::Specification.new do |s|` names the block variable; without it, any
    // `<identifier>.name =` counts.
    let var = text.lines().find_map(|line| {
        let rest = line.split_once("Gem::Specification.new")?.1;
        let inner = rest.split_once('|')?.1.split_once('|')?.0.trim();
        (!inner.is_empty() && inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .then_some(inner)
    });
    let (mut name, mut version) = (None, None);
    for line in text.lines() {
        let line = line.trim();
        let Some((lhs, rhs)) = line.split_once('=') else {
            continue;
        };
        let Some((recv, attr)) = lhs.trim().split_once('.') else {
            continue;
        };
        let recv_ok = match var {
            Some(v) => recv == v,
            None => recv.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        };
        // `==` and `=~` are comparisons, not assignments.
        if !recv_ok || rhs.starts_with(['=', '~']) {
            continue;
        }
        let slot = match attr.trim() {
            "name" => &mut name,
            "version" => &mut version,
            _ => continue,
        };
        if slot.is_none() {
            *slot = ruby_string(rhs.trim());
        }
        if name.is_some() && version.is_some() {
            break;
        }
    }
    let (name, version) = (name?, version?);
    let name_ok = name.len() <= MAX_NAME
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let version_ok = version.len() <= MAX_VERSION
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+'));
    if !name_ok || !version_ok {
        return None;
    }
    Some(Package {
        purl: format!("pkg:gem/{}@{}", encode(&name), encode(&version)),
        source_name: name.clone(),
        source_version: version.clone(),
        name,
        version,
        ecosystem: "RubyGems".into(),
        layer: layer.to_owned(),
        path: path.to_owned(),
    })
}

/// The value of a Ruby string literal at the start of `s`, optionally wrapped in
/// `Gem::Version.new(…)`. No escapes or interpolation: names and versions have none.
fn ruby_string(s: &str) -> Option<String> {
    let s = s
        .strip_prefix("Gem::Version.new(")
        .map(str::trim_start)
        .unwrap_or(s);
    let (body, close) = if let Some(rest) = s.strip_prefix('"') {
        (rest, '"')
    } else if let Some(rest) = s.strip_prefix('\'') {
        (rest, '\'')
    } else if let Some(rest) = s.strip_prefix("%q").or_else(|| s.strip_prefix("%Q")) {
        let mut chars = rest.chars();
        let close = match chars.next()? {
            '{' => '}',
            '(' => ')',
            '[' => ']',
            '<' => '>',
            c if c.is_ascii_punctuation() => c,
            _ => return None,
        };
        (chars.as_str(), close)
    } else {
        return None;
    };
    let end = body.find(close)?;
    let value = body[..end].trim();
    (!value.is_empty() && !value.contains(['\\', '#'])).then(|| value.to_owned())
}

/// Most packages read from one Composer `installed.json`.
const MAX_COMPOSER_PACKAGES: usize = 100_000;

/// PHP packages from Composer's `vendor/composer/installed.json`: a list of
/// packages (Composer 1) or `{"packages": [...]}` (Composer 2). Versions as
/// Packagist advisories write them: the `version` field without a leading `v`
/// (`version_normalized` pads to four parts, which advisories do not).
pub fn composer_installed(json: &[u8], layer: &str, path: &str) -> Vec<Package> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Installed {
        V2 { packages: Vec<Entry> },
        V1(Vec<Entry>),
    }
    #[derive(Deserialize)]
    struct Entry {
        name: Option<String>,
        version: Option<String>,
    }
    let entries = match serde_json::from_slice::<Installed>(json) {
        Ok(Installed::V2 { packages }) => packages,
        Ok(Installed::V1(list)) => list,
        Err(_) => return Vec::new(),
    };
    entries
        .into_iter()
        .take(MAX_COMPOSER_PACKAGES)
        .filter_map(|e| {
            let name = e.name?.trim().to_ascii_lowercase();
            let raw = e.version?;
            let raw = raw.trim();
            let version = match raw.strip_prefix(['v', 'V']) {
                Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
                _ => raw,
            };
            let (vendor, project) = name.split_once('/')?;
            if vendor.is_empty()
                || project.is_empty()
                || project.contains('/')
                || name.len() > MAX_NAME
                || version.is_empty()
                || version.len() > MAX_VERSION
            {
                return None;
            }
            Some(Package {
                purl: format!(
                    "pkg:composer/{}/{}@{}",
                    encode(vendor),
                    encode(project),
                    encode(version)
                ),
                source_name: name.clone(),
                source_version: version.to_owned(),
                version: version.to_owned(),
                name,
                ecosystem: "Packagist".into(),
                layer: layer.to_owned(),
                path: path.to_owned(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn debian12() -> OsRelease {
        OsRelease::parse(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
        )
    }

    #[test]
    fn os_release_ecosystems() {
        assert_eq!(debian12().ecosystem().as_deref(), Some("Debian:12"));
        let alpine = OsRelease::parse("ID=alpine\nVERSION_ID=3.19.1\n");
        assert_eq!(alpine.ecosystem().as_deref(), Some("Alpine:v3.19"));
        let ubuntu = OsRelease::parse("ID=ubuntu\nVERSION_ID=\"22.04\"\n");
        assert_eq!(ubuntu.ecosystem().as_deref(), Some("Ubuntu:22.04"));
        assert_eq!(OsRelease::parse("ID=fedora\n").ecosystem(), None);
        let rpm = |text: &str| OsRelease::parse(text).ecosystem();
        assert_eq!(
            rpm("ID=\"rocky\"\nVERSION_ID=\"9.3\"\n").as_deref(),
            Some("Rocky Linux:9")
        );
        assert_eq!(
            rpm("ID=\"almalinux\"\nVERSION_ID=\"8.9\"\n").as_deref(),
            Some("AlmaLinux:8")
        );
        assert_eq!(
            rpm("ID=\"opensuse-leap\"\nVERSION_ID=\"15.5\"\n").as_deref(),
            Some("openSUSE:Leap 15.5")
        );
        assert_eq!(
            rpm("ID=\"opensuse-tumbleweed\"\nVERSION_ID=\"20240101\"\n").as_deref(),
            Some("openSUSE:Tumbleweed")
        );
        assert_eq!(rpm("ID=\"rhel\"\nVERSION_ID=\"9.3\"\n"), None);
    }

    #[test]
    fn dpkg_status_sources_and_deinstalled() {
        let status = "Package: libssl3\nStatus: install ok installed\nArchitecture: amd64\nSource: openssl\nVersion: 3.0.11-1~deb12u2\nDescription: x\n continuation: not a field\n\n\
Package: bsdutils\nStatus: install ok installed\nSource: util-linux (2.38.1-5)\nVersion: 1:2.38.1-5+b1\n\n\
Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\n\
Package: tzdata\nStatus: install ok installed\nVersion: 2024a-0+deb12u1\n";
        let p = dpkg(status, &debian12(), "sha256:l1", "var/lib/dpkg/status");
        assert_eq!(p.len(), 3);
        assert_eq!(
            (p[0].source_name.as_str(), p[0].source_version.as_str()),
            ("openssl", "3.0.11-1~deb12u2")
        );
        assert_eq!(
            p[0].purl,
            "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&upstream=openssl"
        );
        assert_eq!(
            (p[1].source_name.as_str(), p[1].source_version.as_str()),
            ("util-linux", "2.38.1-5")
        );
        assert_eq!(p[1].version, "1:2.38.1-5+b1");
        assert_eq!(p[2].source_name, "tzdata");
        assert_eq!(p[2].ecosystem, "Debian:12");
        // Regression (dpkg fuzz target): a field with no value names no package.
        let empty =
            "Package:\nStatus: install ok installed\nVersion: 1.0\n\nPackage: x\nVersion:\n";
        assert!(dpkg(empty, &debian12(), "l", "p").is_empty());
    }

    #[test]
    fn apk_installed() {
        let db = "C:Q1abc=\nP:libcrypto3\nV:3.1.4-r5\nA:x86_64\no:openssl\n\nP:musl\nV:1.2.4_git20230717-r4\n";
        let os = OsRelease::parse("ID=alpine\nVERSION_ID=3.19.1\n");
        let p = apk(db, &os, "sha256:l", "lib/apk/db/installed");
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].source_name, "openssl");
        assert_eq!(p[0].purl, "pkg:apk/alpine/libcrypto3@3.1.4-r5?arch=x86_64");
        assert_eq!(p[1].source_name, "musl");
        assert_eq!(p[1].ecosystem, "Alpine:v3.19");
        assert!(apk("P:\nV:1.0\n\nP:x\nV:\n", &os, "l", "p").is_empty());
    }

    #[test]
    fn python_npm_cargo() {
        let meta = "Metadata-Version: 2.1\nName: Jinja2\nVersion: 2.10\nSummary: x\n\nBody: not a header\n";
        let p = python(meta, "l", "x/METADATA").unwrap();
        assert_eq!((p.name.as_str(), p.version.as_str()), ("jinja2", "2.10"));
        assert_eq!(normalize_pypi("Foo__Bar.baz"), "foo-bar-baz");
        let n = npm(br#"{"name":"@babel/core","version":"7.0.0"}"#, "l", "p").unwrap();
        assert_eq!(n.purl, "pkg:npm/%40babel/core@7.0.0");
        assert!(npm(b"{not json", "l", "p").is_none());
        let lock = "version = 3\n[[package]]\nname = \"smallvec\"\nversion = \"1.6.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n\n[[package]]\nname = \"mine\"\nversion = \"0.1.0\"\n";
        let c = cargo_lock(lock, "l", "Cargo.lock");
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].purl, "pkg:cargo/smallvec@1.6.0");
    }

    #[test]
    fn installed_gemspecs() {
        let spec = "# -*- encoding: utf-8 -*-\n# stub: rake 13.0.6 ruby lib\n\nGem::Specification.new do |s|\n  s.name = \"rake\".freeze\n  s.version = \"13.0.6\"\n\n  s.required_rubygems_version = Gem::Requirement.new(\">= 1.3.2\".freeze) if s.respond_to? :required_rubygems_version=\n  s.authors = [\"Hiroshi SHIBATA\".freeze]\nend\n";
        let p = gemspec(
            spec,
            "l",
            "usr/local/bundle/specifications/rake-13.0.6.gemspec",
        )
        .unwrap();
        assert_eq!((p.name.as_str(), p.version.as_str()), ("rake", "13.0.6"));
        assert_eq!(
            (p.ecosystem.as_str(), p.purl.as_str()),
            ("RubyGems", "pkg:gem/rake@13.0.6")
        );
        // Other block variables, quoting styles and a wrapped version.
        let spec = "Gem::Specification.new do |spec|\n  other.name = 'wrong'\n  spec.name    = %q{nokogiri}\n  spec.version = Gem::Version.new('1.13.10')\nend\n";
        let p = gemspec(spec, "l", "p").unwrap();
        assert_eq!(
            (p.name.as_str(), p.version.as_str()),
            ("nokogiri", "1.13.10")
        );
        // Comparisons, interpolation and missing fields give nothing.
        assert!(gemspec("s.name == \"x\"\ns.version = \"1\"\n", "l", "p").is_none());
        assert!(gemspec("s.name = \"#{evil}\"\ns.version = \"1\"\n", "l", "p").is_none());
        assert!(gemspec("s.name = \"x\"\n", "l", "p").is_none());
        assert!(gemspec("s.name = \"x y\"\ns.version = \"1\"\n", "l", "p").is_none());
    }

    #[test]
    fn composer_installed_v1_and_v2() {
        let v2 = br#"{"packages":[{"name":"Monolog/Monolog","version":"v2.9.1","version_normalized":"2.9.1.0"},{"name":"guzzlehttp/psr7","version":"1.8.2"},{"name":"nonamespace","version":"1.0"},{"version":"1.0"}],"dev":true}"#;
        let p = composer_installed(v2, "l", "app/vendor/composer/installed.json");
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].name.as_str(), p[0].version.as_str()),
            ("monolog/monolog", "2.9.1")
        );
        assert_eq!(p[0].purl, "pkg:composer/monolog/monolog@2.9.1");
        assert_eq!(p[1].ecosystem, "Packagist");
        let v1 = br#"[{"name":"symfony/http-kernel","version":"v4.4.13"},{"name":"x/y","version":"dev-main"}]"#;
        let p = composer_installed(v1, "l", "p");
        assert_eq!(p[0].version, "4.4.13");
        assert_eq!(p[1].version, "dev-main");
        assert!(composer_installed(b"{\"packages\": 3}", "l", "p").is_empty());
        assert!(composer_installed(b"[[[[", "l", "p").is_empty());
    }
}
