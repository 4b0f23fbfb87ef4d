//! Field-level views of objects: which fields differ between two versions, and Secret values
//! masked so they never reach a terminal or a CI log. Pure.

use serde_json::{Map, Value};

/// The annotation kubectl's client-side apply keeps a full copy of the object in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Every leaf path where `before` and `after` differ, such as
/// `spec.template.spec.containers[0].image` or `metadata.labels["app.kubernetes.io/name"]`. A list
/// whose length changed is reported as a whole.
pub(crate) fn changed_paths(before: &Value, after: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(before, after, String::new(), &mut out);
    out
}

fn walk(before: &Value, after: &Value, path: String, out: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let child = join(&path, key);
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => walk(x, y, child, out),
                    (x, y) if x != y => out.push(child),
                    _ => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                walk(x, y, format!("{path}[{i}]"), out);
            }
        }
        (a, b) if a != b => out.push(if path.is_empty() { ".".into() } else { path }),
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (path.is_empty(), plain) {
        (true, true) => key.to_string(),
        (false, true) => format!("{path}.{key}"),
        (_, false) => format!("{path}[{key:?}]"),
    }
}

/// Whether an object is a core `Secret`.
pub(crate) fn is_secret(object: &Value) -> bool {
    object["kind"] == "Secret" && object["apiVersion"] == "v1"
}

/// Masks the values of a Secret's `data` and `stringData` on both sides of a comparison, keeping
/// whether each value changed visible: an unchanged value reads `***` on both sides, a changed one
/// `*** (before)` and `*** (after)`. kubectl's last-applied annotation is masked too. Objects that
/// are not Secrets pass unchanged.
pub(crate) fn mask_secrets(before: Option<&Value>, after: Option<&Value>) -> (Option<Value>, Option<Value>) {
    let secret = before.is_some_and(is_secret) || after.is_some_and(is_secret);
    let mut before = before.cloned();
    let mut after = after.cloned();
    if !secret {
        return (before, after);
    }
    for field in ["data", "stringData"] {
        let old = before.as_ref().and_then(|b| b[field].as_object().cloned()).unwrap_or_default();
        let new = after.as_ref().and_then(|a| a[field].as_object().cloned()).unwrap_or_default();
        if let Some(b) = before.as_mut() {
            mask_map(b, field, &new, "before");
        }
        if let Some(a) = after.as_mut() {
            mask_map(a, field, &old, "after");
        }
    }
    for object in [before.as_mut(), after.as_mut()].into_iter().flatten() {
        if let Some(value) = object.pointer_mut(&format!("/metadata/annotations/{}", LAST_APPLIED.replace('/', "~1"))) {
            *value = Value::String("***".into());
        }
    }
    (before, after)
}

fn mask_map(object: &mut Value, field: &str, other: &Map<String, Value>, side: &str) {
    let Some(map) = object.get_mut(field).and_then(Value::as_object_mut) else { return };
    for (key, value) in map.iter_mut() {
        let same = other.get(key) == Some(value);
        let changed = other.contains_key(key) && !same;
        *value = Value::String(if changed { format!("*** ({side})") } else { "***".into() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_exactly_the_changed_leaves() {
        let before = json!({"metadata": {"labels": {"app.kubernetes.io/name": "a", "x": "1"}},
            "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1"}]}}}});
        let after = json!({"metadata": {"labels": {"app.kubernetes.io/name": "b", "x": "1"}},
            "spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}});
        assert_eq!(
            changed_paths(&before, &after),
            vec![r#"metadata.labels["app.kubernetes.io/name"]"#, "spec.template.spec.containers[0].image"]
        );
    }

    #[test]
    fn added_removed_and_resized_fields() {
        let before = json!({"a": 1, "list": [1, 2], "gone": true});
        let after = json!({"a": 1, "list": [1], "new": {"x": 1}});
        assert_eq!(changed_paths(&before, &after), vec!["gone", "list", "new"]);
        assert!(changed_paths(&before, &before).is_empty());
    }

    #[test]
    fn secret_values_are_masked_but_changes_stay_visible() {
        let before = json!({"apiVersion": "v1", "kind": "Secret", "data": {"same": "czE=", "changed": "b2xk", "gone": "eA=="},
            "metadata": {"annotations": {LAST_APPLIED: "{\"data\":{\"same\":\"czE=\"}}"}}});
        let after =
            json!({"apiVersion": "v1", "kind": "Secret", "data": {"same": "czE=", "changed": "bmV3", "added": "eQ=="}});
        let (b, a) = mask_secrets(Some(&before), Some(&after));
        let (b, a) = (b.unwrap(), a.unwrap());
        assert_eq!(b["data"], json!({"same": "***", "changed": "*** (before)", "gone": "***"}));
        assert_eq!(a["data"], json!({"same": "***", "changed": "*** (after)", "added": "***"}));
        assert_eq!(b["metadata"]["annotations"][LAST_APPLIED], "***");
        let text = format!("{b}{a}");
        for value in ["czE=", "b2xk", "bmV3", "eA==", "eQ=="] {
            assert!(!text.contains(value), "{value} leaked");
        }
    }

    #[test]
    fn other_kinds_are_left_alone() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}});
        assert_eq!(mask_secrets(Some(&cm), None), (Some(cm), None));
    }
}
