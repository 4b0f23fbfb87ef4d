use thiserror::Error;

/// Failures that abort a reconcile and are retried with backoff. Problems with an Application's
/// own content are not errors: they end as conditions on its status.
#[derive(Debug, Error)]
pub enum ControllerError {
    /// Writing the status of an Application failed.
    #[error("writing status of {app}: {source}")]
    WriteStatus { app: String, source: kube::Error },
    /// The git cache could not be set up.
    #[error("git cache: {0}")]
    Cache(#[from] lockstep_source::SourceError),
    /// Watching Applications failed for good.
    #[error("watching Applications: {0}")]
    Watch(String),
    /// The metrics or webhook server could not listen on its address.
    #[error("{what} server cannot listen on {addr}: {source}")]
    Listen { what: &'static str, addr: std::net::SocketAddr, source: std::io::Error },
}
