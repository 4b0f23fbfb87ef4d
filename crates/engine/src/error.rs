use thiserror::Error;

/// Why a kind could not be addressed. `NotServed` is an answer (no such kind, so no such objects);
/// `Lookup` is a failure to ask, after which nothing may be concluded about the kind's objects.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum KindError {
    /// Discovery answered that the kind is not served.
    #[error("no kind {kind} is served in {api_version} (is its CRD installed?)")]
    NotServed { api_version: String, kind: String },
    /// Discovery itself failed.
    #[error("looking up kind {kind} in {api_version}: {message}")]
    Lookup { api_version: String, kind: String, message: String },
}
