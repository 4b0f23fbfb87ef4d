//! Preparing a rendered object for apply: pure.

use serde_json::Value;

/// Sets the namespace a namespaced object will live in (its own, else `default_namespace`) and strips
/// it from cluster-scoped objects, as kubectl does.
pub fn place(mut object: Value, namespaced: bool, default_namespace: &str) -> Value {
    let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) else {
        return object;
    };
    let has_namespace = metadata.get("namespace").and_then(Value::as_str).is_some_and(|ns| !ns.is_empty());
    if !namespaced {
        metadata.remove("namespace");
    } else if !has_namespace {
        metadata.insert("namespace".into(), Value::String(default_namespace.to_string()));
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn namespaced_objects_get_the_default_only_when_they_name_none() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
        assert_eq!(place(cm, true, "dest")["metadata"]["namespace"], "dest");
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "namespace": "own"}});
        assert_eq!(place(cm, true, "dest")["metadata"]["namespace"], "own");
    }

    #[test]
    fn cluster_scoped_objects_lose_a_namespace() {
        let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a", "namespace": "x"}});
        assert!(place(ns, false, "dest")["metadata"].get("namespace").is_none());
    }
}
