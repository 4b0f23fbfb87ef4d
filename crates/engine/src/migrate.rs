//! Taking over objects that `kubectl apply` (client-side) created.
//!
//! Client-side apply records its fields under the manager `kubectl-client-side-apply` (operation
//! `Update`) and keeps the applied object in the `last-applied-configuration` annotation. Server-side
//! apply never removes fields another manager owns, so without help a field deleted from git would
//! stay on the object forever. As `k8s.io/client-go/util/csaupgrade` does for `kubectl apply
//! --server-side`, the client-side entries are folded into lockstep's `Apply` entry and the
//! annotation is dropped; from then on lockstep owns those fields and its apply removes what git no
//! longer has. [`upgrade`] is pure; [`take_over`] sends the patch.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use lockstep_api::FIELD_MANAGER;
use serde_json::{Map, Value, json};

/// Managers kubectl's client-side apply writes under (`apply`, and `apply set/edit-last-applied`).
pub const CLIENT_SIDE_MANAGERS: &[&str] = &["kubectl-client-side-apply", "kubectl-last-applied"];
/// Annotation in which client-side apply keeps the last applied object.
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The merge patch that hands a client-side-applied object's fields to lockstep, or `None` when
/// the object carries nothing of client-side apply. The patch pins `resourceVersion`, so it fails
/// rather than overwrite a concurrent change to managedFields. When git's own object carries the
/// last-applied annotation (manifests exported with `kubectl get -o yaml`), the annotation is
/// git's to keep: removing it would only see it applied again.
pub fn upgrade(live: &Value, desired: &Value) -> Option<Value> {
    let metadata = live.get("metadata")?;
    let entries = metadata["managedFields"].as_array().cloned().unwrap_or_default();
    let is_client_side = |e: &Value| {
        e["operation"] == "Update"
            && e.get("subresource").and_then(Value::as_str).is_none_or(str::is_empty)
            && e["manager"].as_str().is_some_and(|m| CLIENT_SIDE_MANAGERS.contains(&m))
    };
    let has_annotation = metadata["annotations"].get(LAST_APPLIED).is_some()
        && desired["metadata"]["annotations"].get(LAST_APPLIED).is_none();
    if !entries.iter().any(is_client_side) && !has_annotation {
        return None;
    }
    let mut kept = Vec::with_capacity(entries.len());
    let mut ours: Option<Value> = None;
    let mut taken = Vec::new();
    for entry in entries {
        if is_client_side(&entry) {
            taken.push(entry);
        } else if entry["manager"] == FIELD_MANAGER && entry["operation"] == "Apply" && ours.is_none() {
            ours = Some(entry);
        } else {
            kept.push(entry);
        }
    }
    let mut ours = match (ours, taken.first()) {
        (Some(ours), _) => ours,
        (None, Some(first)) => {
            let mut converted = first.clone();
            converted["manager"] = json!(FIELD_MANAGER);
            converted["operation"] = json!("Apply");
            converted["fieldsV1"] = json!({});
            converted
        }
        (None, None) => Value::Null,
    };
    if !ours.is_null() {
        let mut fields = ours["fieldsV1"].as_object().cloned().unwrap_or_default();
        for entry in &taken {
            if let Some(theirs) = entry["fieldsV1"].as_object() {
                union(&mut fields, theirs);
            }
        }
        if let Some(annotations) =
            fields.get_mut("f:metadata").and_then(|m| m.get_mut("f:annotations")).and_then(Value::as_object_mut)
        {
            annotations.remove(&format!("f:{LAST_APPLIED}"));
        }
        ours["fieldsV1"] = Value::Object(fields);
        kept.push(ours);
    }
    let mut patch_metadata = Map::new();
    patch_metadata.insert("resourceVersion".into(), metadata["resourceVersion"].clone());
    if !taken.is_empty() {
        patch_metadata.insert("managedFields".into(), Value::Array(kept));
    }
    if has_annotation {
        patch_metadata.insert("annotations".into(), json!({ LAST_APPLIED: null }));
    }
    Some(json!({ "metadata": patch_metadata }))
}

/// Adds every field of the fieldsV1 set `other` to `set`.
fn union(set: &mut Map<String, Value>, other: &Map<String, Value>) {
    for (name, theirs) in other {
        let entry = set.entry(name.clone()).or_insert_with(|| json!({}));
        if let (Some(mine), Some(theirs)) = (entry.as_object_mut(), theirs.as_object()) {
            union(mine, theirs);
        }
    }
}

/// Sends the [`upgrade`] patch for `live` when it needs one; returns whether it did.
pub async fn take_over(
    api: &Api<DynamicObject>,
    name: &str,
    live: &Value,
    desired: &Value,
) -> Result<bool, kube::Error> {
    let Some(patch) = upgrade(live, desired) else { return Ok(false) };
    let params = PatchParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
    api.patch(name, &params, &Patch::Merge(&patch)).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(manager: &str, operation: &str, fields: Value) -> Value {
        json!({"manager": manager, "operation": operation, "apiVersion": "v1", "fieldsType": "FieldsV1", "fieldsV1": fields})
    }

    #[test]
    fn objects_without_client_side_apply_need_nothing() {
        let live = json!({"metadata": {"resourceVersion": "7", "managedFields": [entry("lockstep", "Apply", json!({"f:data": {}}))]}});
        assert_eq!(upgrade(&live, &json!({})), None);
    }

    #[test]
    fn client_side_fields_become_lockstep_apply_fields_and_the_annotation_goes() {
        let live = json!({"metadata": {
            "resourceVersion": "7",
            "annotations": {LAST_APPLIED: "{}", "keep": "x"},
            "managedFields": [
                entry("kubectl-client-side-apply", "Update", json!({"f:data": {"f:a": {}, "f:b": {}},
                    "f:metadata": {"f:annotations": {".": {}, "f:keep": {}, format!("f:{LAST_APPLIED}"): {}}}})),
                entry("kubectl-edit", "Update", json!({"f:data": {"f:c": {}}})),
            ],
        }});
        let patch = upgrade(&live, &json!({})).expect("a patch");
        assert_eq!(patch["metadata"]["resourceVersion"], "7");
        assert_eq!(patch["metadata"]["annotations"], json!({LAST_APPLIED: null}));
        let fields = patch["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(fields.len(), 2);
        assert_eq!(fields[0]["manager"], "kubectl-edit", "other managers are kept");
        assert_eq!(fields[1]["manager"], "lockstep");
        assert_eq!(fields[1]["operation"], "Apply");
        assert_eq!(
            fields[1]["fieldsV1"],
            json!({"f:data": {"f:a": {}, "f:b": {}}, "f:metadata": {"f:annotations": {".": {}, "f:keep": {}}}})
        );
    }

    #[test]
    fn client_side_fields_merge_into_an_existing_lockstep_entry() {
        let live = json!({"metadata": {
            "resourceVersion": "9",
            "managedFields": [
                entry("lockstep", "Apply", json!({"f:data": {"f:a": {}}})),
                entry("kubectl-client-side-apply", "Update", json!({"f:data": {"f:b": {}}})),
            ],
        }});
        let patch = upgrade(&live, &json!({})).expect("a patch");
        assert!(patch["metadata"].get("annotations").is_none());
        let exported = json!({"metadata": {"resourceVersion": "9", "annotations": {LAST_APPLIED: "{}"}}});
        assert_eq!(upgrade(&exported, &exported), None, "git's own annotation stays");
        let fields = patch["metadata"]["managedFields"].as_array().unwrap();
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0]["fieldsV1"], json!({"f:data": {"f:a": {}, "f:b": {}}}));
    }
}
