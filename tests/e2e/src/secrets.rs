//! Secrets as the tests hand them to lockstep: credentials and keys, server-side applied.

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use serde_json::Value;

/// Creates or replaces the Secret `body` (a manifest with `metadata.name`) in `namespace`.
pub async fn apply_secret(client: &kube::Client, namespace: &str, body: Value) -> anyhow::Result<()> {
    let name = body["metadata"]["name"].as_str().unwrap_or_default().to_string();
    Api::<Secret>::namespaced(client.clone(), namespace)
        .patch(&name, &PatchParams::apply("e2e-test").force(), &Patch::Apply(&body))
        .await?;
    Ok(())
}
