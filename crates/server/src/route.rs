//! Parsing of `/v2/...` request paths into the distribution API's endpoints.
//!
//! Repository names contain slashes, so the endpoint is found from the end of the
//! path: the last one or two segments name the endpoint, everything before is the
//! repository name. The name and the reference are parsed into domain types here,
//! once; handlers never see raw strings.

use airlock_oci::{Digest, Reference, RepositoryName};
use airlock_storage::UploadId;

/// An endpoint of the distribution API, with its parsed path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    Catalog,
    Tags(RepositoryName),
    Manifest(RepositoryName, Reference),
    Blob(RepositoryName, Digest),
    StartUpload(RepositoryName),
    Upload(RepositoryName, UploadId),
    Referrers(RepositoryName, Digest),
}

/// Why a path is not an endpoint. The dispatcher maps each to an OCI error, and for
/// a malformed reference that depends on the method (a read of a name that cannot
/// exist finds nothing; a write is told its name is invalid).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    NotFound,
    NameInvalid(String),
    /// The last segment is not a valid reference for the endpoint it is under.
    ReferenceInvalid(Malformed, String),
    UploadUnknown,
}

/// Which kind of reference a path carried that does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// `/manifests/<ref>` where `<ref>` is neither a tag nor a digest (no `:`).
    ManifestTag,
    /// `/manifests/<ref>` with a `:` that is no valid digest.
    ManifestDigest,
    /// `/blobs/<digest>`.
    Blob,
    /// `/referrers/<digest>`.
    Referrers,
}

/// Longest request path we look at.
const MAX_PATH: usize = 2048;

/// Parses the path after `/v2/`.
pub fn parse(path: &str) -> Result<Endpoint, RouteError> {
    if path.len() > MAX_PATH {
        return Err(RouteError::NotFound);
    }
    if path == "_catalog" {
        return Ok(Endpoint::Catalog);
    }
    if let Some(name) = path.strip_suffix("/tags/list") {
        return Ok(Endpoint::Tags(name_of(name)?));
    }
    let (head, last) = path.rsplit_once('/').ok_or(RouteError::NotFound)?;
    let (name, kind) = head.rsplit_once('/').ok_or(RouteError::NotFound)?;
    let last = decode(last)?;
    match kind {
        "manifests" => {
            let reference = Reference::parse(&last).map_err(|e| {
                let kind = if last.contains(':') {
                    Malformed::ManifestDigest
                } else {
                    Malformed::ManifestTag
                };
                RouteError::ReferenceInvalid(kind, e.to_string())
            })?;
            Ok(Endpoint::Manifest(name_of(name)?, reference))
        }
        "blobs" if last == "uploads" => Ok(Endpoint::StartUpload(name_of(name)?)),
        "blobs" => Ok(Endpoint::Blob(
            name_of(name)?,
            digest_of(&last, Malformed::Blob)?,
        )),
        "referrers" => Ok(Endpoint::Referrers(
            name_of(name)?,
            digest_of(&last, Malformed::Referrers)?,
        )),
        "uploads" => {
            let name = name.strip_suffix("/blobs").ok_or(RouteError::NotFound)?;
            let name = name_of(name)?;
            if last.is_empty() {
                Ok(Endpoint::StartUpload(name))
            } else {
                let id = UploadId::parse(&last).ok_or(RouteError::UploadUnknown)?;
                Ok(Endpoint::Upload(name, id))
            }
        }
        _ => Err(RouteError::NotFound),
    }
}

fn name_of(s: &str) -> Result<RepositoryName, RouteError> {
    RepositoryName::parse(s).map_err(|e| RouteError::NameInvalid(e.to_string()))
}

fn digest_of(s: &str, kind: Malformed) -> Result<Digest, RouteError> {
    Digest::parse(s).map_err(|e| RouteError::ReferenceInvalid(kind, e.to_string()))
}

/// Percent-decodes the last segment (clients may send `sha256%3A…`).
fn decode(s: &str) -> Result<String, RouteError> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| RouteError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn name(s: &str) -> RepositoryName {
        RepositoryName::parse(s).unwrap()
    }

    #[test]
    fn parses_every_endpoint() {
        assert_eq!(parse("_catalog"), Ok(Endpoint::Catalog));
        assert_eq!(parse("a/b/tags/list"), Ok(Endpoint::Tags(name("a/b"))));
        assert_eq!(
            parse("a/b/manifests/latest"),
            Ok(Endpoint::Manifest(
                name("a/b"),
                Reference::parse("latest").unwrap()
            ))
        );
        assert_eq!(
            parse(&format!("a/blobs/{D}")),
            Ok(Endpoint::Blob(name("a"), Digest::parse(D).unwrap()))
        );
        assert_eq!(
            parse(&format!("a/blobs/{}", D.replace(':', "%3A"))),
            Ok(Endpoint::Blob(name("a"), Digest::parse(D).unwrap()))
        );
        assert_eq!(
            parse("a/blobs/uploads/"),
            Ok(Endpoint::StartUpload(name("a")))
        );
        assert_eq!(
            parse("a/blobs/uploads"),
            Ok(Endpoint::StartUpload(name("a")))
        );
        let id = UploadId::new();
        assert_eq!(
            parse(&format!("x/y/blobs/uploads/{id}")),
            Ok(Endpoint::Upload(name("x/y"), id))
        );
        assert_eq!(
            parse(&format!("a/referrers/{D}")),
            Ok(Endpoint::Referrers(name("a"), Digest::parse(D).unwrap()))
        );
        // A repository may itself contain endpoint words.
        assert_eq!(
            parse("blobs/manifests/manifests/v1"),
            Ok(Endpoint::Manifest(
                name("blobs/manifests"),
                Reference::parse("v1").unwrap()
            ))
        );
    }

    #[test]
    fn refuses_bad_paths() {
        assert!(matches!(
            parse("../etc/manifests/x"),
            Err(RouteError::NameInvalid(_))
        ));
        assert!(matches!(
            parse("a/%2e%2e/manifests/x"),
            Err(RouteError::NameInvalid(_))
        ));
        assert!(matches!(
            parse("a/blobs/sha256:zz"),
            Err(RouteError::ReferenceInvalid(Malformed::Blob, _))
        ));
        assert!(matches!(
            parse("a/referrers/nodigest"),
            Err(RouteError::ReferenceInvalid(Malformed::Referrers, _))
        ));
        assert!(matches!(
            parse("a/manifests/-bad"),
            Err(RouteError::ReferenceInvalid(Malformed::ManifestTag, _))
        ));
        assert!(matches!(
            parse("a/manifests/.INVALID_MANIFEST_NAME"),
            Err(RouteError::ReferenceInvalid(Malformed::ManifestTag, _))
        ));
        assert!(matches!(
            parse("a/manifests/sha256:short"),
            Err(RouteError::ReferenceInvalid(Malformed::ManifestDigest, _))
        ));
        assert_eq!(
            parse("a/blobs/uploads/not-a-uuid"),
            Err(RouteError::UploadUnknown)
        );
        assert_eq!(parse("a/unknown/x"), Err(RouteError::NotFound));
        assert_eq!(parse("a"), Err(RouteError::NotFound));
        assert_eq!(parse(""), Err(RouteError::NotFound));
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,300}") {
            let _ = parse(&s);
        }

        #[test]
        fn names_round_trip(n in "[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,3}", t in "[a-zA-Z0-9_][a-zA-Z0-9._-]{0,20}") {
            let parsed = parse(&format!("{n}/manifests/{t}")).unwrap();
            prop_assert_eq!(parsed, Endpoint::Manifest(name(&n), Reference::parse(&t).unwrap()));
        }
    }
}
