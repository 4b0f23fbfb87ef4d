//! Deciding whether a live object matches what git would make of it: pure.
//!
//! The "desired" side is the server's own dry-run of our apply, so defaults and mutating webhooks are
//! already in it; what remains to remove is bookkeeping that changes on every write.

use k8s_openapi::ByteString;
use serde_json::{Map, Value};

use crate::ignore::{Path, strip};

/// Metadata fields that the server maintains and that say nothing about drift.
const VOLATILE_METADATA: &[&str] =
    &["managedFields", "resourceVersion", "generation", "creationTimestamp", "uid", "selfLink"];

/// Strips status and server bookkeeping so two versions of one object can be compared, and writes
/// what the server would default or convert the way the server does: a Secret's `stringData` folded
/// into `data` (base64), and `protocol: TCP` on ports that name no protocol.
pub fn normalize(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
        if let Some(metadata) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for field in VOLATILE_METADATA {
                metadata.remove(*field);
            }
        }
        if map.get("kind").and_then(Value::as_str) == Some("Secret")
            && map.get("apiVersion").and_then(Value::as_str) == Some("v1")
        {
            fold_string_data(map);
        }
    }
    default_port_protocols(&mut object);
    object
}

/// Moves a Secret's `stringData` into `data`, base64-encoded; `stringData` wins on a shared key, as
/// the API server decides.
fn fold_string_data(secret: &mut Map<String, Value>) {
    let Some(Value::Object(strings)) = secret.remove("stringData") else { return };
    let data = secret.entry("data").or_insert_with(|| Value::Object(Map::new()));
    if !data.is_object() {
        *data = Value::Object(Map::new());
    }
    if let Some(data) = data.as_object_mut() {
        for (key, value) in strings {
            let text = value.as_str().map(str::to_owned).unwrap_or_else(|| value.to_string());
            let encoded = serde_json::to_value(ByteString(text.into_bytes())).unwrap_or(Value::Null);
            data.insert(key, encoded);
        }
    }
}

/// Sets `protocol: TCP` on every entry of a `ports` list (containers, Services, Endpoints) that has
/// a port number and no protocol: the API server's default.
fn default_port_protocols(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "ports"
                    && let Some(ports) = child.as_array_mut()
                {
                    for port in ports.iter_mut().filter_map(Value::as_object_mut) {
                        let numbered = port.contains_key("containerPort") || port.contains_key("port");
                        if numbered && !port.contains_key("protocol") {
                            port.insert("protocol".into(), Value::String("TCP".into()));
                        }
                    }
                }
                default_port_protocols(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(default_port_protocols),
        _ => {}
    }
}

/// True when applying would change the live object, judged by the server's dry-run of that apply.
pub fn differs(live: &Value, dry_run: &Value) -> bool {
    normalize(live) != normalize(dry_run)
}

/// [`differs`], with the fields at `ignored` (see [`crate::ignore`]) removed from both sides.
pub fn differs_ignoring(live: &Value, dry_run: &Value, ignored: &[Path]) -> bool {
    if ignored.is_empty() {
        return differs(live, dry_run);
    }
    normalize(&strip(live, ignored)) != normalize(&strip(dry_run, ignored))
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
    fn string_data_is_compared_as_the_server_stores_it() {
        let rendered = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"a": "eA==", "b": "eQ=="}, "stringData": {"b": "hello"}});
        let stored = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"a": "eA==", "b": "aGVsbG8="}});
        assert!(!differs(&stored, &rendered));
        assert!(differs(
            &stored,
            &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"b": "hello"}})
        ));
    }

    #[test]
    fn default_port_protocols_do_not_count() {
        let live = json!({"spec": {"ports": [{"port": 80, "protocol": "TCP"}], "template": {"spec": {"containers": [{"ports": [{"containerPort": 8080, "protocol": "TCP"}]}]}}}});
        let git = json!({"spec": {"ports": [{"port": 80}], "template": {"spec": {"containers": [{"ports": [{"containerPort": 8080}]}]}}}});
        assert!(!differs(&live, &git));
        let udp = json!({"spec": {"ports": [{"port": 80, "protocol": "UDP"}], "template": {"spec": {"containers": [{"ports": [{"containerPort": 8080}]}]}}}});
        assert!(differs(&udp, &git));
    }

    #[test]
    fn ignored_fields_do_not_count() {
        let live = json!({"metadata": {"name": "a"}, "spec": {"replicas": 5, "image": "x"}});
        let dry = json!({"metadata": {"name": "a"}, "spec": {"replicas": 1, "image": "x"}});
        let replicas = crate::ignore::parse_pointer("/spec/replicas").unwrap();
        assert!(differs(&live, &dry));
        assert!(!differs_ignoring(&live, &dry, std::slice::from_ref(&replicas)));
        let changed = json!({"metadata": {"name": "a"}, "spec": {"replicas": 1, "image": "y"}});
        assert!(differs_ignoring(&live, &changed, &[replicas]));
    }

    #[test]
    fn spec_and_label_changes_count() {
        let live = json!({"metadata": {"name": "a"}, "data": {"k": "v"}});
        assert!(differs(&live, &json!({"metadata": {"name": "a"}, "data": {"k": "w"}})));
        assert!(differs(&live, &json!({"metadata": {"name": "a", "labels": {"l": "1"}}, "data": {"k": "v"}})));
    }
}
