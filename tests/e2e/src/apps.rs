//! Creating, reading and poking Applications.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Api, Patch, PatchParams};
use lockstep_api::{Application, REFRESH_ANNOTATION, SyncStatusCode};
use serde_json::{Value, json};

use crate::wait::wait_for;

/// How long an end-to-end wait lasts before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Creates or updates an Application from its `spec` (server-side apply as the test's own manager).
pub async fn apply_app(client: &kube::Client, namespace: &str, name: &str, spec: Value) -> anyhow::Result<Application> {
    let body = json!({
        "apiVersion": "lockstep.dev/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    });
    let api: Api<Application> = Api::namespaced(client.clone(), namespace);
    Ok(api.patch(name, &PatchParams::apply("e2e-test").force(), &Patch::Apply(&body)).await?)
}

/// Reads an Application.
pub async fn get_app(client: &kube::Client, namespace: &str, name: &str) -> anyhow::Result<Application> {
    Ok(Api::<Application>::namespaced(client.clone(), namespace).get(name).await?)
}

/// Asks for an immediate fetch and compare by changing `lockstep.dev/refresh`; returns the value,
/// which the controller echoes in `status.observedRefresh` once it has compared.
pub async fn refresh(client: &kube::Client, namespace: &str, name: &str) -> anyhow::Result<String> {
    let value = format!("{}", rand::random::<u64>());
    let patch = json!({"metadata": {"annotations": {REFRESH_ANNOTATION: value}}});
    Api::<Application>::namespaced(client.clone(), namespace)
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(value)
}

/// The Application's `Ready` condition, if any.
pub fn ready(app: &Application) -> Option<&Condition> {
    app.status.as_ref()?.conditions.iter().find(|c| c.type_ == "Ready")
}

/// The Application's synced revision (`status.sync.revision`), empty before its first sync.
pub fn revision(app: &Application) -> String {
    app.status.as_ref().and_then(|s| s.sync.revision.clone()).unwrap_or_default()
}

/// Whether the Application is Ready at the revision `wanted`.
pub fn synced_at(app: &Application, wanted: &str) -> bool {
    ready(app).is_some_and(|c| c.status == "True") && revision(app) == wanted
}

/// Waits until the Application is Synced with exactly these per-source revisions.
pub async fn wait_revisions(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    revisions: &[&str],
) -> anyhow::Result<Application> {
    wait_app(client, namespace, name, &format!("Synced at {revisions:?}"), |app| {
        app.status.as_ref().is_some_and(|s| s.sync.status == SyncStatusCode::Synced && s.sync.revisions == revisions)
    })
    .await
}

/// Waits until `accept` holds for the Application, returning it; the timeout error shows its status.
pub async fn wait_app(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    what: &str,
    accept: impl Fn(&Application) -> bool,
) -> anyhow::Result<Application> {
    wait_for(what, TIMEOUT, || async {
        let app = get_app(client, namespace, name).await?;
        if accept(&app) { Ok(Some(app)) } else { anyhow::bail!("status is {}", serde_json::to_string(&app.status)?) }
    })
    .await
}

/// Waits until the Ready condition has this reason, returning the Application.
pub async fn wait_reason(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    reason: &str,
) -> anyhow::Result<Application> {
    wait_app(client, namespace, name, &format!("Ready reason {reason}"), |app| {
        ready(app).is_some_and(|c| c.reason == reason)
    })
    .await
}

/// The reasons of the Events recorded on an Application, oldest first.
pub async fn event_reasons(client: &kube::Client, namespace: &str, app: &str) -> anyhow::Result<Vec<String>> {
    let events = Api::<k8s_openapi::api::core::v1::Event>::namespaced(client.clone(), namespace)
        .list(&kube::api::ListParams::default().fields(&format!("involvedObject.name={app}")))
        .await?;
    Ok(events.items.into_iter().filter_map(|e| e.reason).collect())
}

/// Waits until every reason in `wanted` is among the Application's Events, returning all reasons.
/// Events follow the status write that a test usually waits on, so a single list can miss them.
pub async fn wait_event_reasons(
    client: &kube::Client,
    namespace: &str,
    app: &str,
    wanted: &[&str],
) -> anyhow::Result<Vec<String>> {
    wait_for(&format!("Events {wanted:?} on {app}"), TIMEOUT, || async {
        let reasons = event_reasons(client, namespace, app).await?;
        if wanted.iter().all(|w| reasons.iter().any(|r| r == w)) {
            Ok(Some(reasons))
        } else {
            anyhow::bail!("Events so far: {reasons:?}")
        }
    })
    .await
}
