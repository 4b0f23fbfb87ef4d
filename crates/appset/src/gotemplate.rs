//! Go-template syntax for `goTemplate: true` sets, through `gtmpl` (the one Go-template engine
//! for Rust), with the functions Argo's documentation leans on: `normalize`, `toJson`, `default`
//! and a sprig subset of string helpers.
//!
//! `missingkey=error` is honoured by refusing output in which a missing key printed Go's
//! `<no value>`; without it a missing key prints `<no value>`, as in Argo.

use std::collections::HashMap;

use gtmpl::{Context, Func, FuncError, Template, Value};
use serde_json::Value as Json;

use crate::params::{Params, normalize as normalize_name};

/// Go's text for a missing map key.
const NO_VALUE: &str = "<no value>";

/// Go-template rendering with one set's `goTemplateOptions`.
#[derive(Clone, Debug, Default)]
pub struct GoTemplate {
    missing_key_error: bool,
}

impl GoTemplate {
    /// From `goTemplateOptions` such as `["missingkey=error"]`.
    pub fn new(options: &[String]) -> Self {
        Self { missing_key_error: options.iter().any(|o| o.trim() == "missingkey=error") }
    }

    /// Renders `text` with `params` as its dot.
    pub fn render(&self, text: &str, params: &Params) -> Result<String, String> {
        let mut template = Template::default();
        template.add_funcs(FUNCS);
        template.parse(text).map_err(|e| format!("template {text:?}: {e}"))?;
        let out = template
            .render(&Context::from(to_gtmpl(&Json::Object(params.clone()))))
            .map_err(|e| format!("template {text:?}: {e}"))?;
        if self.missing_key_error && out.contains(NO_VALUE) && !text.contains(NO_VALUE) {
            return Err(format!("template {text:?}: map has no entry for a key it reads (missingkey=error)"));
        }
        Ok(out)
    }
}

fn to_gtmpl(value: &Json) -> Value {
    match value {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::from(*b),
        Json::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(f)) => Value::from(f),
            _ => Value::from(n.to_string()),
        },
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => Value::Array(items.iter().map(to_gtmpl).collect()),
        Json::Object(map) => {
            Value::Map(map.iter().map(|(k, v)| (k.clone(), to_gtmpl(v))).collect::<HashMap<String, Value>>())
        }
    }
}

fn to_json(value: &Value) -> Json {
    match value {
        Value::Nil | Value::NoValue => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::String(s) => Json::String(s.clone()),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
        Value::Object(map) => Json::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
        other => serde_json::from_str(&other.to_string()).unwrap_or_else(|_| Json::String(other.to_string())),
    }
}

const FUNCS: &[(&str, Func)] = &[
    ("normalize", normalize as Func),
    ("toJson", to_json_func as Func),
    ("default", default as Func),
    ("lower", lower as Func),
    ("upper", upper as Func),
    ("trim", trim as Func),
    ("trimPrefix", trim_prefix as Func),
    ("trimSuffix", trim_suffix as Func),
    ("replace", replace as Func),
    ("quote", quote as Func),
    ("hasPrefix", has_prefix as Func),
    ("hasSuffix", has_suffix as Func),
    ("contains", contains as Func),
    ("join", join as Func),
];

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Nil | Value::NoValue => String::new(),
        other => other.to_string(),
    }
}

fn args<const N: usize>(name: &str, given: &[Value]) -> Result<[String; N], FuncError> {
    let texts: Vec<String> = given.iter().map(text).collect();
    texts.try_into().map_err(|_| FuncError::Generic(format!("{name} takes {N} arguments, got {}", given.len())))
}

fn empty(value: &Value) -> bool {
    match value {
        Value::Nil | Value::NoValue => true,
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Map(map) => map.is_empty(),
        other => other.to_string() == "0",
    }
}

fn normalize(given: &[Value]) -> Result<Value, FuncError> {
    let [s] = args("normalize", given)?;
    Ok(Value::from(normalize_name(&s)))
}

fn to_json_func(given: &[Value]) -> Result<Value, FuncError> {
    match given {
        [value] => Ok(Value::from(to_json(value).to_string())),
        _ => Err(FuncError::Generic("toJson takes 1 argument".into())),
    }
}

/// sprig's `default DEFAULT VALUE`: VALUE, or DEFAULT when VALUE is empty (as a pipeline's last argument).
fn default(given: &[Value]) -> Result<Value, FuncError> {
    match given {
        [fallback] => Ok(fallback.clone()),
        [fallback, value] => Ok(if empty(value) { fallback.clone() } else { value.clone() }),
        _ => Err(FuncError::Generic("default takes 1 or 2 arguments".into())),
    }
}

fn lower(given: &[Value]) -> Result<Value, FuncError> {
    let [s] = args("lower", given)?;
    Ok(Value::from(s.to_lowercase()))
}

fn upper(given: &[Value]) -> Result<Value, FuncError> {
    let [s] = args("upper", given)?;
    Ok(Value::from(s.to_uppercase()))
}

fn trim(given: &[Value]) -> Result<Value, FuncError> {
    let [s] = args("trim", given)?;
    Ok(Value::from(s.trim()))
}

fn trim_prefix(given: &[Value]) -> Result<Value, FuncError> {
    let [prefix, s] = args("trimPrefix", given)?;
    Ok(Value::from(s.strip_prefix(prefix.as_str()).unwrap_or(&s)))
}

fn trim_suffix(given: &[Value]) -> Result<Value, FuncError> {
    let [suffix, s] = args("trimSuffix", given)?;
    Ok(Value::from(s.strip_suffix(suffix.as_str()).unwrap_or(&s)))
}

fn replace(given: &[Value]) -> Result<Value, FuncError> {
    let [old, new, s] = args("replace", given)?;
    Ok(Value::from(s.replace(&old, &new)))
}

fn quote(given: &[Value]) -> Result<Value, FuncError> {
    let [s] = args("quote", given)?;
    Ok(Value::from(Json::String(s).to_string()))
}

fn has_prefix(given: &[Value]) -> Result<Value, FuncError> {
    let [prefix, s] = args("hasPrefix", given)?;
    Ok(Value::from(s.starts_with(&prefix)))
}

fn has_suffix(given: &[Value]) -> Result<Value, FuncError> {
    let [suffix, s] = args("hasSuffix", given)?;
    Ok(Value::from(s.ends_with(&suffix)))
}

fn contains(given: &[Value]) -> Result<Value, FuncError> {
    let [needle, s] = args("contains", given)?;
    Ok(Value::from(s.contains(&needle)))
}

fn join(given: &[Value]) -> Result<Value, FuncError> {
    match given {
        [separator, Value::Array(items)] => {
            Ok(Value::from(items.iter().map(text).collect::<Vec<_>>().join(&text(separator))))
        }
        _ => Err(FuncError::Generic("join takes a separator and a list".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params() -> Params {
        json!({"name": "Tn1_Eth0", "path": {"basename": "east", "segments": ["clusters", "east"]}, "zone": ""})
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn fields_pipelines_and_argo_functions() {
        let go = GoTemplate::new(&[]);
        assert_eq!(go.render("{{ .path.basename }}-app", &params()).unwrap(), "east-app");
        assert_eq!(go.render("{{ .name | normalize }}", &params()).unwrap(), "tn1-eth0");
        assert_eq!(go.render("{{ .zone | default \"ccr\" }}", &params()).unwrap(), "ccr");
        assert_eq!(go.render("{{ .path.segments | toJson }}", &params()).unwrap(), r#"["clusters","east"]"#);
        assert_eq!(go.render("{{ index .path.segments 0 | upper }}", &params()).unwrap(), "CLUSTERS");
        assert_eq!(go.render("{{ join \"/\" .path.segments }}", &params()).unwrap(), "clusters/east");
        assert_eq!(go.render("{{ if eq .path.basename \"east\" }}yes{{ end }}", &params()).unwrap(), "yes");
    }

    #[test]
    fn a_missing_key_prints_no_value_unless_missingkey_error() {
        assert_eq!(GoTemplate::new(&[]).render("{{ .absent }}", &params()).unwrap(), NO_VALUE);
        let strict = GoTemplate::new(&["missingkey=error".into()]);
        assert!(strict.render("{{ .absent }}", &params()).unwrap_err().contains("missingkey=error"));
        assert!(strict.render("{{ .path.basename", &params()).is_err(), "an unclosed action is a parse error");
    }
}
