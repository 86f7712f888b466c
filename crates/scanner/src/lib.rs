//! The scanner: what is installed in an image (catalogers over a streamed layer
//! walk), which OSV advisories affect it (version ordering per ecosystem, OSV range
//! semantics), and the findings that come out. Pure and synchronous: the registry and
//! the CLI feed it bytes and advisories.

pub mod binaries;
pub mod catalog;
pub mod image;
pub mod index;
pub mod java;
pub mod layers;
pub mod matcher;
pub mod misconfig;
pub mod osv;
pub mod rpm;
pub mod sbom;
pub mod scan;
pub mod severity;
pub mod version;

pub use catalog::{OsRelease, Package};
pub use index::AdvisoryIndex;
pub use layers::{Filesystem, Limits};
pub use misconfig::Misconfiguration;
pub use scan::{Finding, Report};
pub use severity::Severity;
