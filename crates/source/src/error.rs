use lockstep_api::conditions::Reason;
use thiserror::Error;

/// Why a source could not be turned into a snapshot; messages name the repository and revision and
/// never carry a credential (see [`crate::redact`]).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum SourceError {
    /// The repository could not be reached (server down, connection refused, DNS, HTTP 5xx).
    #[error("fetching {repo}: {message}")]
    Unreachable { repo: String, message: String },
    /// The server rejected the credentials (or none were configured and it wants some).
    #[error("authentication to {repo} failed: {message}")]
    AuthenticationFailed { repo: String, message: String },
    /// The proxy between the controller and the server rejected its credentials.
    #[error("proxy refused {repo}: {message}")]
    ProxyAuthenticationFailed { repo: String, message: String },
    /// The SSH server's host key is not in the known hosts, or differs from the one recorded there.
    #[error("SSH host key of {host} for {repo}: {message}")]
    HostKey { repo: String, host: String, message: String },
    /// The server's TLS certificate could not be verified.
    #[error("TLS to {repo}: {message}")]
    Tls { repo: String, message: String },
    /// The server answered, but there is no git repository at that URL.
    #[error("{repo} is not a git repository: {message}")]
    NotARepository { repo: String, message: String },
    /// The fetch took longer than the fetch timeout and was abandoned.
    #[error("fetching {repo}: timed out after {seconds}s")]
    Timeout { repo: String, seconds: u64 },
    /// The repository was reached but has no such branch, tag or commit.
    #[error("revision {revision:?} not found in {repo}")]
    RevisionNotFound { repo: String, revision: String },
    /// The semver range matched none of the repository's tags.
    #[error("no tag of {repo} matches the semver range {range:?} (tags seen: {tags})")]
    NoMatchingTag { repo: String, range: String, tags: String },
    /// An OCI blob or manifest did not hash to the digest it was fetched by.
    #[error("{repo}: content of {what} does not match its digest (expected {expected}, got {actual})")]
    DigestMismatch { repo: String, what: String, expected: String, actual: String },
    /// An OCI artifact exceeds the size cap (its layer, or its files once extracted).
    #[error("{repo}: {what} is larger than the cap of {limit} bytes")]
    ArtifactTooLarge { repo: String, what: String, limit: u64 },
    /// An OCI artifact holds an entry that would leave its directory, or a link.
    #[error("{repo}: artifact refused: {message}")]
    UnsafeArtifact { repo: String, message: String },
    /// The artifact must be signed (a cosign public key applies to it) and no valid signature was found.
    #[error("{repo}: signature verification failed: {message}")]
    SignatureInvalid { repo: String, message: String },
    /// The registry or Helm repository answered with something that is not a usable artifact (an
    /// index, no tar+gzip layer, a malformed chart archive or one that does not match its digest).
    #[error("{repo}: {message}")]
    InvalidArtifact { repo: String, message: String },
    /// Credentials, known hosts or the mirror map could not be read or parsed.
    #[error("source configuration: {message}")]
    Configuration { message: String },
    /// The Helm repository's index lists no chart of that name.
    #[error("the index of {repo} lists no chart {chart:?}")]
    ChartNotFound { repo: String, chart: String },
    /// The index lists the chart, but not the exact version asked for.
    #[error("the index of {repo} lists no version {version:?} of chart {chart:?} (versions: {versions})")]
    ChartVersionNotFound { repo: String, chart: String, version: String, versions: String },
    /// No listed version of the chart satisfies the semver range.
    #[error("no version of chart {chart:?} in {repo} matches {range:?} (versions: {versions})")]
    NoMatchingVersion { repo: String, chart: String, range: String, versions: String },
    /// A download exceeded its size cap and was abandoned.
    #[error("{what} at {url} exceeds the {limit}-byte cap")]
    TooLarge { url: String, what: String, limit: u64 },
    /// A signature check of the resolved revision failed; nothing of it is served.
    #[error("signature verification of {object} in {repo} failed: {reason}")]
    SignatureVerification {
        /// The repository (without credentials).
        repo: String,
        /// `commit <sha>` or `tag <name>`.
        object: String,
        /// Why, naming the signer where known.
        reason: String,
    },
    /// The local cache could not be written or read.
    #[error("git cache at {path}: {message}")]
    Cache { path: String, message: String },
}

impl SourceError {
    pub(crate) fn unreachable(repo: &str, err: impl std::fmt::Display) -> Self {
        Self::Unreachable { repo: repo.to_string(), message: err.to_string() }
    }

    pub(crate) fn cache(path: &std::path::Path, err: impl std::fmt::Display) -> Self {
        Self::Cache { path: path.display().to_string(), message: err.to_string() }
    }

    /// True when the repository is unavailable (down, unreachable, too slow), as opposed to refusing
    /// this client: only then is the last good revision served from the cache, so a rejected or
    /// missing credential never reads through the cache.
    pub fn is_outage(&self) -> bool {
        matches!(self, Self::Unreachable { .. } | Self::Timeout { .. })
    }

    /// The `Ready` reason of a fetch that failed with no last good revision to fall back on.
    pub fn reason(&self) -> Reason {
        match self {
            Self::RevisionNotFound { .. } | Self::NoMatchingTag { .. } => Reason::RevisionNotFound,
            Self::AuthenticationFailed { .. } => Reason::AuthenticationFailed,
            Self::ProxyAuthenticationFailed { .. } => Reason::ProxyAuthenticationFailed,
            Self::HostKey { .. } => Reason::HostKeyNotTrusted,
            Self::Tls { .. } => Reason::TlsFailed,
            Self::NotARepository { .. } => Reason::NotARepository,
            Self::ChartNotFound { .. } => Reason::ChartNotFound,
            Self::ChartVersionNotFound { .. } => Reason::RevisionNotFound,
            Self::NoMatchingVersion { .. } => Reason::NoMatchingVersion,
            Self::TooLarge { .. } => Reason::ArtifactTooLarge,
            Self::InvalidArtifact { .. } => Reason::InvalidArtifact,
            Self::Timeout { .. } | Self::Unreachable { .. } => Reason::SourceUnavailable,
            Self::SignatureVerification { .. } => Reason::SignatureVerificationFailed,
            Self::DigestMismatch { .. } => Reason::DigestMismatch,
            Self::ArtifactTooLarge { .. } => Reason::ArtifactTooLarge,
            Self::UnsafeArtifact { .. } => Reason::UnsafeArtifact,
            Self::SignatureInvalid { .. } => Reason::SignatureVerificationFailed,
            _ => Reason::FetchFailed,
        }
    }

    /// True for failures of the remote (any server, proxy or transport problem), as opposed to a
    /// missing revision or a broken local cache: those are the ones the last good revision rides out.
    pub fn is_remote(&self) -> bool {
        !matches!(
            self,
            Self::RevisionNotFound { .. }
                | Self::NoMatchingTag { .. }
                | Self::ChartNotFound { .. }
                | Self::ChartVersionNotFound { .. }
                | Self::NoMatchingVersion { .. }
                | Self::TooLarge { .. }
                | Self::ArtifactTooLarge { .. }
                | Self::UnsafeArtifact { .. }
                | Self::SignatureInvalid { .. }
                | Self::InvalidArtifact { .. }
                | Self::Cache { .. }
                | Self::Configuration { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_ready_reason() {
        let repo = || "https://git.example/app.git".to_string();
        let cases = [
            (SourceError::RevisionNotFound { repo: repo(), revision: "v9".into() }, Reason::RevisionNotFound),
            (SourceError::AuthenticationFailed { repo: repo(), message: "401".into() }, Reason::AuthenticationFailed),
            (SourceError::Timeout { repo: repo(), seconds: 30 }, Reason::SourceUnavailable),
            (SourceError::unreachable(&repo(), "connection refused"), Reason::SourceUnavailable),
            (SourceError::Configuration { message: "bad".into() }, Reason::FetchFailed),
        ];
        for (error, reason) in cases {
            assert_eq!(error.reason(), reason, "{error}");
        }
    }
}
