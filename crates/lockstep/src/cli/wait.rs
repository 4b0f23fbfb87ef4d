//! Following an Application until its status says something: polling with a deadline, and the
//! tokens written to the request annotations.

use std::time::{Duration, Instant};

use kube::api::{Patch, PatchParams};
use lockstep_api::Application;

use crate::cli::Cluster;

/// How often a waiting command reads the Application.
const POLL: Duration = Duration::from_millis(500);

/// A token unique enough for one request: the current time in nanoseconds, in hex.
pub(crate) fn token() -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or_default();
    format!("{nanos:x}")
}

/// Sets one annotation on the Application (a merge patch, so nothing else is touched).
pub(crate) async fn annotate(cluster: &Cluster, name: &str, key: &str, value: &str) -> anyhow::Result<()> {
    use anyhow::Context as _;
    let patch = serde_json::json!({"metadata": {"annotations": {key: value}}});
    cluster
        .apps()
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("annotating Application {}/{name}", cluster.namespace))?;
    Ok(())
}

/// Reads the Application until `step` returns a value, or fails after `timeout`. `step` sees every
/// read, so it can print progress.
pub(crate) async fn until<T>(
    cluster: &Cluster,
    name: &str,
    timeout: Duration,
    mut step: impl FnMut(&Application) -> Option<T>,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        let app = cluster.app(name).await?;
        if let Some(value) = step(&app) {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            anyhow::bail!("timed out after {} waiting for Application {}/{name}", humanize(timeout), cluster.namespace);
        }
        tokio::time::sleep(POLL).await;
    }
}

fn humanize(duration: Duration) -> String {
    format!("{}s", duration.as_secs())
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_differ() {
        let a = super::token();
        std::thread::sleep(std::time::Duration::from_millis(1));
        assert_ne!(a, super::token());
    }
}
