use thiserror::Error;

/// Failures of the engine itself, as opposed to one object being rejected (see `ResourceResult`).
#[derive(Debug, Error)]
pub enum EngineError {
    /// The API server could not be asked what a kind is.
    #[error("looking up {api_version} {kind}: {message}")]
    Discovery { api_version: String, kind: String, message: String },
}
