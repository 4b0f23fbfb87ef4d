use thiserror::Error;

/// Why a path could not be rendered; each variant names the file (relative to the repository root).
#[derive(Debug, Error)]
pub enum RenderError {
    /// The source path does not exist at this revision.
    #[error("path {path:?} does not exist in the repository")]
    PathNotFound { path: String },
    /// The source path leaves the repository (absolute, or with `..`).
    #[error("path {path:?} is outside the repository")]
    PathOutsideRepository { path: String },
    /// A file could not be read.
    #[error("{file}: {message}")]
    Read { file: String, message: String },
    /// A file is not valid YAML or JSON.
    #[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Parse { file: String, line: Option<usize>, message: String },
    /// A document parsed but is not a Kubernetes object.
    #[error("{file} (document {document}): {message}")]
    InvalidObject { file: String, document: usize, message: String },
}
