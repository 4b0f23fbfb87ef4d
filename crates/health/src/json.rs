//! Reads from untyped JSON with the two flavours of strictness the upstream Go code has.
//!
//! Argo CD converts an object to its typed Go struct first, so a field of the wrong type is an
//! error (health Unknown); the `strict_*` readers model that. kstatus reads most fields through
//! `GetIntField`/`GetStringField`, which fall back to a default on any mismatch; the `lenient_*`
//! readers model that.

use serde_json::Value;

/// Result of a strict read: `Err` carries a message naming the offending field.
pub(crate) type Res<T> = Result<T, String>;

/// Describes a JSON value's type for error messages.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn mismatch(path: &[&str], want: &str, got: &Value) -> String {
    format!(".{} is {}, expected {}", path.join("."), type_name(got), want)
}

/// Walks `path`; a missing key or a null anywhere means absent, a non-object on the way is an error.
pub(crate) fn strict<'a>(v: &'a Value, path: &[&str]) -> Res<Option<&'a Value>> {
    Ok(nested(v, path)?.filter(|leaf| !leaf.is_null()))
}

/// A string field; absent or null is `None`.
pub(crate) fn strict_str<'a>(v: &'a Value, path: &[&str]) -> Res<Option<&'a str>> {
    match strict(v, path)? {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(mismatch(path, "string", other)),
    }
}

/// An integer field; a number with a fraction or out of i64 range is an error.
pub(crate) fn strict_int(v: &Value, path: &[&str]) -> Res<Option<i64>> {
    match strict(v, path)? {
        None => Ok(None),
        Some(n @ Value::Number(num)) => match num.as_i64() {
            Some(i) => Ok(Some(i)),
            None => match num.as_f64() {
                Some(f) if f.fract() == 0.0 && f >= i64::MIN as f64 && f <= i64::MAX as f64 => Ok(Some(f as i64)),
                _ => Err(mismatch(path, "integer", n)),
            },
        },
        Some(other) => Err(mismatch(path, "integer", other)),
    }
}

/// A boolean field.
pub(crate) fn strict_bool(v: &Value, path: &[&str]) -> Res<Option<bool>> {
    match strict(v, path)? {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(mismatch(path, "bool", other)),
    }
}

/// An array field; absent or null is empty.
pub(crate) fn strict_array<'a>(v: &'a Value, path: &[&str]) -> Res<&'a [Value]> {
    match strict(v, path)? {
        None => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(mismatch(path, "array", other)),
    }
}

/// Whether an object field is present and not null (a non-object is an error).
pub(crate) fn strict_present_object(v: &Value, path: &[&str]) -> Res<bool> {
    match strict(v, path)? {
        None => Ok(false),
        Some(Value::Object(_)) => Ok(true),
        Some(other) => Err(mismatch(path, "object", other)),
    }
}

/// One annotation of `metadata.annotations`; annotations must be a map of strings.
pub(crate) fn annotation<'a>(obj: &'a Value, key: &str) -> Res<Option<&'a str>> {
    match strict(obj, &["metadata", "annotations"])? {
        None => Ok(None),
        Some(Value::Object(map)) => match map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(mismatch(&["metadata", "annotations", key], "string", other)),
        },
        Some(other) => Err(mismatch(&["metadata", "annotations"], "object", other)),
    }
}

/// Walks `path` like Go's `NestedFieldNoCopy`: a non-object on the way is an error, null on the
/// way means absent, a null leaf is present (as `Value::Null`).
pub(crate) fn nested<'a>(v: &'a Value, path: &[&str]) -> Res<Option<&'a Value>> {
    let mut cur = v;
    for (i, key) in path.iter().enumerate() {
        match cur {
            Value::Null => return Ok(None),
            Value::Object(map) => match map.get(*key) {
                Some(next) => cur = next,
                None => return Ok(None),
            },
            other => return Err(mismatch(&path[..i], "object", other)),
        }
    }
    Ok(Some(cur))
}

/// Go's `unstructured.NestedInt64`: present but not an integer (null included) is an error.
pub(crate) fn nested_int64(v: &Value, path: &[&str]) -> Res<Option<i64>> {
    match nested(v, path)? {
        None => Ok(None),
        Some(val) => val.as_i64().map(Some).ok_or_else(|| mismatch(path, "int64", val)),
    }
}

/// Go's `unstructured.NestedString`: present but not a string (null included) is an error.
pub(crate) fn nested_string<'a>(v: &'a Value, path: &[&str]) -> Res<Option<&'a str>> {
    match nested(v, path)? {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(mismatch(path, "string", other)),
    }
}

/// kstatus's `GetIntField`: the integer at `path`, or `default` on anything else.
pub(crate) fn lenient_int(v: &Value, path: &[&str], default: i64) -> i64 {
    match nested(v, path) {
        Ok(Some(val)) => val.as_i64().unwrap_or(default),
        _ => default,
    }
}

/// kstatus's `GetStringField`: the string at `path`, or `default` on anything else.
pub(crate) fn lenient_str<'a>(v: &'a Value, path: &[&str], default: &'a str) -> &'a str {
    match nested(v, path) {
        Ok(Some(Value::String(s))) => s,
        _ => default,
    }
}

/// Group, version and kind, parsed like Go's `GroupVersionKind()`: an apiVersion with more than
/// one `/` does not parse, and then the whole GVK (kind included) is empty.
pub(crate) fn gvk(obj: &Value) -> (&str, &str, &str) {
    let api_version = lenient_str(obj, &["apiVersion"], "");
    let kind = lenient_str(obj, &["kind"], "");
    match api_version.split_once('/') {
        None => ("", api_version, kind),
        Some((g, v)) if !v.contains('/') => (g, v, kind),
        Some(_) => ("", "", ""),
    }
}

/// `metadata.annotations` as Go's `GetAnnotations()` reads it from an unstructured object: a
/// map of strings, or nothing at all when it is absent, not a map, or has a non-string value.
pub(crate) fn go_annotations(obj: &Value) -> Option<&serde_json::Map<String, Value>> {
    match nested(obj, &["metadata", "annotations"]) {
        Ok(Some(Value::Object(map))) if map.values().all(Value::is_string) => Some(map),
        _ => None,
    }
}

/// One annotation as Go's `GetAnnotations()[key]` gives it (see [`go_annotations`]).
pub(crate) fn go_annotation<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    go_annotations(obj)?.get(key).and_then(Value::as_str)
}

/// `metadata.finalizers` as Go's `GetFinalizers()` reads it: empty unless a list of strings.
pub(crate) fn go_finalizers(obj: &Value) -> Vec<&str> {
    match nested(obj, &["metadata", "finalizers"]) {
        Ok(Some(Value::Array(items))) => {
            items.iter().map(Value::as_str).collect::<Option<Vec<_>>>().unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

/// Go's `GetDeletionTimestamp() != nil`: the field parses as an RFC 3339 time that is not Go's
/// zero time; anything else (absent, empty, unparsable) counts as not being deleted.
pub(crate) fn go_deleting(obj: &Value) -> bool {
    let text = lenient_str(obj, &["metadata", "deletionTimestamp"], "");
    text.parse::<jiff::Timestamp>().is_ok_and(|t| t.as_second() != GO_ZERO_TIME_UNIX || t.subsec_nanosecond() != 0)
}

/// Unix seconds of Go's zero `time.Time` (0001-01-01T00:00:00Z).
const GO_ZERO_TIME_UNIX: i64 = -62_135_596_800;

/// The object's name, or "" when absent or not a string.
pub(crate) fn name(obj: &Value) -> &str {
    lenient_str(obj, &["metadata", "name"], "")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deletion_is_a_parsable_time_other_than_go_zero() {
        let deleting = |t: &str| go_deleting(&json!({"metadata": {"deletionTimestamp": t}}));
        assert!(deleting("2024-05-01T10:00:00Z"));
        assert!(deleting("2024-05-01T12:00:00+02:00"));
        assert!(!deleting("0001-01-01T00:00:00Z"), "Go's zero time is no deletion");
        assert!(deleting("0001-01-01T00:00:00.5Z"));
        assert!(!deleting(""));
        assert!(!deleting("yesterday"));
        assert!(!go_deleting(&json!({"metadata": {}})));
    }

    #[test]
    fn strict_reads() {
        let v = json!({"a": {"b": 3, "s": "x", "n": null, "f": 1.5}, "arr": [1], "str": "z"});
        assert_eq!(strict_int(&v, &["a", "b"]), Ok(Some(3)));
        assert_eq!(strict_int(&v, &["a", "n"]), Ok(None));
        assert!(strict_int(&v, &["a", "f"]).is_err());
        assert!(strict_int(&v, &["a", "s"]).is_err());
        assert!(strict_int(&v, &["str", "x"]).is_err());
        assert_eq!(strict_array(&v, &["missing"]).map(<[Value]>::len), Ok(0));
        assert_eq!(strict_array(&v, &["arr"]).map(<[Value]>::len), Ok(1));
    }

    #[test]
    fn nested_reads_like_go() {
        let v = json!({"m": {"g": null, "i": 2}});
        assert!(nested_int64(&v, &["m", "g"]).is_err());
        assert_eq!(nested_int64(&v, &["m", "i"]), Ok(Some(2)));
        assert_eq!(nested_int64(&v, &["m", "x"]), Ok(None));
        assert_eq!(lenient_int(&v, &["m", "g"], 7), 7);
    }

    #[test]
    fn parses_gvk() {
        assert_eq!(gvk(&json!({"apiVersion": "v1", "kind": "Pod"})), ("", "v1", "Pod"));
        assert_eq!(gvk(&json!({"apiVersion": "apps/v1", "kind": "X"})), ("apps", "v1", "X"));
        assert_eq!(gvk(&json!({"apiVersion": "a/b/c"})), ("", "", ""));
        assert_eq!(gvk(&json!({"apiVersion": 3, "kind": []})), ("", "", ""));
    }
}
