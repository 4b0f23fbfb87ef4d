//! Parameter sets: what one generator element contributes to one Application.
//!
//! A parameter set is a JSON object. Go templates read it nested (`.path.basename`); Argo's
//! fasttemplate syntax and selectors read it flattened, nested keys joined by dots
//! (`path.basename`, `metadata.labels.zone`).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// One parameter set.
pub type Params = Map<String, Value>;

/// The parameters flattened to dotted keys and string values, as fasttemplate and selectors see them.
pub fn flatten(params: &Params) -> BTreeMap<String, String> {
    let mut flat = BTreeMap::new();
    for (key, value) in params {
        flatten_into(key, value, &mut flat);
    }
    flat
}

fn flatten_into(prefix: &str, value: &Value, flat: &mut BTreeMap<String, String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                flatten_into(&format!("{prefix}.{key}"), inner, flat);
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                flatten_into(&format!("{prefix}[{index}]"), inner, flat);
            }
        }
        Value::String(text) => {
            flat.insert(prefix.to_string(), text.clone());
        }
        Value::Null => {
            flat.insert(prefix.to_string(), String::new());
        }
        other => {
            flat.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// Puts `value` at the dotted `key` (`metadata.labels.zone`), creating the objects on the way.
pub fn insert_dotted(params: &mut Params, key: &str, value: Value) {
    let mut parts = key.split('.').peekable();
    let mut here = params;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            here.insert(part.to_string(), value);
            return;
        }
        let next = here.entry(part.to_string()).or_insert_with(|| Value::Object(Map::new()));
        if !next.is_object() {
            *next = Value::Object(Map::new());
        }
        let Value::Object(map) = next else { return };
        here = map;
    }
}

/// Argo's `normalize`: lower case, every character but `[a-z0-9-.]` replaced by `-`, so that a
/// cluster or path name becomes a valid object name.
pub fn normalize(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '-' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_keys_flatten_with_dots_and_scalars_become_strings() {
        let params = json!({"name": "east", "metadata": {"labels": {"zone": "513"}}, "replicas": 3, "on": true, "gone": null, "list": ["a"]});
        let flat = flatten(params.as_object().unwrap());
        assert_eq!(flat["name"], "east");
        assert_eq!(flat["metadata.labels.zone"], "513");
        assert_eq!(flat["replicas"], "3");
        assert_eq!(flat["on"], "true");
        assert_eq!(flat["gone"], "");
        assert_eq!(flat["list[0]"], "a");
    }

    #[test]
    fn dotted_insert_builds_the_path() {
        let mut params = Params::new();
        insert_dotted(&mut params, "metadata.labels.zone", json!("ccr"));
        insert_dotted(&mut params, "metadata.labels.tier", json!("core"));
        insert_dotted(&mut params, "name", json!("east"));
        assert_eq!(
            Value::Object(params),
            json!({"name": "east", "metadata": {"labels": {"zone": "ccr", "tier": "core"}}})
        );
    }

    #[test]
    fn normalize_makes_a_name() {
        assert_eq!(normalize("My_Cluster:East"), "my-cluster-east");
        assert_eq!(normalize("tn1.eth0"), "tn1.eth0");
    }
}
