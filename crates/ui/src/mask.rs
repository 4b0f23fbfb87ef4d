//! Secrets shown without their values: every `data` and `stringData` value of a Secret, and the
//! last-applied annotation that would repeat them, become `***`. Pure.

use serde_json::Value;

/// The annotation kubectl's client-side apply keeps a copy of the object in.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// `object` with a Secret's values masked (any group's `Secret`: masking too much is harmless);
/// any other kind unchanged.
pub fn mask_secret(mut object: Value) -> Value {
    if object["kind"] != "Secret" {
        return object;
    }
    for field in ["data", "stringData"] {
        if let Some(map) = object.get_mut(field).and_then(Value::as_object_mut) {
            for value in map.values_mut() {
                *value = Value::String("***".into());
            }
        }
    }
    if let Some(annotations) = object.pointer_mut("/metadata/annotations").and_then(Value::as_object_mut)
        && let Some(value) = annotations.get_mut(LAST_APPLIED)
    {
        *value = Value::String("***".into());
    }
    object
}

/// `object` without `metadata.managedFields`, which says nothing a reader of the page wants.
pub fn without_managed_fields(mut object: Value) -> Value {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_secrets_values_are_masked_and_its_keys_kept() {
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "db", "annotations": {LAST_APPLIED: "{\"data\":{\"password\":\"aHVudGVyMg==\"}}", "team": "a"}},
            "data": {"password": "aHVudGVyMg=="}, "stringData": {"user": "admin"}, "type": "Opaque"});
        let masked = mask_secret(secret);
        assert_eq!(masked["data"], json!({"password": "***"}));
        assert_eq!(masked["stringData"], json!({"user": "***"}));
        assert_eq!(masked["metadata"]["annotations"][LAST_APPLIED], "***");
        assert_eq!(masked["metadata"]["annotations"]["team"], "a");
        assert_eq!(masked["type"], "Opaque");
        assert!(!masked.to_string().contains("aHVudGVyMg"));
    }

    #[test]
    fn other_kinds_are_shown_as_they_are() {
        let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"password": "visible"}});
        assert_eq!(mask_secret(config_map.clone()), config_map);
        let custom = json!({"apiVersion": "example.dev/v1", "kind": "Secret", "data": {"k": "v"}});
        assert_eq!(mask_secret(custom)["data"]["k"], "***", "a Secret of any group is masked");
    }

    #[test]
    fn managed_fields_are_dropped() {
        let object = json!({"metadata": {"name": "a", "managedFields": [{"manager": "x"}]}});
        assert_eq!(without_managed_fields(object), json!({"metadata": {"name": "a"}}));
    }
}
