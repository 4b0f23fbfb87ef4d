//! Drift modes: what a sync does with live changes made outside git. Pure.
//!
//! `spec.syncPolicy.drift` sets the mode for every object; an object's `lockstep.dev/drift`
//! annotation overrides it for that object. `heal` overwrites drift. `warn` reports it and never
//! overwrites it: a new revision applies only the fields git changed ([`preserve_drift`]), every
//! other field keeps its live value. `ignore` creates a missing object and then leaves it alone.

use std::collections::BTreeMap;

use lockstep_api::DriftMode;
use serde_json::{Map, Value};

use crate::annotations::{DRIFT, annotation};
use crate::error::ObjectError;
use crate::key::ResourceKey;
use crate::tracking::{MANAGED_LABEL, TRACKING_ANNOTATION};

/// Metadata fields the server maintains: never taken from the live object.
const SERVER_METADATA: &[&str] = &[
    "managedFields",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "uid",
    "selfLink",
];

/// How a drift mode leaves an object that exists and differs from git.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kept {
    /// `warn`: the drift is reported (OutOfSync) and not overwritten.
    Reported,
    /// `ignore`: the object is left alone after creation (reported Synced).
    LeftAlone,
}

impl Kept {
    /// Why the plan skips the object, in a phrase.
    pub fn reason(self) -> &'static str {
        match self {
            Kept::Reported => "drift is reported, not overwritten (drift: warn)",
            Kept::LeftAlone => "left alone after creation (drift: ignore)",
        }
    }
}

/// The drift mode of one rendered object: its `lockstep.dev/drift` annotation, else `app_wide`
/// (the Application's). An unknown value is the object's error, naming the annotation and value.
pub fn mode_of(object: &Value, app_wide: DriftMode) -> Result<DriftMode, ObjectError> {
    match annotation(object, &[DRIFT]) {
        None => Ok(app_wide),
        Some(value) => match value.to_ascii_lowercase().as_str() {
            "heal" => Ok(DriftMode::Heal),
            "warn" => Ok(DriftMode::Warn),
            "ignore" => Ok(DriftMode::Ignore),
            _ => Err(ObjectError::refused(format!(
                "annotation {DRIFT}: unknown value {value:?}; expected heal, warn or ignore"
            ))),
        },
    }
}

/// The previous revision's git object of the object `key`, from `previous` (keyed as the engine
/// addresses objects; a namespaced object rendered without a namespace may be keyed without one).
pub fn previous_of<'a>(previous: &'a BTreeMap<ResourceKey, Value>, key: &ResourceKey) -> Option<&'a Value> {
    previous.get(key).or_else(|| previous.get(&ResourceKey { namespace: None, ..key.clone() }))
}

/// The object to apply under drift mode `warn`: `new_git` where every leaf git did not change
/// (`previous_git` has the same value there) but the live object has another value (or none) takes
/// the live value (or is left out), so server-side apply leaves the drift in place; a field git
/// changed, added or removed follows git. Arrays are leaves; maps are recursed into. Identity,
/// lockstep's tracking marks, server-maintained metadata, `status` and a Secret's `stringData`
/// (never stored as written) stay as git says. Without `previous_git` nothing is known to have
/// changed, so every drifted leaf is kept.
pub fn preserve_drift(previous_git: Option<&Value>, new_git: &Value, live: &Value) -> Value {
    let previous = previous_git.unwrap_or(new_git);
    let mut path = Vec::new();
    merge(Some(previous), new_git, Some(live), &mut path).unwrap_or_else(|| new_git.clone())
}

/// Whether applying under drift mode `warn` changes the live object: git changed (added, altered or
/// removed) a leaf since `previous_git` whose live value is not git's new one. Without
/// `previous_git` nothing is known to have changed.
pub fn git_change_due(previous_git: Option<&Value>, new_git: &Value, live: &Value) -> bool {
    previous_git.is_some_and(|previous| due(Some(previous), Some(new_git), Some(live), &mut Vec::new()))
}

/// `new` with drifted leaves git did not change taken from `live`; `None` when the field is to be
/// left out of the applied object.
fn merge<'a>(
    previous: Option<&'a Value>,
    new: &'a Value,
    live: Option<&'a Value>,
    path: &mut Vec<&'a str>,
) -> Option<Value> {
    if git_owned(path) {
        return Some(new.clone());
    }
    if let Value::Object(fields) = new {
        let mut merged = Map::new();
        for (name, child) in fields {
            path.push(name);
            let at = |v: Option<&'a Value>| v.and_then(|v| v.get(name));
            if let Some(value) = merge(at(previous), child, at(live), path) {
                merged.insert(name.clone(), value);
            }
            path.pop();
        }
        let emptied = merged.is_empty() && !fields.is_empty();
        return if emptied { None } else { Some(Value::Object(merged)) };
    }
    let git_unchanged = previous == Some(new);
    if git_unchanged && live != Some(new) { live.cloned() } else { Some(new.clone()) }
}

/// Whether git changed a leaf under `path` (between `previous` and `new`) that `live` does not hold.
fn due<'a>(
    previous: Option<&'a Value>,
    new: Option<&'a Value>,
    live: Option<&'a Value>,
    path: &mut Vec<&'a str>,
) -> bool {
    if previous == new || server_maintained(path) {
        return false;
    }
    let fields = |v: Option<&'a Value>| v.and_then(Value::as_object);
    if fields(previous).is_some() || fields(new).is_some() {
        let names = fields(previous).into_iter().chain(fields(new)).flat_map(|m| m.keys());
        let mut names: Vec<&'a String> = names.collect();
        names.sort();
        names.dedup();
        return names.into_iter().any(|name| {
            path.push(name);
            let at = |v: Option<&'a Value>| v.and_then(|v| v.get(name.as_str()));
            let due = due(at(previous), at(new), at(live), path);
            path.pop();
            due
        });
    }
    live != new
}

/// Fields whose applied value is always git's: identity, lockstep's marks, a Secret's write-only
/// `stringData`, and what the server maintains.
fn git_owned(path: &[&str]) -> bool {
    match path {
        ["apiVersion" | "kind" | "stringData"] | ["metadata", "name" | "namespace"] => true,
        ["metadata", "annotations", name] => *name == TRACKING_ANNOTATION,
        ["metadata", "labels", name] => *name == MANAGED_LABEL,
        _ => server_maintained(path),
    }
}

/// `status` and the metadata the server maintains: no change there is git's to apply.
fn server_maintained(path: &[&str]) -> bool {
    match path {
        ["status"] => true,
        ["metadata", field] => SERVER_METADATA.contains(field),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(replicas: i64, image: &str, labels: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "prod", "labels": labels},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}}})
    }

    #[test]
    fn a_drifted_field_git_did_not_change_keeps_its_live_value() {
        let git = deployment(2, "web:1", json!({"app": "web"}));
        let live = deployment(5, "web:1", json!({"app": "web"}));
        assert_eq!(preserve_drift(Some(&git), &git, &live)["spec"]["replicas"], 5);
        assert!(!git_change_due(Some(&git), &git, &live), "git changed nothing");
    }

    #[test]
    fn a_field_git_changed_takes_gits_new_value() {
        let previous = deployment(2, "web:1", json!({"app": "web"}));
        let new = deployment(3, "web:1", json!({"app": "web"}));
        let live = deployment(5, "web:1", json!({"app": "web"}));
        assert_eq!(preserve_drift(Some(&previous), &new, &live)["spec"]["replicas"], 3);
        assert!(git_change_due(Some(&previous), &new, &live));
        let applied = deployment(3, "web:1", json!({"app": "web"}));
        assert!(!git_change_due(Some(&previous), &new, &applied), "the live object already holds git's change");
    }

    #[test]
    fn nested_maps_are_merged_leaf_by_leaf() {
        let previous = deployment(2, "web:1", json!({"app": "web", "tier": "front"}));
        let new = deployment(2, "web:1", json!({"app": "web2", "tier": "front"}));
        let live = deployment(2, "web:1", json!({"app": "web", "tier": "back", "extra": "x"}));
        let applied = preserve_drift(Some(&previous), &new, &live);
        assert_eq!(
            applied["metadata"]["labels"],
            json!({"app": "web2", "tier": "back"}),
            "extra is not git's to apply"
        );
        assert_eq!(applied["metadata"]["name"], "web");
    }

    #[test]
    fn arrays_are_leaves() {
        let git = deployment(2, "web:1", json!({}));
        let live = deployment(2, "web:debug", json!({}));
        let applied = preserve_drift(Some(&git), &git, &live);
        assert_eq!(applied["spec"]["template"]["spec"]["containers"], live["spec"]["template"]["spec"]["containers"]);
        let new = deployment(2, "web:2", json!({}));
        let applied = preserve_drift(Some(&git), &new, &live);
        assert_eq!(applied["spec"]["template"]["spec"]["containers"][0]["image"], "web:2", "git changed the array");
    }

    #[test]
    fn server_fields_identity_and_tracking_marks_stay_gits() {
        let mut git = deployment(2, "web:1", json!({"lockstep.dev/managed": "true"}));
        git["metadata"]["annotations"] = json!({"lockstep.dev/tracking-id": "argo/web:apps/Deployment:prod/web"});
        let mut live = git.clone();
        live["metadata"]["resourceVersion"] = json!("42");
        live["metadata"]["uid"] = json!("u-1");
        live["metadata"]["managedFields"] = json!([{"manager": "kubectl"}]);
        live["status"] = json!({"replicas": 2});
        live["metadata"]["annotations"]["lockstep.dev/tracking-id"] = json!("argo/old:apps/Deployment:prod/web");
        live["metadata"]["labels"]["lockstep.dev/managed"] = json!("false");
        live["metadata"]["namespace"] = json!("other");
        assert_eq!(preserve_drift(None, &git, &live), git);
    }

    #[test]
    fn without_the_previous_object_every_drifted_leaf_is_kept() {
        let new = deployment(3, "web:2", json!({"app": "web"}));
        let live = deployment(5, "web:1", json!({"app": "web"}));
        let applied = preserve_drift(None, &new, &live);
        assert_eq!(applied["spec"], live["spec"]);
        assert!(!git_change_due(None, &new, &live), "nothing is known to have changed");
    }

    #[test]
    fn a_field_git_added_is_applied() {
        let previous = deployment(2, "web:1", json!({"app": "web"}));
        let new = deployment(2, "web:1", json!({"app": "web", "team": "a"}));
        let live = deployment(2, "web:1", json!({"app": "web"}));
        assert_eq!(preserve_drift(Some(&previous), &new, &live)["metadata"]["labels"]["team"], "a");
        assert!(git_change_due(Some(&previous), &new, &live));
    }

    #[test]
    fn a_field_git_removed_is_left_out_and_a_field_deleted_live_stays_deleted() {
        let previous = deployment(2, "web:1", json!({"app": "web", "team": "a"}));
        let new = deployment(2, "web:1", json!({"app": "web"}));
        let live = deployment(2, "web:1", json!({"app": "web", "team": "a"}));
        assert_eq!(preserve_drift(Some(&previous), &new, &live)["metadata"]["labels"], json!({"app": "web"}));
        assert!(git_change_due(Some(&previous), &new, &live), "the apply removes it");
        let deleted = deployment(2, "web:1", json!({}));
        let applied = preserve_drift(Some(&new), &new, &deleted);
        assert_eq!(applied["metadata"].get("labels"), None, "a map emptied by drift is left out");
    }

    #[test]
    fn the_annotation_overrides_the_applications_mode() {
        let with = |value: &str| json!({"metadata": {"annotations": {"lockstep.dev/drift": value}}});
        assert_eq!(mode_of(&json!({}), DriftMode::Warn), Ok(DriftMode::Warn));
        assert_eq!(mode_of(&with("ignore"), DriftMode::Heal), Ok(DriftMode::Ignore));
        assert_eq!(mode_of(&with(" Heal "), DriftMode::Warn), Ok(DriftMode::Heal));
        let error = mode_of(&with("sometimes"), DriftMode::Heal).unwrap_err();
        assert_eq!(
            error.message,
            "annotation lockstep.dev/drift: unknown value \"sometimes\"; expected heal, warn or ignore"
        );
    }

    #[test]
    fn the_previous_object_is_found_with_or_without_its_namespace() {
        let key = |ns: Option<&str>| ResourceKey {
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: ns.map(String::from),
            name: "a".into(),
            ..Default::default()
        };
        let previous = BTreeMap::from([(key(None), json!({"data": 1}))]);
        assert_eq!(previous_of(&previous, &key(Some("web"))), Some(&json!({"data": 1})));
        assert_eq!(previous_of(&BTreeMap::new(), &key(Some("web"))), None);
    }
}
