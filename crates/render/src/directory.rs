//! Plain directories of YAML and JSON manifests.

use std::path::{Component, Path, PathBuf};

use globset::{Glob, GlobMatcher};
use serde::Deserialize;
use serde_json::Value;

use crate::error::RenderError;
use crate::manifest::Manifest;
use crate::options::DirectoryOptions;

/// Joins a source path to a repository root, refusing absolute paths and `..`, and checking it exists.
pub fn resolve_source_path(root: &Path, path: Option<&str>) -> Result<PathBuf, RenderError> {
    let path = path.unwrap_or_default().trim();
    let relative = Path::new(path);
    let outside =
        relative.components().any(|c| matches!(c, Component::ParentDir | Component::RootDir | Component::Prefix(_)));
    if outside {
        return Err(RenderError::PathOutsideRepository { path: path.to_string() });
    }
    let dir = root.join(relative);
    if !dir.is_dir() {
        return Err(RenderError::PathNotFound { path: path.to_string() });
    }
    Ok(dir)
}

/// Reads every `.yaml`, `.yml` and `.json` file in `dir` (and below it with `recurse`) that passes
/// the include/exclude globs, in path order, flattening `List` kinds. Any file that fails to parse
/// fails the whole render, so a broken commit is never half-applied.
pub fn render_directory(root: &Path, dir: &Path, options: &DirectoryOptions) -> Result<Vec<Manifest>, RenderError> {
    let mut files = Vec::new();
    collect_files(root, dir, options.recurse, &mut files)?;
    let filter = FileFilter::new(options)?;
    files.retain(|f| filter.keeps(f.strip_prefix(dir).unwrap_or(f)));
    files.sort();
    let mut manifests = Vec::new();
    for file in files {
        let display = display_path(root, &file);
        let text = std::fs::read_to_string(&file)
            .map_err(|e| RenderError::Read { file: display.clone(), message: e.to_string() })?;
        parse_documents(&display, &text, &mut manifests)?;
    }
    Ok(manifests)
}

fn collect_files(root: &Path, dir: &Path, recurse: bool, out: &mut Vec<PathBuf>) -> Result<(), RenderError> {
    let read_err = |e: std::io::Error| RenderError::Read { file: display_path(root, dir), message: e.to_string() };
    for entry in std::fs::read_dir(dir).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        let file_type = entry.file_type().map_err(read_err)?;
        if hidden {
            continue;
        }
        if file_type.is_dir() {
            if recurse {
                collect_files(root, &path, recurse, out)?;
            }
        } else if file_type.is_file() && is_manifest_file(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Argo CD's include/exclude: globs over the path relative to the source path, where `*` also
/// crosses `/` and `{a,b}` lists alternatives; exclude wins.
struct FileFilter {
    include: Option<GlobMatcher>,
    exclude: Option<GlobMatcher>,
}

impl FileFilter {
    fn new(options: &DirectoryOptions) -> Result<Self, RenderError> {
        let compile = |field: &'static str, pattern: &Option<String>| {
            pattern
                .as_deref()
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    Glob::new(p).map(|g| g.compile_matcher()).map_err(|e| RenderError::InvalidGlob {
                        field,
                        pattern: p.to_string(),
                        message: e.kind().to_string(),
                    })
                })
                .transpose()
        };
        Ok(Self { include: compile("include", &options.include)?, exclude: compile("exclude", &options.exclude)? })
    }

    fn keeps(&self, relative: &Path) -> bool {
        if self.exclude.as_ref().is_some_and(|g| g.is_match(relative)) {
            return false;
        }
        self.include.as_ref().is_none_or(|g| g.is_match(relative))
    }
}

fn is_manifest_file(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"))
}

fn display_path(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

/// Parses a multi-document YAML (or JSON) text into manifests, skipping empty documents and
/// flattening `List` kinds; `file` names the text in errors.
pub fn parse_manifests(file: &str, text: &str) -> Result<Vec<Manifest>, RenderError> {
    let mut manifests = Vec::new();
    parse_documents(file, text, &mut manifests)?;
    Ok(manifests)
}

fn parse_documents(file: &str, text: &str, out: &mut Vec<Manifest>) -> Result<(), RenderError> {
    for (document, de) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let value = Value::deserialize(de).map_err(|e| RenderError::Parse {
            file: file.to_string(),
            line: e.location().map(|l| l.line()),
            message: e.to_string(),
        })?;
        push_object(file, document, value, out)?;
    }
    Ok(())
}

fn push_object(file: &str, document: usize, value: Value, out: &mut Vec<Manifest>) -> Result<(), RenderError> {
    let invalid = |message: String| RenderError::InvalidObject { file: file.to_string(), document, message };
    let object = match value {
        Value::Null => return Ok(()),
        Value::Object(object) => object,
        other => return Err(invalid(format!("expected a Kubernetes object, found {}", json_type(&other)))),
    };
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
    if kind.ends_with("List") && object.get("items").is_some_and(Value::is_array) {
        if let Some(Value::Array(items)) = object.get("items") {
            for item in items {
                push_object(file, document, item.clone(), out)?;
            }
        }
        return Ok(());
    }
    let missing: Vec<&str> = [
        ("apiVersion", object.get("apiVersion").and_then(Value::as_str).is_some_and(|s| !s.is_empty())),
        ("kind", !kind.is_empty()),
        (
            "metadata.name",
            object.get("metadata").and_then(|m| m.get("name")).and_then(Value::as_str).is_some_and(|s| !s.is_empty()),
        ),
    ]
    .into_iter()
    .filter_map(|(field, present)| (!present).then_some(field))
    .collect();
    if !missing.is_empty() {
        return Err(invalid(format!("missing {}", missing.join(", "))));
    }
    out.push(Manifest { object: Value::Object(object), file: file.to_string(), document });
    Ok(())
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_tree::tree;

    const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n";

    #[test]
    fn reads_multi_document_files_in_path_order_and_skips_others() {
        let dir = tree(&[
            ("b.yaml", &format!("{CM}---\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n")),
            ("a.json", r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"j"}}"#),
            ("README.md", "# not a manifest"),
            ("sub/c.yaml", CM),
        ]);
        let got = render_directory(dir.path(), dir.path(), &DirectoryOptions::default()).unwrap();
        let names: Vec<_> = got.iter().map(|m| (m.file.as_str(), m.kind(), m.name())).collect();
        assert_eq!(names, vec![("a.json", "ConfigMap", "j"), ("b.yaml", "ConfigMap", "a"), ("b.yaml", "Secret", "s")]);
    }

    #[test]
    fn recurse_reads_subdirectories() {
        let dir = tree(&[("a.yaml", CM), ("sub/deeper/c.yml", CM)]);
        let got = render_directory(dir.path(), dir.path(), &DirectoryOptions { recurse: true, ..Default::default() })
            .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].file, "sub/deeper/c.yml");
    }

    #[test]
    fn include_and_exclude_globs_filter_files_and_exclude_wins() {
        let dir = tree(&[("a.yaml", CM), ("b.yaml", CM), ("crds/c.yaml", CM), ("crds/d.json", CM)]);
        let names = |include: Option<&str>, exclude: Option<&str>| {
            let options =
                DirectoryOptions { recurse: true, include: include.map(Into::into), exclude: exclude.map(Into::into) };
            render_directory(dir.path(), dir.path(), &options).unwrap().into_iter().map(|m| m.file).collect::<Vec<_>>()
        };
        assert_eq!(names(Some("*.yaml"), None), vec!["a.yaml", "b.yaml", "crds/c.yaml"]);
        assert_eq!(names(Some("{a.yaml,crds/*}"), Some("*.json")), vec!["a.yaml", "crds/c.yaml"]);
        assert_eq!(names(None, Some("crds/*")), vec!["a.yaml", "b.yaml"]);
        assert_eq!(names(Some("a.yaml"), Some("a.yaml")), Vec::<String>::new());
        let bad = DirectoryOptions { include: Some("[".into()), ..Default::default() };
        assert!(matches!(render_directory(dir.path(), dir.path(), &bad), Err(RenderError::InvalidGlob { .. })));
    }

    #[test]
    fn lists_are_flattened() {
        let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: x}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: y}\n";
        let dir = tree(&[("l.yaml", list)]);
        let got = render_directory(dir.path(), dir.path(), &DirectoryOptions::default()).unwrap();
        assert_eq!(got.iter().map(Manifest::name).collect::<Vec<_>>(), vec!["x", "y"]);
    }

    #[test]
    fn broken_yaml_names_file_and_line() {
        let dir = tree(&[
            ("ok.yaml", CM),
            ("bad/broken.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n"),
        ]);
        let err = render_directory(dir.path(), &dir.path().join("bad"), &DirectoryOptions::default()).unwrap_err();
        match &err {
            RenderError::Parse { file, line, .. } => {
                assert_eq!(file, "bad/broken.yaml");
                assert!(line.is_some_and(|l| l >= 4), "{err}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().starts_with("bad/broken.yaml:"), "{err}");
    }

    #[test]
    fn documents_that_are_not_objects_are_refused() {
        let dir = tree(&[("x.yaml", "just a string\n")]);
        let err = render_directory(dir.path(), dir.path(), &DirectoryOptions::default()).unwrap_err();
        assert!(matches!(err, RenderError::InvalidObject { .. }), "{err}");
        let dir = tree(&[("x.yaml", "apiVersion: v1\nkind: ConfigMap\n")]);
        let err = render_directory(dir.path(), dir.path(), &DirectoryOptions::default()).unwrap_err();
        assert!(err.to_string().contains("missing metadata.name"), "{err}");
    }

    #[test]
    fn source_path_must_stay_inside_and_exist() {
        let dir = tree(&[("apps/a.yaml", CM)]);
        assert!(resolve_source_path(dir.path(), Some("apps")).is_ok());
        assert!(resolve_source_path(dir.path(), None).is_ok());
        assert!(matches!(
            resolve_source_path(dir.path(), Some("../..")),
            Err(RenderError::PathOutsideRepository { .. })
        ));
        assert!(matches!(
            resolve_source_path(dir.path(), Some("/etc")),
            Err(RenderError::PathOutsideRepository { .. })
        ));
        assert!(matches!(resolve_source_path(dir.path(), Some("nope")), Err(RenderError::PathNotFound { .. })));
    }
}
