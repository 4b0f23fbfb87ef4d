//! ConfigMaps as most end-to-end tests use them: one `value` key, written to git and read back.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;

use crate::apps::TIMEOUT;
use crate::wait::wait_for;

/// A ConfigMap manifest named `name` whose `data.value` is `value`.
pub fn config_map(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n")
}

/// The live ConfigMap's `data.value`, `None` when it or the key is absent.
pub async fn value(client: &kube::Client, ns: &str, name: &str) -> Option<String> {
    data(client, ns, name, "value").await
}

/// The live ConfigMap's `data[key]`, `None` when it or the key is absent.
pub async fn data(client: &kube::Client, ns: &str, name: &str, key: &str) -> Option<String> {
    Api::<ConfigMap>::namespaced(client.clone(), ns).get_opt(name).await.ok()??.data?.get(key).cloned()
}

/// Waits until the ConfigMap's `data[key]` is `want`.
pub async fn wait_data(client: &kube::Client, ns: &str, name: &str, key: &str, want: &str) -> anyhow::Result<()> {
    wait_for(&format!("ConfigMap {name} {key}={want}"), TIMEOUT, || async {
        let seen = data(client, ns, name, key).await;
        if seen.as_deref() == Some(want) { Ok(Some(())) } else { anyhow::bail!("{key} is {seen:?}") }
    })
    .await
}

/// Waits until the ConfigMap's `data.value` is `want` (`None`: until it is gone).
pub async fn wait_value(client: &kube::Client, ns: &str, name: &str, want: Option<&str>) -> anyhow::Result<()> {
    wait_for(&format!("{name}.value = {want:?}"), TIMEOUT, || async {
        let now = value(client, ns, name).await;
        if now.as_deref() == want { Ok(Some(())) } else { anyhow::bail!("{name}.value is {now:?}") }
    })
    .await
}
