//! Pure OCI domain types, with no I/O: content digests, repository names, tags and
//! references, media types, and the parsing and validation of manifests.
//!
//! Every type here parses once at the edge (`Digest::parse`, `RepositoryName::parse`,
//! `Tag::parse`, `Reference::parse`, `Manifest::parse`) and is valid from then on, so
//! the services never re-check. These parsers face the network: they are property
//! tested and fuzzed (`fuzz/`), and must never panic on any input.

pub mod digest;
pub mod manifest;
pub mod media_type;
pub mod name;
pub mod reference;

pub use digest::{Algorithm, Digest, DigestError, Digester};
pub use manifest::{Descriptor, Manifest, ManifestError, ManifestKind, Platform};
pub use name::{NameError, RepositoryName};
pub use reference::{Reference, Tag, TagError};
