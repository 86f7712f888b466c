//! Manifest parsing and validation for OCI image manifests and indexes and Docker
//! schema2 manifests and manifest lists.
//!
//! Parsing reads the raw bytes a client pushed and extracts what the registry needs
//! (the kind, referenced blobs and child manifests, `subject`, `artifactType`); the raw
//! bytes themselves are stored and served unchanged, never re-serialized.

use crate::digest::Digest;
use crate::media_type::{self, essence};
use serde::Deserialize;
use std::collections::BTreeMap;

/// Largest manifest accepted, as Distribution and most registries do.
pub const MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;
/// Most descriptors one manifest may list (layers, or children of an index).
pub const MAX_DESCRIPTORS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest exceeds {MAX_MANIFEST_BYTES} bytes")]
    TooLarge,
    #[error("manifest is not valid JSON: {0}")]
    Json(String),
    #[error("unsupported manifest media type {0:?}")]
    UnsupportedMediaType(String),
    #[error("Content-Type {header:?} does not match the manifest's mediaType {body:?}")]
    MediaTypeMismatch { header: String, body: String },
    #[error("invalid manifest: {0}")]
    Invalid(String),
}

/// Which of the four supported manifest formats a manifest is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ManifestKind {
    OciManifest,
    OciIndex,
    DockerManifest,
    DockerManifestList,
}

impl ManifestKind {
    pub fn from_media_type(mt: &str) -> Option<Self> {
        match mt {
            media_type::OCI_MANIFEST => Some(ManifestKind::OciManifest),
            media_type::OCI_INDEX => Some(ManifestKind::OciIndex),
            media_type::DOCKER_MANIFEST => Some(ManifestKind::DockerManifest),
            media_type::DOCKER_MANIFEST_LIST => Some(ManifestKind::DockerManifestList),
            _ => None,
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            ManifestKind::OciManifest => media_type::OCI_MANIFEST,
            ManifestKind::OciIndex => media_type::OCI_INDEX,
            ManifestKind::DockerManifest => media_type::DOCKER_MANIFEST,
            ManifestKind::DockerManifestList => media_type::DOCKER_MANIFEST_LIST,
        }
    }

    /// Indexes and manifest lists point at other manifests; the others at blobs.
    pub fn is_index(self) -> bool {
        matches!(
            self,
            ManifestKind::OciIndex | ManifestKind::DockerManifestList
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
}

/// A content descriptor as it appears inside a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(default)]
    pub urls: Option<Vec<String>>,
    #[serde(default)]
    pub platform: Option<Platform>,
    #[serde(default)]
    pub artifact_type: Option<String>,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Descriptor {
    /// Foreign (non-distributable) layers live elsewhere, named by `urls`; the registry
    /// does not require them to be present.
    pub fn is_foreign(&self) -> bool {
        self.urls.as_ref().is_some_and(|u| !u.is_empty())
            && (self.media_type.contains("foreign") || self.media_type.contains("nondistributable"))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    schema_version: Option<i64>,
    media_type: Option<String>,
    artifact_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<Descriptor>>,
    subject: Option<Descriptor>,
    annotations: Option<BTreeMap<String, String>>,
}

/// What the registry knows about a manifest after parsing its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub kind: ManifestKind,
    pub config: Option<Descriptor>,
    pub layers: Vec<Descriptor>,
    pub manifests: Vec<Descriptor>,
    pub subject: Option<Descriptor>,
    /// `artifactType`, or for image manifests without one the config media type,
    /// as the referrers API reports it.
    pub artifact_type: Option<String>,
    pub annotations: Option<BTreeMap<String, String>>,
}

impl Manifest {
    /// Parses manifest bytes pushed with the given `Content-Type` (may be absent).
    pub fn parse(bytes: &[u8], content_type: Option<&str>) -> Result<Self, ManifestError> {
        if bytes.len() > MAX_MANIFEST_BYTES {
            return Err(ManifestError::TooLarge);
        }
        let raw: RawManifest =
            serde_json::from_slice(bytes).map_err(|e| ManifestError::Json(e.to_string()))?;
        if raw.schema_version != Some(2) {
            return Err(ManifestError::Invalid(
                "schemaVersion must be 2 (schema1 manifests are not supported)".into(),
            ));
        }
        let header = content_type.map(essence).filter(|h| {
            // Generic types say nothing about the format: fall back to the body.
            !h.is_empty() && *h != "application/json" && *h != "application/octet-stream"
        });
        let kind = match (&raw.media_type, header) {
            (Some(body), Some(h)) if body != h => {
                return Err(ManifestError::MediaTypeMismatch {
                    header: h.to_owned(),
                    body: body.clone(),
                })
            }
            (Some(mt), _) => ManifestKind::from_media_type(mt)
                .ok_or_else(|| ManifestError::UnsupportedMediaType(mt.clone()))?,
            (None, Some(h)) => ManifestKind::from_media_type(h)
                .ok_or_else(|| ManifestError::UnsupportedMediaType(h.to_owned()))?,
            (None, None) if raw.manifests.is_some() => ManifestKind::OciIndex,
            (None, None) if raw.config.is_some() => ManifestKind::OciManifest,
            (None, None) => {
                return Err(ManifestError::Invalid(
                    "no mediaType and no Content-Type given".into(),
                ))
            }
        };
        if kind.is_index() {
            if raw.config.is_some() || raw.layers.is_some() {
                return Err(ManifestError::Invalid(
                    "an index must not have config or layers".into(),
                ));
            }
        } else if raw.manifests.is_some() {
            return Err(ManifestError::Invalid(
                "an image manifest must not have manifests".into(),
            ));
        }
        let manifests = if kind.is_index() {
            raw.manifests
                .ok_or_else(|| ManifestError::Invalid("an index needs a manifests array".into()))?
        } else {
            Vec::new()
        };
        let (config, layers) = if kind.is_index() {
            (None, Vec::new())
        } else {
            let config = raw
                .config
                .ok_or_else(|| ManifestError::Invalid("an image manifest needs a config".into()))?;
            let layers = raw
                .layers
                .ok_or_else(|| ManifestError::Invalid("an image manifest needs layers".into()))?;
            (Some(config), layers)
        };
        if layers.len() > MAX_DESCRIPTORS || manifests.len() > MAX_DESCRIPTORS {
            return Err(ManifestError::Invalid(format!(
                "more than {MAX_DESCRIPTORS} descriptors"
            )));
        }
        for child in &manifests {
            if ManifestKind::from_media_type(&child.media_type).is_none() {
                return Err(ManifestError::Invalid(format!(
                    "index entry {} has unsupported media type {:?}",
                    child.digest, child.media_type
                )));
            }
        }
        let artifact_type = raw.artifact_type.or_else(|| match (&config, kind) {
            (Some(c), ManifestKind::OciManifest) => Some(c.media_type.clone()),
            _ => None,
        });
        Ok(Manifest {
            kind,
            config,
            layers,
            manifests,
            subject: raw.subject,
            artifact_type,
            annotations: raw.annotations,
        })
    }

    /// Blobs this manifest needs present in its repository: config and layers
    /// (foreign layers excepted).
    pub fn required_blobs(&self) -> impl Iterator<Item = &Descriptor> {
        self.config
            .iter()
            .chain(self.layers.iter().filter(|l| !l.is_foreign()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(n: u8) -> String {
        Digest::sha256_of(&[n]).to_string()
    }

    fn image(extra: &str) -> String {
        format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":3}}]{extra}}}"#,
            media_type::OCI_MANIFEST,
            d(1),
            d(2)
        )
    }

    #[test]
    fn parses_image_manifest() {
        let m = Manifest::parse(image("").as_bytes(), Some(media_type::OCI_MANIFEST)).unwrap();
        assert_eq!(m.kind, ManifestKind::OciManifest);
        assert_eq!(m.required_blobs().count(), 2);
        assert_eq!(
            m.artifact_type.as_deref(),
            Some("application/vnd.oci.image.config.v1+json")
        );
    }

    #[test]
    fn parses_subject_and_artifact_type() {
        let extra = format!(
            r#","artifactType":"application/x.sig","subject":{{"mediaType":"{}","digest":"{}","size":9}}"#,
            media_type::OCI_MANIFEST,
            d(3)
        );
        let m = Manifest::parse(image(&extra).as_bytes(), None).unwrap();
        assert_eq!(m.artifact_type.as_deref(), Some("application/x.sig"));
        assert_eq!(m.subject.unwrap().digest.to_string(), d(3));
    }

    #[test]
    fn parses_index() {
        let body = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{{"mediaType":"{}","digest":"{}","size":5,"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#,
            media_type::OCI_INDEX,
            media_type::OCI_MANIFEST,
            d(4)
        );
        let m = Manifest::parse(body.as_bytes(), Some(media_type::OCI_INDEX)).unwrap();
        assert!(m.kind.is_index());
        assert_eq!(m.manifests.len(), 1);
    }

    #[test]
    fn refuses_bad_manifests() {
        assert!(matches!(
            Manifest::parse(b"{", None),
            Err(ManifestError::Json(_))
        ));
        assert!(matches!(
            Manifest::parse(br#"{"schemaVersion":1}"#, None),
            Err(ManifestError::Invalid(_))
        ));
        assert!(matches!(
            Manifest::parse(image("").as_bytes(), Some(media_type::OCI_INDEX)),
            Err(ManifestError::MediaTypeMismatch { .. })
        ));
        let unknown = image("").replace(media_type::OCI_MANIFEST, "application/x-unknown");
        assert!(matches!(
            Manifest::parse(unknown.as_bytes(), None),
            Err(ManifestError::UnsupportedMediaType(_))
        ));
        let bad_digest = image("").replace(&d(2), "sha256:1234");
        assert!(matches!(
            Manifest::parse(bad_digest.as_bytes(), None),
            Err(ManifestError::Json(_))
        ));
        let negative = image("").replace("\"size\":3", "\"size\":-3");
        assert!(Manifest::parse(negative.as_bytes(), None).is_err());
        let huge = vec![b' '; MAX_MANIFEST_BYTES + 1];
        assert_eq!(Manifest::parse(&huge, None), Err(ManifestError::TooLarge));
    }

    #[test]
    fn content_type_parameters_are_ignored() {
        let ct = format!("{}; charset=utf-8", media_type::OCI_MANIFEST);
        assert!(Manifest::parse(image("").as_bytes(), Some(&ct)).is_ok());
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1024), ct in proptest::option::of(".{0,60}")) {
            let _ = Manifest::parse(&bytes, ct.as_deref());
        }
    }
}
