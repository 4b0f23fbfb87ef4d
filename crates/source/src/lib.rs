//! Git sources and Helm repository charts (`helm_repo`): one bare repository per normalised URL in an on-disk cache, revision resolution
//! against the remote's refs, and read-only snapshots of exactly one commit for rendering.
//!
//! The cache is what later stages read from; everything here is blocking git work run on tokio's
//! blocking pool, serialised per repository so concurrent Applications of one repo never race and
//! share one ref listing. Credentials, mirrors and known hosts arrive with each request (read by the
//! controller from Secrets and ConfigMaps), so this crate never talks to Kubernetes.

mod cache;
mod credentials;
mod error;
mod helm_repo;
mod mirror;
mod observe;
mod oci;
mod revision;
mod semver_range;
mod snapshot;
mod snapshot_gc;
mod state;
mod transport;
mod url;
mod verification;

pub use cache::{CacheOptions, CounterValues, Endpoint, GitCache, SourceCounters, SourceRequest};
pub use credentials::{CredentialKind, CredentialSecret, Credentials, redact, select_credentials, strip_userinfo};
pub use error::SourceError;
pub use helm_repo::{DEFAULT_MAX_CHART_BYTES, DEFAULT_MAX_INDEX_BYTES, HelmRepoCache, HelmRepoOptions};
pub use mirror::{MirrorEntry, MirrorMap};
pub use observe::{GitRequest, GitRequestObserver, GitRequestType};
pub use oci::{
    DEFAULT_MAX_ARTIFACT_BYTES, OCI_SCHEME, OciAuth, OciCache, OciChartRef, OciOptions, OciPin, OciRequest, OciTarget,
    chart_version_tag, is_oci_url,
};
pub use revision::{RemoteRef, RevisionSpec};
pub use snapshot::{Snapshot, Unavailable};
pub use snapshot_gc::SnapshotRetention;
pub use url::normalize_repo_url;
pub use verification::{KeySource, Verification, VerificationMode, Verified};
