//! Shared helpers for the conformance and fuzz tests: locating the data, reading its TSV and
//! reading its YAML the way upstream's Go tests do (sigs.k8s.io/yaml).

#![allow(dead_code)]

pub mod rule_cases;

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// `shared/conformance/<set>`: `$LOCKSTEP_SHARED_DIR/conformance/<set>` when the variable is set,
/// else `<workspace root>/../shared/conformance/<set>`.
pub fn conformance_dir(set: &str) -> PathBuf {
    let shared = match std::env::var_os("LOCKSTEP_SHARED_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    shared.join("conformance").join(set)
}

/// One row of an `expected.tsv`, by column name; missing trailing cells read as "".
pub struct Row {
    cells: BTreeMap<String, String>,
    /// 1-based line number in the TSV, for messages.
    pub line: usize,
}

impl Row {
    /// The cell in `column`, or "" when the row is short.
    pub fn get(&self, column: &str) -> &str {
        self.cells.get(column).map_or("", String::as_str)
    }
}

/// Reads a tab-separated file whose first line names the columns; blank lines are skipped.
pub fn read_tsv(path: &Path) -> Result<Vec<Row>, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines().enumerate();
    let header: Vec<String> = match lines.next() {
        Some((_, h)) => h.trim_end_matches('\r').split('\t').map(str::to_string).collect(),
        None => return Err(format!("{}: empty", path.display())),
    };
    let rows = lines
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let cells = header.iter().cloned().zip(l.trim_end_matches('\r').split('\t').map(str::to_string)).collect();
            Row { cells, line: i + 1 }
        })
        .collect();
    Ok(rows)
}

/// The `.yaml` files directly in `dir`, sorted.
pub fn yaml_files(dir: &Path) -> Result<Vec<String>, String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml") || n.ends_with(".yml"))
        .collect();
    names.sort();
    Ok(names)
}

/// Parses one YAML document into JSON like sigs.k8s.io/yaml: a duplicate key keeps its last
/// value, and non-string keys become strings.
pub fn parse_yaml(text: &str) -> Result<Value, String> {
    let de = serde_yaml_ng::Deserializer::from_str(text);
    Json::deserialize(de).map(|j| j.0).map_err(|e| e.to_string())
}

/// Reads and parses a YAML file, first replacing each `%s` with `placeholder` when given (as
/// upstream's `fmt.Sprintf` does for its time-dependent case).
pub fn load_yaml(path: &Path, placeholder: Option<&str>) -> Result<Value, String> {
    let mut text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(value) = placeholder {
        text = text.replace("%s", value);
    }
    parse_yaml(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// A JSON value built by a tolerant visitor (see [`parse_yaml`]).
struct Json(Value);

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json(Value::Null))
    }

    fn visit_none<E>(self) -> Result<Json, E> {
        Ok(Json(Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
        Json::deserialize(d)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
        Ok(Json(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
        Ok(Json(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
        Ok(Json(Value::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
        Ok(Json(Number::from_f64(v).map_or(Value::Null, Value::Number)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Json, E> {
        Ok(Json(Value::String(v.to_string())))
    }

    fn visit_string<E>(self, v: String) -> Result<Json, E> {
        Ok(Json(Value::String(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        let mut items = Vec::new();
        while let Some(Json(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut out = Map::new();
        while let Some((Json(key), Json(value))) = map.next_entry()? {
            let key = match key {
                Value::String(s) => s,
                Value::Null => "null".to_string(),
                Value::Bool(_) | Value::Number(_) => key.to_string(),
                _ => return Err(de::Error::custom("a YAML key must be a scalar")),
            };
            // Last one wins, as with Go's YAML-to-JSON conversion.
            out.insert(key, value);
        }
        Ok(Json(Value::Object(out)))
    }
}
