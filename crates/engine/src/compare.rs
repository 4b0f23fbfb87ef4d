//! Deciding whether a live object matches what git would make of it: pure.
//!
//! The "desired" side is the server's own dry-run of our apply, so defaults and mutating webhooks are
//! already in it; what remains to remove is bookkeeping that changes on every write.

use serde_json::Value;

/// Metadata fields that the server maintains and that say nothing about drift.
const VOLATILE_METADATA: &[&str] =
    &["managedFields", "resourceVersion", "generation", "creationTimestamp", "uid", "selfLink"];

/// Strips status and server bookkeeping so two versions of one object can be compared.
pub fn normalize(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
        if let Some(metadata) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for field in VOLATILE_METADATA {
                metadata.remove(*field);
            }
        }
    }
    object
}

/// True when applying would change the live object, judged by the server's dry-run of that apply.
pub fn differs(live: &Value, dry_run: &Value) -> bool {
    normalize(live) != normalize(dry_run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bookkeeping_and_status_do_not_count() {
        let live = json!({"metadata": {"name": "a", "resourceVersion": "1", "generation": 1, "managedFields": [1]}, "data": {"k": "v"}, "status": {"x": 1}});
        let dry = json!({"metadata": {"name": "a", "resourceVersion": "2", "generation": 2, "managedFields": [2]}, "data": {"k": "v"}});
        assert!(!differs(&live, &dry));
    }

    #[test]
    fn spec_and_label_changes_count() {
        let live = json!({"metadata": {"name": "a"}, "data": {"k": "v"}});
        assert!(differs(&live, &json!({"metadata": {"name": "a"}, "data": {"k": "w"}})));
        assert!(differs(&live, &json!({"metadata": {"name": "a", "labels": {"l": "1"}}, "data": {"k": "v"}})));
    }
}
