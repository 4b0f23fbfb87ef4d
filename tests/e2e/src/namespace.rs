//! A namespace per test, deleted when the test ends.

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{Api, PostParams};

use crate::cluster::kubectl;

/// A uniquely named namespace; deleted (without waiting) on drop.
pub struct TestNamespace {
    /// The namespace's name.
    pub name: String,
}

impl TestNamespace {
    /// Creates `PREFIX-<random>`.
    pub async fn create(client: &kube::Client, prefix: &str) -> anyhow::Result<Self> {
        let name = format!("{prefix}-{:08x}", rand::random::<u32>());
        let ns: Namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": name}}))?;
        Api::<Namespace>::all(client.clone()).create(&PostParams::default(), &ns).await?;
        Ok(Self { name })
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if std::env::var_os("LOCKSTEP_E2E_KEEP").is_none() {
            let _ = kubectl(&["delete", "namespace", &self.name, "--wait=false"], None);
        }
    }
}
