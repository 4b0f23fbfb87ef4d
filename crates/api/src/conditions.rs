//! Condition types and reasons written to `status.conditions`; documented in docs/crd-reference.md.

/// True when the Application is Synced and Healthy.
pub const READY: &str = "Ready";

/// Reasons of the `Ready` condition, one per way a reconcile can end.
pub mod reason {
    /// Synced and Healthy.
    pub const SUCCEEDED: &str = "Succeeded";
    /// The spec passed the schema but cannot be acted on.
    pub const INVALID_SPEC: &str = "InvalidSpec";
    /// The repository could not be fetched.
    pub const FETCH_FAILED: &str = "FetchFailed";
    /// The target revision does not exist in the repository.
    pub const REVISION_NOT_FOUND: &str = "RevisionNotFound";
    /// The path does not exist at the resolved revision.
    pub const PATH_NOT_FOUND: &str = "PathNotFound";
    /// The manifests could not be rendered (for example broken YAML).
    pub const RENDER_FAILED: &str = "RenderFailed";
    /// The API server rejected at least one object.
    pub const SYNC_FAILED: &str = "SyncFailed";
    /// Live state differs from git and automated sync is off.
    pub const OUT_OF_SYNC: &str = "OutOfSync";
    /// Synced, but not every object is Healthy yet.
    pub const NOT_HEALTHY: &str = "NotHealthy";
}
