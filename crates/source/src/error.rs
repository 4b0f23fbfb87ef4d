use thiserror::Error;

/// Why a source could not be turned into a snapshot; messages name the repository and revision.
#[derive(Debug, Error)]
pub enum SourceError {
    /// The repository could not be reached or read (wrong URL, server down, not a git repository).
    #[error("fetching {repo}: {message}")]
    Unreachable { repo: String, message: String },
    /// The repository was reached but has no such branch, tag or commit.
    #[error("revision {revision:?} not found in {repo}")]
    RevisionNotFound { repo: String, revision: String },
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
}
