//! Which Application an object belongs to: the tracking annotation and label, and prune safety. Pure.

use serde_json::Value;

use crate::key::ResourceKey;

/// Annotation naming the Application that manages an object.
pub const TRACKING_ANNOTATION: &str = "lockstep.dev/tracking-id";
/// Label on every managed object, so watches can select managed objects only.
pub const MANAGED_LABEL: &str = "lockstep.dev/managed";
/// Annotation that keeps an object from ever being pruned (`disabled`).
pub const PRUNE_ANNOTATION: &str = "lockstep.dev/prune";
/// Argo CD's per-object sync options; `Prune=false` is honoured.
pub const ARGO_SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";

/// The Application an engine run works for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppRef {
    /// The Application's namespace.
    pub namespace: String,
    /// The Application's name.
    pub name: String,
}

impl AppRef {
    /// `<app-namespace>/<app-name>:<group>/<kind>:<namespace>/<name>`: unique per object and app.
    pub fn tracking_id(&self, key: &ResourceKey) -> String {
        format!(
            "{}/{}:{}/{}:{}/{}",
            self.namespace,
            self.name,
            key.group,
            key.kind,
            key.namespace.as_deref().unwrap_or_default(),
            key.name
        )
    }
}

/// `<namespace>/<name>`, as messages and tracking ids name an Application.
impl std::fmt::Display for AppRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The Application named in a tracking id.
pub fn owner_of(tracking_id: &str) -> Option<AppRef> {
    let (app, _) = tracking_id.split_once(':')?;
    let (namespace, name) = app.split_once('/')?;
    (!namespace.is_empty() && !name.is_empty()).then(|| AppRef { namespace: namespace.into(), name: name.into() })
}

/// The tracking id on a live object, if any.
pub fn tracking_id_of(object: &Value) -> Option<&str> {
    object["metadata"]["annotations"][TRACKING_ANNOTATION].as_str()
}

/// Adds the tracking annotation and the managed label to an object about to be applied.
pub fn mark(mut object: Value, app: &AppRef, key: &ResourceKey) -> Value {
    let id = app.tracking_id(key);
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        insert(metadata, "annotations", TRACKING_ANNOTATION, id);
        insert(metadata, "labels", MANAGED_LABEL, "true".into());
    }
    object
}

fn insert(metadata: &mut serde_json::Map<String, Value>, field: &str, key: &str, value: String) {
    let entry = metadata.entry(field).or_insert_with(|| Value::Object(Default::default()));
    if !entry.is_object() {
        *entry = Value::Object(Default::default());
    }
    if let Some(map) = entry.as_object_mut() {
        map.insert(key.into(), Value::String(value));
    }
}

/// Whether an object says it must never be pruned (`lockstep.dev/prune: disabled` or Argo's `Prune=false`).
pub fn prune_disabled(object: &Value) -> bool {
    let annotations = &object["metadata"]["annotations"];
    let ours = annotations[PRUNE_ANNOTATION].as_str().is_some_and(|v| v.eq_ignore_ascii_case("disabled"));
    let argo = annotations[ARGO_SYNC_OPTIONS]
        .as_str()
        .is_some_and(|opts| opts.split(',').any(|o| o.trim().eq_ignore_ascii_case("Prune=false")));
    ours || argo
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app() -> AppRef {
        AppRef { namespace: "team".into(), name: "web".into() }
    }

    fn key() -> ResourceKey {
        ResourceKey {
            group: "apps".into(),
            version: "v1".into(),
            kind: "Deployment".into(),
            namespace: Some("prod".into()),
            name: "web".into(),
        }
    }

    #[test]
    fn tracking_ids_round_trip_to_their_app() {
        let id = app().tracking_id(&key());
        assert_eq!(id, "team/web:apps/Deployment:prod/web");
        assert_eq!(owner_of(&id), Some(app()));
        assert_eq!(owner_of("garbage"), None);
    }

    #[test]
    fn marking_adds_annotation_and_label_and_keeps_the_rest() {
        let object = json!({"metadata": {"name": "web", "labels": {"a": "b"}}});
        let marked = mark(object, &app(), &key());
        assert_eq!(tracking_id_of(&marked), Some("team/web:apps/Deployment:prod/web"));
        assert_eq!(marked["metadata"]["labels"], json!({"a": "b", MANAGED_LABEL: "true"}));
    }

    #[test]
    fn prune_can_be_disabled_either_way() {
        assert!(prune_disabled(&json!({"metadata": {"annotations": {PRUNE_ANNOTATION: "disabled"}}})));
        assert!(prune_disabled(
            &json!({"metadata": {"annotations": {ARGO_SYNC_OPTIONS: "Replace=true, Prune=false"}}})
        ));
        assert!(!prune_disabled(&json!({"metadata": {"annotations": {ARGO_SYNC_OPTIONS: "Replace=true"}}})));
        assert!(!prune_disabled(&json!({"metadata": {}})));
    }
}
