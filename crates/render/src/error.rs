use thiserror::Error;

/// Why a path could not be rendered; each variant names the file (relative to the repository root)
/// or the tool, so the `Ready` condition says where to look.
#[derive(Debug, Error)]
pub enum RenderError {
    /// The source path does not exist at this revision.
    #[error("path {path:?} does not exist in the repository")]
    PathNotFound { path: String },
    /// The source path leaves the repository (absolute, or with `..`).
    #[error("path {path:?} is outside the repository")]
    PathOutsideRepository { path: String },
    /// A file referenced by the source (a base, a values file, a patch) leaves the repository.
    #[error("{file}: {reference:?} is outside the repository")]
    ReferenceOutsideRepository { file: String, reference: String },
    /// A symbolic link in the repository points outside it; nothing is rendered from such a commit.
    #[error("symlink {file} points outside the repository")]
    SymlinkOutsideRepository { file: String },
    /// A Kustomize base or component that would be fetched over the network.
    #[error("{file}: remote base {url:?} is not supported (rendering is offline; vendor it into the repository)")]
    RemoteBase { file: String, url: String },
    /// A chart dependency that is neither vendored in `charts/`, nor a local `file://` chart, nor
    /// resolved from its repository.
    #[error("{file}: dependency {name:?} from {repository:?} is not vendored in charts/ and was not resolved")]
    RemoteChart { file: String, name: String, repository: String },
    /// A remote chart dependency could not be resolved from its repository.
    #[error("dependency {name:?} {version:?} from {repository}: {message}")]
    Dependency { name: String, version: String, repository: String, message: String },
    /// A Kustomize `helmCharts` chart that could not be resolved from its repository, or was not
    /// resolved by the caller; nothing is rendered.
    /// `chart` names it: `"<name>" "<version>" from <repository>`.
    #[error("{file}: helmCharts chart {chart}: {message}")]
    HelmChart { file: String, chart: String, message: String },
    /// A Helm values file that does not exist (and `ignoreMissingValueFiles` is off).
    #[error("values file {file} does not exist")]
    MissingValueFile { file: String },
    /// A file could not be read.
    #[error("{file}: {message}")]
    Read { file: String, message: String },
    /// A file is not valid YAML or JSON.
    #[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Parse { file: String, line: Option<usize>, message: String },
    /// A document parsed but is not a Kubernetes object.
    #[error("{file} (document {document}): {message}")]
    InvalidObject { file: String, document: usize, message: String },
    /// An include or exclude glob does not parse.
    #[error("invalid {field} glob {pattern:?}: {message}")]
    InvalidGlob { field: &'static str, pattern: String, message: String },
    /// An option is malformed (an image override, a patch).
    #[error("invalid {field}: {message}")]
    InvalidOption { field: &'static str, message: String },
    /// The tool ran and failed; `message` is its trimmed error output.
    #[error("{tool} failed: {message}")]
    Tool { tool: &'static str, message: String },
    /// The tool could not be started.
    #[error("{tool} could not be run ({path}): {message}")]
    ToolUnavailable { tool: &'static str, path: String, message: String },
    /// The tool ran longer than the render timeout and was killed.
    #[error("{tool} timed out after {seconds}s")]
    Timeout { tool: &'static str, seconds: u64 },
    /// The tool wrote more than the output cap and was killed.
    #[error("{tool} output exceeds the {limit}-byte cap")]
    OutputTooLarge { tool: &'static str, limit: usize },
    /// A SOPS-encrypted file could not be decrypted: no key opens it, or its MAC does not match.
    /// The message never holds a value.
    #[error("{file}: SOPS decryption failed: {message}")]
    Decryption { file: String, message: String },
    /// A Helm `valueFiles` entry names `$<ref>` and no source of the Application has that `ref`.
    #[error("{field}: {reference:?} names ${name}, and no source has ref: {name}")]
    ValuesRefNotFound { field: String, reference: String, name: String },
    /// Two sources of one Application render the same object.
    #[error("{object} is rendered by source {first} ({first_file}) and again by source {second} ({second_file})")]
    RepeatedResource { object: String, first: usize, first_file: String, second: usize, second_file: String },
    /// The render's scratch space could not be prepared.
    #[error("preparing the render ({what}): {message}")]
    Scratch { what: String, message: String },
}

impl RenderError {
    /// The `Ready` reason of a render that failed: a path that is not there, a path that leaves
    /// the repository (the spec is wrong), or the render itself.
    pub fn reason(&self) -> lockstep_api::conditions::Reason {
        match self {
            Self::PathNotFound { .. } => lockstep_api::conditions::Reason::PathNotFound,
            Self::PathOutsideRepository { .. } => lockstep_api::conditions::Reason::InvalidSpec,
            Self::RemoteChart { .. } | Self::Dependency { .. } | Self::HelmChart { .. } => {
                lockstep_api::conditions::Reason::DependencyNotResolved
            }
            Self::Decryption { .. } => lockstep_api::conditions::Reason::DecryptionFailed,
            Self::ValuesRefNotFound { .. } => lockstep_api::conditions::Reason::ValuesRefNotFound,
            Self::RepeatedResource { .. } => lockstep_api::conditions::Reason::RepeatedResource,
            _ => lockstep_api::conditions::Reason::RenderFailed,
        }
    }

    /// A scratch-space failure for `what`.
    pub(crate) fn scratch(what: impl std::fmt::Display, err: impl std::fmt::Display) -> Self {
        Self::Scratch { what: what.to_string(), message: err.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_api::conditions::Reason;

    #[test]
    fn a_wrong_path_is_told_apart_from_a_failed_render() {
        assert_eq!(RenderError::PathNotFound { path: "deploy".into() }.reason(), Reason::PathNotFound);
        assert_eq!(RenderError::PathOutsideRepository { path: "../x".into() }.reason(), Reason::InvalidSpec);
        assert_eq!(RenderError::Timeout { tool: "helm", seconds: 60 }.reason(), Reason::RenderFailed);
    }
}
