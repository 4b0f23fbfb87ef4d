//! Condition types and reasons written to `status.conditions`; documented in docs/crd-reference.md.

/// True when the Application is Synced and Healthy.
pub const READY: &str = "Ready";
/// Present (True) while work is under way: a sync operation running or objects Progressing.
pub const RECONCILING: &str = "Reconciling";
/// Present (True) when the Application will not recover without a change to git or the spec.
pub const STALLED: &str = "Stalled";

/// False while every URL of the Application's repository fails and the last good revision is
/// served from the cache (reason `SourceUnavailable`); absent otherwise.
pub const SOURCE_AVAILABLE: &str = "SourceAvailable";

/// Reasons of the `Ready` condition, one per way a reconcile can end.
pub mod reason {
    /// Synced and Healthy.
    pub const SUCCEEDED: &str = "Succeeded";
    /// The spec passed the schema but cannot be acted on.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// The Application's project does not allow its namespace, repository, destination or one of its
    /// objects' kinds or namespaces; nothing was applied.
    pub const PROJECT_VIOLATION: &str = "ProjectViolation";
    /// No cluster Secret matches `spec.destination.name` or `spec.destination.server`.
    pub const CLUSTER_NOT_FOUND: &str = "ClusterNotFound";
    /// The destination cluster does not answer, or its cluster Secret cannot be used.
    pub const CLUSTER_UNREACHABLE: &str = "ClusterUnreachable";
    /// The API server refused an operation to the identity lockstep used (the Application's
    /// ServiceAccount when impersonating); the message names the verb and resource.
    pub const FORBIDDEN: &str = "Forbidden";
    /// The repository could not be fetched.
    pub const FETCH_FAILED: &str = "FetchFailed";
    /// The git server rejected the credentials, or wants some and no Secret matches.
    pub const AUTHENTICATION_FAILED: &str = "AuthenticationFailed";
    /// The proxy rejected its credentials.
    pub const PROXY_AUTHENTICATION_FAILED: &str = "ProxyAuthenticationFailed";
    /// The SSH host key is unknown or differs from the known one.
    pub const HOST_KEY_NOT_TRUSTED: &str = "HostKeyNotTrusted";
    /// The server's TLS certificate could not be verified.
    pub const TLS_FAILED: &str = "TLSFailed";
    /// The URL answers but is not a git repository.
    pub const NOT_A_REPOSITORY: &str = "NotARepository";
    /// No URL of the repository answers (and, on the `SourceAvailable` condition, the last good
    /// revision is being served from the cache).
    pub const SOURCE_UNAVAILABLE: &str = "SourceUnavailable";
    /// The target revision does not exist in the repository.
    pub const REVISION_NOT_FOUND: &str = "RevisionNotFound";
    /// The path does not exist at the resolved revision.
    pub const PATH_NOT_FOUND: &str = "PathNotFound";
    /// The manifests could not be rendered (for example broken YAML).
    pub const RENDER_FAILED: &str = "RenderFailed";
    /// An object is already managed by another Application; it was left alone.
    pub const SHARED_RESOURCE: &str = "SharedResource";
    /// A sync operation is under way: waiting for a wave to be healthy or a hook to finish.
    pub const SYNC_IN_PROGRESS: &str = "SyncInProgress";
    /// The API server rejected at least one object.
    pub const SYNC_FAILED: &str = "SyncFailed";
    /// Live state differs from git and automated sync is off.
    pub const OUT_OF_SYNC: &str = "OutOfSync";
    /// Synced, but not every object is Healthy yet.
    pub const NOT_HEALTHY: &str = "NotHealthy";

    /// Whether a reason names a condition outside git and the spec (a server, a credential, a
    /// cluster, RBAC) that may clear by itself, so the controller retries soon instead of waiting
    /// for the resync period.
    pub fn retried_soon(reason: &str) -> bool {
        matches!(
            reason,
            FETCH_FAILED
                | SOURCE_UNAVAILABLE
                | AUTHENTICATION_FAILED
                | PROXY_AUTHENTICATION_FAILED
                | HOST_KEY_NOT_TRUSTED
                | TLS_FAILED
                | CLUSTER_UNREACHABLE
                | CLUSTER_NOT_FOUND
                | FORBIDDEN
        )
    }
}
