//! Access control, pure and I/O-free: the actions an identity can take, repository
//! patterns, Docker-style scopes, roles, and the one [`authorize`] function every
//! door of the registry asks.
//!
//! Nothing here knows about HTTP, tokens on the wire or storage: the edge turns a
//! request into an [`Identity`], an [`Action`] and a repository, and asks.

mod action;
mod pattern;
mod policy;
mod scope;

pub use action::{Action, ActionSet, ParseActionError};
pub use pattern::{PatternError, RepoPattern};
pub use policy::{authorize, Binding, Decision, Identity, Principal, Role, Target};
pub use scope::{Resource, Scope, ScopeError};
