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

/// Present (True) while nothing is written because the Application (`lockstep.dev/paused`) or its
/// destination cluster's Secret is paused; reason `Paused`.
pub const PAUSED: &str = "Paused";
/// Present (True) while a rollback deploys a history entry and automated sync of newer commits is
/// paused; reason `RolledBack`, the message names the revision and how it ends.
pub const ROLLED_BACK: &str = "RolledBack";
/// Present (True, reason [`DRIFT_DETECTED`]) while objects under drift mode `warn` differ from git
/// and are left so; its message names them. Absent otherwise.
pub const DRIFTED: &str = "Drifted";
/// The reason of the `Drifted` condition.
pub const DRIFT_DETECTED: &str = "DriftDetected";

/// The reasons of the `Ready` condition, one per way a reconcile can end, with what each implies:
/// whether it may clear by itself (retried soon) and whether nothing changes without a new commit or
/// spec (the `Stalled` condition). The string constants in [`reason`] are these names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// Synced and Healthy.
    Succeeded,
    /// The spec passed the schema but cannot be acted on.
    InvalidSpec,
    /// The Application's project does not allow its namespace, repository, destination or one of its
    /// objects' kinds or namespaces; nothing was applied.
    ProjectViolation,
    /// No cluster Secret matches `spec.destination.name` or `spec.destination.server`.
    ClusterNotFound,
    /// The destination cluster does not answer, or its cluster Secret cannot be used.
    ClusterUnreachable,
    /// The API server refused an operation to the identity lockstep used (the Application's
    /// ServiceAccount when impersonating); the message names the verb and resource.
    Forbidden,
    /// The repository could not be fetched.
    FetchFailed,
    /// The git server rejected the credentials, or wants some and no Secret matches.
    AuthenticationFailed,
    /// The proxy rejected its credentials.
    ProxyAuthenticationFailed,
    /// The SSH host key is unknown or differs from the known one.
    HostKeyNotTrusted,
    /// The server's TLS certificate could not be verified.
    TlsFailed,
    /// The URL answers but is not a git repository.
    NotARepository,
    /// No URL of the repository answers (and, on the `SourceAvailable` condition, the last good
    /// revision is being served from the cache).
    SourceUnavailable,
    /// The target revision does not exist in the repository.
    RevisionNotFound,
    /// An OCI artifact's content does not match its digest (a tampered or corrupted blob).
    DigestMismatch,
    /// An OCI artifact, Helm repository index or chart archive is larger than the controller's cap
    /// (compressed or extracted).
    ArtifactTooLarge,
    /// An OCI artifact holds a path leaving its directory (`../`, absolute) or a link.
    UnsafeArtifact,
    /// A signature did not verify against the trusted keys: the resolved commit or tag (the message
    /// names the commit, signer and reason), or an OCI artifact without a cosign signature valid for
    /// the configured key. Nothing of it was rendered or applied.
    SignatureVerificationFailed,
    /// The path does not exist at the resolved revision.
    PathNotFound,
    /// The manifests could not be rendered (for example broken YAML).
    RenderFailed,
    /// A SOPS-encrypted file could not be decrypted: no key in the decryption Secret opens it, the
    /// Secret is missing, or its MAC does not match (the file was altered); the message names the
    /// file. Nothing was applied.
    DecryptionFailed,
    /// A Helm `valueFiles` entry of a multi-source Application names `$<ref>` and no source has that `ref`.
    ValuesRefNotFound,
    /// Two sources of a multi-source Application render the same object (as Argo CD's
    /// `RepeatedResourceWarning`); nothing was applied.
    RepeatedResource,
    /// An object is already managed by another Application; it was left alone.
    SharedResource,
    /// A sync operation is under way: waiting for a wave to be healthy or a hook to finish.
    SyncInProgress,
    /// The API server rejected at least one object.
    SyncFailed,
    /// Live state differs from git and automated sync is off.
    OutOfSync,
    /// Synced, but not every object is Healthy yet.
    NotHealthy,
    /// A sync is held until the Applications in `spec.dependsOn` are ready, or a dependency is
    /// missing or part of a cycle (the message names them).
    DependencyNotReady,
    /// A sync is held by a sync window of the project (the message names it and until when).
    SyncWindowBlocked,
    /// A sync is held because the Application or its destination cluster is paused.
    Paused,
    /// A rollback is deployed and synced; automated sync of newer commits waits.
    RolledBack,
    /// The Helm repository's index lists no chart of that name, or not the exact version asked for.
    ChartNotFound,
    /// No version of the chart satisfies the semver range in `targetRevision`.
    NoMatchingVersion,
    /// An index or chart archive is malformed, unsafe (`../` paths, links) or fails its digest.
    InvalidArtifact,
    /// A dependency of a chart (`Chart.yaml` `dependencies`) could not be resolved.
    DependencyNotResolved,
}

impl Reason {
    /// Every reason, in documentation order.
    pub const ALL: [Reason; 36] = [
        Reason::Succeeded,
        Reason::InvalidSpec,
        Reason::ProjectViolation,
        Reason::ClusterNotFound,
        Reason::ClusterUnreachable,
        Reason::Forbidden,
        Reason::FetchFailed,
        Reason::AuthenticationFailed,
        Reason::ProxyAuthenticationFailed,
        Reason::HostKeyNotTrusted,
        Reason::TlsFailed,
        Reason::NotARepository,
        Reason::SourceUnavailable,
        Reason::RevisionNotFound,
        Reason::DigestMismatch,
        Reason::ArtifactTooLarge,
        Reason::UnsafeArtifact,
        Reason::SignatureVerificationFailed,
        Reason::PathNotFound,
        Reason::RenderFailed,
        Reason::DecryptionFailed,
        Reason::ValuesRefNotFound,
        Reason::RepeatedResource,
        Reason::SharedResource,
        Reason::SyncInProgress,
        Reason::SyncFailed,
        Reason::OutOfSync,
        Reason::NotHealthy,
        Reason::DependencyNotReady,
        Reason::SyncWindowBlocked,
        Reason::Paused,
        Reason::RolledBack,
        Reason::ChartNotFound,
        Reason::NoMatchingVersion,
        Reason::InvalidArtifact,
        Reason::DependencyNotResolved,
    ];

    /// The name written to `status.conditions[].reason`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::Succeeded => "Succeeded",
            Reason::InvalidSpec => "InvalidSpec",
            Reason::ProjectViolation => "ProjectViolation",
            Reason::ClusterNotFound => "ClusterNotFound",
            Reason::ClusterUnreachable => "ClusterUnreachable",
            Reason::Forbidden => "Forbidden",
            Reason::FetchFailed => "FetchFailed",
            Reason::AuthenticationFailed => "AuthenticationFailed",
            Reason::ProxyAuthenticationFailed => "ProxyAuthenticationFailed",
            Reason::HostKeyNotTrusted => "HostKeyNotTrusted",
            Reason::TlsFailed => "TLSFailed",
            Reason::NotARepository => "NotARepository",
            Reason::SourceUnavailable => "SourceUnavailable",
            Reason::RevisionNotFound => "RevisionNotFound",
            Reason::DigestMismatch => "DigestMismatch",
            Reason::ArtifactTooLarge => "ArtifactTooLarge",
            Reason::UnsafeArtifact => "UnsafeArtifact",
            Reason::SignatureVerificationFailed => "SignatureVerificationFailed",
            Reason::PathNotFound => "PathNotFound",
            Reason::RenderFailed => "RenderFailed",
            Reason::DecryptionFailed => "DecryptionFailed",
            Reason::ValuesRefNotFound => "ValuesRefNotFound",
            Reason::RepeatedResource => "RepeatedResource",
            Reason::SharedResource => "SharedResource",
            Reason::SyncInProgress => "SyncInProgress",
            Reason::SyncFailed => "SyncFailed",
            Reason::OutOfSync => "OutOfSync",
            Reason::NotHealthy => "NotHealthy",
            Reason::DependencyNotReady => "DependencyNotReady",
            Reason::SyncWindowBlocked => "SyncWindowBlocked",
            Reason::Paused => "Paused",
            Reason::RolledBack => "RolledBack",
            Reason::ChartNotFound => "ChartNotFound",
            Reason::NoMatchingVersion => "NoMatchingVersion",
            Reason::InvalidArtifact => "InvalidArtifact",
            Reason::DependencyNotResolved => "DependencyNotResolved",
        }
    }

    /// The reason a condition names, if it is one of these.
    pub fn parse(name: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Whether it names a condition outside git and the spec (a server, a credential, a cluster,
    /// RBAC) that may clear by itself, so the controller retries soon instead of waiting for the
    /// resync period.
    pub const fn retried_soon(self) -> bool {
        matches!(
            self,
            Reason::FetchFailed
                | Reason::DecryptionFailed
                | Reason::DigestMismatch
                | Reason::SourceUnavailable
                | Reason::AuthenticationFailed
                | Reason::ProxyAuthenticationFailed
                | Reason::HostKeyNotTrusted
                | Reason::TlsFailed
                | Reason::ClusterUnreachable
                | Reason::ClusterNotFound
                | Reason::Forbidden
        )
    }

    /// Whether nothing changes without a new commit or spec: the spec, revision, path or render is
    /// wrong, or the server rejects objects (the `Stalled` condition).
    pub const fn stalls(self) -> bool {
        matches!(
            self,
            Reason::InvalidSpec
                | Reason::RevisionNotFound
                | Reason::ChartNotFound
                | Reason::NoMatchingVersion
                | Reason::ArtifactTooLarge
                | Reason::UnsafeArtifact
                | Reason::SignatureVerificationFailed
                | Reason::PathNotFound
                | Reason::RenderFailed
                | Reason::ValuesRefNotFound
                | Reason::RepeatedResource
                | Reason::SyncFailed
        )
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reasons of the `Ready` condition as the strings written to the status (see [`Reason`]).
pub mod reason {
    use super::Reason;

    /// Synced and Healthy.
    pub const SUCCEEDED: &str = Reason::Succeeded.as_str();
    /// See [`Reason::InvalidSpec`].
    pub const INVALID_SPEC: &str = Reason::InvalidSpec.as_str();
    /// See [`Reason::ProjectViolation`].
    pub const PROJECT_VIOLATION: &str = Reason::ProjectViolation.as_str();
    /// See [`Reason::ClusterNotFound`].
    pub const CLUSTER_NOT_FOUND: &str = Reason::ClusterNotFound.as_str();
    /// See [`Reason::ClusterUnreachable`].
    pub const CLUSTER_UNREACHABLE: &str = Reason::ClusterUnreachable.as_str();
    /// See [`Reason::Forbidden`].
    pub const FORBIDDEN: &str = Reason::Forbidden.as_str();
    /// See [`Reason::FetchFailed`].
    pub const FETCH_FAILED: &str = Reason::FetchFailed.as_str();
    /// See [`Reason::AuthenticationFailed`].
    pub const AUTHENTICATION_FAILED: &str = Reason::AuthenticationFailed.as_str();
    /// See [`Reason::ProxyAuthenticationFailed`].
    pub const PROXY_AUTHENTICATION_FAILED: &str = Reason::ProxyAuthenticationFailed.as_str();
    /// See [`Reason::HostKeyNotTrusted`].
    pub const HOST_KEY_NOT_TRUSTED: &str = Reason::HostKeyNotTrusted.as_str();
    /// See [`Reason::TlsFailed`].
    pub const TLS_FAILED: &str = Reason::TlsFailed.as_str();
    /// See [`Reason::NotARepository`].
    pub const NOT_A_REPOSITORY: &str = Reason::NotARepository.as_str();
    /// See [`Reason::SourceUnavailable`].
    pub const SOURCE_UNAVAILABLE: &str = Reason::SourceUnavailable.as_str();
    /// See [`Reason::RevisionNotFound`].
    pub const REVISION_NOT_FOUND: &str = Reason::RevisionNotFound.as_str();
    /// See [`Reason::DigestMismatch`].
    pub const DIGEST_MISMATCH: &str = Reason::DigestMismatch.as_str();
    /// See [`Reason::ArtifactTooLarge`].
    pub const ARTIFACT_TOO_LARGE: &str = Reason::ArtifactTooLarge.as_str();
    /// See [`Reason::UnsafeArtifact`].
    pub const UNSAFE_ARTIFACT: &str = Reason::UnsafeArtifact.as_str();
    /// See [`Reason::SignatureVerificationFailed`].
    pub const SIGNATURE_VERIFICATION_FAILED: &str = Reason::SignatureVerificationFailed.as_str();
    /// See [`Reason::PathNotFound`].
    pub const PATH_NOT_FOUND: &str = Reason::PathNotFound.as_str();
    /// See [`Reason::RenderFailed`].
    pub const RENDER_FAILED: &str = Reason::RenderFailed.as_str();
    /// See [`Reason::DecryptionFailed`].
    pub const DECRYPTION_FAILED: &str = Reason::DecryptionFailed.as_str();
    /// See [`Reason::ValuesRefNotFound`].
    pub const VALUES_REF_NOT_FOUND: &str = Reason::ValuesRefNotFound.as_str();
    /// See [`Reason::RepeatedResource`].
    pub const REPEATED_RESOURCE: &str = Reason::RepeatedResource.as_str();
    /// See [`Reason::SharedResource`].
    pub const SHARED_RESOURCE: &str = Reason::SharedResource.as_str();
    /// See [`Reason::SyncInProgress`].
    pub const SYNC_IN_PROGRESS: &str = Reason::SyncInProgress.as_str();
    /// See [`Reason::SyncFailed`].
    pub const SYNC_FAILED: &str = Reason::SyncFailed.as_str();
    /// See [`Reason::OutOfSync`].
    pub const OUT_OF_SYNC: &str = Reason::OutOfSync.as_str();
    /// See [`Reason::NotHealthy`].
    pub const NOT_HEALTHY: &str = Reason::NotHealthy.as_str();
    /// See [`Reason::DependencyNotReady`].
    pub const DEPENDENCY_NOT_READY: &str = Reason::DependencyNotReady.as_str();
    /// See [`Reason::SyncWindowBlocked`].
    pub const SYNC_WINDOW_BLOCKED: &str = Reason::SyncWindowBlocked.as_str();
    /// See [`Reason::Paused`].
    pub const PAUSED: &str = Reason::Paused.as_str();
    /// See [`Reason::RolledBack`].
    pub const ROLLED_BACK: &str = Reason::RolledBack.as_str();

    /// [`Reason::retried_soon`] of a reason written as a string; false for any other string.
    pub fn retried_soon(reason: &str) -> bool {
        Reason::parse(reason).is_some_and(Reason::retried_soon)
    }

    /// [`Reason::stalls`] of a reason written as a string; false for any other string.
    pub fn stalls(reason: &str) -> bool {
        Reason::parse(reason).is_some_and(Reason::stalls)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_round_trips_and_no_reason_both_stalls_and_clears_by_itself() {
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.as_str()), Some(r));
            assert_eq!(r.to_string(), r.as_str());
            assert!(!(r.stalls() && r.retried_soon()), "{r} cannot both stall and clear by itself");
        }
        assert_eq!(Reason::parse("Progressing"), None);
        assert!(reason::retried_soon(reason::FORBIDDEN) && !reason::retried_soon("nonsense"));
        assert!(reason::stalls(reason::RENDER_FAILED) && !reason::stalls(reason::SUCCEEDED));
    }
}
