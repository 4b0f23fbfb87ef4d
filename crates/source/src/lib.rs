//! Git sources: one bare repository per normalised URL in an on-disk cache, revision resolution
//! against the remote's refs, and read-only snapshots of exactly one commit for rendering.
//!
//! The cache is what later stages read from; everything here is blocking git work run on tokio's
//! blocking pool, serialised per repository so concurrent Applications of one repo never race.

mod cache;
mod error;
mod revision;
mod snapshot;
mod url;

pub use cache::{GitCache, SourceRequest};
pub use error::SourceError;
pub use revision::{RemoteRef, RevisionSpec};
pub use snapshot::Snapshot;
pub use url::normalize_repo_url;
