//! `spec.ignoreDifferences`: which fields of an object are ignored, and how. Pure.
//!
//! An ignored field neither makes the object OutOfSync nor is overwritten. For the comparison it is
//! removed from both the live object and the server's dry-run. For the apply, an object that exists
//! gets the *live* value at every ignored path (or loses the path when the live object has none), as
//! Argo CD's `RespectIgnoreDifferences=true` does: simply leaving the field out would make
//! server-side apply delete it whenever lockstep applied it before the rule was added. An object that
//! does not exist yet is created as git says.
//!
//! Paths come from RFC 6901 JSON pointers, from simple jq paths (`.spec.replicas`,
//! `.a["b.c"][0]`), and from the `fieldsV1` sets of the live object's managedFields entries written
//! by the listed managers.

use lockstep_api::ResourceIgnoreDifferences;
use serde_json::{Map, Value};

use crate::key::ResourceKey;
use crate::tracking::{MANAGED_LABEL, TRACKING_ANNOTATION};

/// One step into a JSON document.
#[derive(Clone, Debug, PartialEq)]
pub enum Segment {
    /// A map key; on an array, a decimal index (as JSON pointers write it).
    Field(String),
    /// An array index (`i:` in fieldsV1).
    Index(usize),
    /// The array element whose fields equal these (`k:` in fieldsV1: associative lists).
    Key(Map<String, Value>),
    /// The array element equal to this value (`v:` in fieldsV1: sets).
    Value(Value),
}

/// A path from the root of an object to one field.
pub type Path = Vec<Segment>;

/// Why an ignoreDifferences entry cannot be used, naming it; `None` when every entry is usable.
pub fn problems(rules: &[ResourceIgnoreDifferences]) -> Option<String> {
    for (i, rule) in rules.iter().enumerate() {
        if rule.kind.is_empty() {
            return Some(format!("spec.ignoreDifferences[{i}].kind is empty (use \"*\" for every kind)"));
        }
        for pointer in &rule.json_pointers {
            if let Err(err) = parse_pointer(pointer) {
                return Some(format!("spec.ignoreDifferences[{i}].jsonPointers: {err}"));
            }
        }
        for expression in &rule.jq_path_expressions {
            if let Err(err) = parse_jq_path(expression) {
                return Some(format!("spec.ignoreDifferences[{i}].jqPathExpressions: {err}"));
            }
        }
    }
    None
}

/// Whether a rule selects the object `key`.
pub fn selects(rule: &ResourceIgnoreDifferences, key: &ResourceKey) -> bool {
    let matches = |pattern: &str, value: &str| pattern == "*" || pattern == value;
    matches(&rule.group, &key.group)
        && matches(&rule.kind, &key.kind)
        && rule.name.as_deref().is_none_or(|name| name.is_empty() || name == key.name)
        && rule.namespace.as_deref().is_none_or(|ns| ns.is_empty() || Some(ns) == key.namespace.as_deref())
}

/// Every ignored path of the object `key`, given its live copy (for managedFieldsManagers). Paths
/// that would hide lockstep's own bookkeeping or the object's identity are left out.
pub fn ignored_paths(rules: &[ResourceIgnoreDifferences], key: &ResourceKey, live: Option<&Value>) -> Vec<Path> {
    let mut paths = Vec::new();
    for rule in rules.iter().filter(|rule| selects(rule, key)) {
        paths.extend(rule.json_pointers.iter().filter_map(|p| parse_pointer(p).ok()));
        paths.extend(rule.jq_path_expressions.iter().filter_map(|p| parse_jq_path(p).ok()));
        if let Some(live) = live {
            paths.extend(managed_paths(live, &rule.managed_fields_managers));
        }
    }
    paths.retain(|path| !protected(path));
    paths.dedup();
    paths
}

/// Fields lockstep must keep deciding: identity, kind, and its tracking marks.
fn protected(path: &Path) -> bool {
    let field = |i: usize| match path.get(i) {
        Some(Segment::Field(name)) => Some(name.as_str()),
        _ => None,
    };
    match field(0) {
        None | Some("apiVersion" | "kind") => true,
        Some("metadata") => match field(1) {
            Some("annotations") => path.len() < 3 || matches!(field(2), Some(TRACKING_ANNOTATION)),
            Some("labels") => path.len() < 3 || matches!(field(2), Some(MANAGED_LABEL)),
            _ => true,
        },
        Some(_) => false,
    }
}

/// Parses an RFC 6901 JSON pointer (`/spec/replicas`, `~1` for `/`, `~0` for `~`).
pub fn parse_pointer(pointer: &str) -> Result<Path, String> {
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(format!("{pointer:?} is not a JSON pointer (it must start with \"/\")"));
    };
    Ok(rest.split('/').map(|token| Segment::Field(token.replace("~1", "/").replace("~0", "~"))).collect())
}

/// Parses a jq path made only of field and index steps: `.spec.replicas`, `.metadata.labels["a/b"]`,
/// `.spec.containers[0].image`. Filters, pipes and functions are refused.
pub fn parse_jq_path(expression: &str) -> Result<Path, String> {
    let unsupported = || format!("{expression:?} is not supported: only paths like .a.b[\"c\"][0] are");
    let mut path = Vec::new();
    let mut rest = expression.trim();
    if rest.is_empty() || !rest.starts_with('.') {
        return Err(unsupported());
    }
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("[\"") {
            let end = after.find("\"]").ok_or_else(unsupported)?;
            path.push(Segment::Field(after[..end].to_string()));
            rest = &after[end + 2..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']').ok_or_else(unsupported)?;
            let index = after[..end].trim().parse().map_err(|_| unsupported())?;
            path.push(Segment::Index(index));
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix('.') {
            if after.starts_with('[') {
                rest = after;
                continue;
            }
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let name = &after[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(unsupported());
            }
            path.push(Segment::Field(name.to_string()));
            rest = &after[end..];
        } else {
            return Err(unsupported());
        }
    }
    if path.is_empty() { Err(unsupported()) } else { Ok(path) }
}

/// The leaf fields the given managers own according to the object's `metadata.managedFields`.
pub fn managed_paths(object: &Value, managers: &[String]) -> Vec<Path> {
    let mut paths = Vec::new();
    if managers.is_empty() {
        return paths;
    }
    let entries = object["metadata"]["managedFields"].as_array().map(Vec::as_slice).unwrap_or_default();
    for entry in entries {
        let owned_by_listed = entry["manager"].as_str().is_some_and(|m| managers.iter().any(|x| x == m));
        if let Some(fields) = entry["fieldsV1"].as_object().filter(|_| owned_by_listed) {
            fields_v1_leaves(fields, &mut Vec::new(), &mut paths);
        }
    }
    paths
}

/// Collects the leaves of a fieldsV1 set. A node listing children stands for those children only
/// (its `.` marks the node's own existence, which may be shared with other managers).
pub fn fields_v1_leaves(node: &Map<String, Value>, prefix: &mut Path, out: &mut Vec<Path>) {
    let children: Vec<_> = node.iter().filter(|(name, _)| name.as_str() != ".").collect();
    if children.is_empty() {
        if !prefix.is_empty() {
            out.push(prefix.clone());
        }
        return;
    }
    for (name, child) in children {
        let Some(segment) = fields_v1_segment(name) else { continue };
        prefix.push(segment);
        let empty = Map::new();
        fields_v1_leaves(child.as_object().unwrap_or(&empty), prefix, out);
        prefix.pop();
    }
}

/// One fieldsV1 key: `f:<name>`, `k:<json object>`, `v:<json value>` or `i:<index>`.
fn fields_v1_segment(name: &str) -> Option<Segment> {
    if let Some(field) = name.strip_prefix("f:") {
        return Some(Segment::Field(field.to_string()));
    }
    if let Some(keys) = name.strip_prefix("k:") {
        return serde_json::from_str::<Map<String, Value>>(keys).ok().map(Segment::Key);
    }
    if let Some(value) = name.strip_prefix("v:") {
        return serde_json::from_str(value).ok().map(Segment::Value);
    }
    name.strip_prefix("i:").and_then(|i| i.parse().ok()).map(Segment::Index)
}

/// The field at `path`, if present.
pub fn get<'a>(value: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    path.iter().try_fold(value, step)
}

fn step<'a>(value: &'a Value, segment: &Segment) -> Option<&'a Value> {
    match (value, segment) {
        (Value::Object(map), Segment::Field(name)) => map.get(name),
        (Value::Array(items), segment) => position(items, segment).map(|i| &items[i]),
        _ => None,
    }
}

fn step_mut<'a>(value: &'a mut Value, segment: &Segment) -> Option<&'a mut Value> {
    match (value, segment) {
        (Value::Object(map), Segment::Field(name)) => map.get_mut(name),
        (Value::Array(items), segment) => position(items, segment).map(move |i| &mut items[i]),
        _ => None,
    }
}

/// Where in an array a segment points.
fn position(items: &[Value], segment: &Segment) -> Option<usize> {
    match segment {
        Segment::Field(token) => token.parse::<usize>().ok().filter(|i| *i < items.len()),
        Segment::Index(i) => (*i < items.len()).then_some(*i),
        Segment::Key(keys) => items.iter().position(|item| keys.iter().all(|(k, v)| item.get(k) == Some(v))),
        Segment::Value(wanted) => items.iter().position(|item| item == wanted),
    }
}

/// Removes the field at `path`; nothing happens when it is absent.
pub fn remove(value: &mut Value, path: &[Segment]) {
    let Some((last, parents)) = path.split_last() else { return };
    let Some(parent) = parents.iter().try_fold(value, step_mut) else { return };
    match parent {
        Value::Object(map) => {
            if let Segment::Field(name) = last {
                map.remove(name);
            }
        }
        Value::Array(items) => {
            if let Some(i) = position(items, last) {
                items.remove(i);
            }
        }
        _ => {}
    }
}

/// Sets the field at `path` when its parent exists (a missing map on the way is created; a missing
/// array element is not). Returns whether it was set.
fn set(value: &mut Value, path: &[Segment], new: Value) -> bool {
    let Some((last, parents)) = path.split_last() else { return false };
    let mut parent = value;
    for segment in parents {
        let next = match (parent, segment) {
            (Value::Object(map), Segment::Field(name)) => {
                Some(map.entry(name.clone()).or_insert_with(|| Value::Object(Map::new())))
            }
            (other, segment) => step_mut(other, segment),
        };
        match next {
            Some(next) => parent = next,
            None => return false,
        }
    }
    match (parent, last) {
        (Value::Object(map), Segment::Field(name)) => {
            map.insert(name.clone(), new);
            true
        }
        (Value::Array(items), segment) => match position(items, segment) {
            Some(i) => {
                items[i] = new;
                true
            }
            None => false,
        },
        _ => false,
    }
}

/// The object to apply: with a live copy, each ignored path takes the live value (or is removed
/// when the live object has none), so applying changes nothing there; without one, git's object.
pub fn respect(desired: &Value, live: Option<&Value>, paths: &[Path]) -> Value {
    let mut object = desired.clone();
    let Some(live) = live else { return object };
    for path in paths {
        match get(live, path) {
            Some(value) => {
                if !set(&mut object, path, value.clone()) {
                    remove(&mut object, path);
                }
            }
            None => remove(&mut object, path),
        }
    }
    object
}

/// A copy of `object` without the ignored paths, for comparison.
pub fn strip(object: &Value, paths: &[Path]) -> Value {
    let mut object = object.clone();
    for path in paths {
        remove(&mut object, path);
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key(kind: &str, name: &str) -> ResourceKey {
        ResourceKey {
            group: "apps".into(),
            version: "v1".into(),
            kind: kind.into(),
            namespace: Some("ns".into()),
            name: name.into(),
        }
    }

    fn rule(kind: &str) -> ResourceIgnoreDifferences {
        ResourceIgnoreDifferences { group: "apps".into(), kind: kind.into(), ..Default::default() }
    }

    #[test]
    fn pointers_and_jq_paths_parse() {
        assert_eq!(
            parse_pointer("/spec/replicas").unwrap(),
            vec![Segment::Field("spec".into()), Segment::Field("replicas".into())]
        );
        assert_eq!(parse_pointer("/metadata/annotations/a~1b~0c").unwrap()[2], Segment::Field("a/b~c".into()));
        assert!(parse_pointer("spec").is_err());
        assert_eq!(
            parse_jq_path(".spec.template.spec.containers[0].image").unwrap(),
            vec![
                Segment::Field("spec".into()),
                Segment::Field("template".into()),
                Segment::Field("spec".into()),
                Segment::Field("containers".into()),
                Segment::Index(0),
                Segment::Field("image".into())
            ]
        );
        assert_eq!(parse_jq_path(".metadata.labels[\"a.b/c\"]").unwrap()[2], Segment::Field("a.b/c".into()));
        assert!(parse_jq_path(".spec.containers[] | select(.name == \"x\")").is_err());
        assert!(parse_jq_path("spec").is_err());
    }

    #[test]
    fn rules_select_by_group_kind_name_and_namespace() {
        assert!(selects(&rule("Deployment"), &key("Deployment", "web")));
        assert!(!selects(&rule("StatefulSet"), &key("Deployment", "web")));
        assert!(selects(
            &ResourceIgnoreDifferences { group: "*".into(), kind: "*".into(), ..Default::default() },
            &key("X", "y")
        ));
        let named = ResourceIgnoreDifferences { name: Some("api".into()), ..rule("Deployment") };
        assert!(!selects(&named, &key("Deployment", "web")));
        let other_ns = ResourceIgnoreDifferences { namespace: Some("other".into()), ..rule("Deployment") };
        assert!(!selects(&other_ns, &key("Deployment", "web")));
        assert_eq!(problems(&[rule("")]).map(|p| p.contains("kind is empty")), Some(true));
        assert!(problems(&[ResourceIgnoreDifferences { json_pointers: vec!["x".into()], ..rule("D") }]).is_some());
        assert!(problems(&[ResourceIgnoreDifferences { json_pointers: vec!["/x".into()], ..rule("D") }]).is_none());
    }

    #[test]
    fn managed_fields_of_listed_managers_become_leaf_paths() {
        let live = json!({"metadata": {"managedFields": [
            {"manager": "hpa", "operation": "Update", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:spec": {"f:replicas": {}}}},
            {"manager": "webhook", "operation": "Update", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                 "k:{\"name\":\"app\"}": {".": {}, "f:env": {}}}}}}}},
            {"manager": "lockstep", "operation": "Apply", "fieldsType": "FieldsV1",
             "fieldsV1": {"f:spec": {"f:selector": {}}}}
        ]}});
        let paths = managed_paths(&live, &["hpa".into(), "webhook".into()]);
        assert_eq!(paths.len(), 2);
        assert_eq!(paths[0], parse_pointer("/spec/replicas").unwrap());
        let mut keys = Map::new();
        keys.insert("name".into(), json!("app"));
        assert_eq!(paths[1][4], Segment::Key(keys));
        assert_eq!(paths[1][5], Segment::Field("env".into()));
    }

    #[test]
    fn bookkeeping_and_identity_are_never_ignored() {
        let rules = [ResourceIgnoreDifferences {
            json_pointers: vec![
                "/metadata/name".into(),
                format!("/metadata/annotations/{}", TRACKING_ANNOTATION.replace('/', "~1")),
                "/metadata/annotations/other".into(),
                "/kind".into(),
            ],
            ..rule("Deployment")
        }];
        let paths = ignored_paths(&rules, &key("Deployment", "web"), None);
        assert_eq!(paths, vec![parse_pointer("/metadata/annotations/other").unwrap()]);
    }

    #[test]
    fn respecting_takes_live_values_and_drops_what_live_lacks() {
        let desired = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "app", "image": "v2", "env": [{"name": "A"}]}]}}}});
        let live =
            json!({"spec": {"replicas": 5, "template": {"spec": {"containers": [{"name": "app", "image": "v1"}]}}}});
        let mut env_path = parse_jq_path(".spec.template.spec.containers").unwrap();
        let mut keys = Map::new();
        keys.insert("name".into(), json!("app"));
        env_path.push(Segment::Key(keys));
        env_path.push(Segment::Field("env".into()));
        let paths = vec![parse_pointer("/spec/replicas").unwrap(), env_path];
        let applied = respect(&desired, Some(&live), &paths);
        assert_eq!(applied["spec"]["replicas"], 5);
        assert!(applied["spec"]["template"]["spec"]["containers"][0].get("env").is_none());
        assert_eq!(applied["spec"]["template"]["spec"]["containers"][0]["image"], "v2", "the rest is git's");
        assert_eq!(respect(&desired, None, &paths), desired, "a new object is created as git says");
    }

    #[test]
    fn stripping_removes_fields_and_array_elements() {
        let object = json!({"spec": {"replicas": 3, "ports": [{"port": 80}, {"port": 81}], "tags": ["a", "b"]}});
        let stripped = strip(
            &object,
            &[
                parse_pointer("/spec/replicas").unwrap(),
                parse_pointer("/spec/ports/0").unwrap(),
                vec![Segment::Field("spec".into()), Segment::Field("tags".into()), Segment::Value(json!("b"))],
            ],
        );
        assert_eq!(stripped, json!({"spec": {"ports": [{"port": 81}], "tags": ["a"]}}));
        assert_eq!(get(&object, &parse_pointer("/spec/ports/1/port").unwrap()), Some(&json!(81)));
    }
}
