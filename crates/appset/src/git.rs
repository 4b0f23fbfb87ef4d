//! The git generator over one checked-out commit: one parameter set per matching directory, or per
//! object in each matching JSON or YAML file.
//!
//! Parameter names are Argo's. With fasttemplate they are flat: `path`, `path.basename`,
//! `path.basenameNormalized`, `path.filename`, `path.filenameNormalized` and `path[N]` per
//! segment. With Go templates they nest: `.path.path`, `.path.basename`, `.path.segments`. A
//! `pathParamPrefix` goes in front of `path` in both. Globs follow Argo: `*` stops at `/`, `**`
//! crosses it, and an `exclude` entry removes what it matches from what the others matched.

use std::path::Path;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use lockstep_api::{GitGenerator, GitPathItem};
use serde_json::{Map, Value};

use crate::error::GenerateError;
use crate::generate::{Generated, GitTree, add_values};
use crate::params::{Params, normalize};

/// Files larger than this are not read as parameter files (a generator is not a data pipeline).
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// The parameter sets of `generator` at `tree`.
pub fn params(generator: &GitGenerator, tree: &GitTree, go_template: bool) -> Result<Vec<Generated>, GenerateError> {
    let prefix = generator.path_param_prefix.as_deref().filter(|p| !p.is_empty());
    let mut sets = Vec::new();
    match (generator.directories.is_empty(), generator.files.is_empty()) {
        (false, true) => {
            let selected = Selection::new(&generator.directories)?;
            for dir in walk(&tree.root, true) {
                if selected.keeps(&dir) {
                    sets.push(path_params(&dir, false, prefix, go_template));
                }
            }
        }
        (true, false) => {
            let selected = Selection::new(&generator.files)?;
            for file in walk(&tree.root, false) {
                if selected.keeps(&file) {
                    for content in file_params(&tree.root, &file)? {
                        let mut params = content;
                        params.extend(path_params(&file, true, prefix, go_template));
                        sets.push(params);
                    }
                }
            }
        }
        _ => {
            return Err(GenerateError::Invalid(format!(
                "git generator of {}: set exactly one of directories and files",
                generator.repo_url
            )));
        }
    }
    Ok(sets
        .into_iter()
        .map(|mut params| {
            add_values(&mut params, &generator.values, go_template);
            Generated { params, template: None }
        })
        .collect())
}

/// Include globs minus exclude globs.
struct Selection {
    include: GlobSet,
    exclude: GlobSet,
}

impl Selection {
    fn new(items: &[GitPathItem]) -> Result<Self, GenerateError> {
        let mut include = GlobSetBuilder::new();
        let mut exclude = GlobSetBuilder::new();
        for item in items {
            let pattern = item.path.trim_matches('/');
            let glob = GlobBuilder::new(pattern)
                .literal_separator(true)
                .build()
                .map_err(|e| GenerateError::Invalid(format!("git path {:?} is not a glob: {e}", item.path)))?;
            if item.exclude {
                exclude.add(glob)
            } else {
                include.add(glob)
            };
        }
        let build = |set: GlobSetBuilder| set.build().map_err(|e| GenerateError::Invalid(format!("git paths: {e}")));
        Ok(Self { include: build(include)?, exclude: build(exclude)? })
    }

    fn keeps(&self, path: &str) -> bool {
        self.include.is_match(path) && !self.exclude.is_match(path)
    }
}

/// Every directory (or every file) under `root` as a `/`-separated relative path, sorted, leaving
/// out `.git` and anything below a dot-directory.
fn walk(root: &Path, directories: bool) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let Ok(kind) = entry.file_type() else { continue };
            let path = entry.path();
            let relative = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
            if kind.is_dir() {
                if directories {
                    found.push(relative);
                }
                pending.push(path);
            } else if kind.is_file() && !directories {
                found.push(relative);
            }
        }
    }
    found.sort();
    found
}

/// Argo's `path` parameters of a directory, or of a file (which adds `filename`, and whose
/// `path` is its directory).
fn path_params(relative: &str, is_file: bool, prefix: Option<&str>, go_template: bool) -> Params {
    let (dir, file) = match (is_file, relative.rsplit_once('/')) {
        (true, Some((dir, file))) => (dir.to_string(), Some(file.to_string())),
        (true, None) => (String::new(), Some(relative.to_string())),
        (false, _) => (relative.to_string(), None),
    };
    let segments: Vec<String> = dir.split('/').filter(|s| !s.is_empty()).map(String::from).collect();
    let basename = segments.last().cloned().unwrap_or_else(|| ".".into());
    let mut fields =
        vec![("path", dir.clone()), ("basename", basename.clone()), ("basenameNormalized", normalize(&basename))];
    if let Some(file) = &file {
        fields.push(("filename", file.clone()));
        fields.push(("filenameNormalized", normalize(file)));
    }
    let key = |name: &str| match prefix {
        Some(prefix) => format!("{prefix}.{name}"),
        None => name.to_string(),
    };
    let mut params = Params::new();
    if go_template {
        let mut path: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_string(), Value::String(v))).collect();
        path.insert("segments".into(), Value::Array(segments.into_iter().map(Value::String).collect()));
        match prefix {
            Some(prefix) => {
                let mut outer = Map::new();
                outer.insert("path".into(), Value::Object(path));
                params.insert(prefix.to_string(), Value::Object(outer));
            }
            None => {
                params.insert("path".into(), Value::Object(path));
            }
        }
    } else {
        for (name, value) in fields {
            let name = if name == "path" { key("path") } else { key(&format!("path.{name}")) };
            params.insert(name, Value::String(value));
        }
        for (index, segment) in segments.into_iter().enumerate() {
            params.insert(key(&format!("path[{index}]")), Value::String(segment));
        }
    }
    params
}

/// The parameter sets in one file: an object is one set, a list of objects is one set each.
fn file_params(root: &Path, relative: &str) -> Result<Vec<Params>, GenerateError> {
    let path = root.join(relative);
    let invalid = |what: String| GenerateError::Invalid(format!("git file {relative}: {what}"));
    let size = std::fs::metadata(&path).map(|m| m.len()).map_err(|e| invalid(e.to_string()))?;
    if size > MAX_FILE_BYTES {
        return Err(invalid(format!("is {size} bytes, more than the {MAX_FILE_BYTES} a parameter file may hold")));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| invalid(e.to_string()))?;
    let value: Value = if relative.ends_with(".json") {
        serde_json::from_str(&text).map_err(|e| invalid(format!("is not JSON: {e}")))?
    } else {
        serde_yaml_ng::from_str(&text).map_err(|e| invalid(format!("is not YAML: {e}")))?
    };
    match value {
        Value::Object(params) => Ok(vec![params]),
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(index, item)| match item {
                Value::Object(params) => Ok(params),
                _ => Err(invalid(format!("item {index} is not an object"))),
            })
            .collect(),
        Value::Null => Ok(Vec::new()),
        _ => Err(invalid("holds neither an object nor a list of objects".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> (tempfile::TempDir, GitTree) {
        let dir = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let full = dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, content).unwrap();
        }
        std::fs::create_dir_all(dir.path().join(".git/objects")).unwrap();
        let tree = GitTree { root: dir.path().to_path_buf(), revision: "abc".into() };
        (dir, tree)
    }

    fn item(path: &str, exclude: bool) -> GitPathItem {
        GitPathItem { path: path.into(), exclude }
    }

    #[test]
    fn directories_match_one_level_and_exclusions_win() {
        let (_dir, tree) = tree(&[
            ("clusters/east/app.yaml", ""),
            ("clusters/west/app.yaml", ""),
            ("clusters/west/nested/x.yaml", ""),
            ("clusters/legacy/app.yaml", ""),
            ("other/app.yaml", ""),
        ]);
        let generator = GitGenerator {
            repo_url: "https://git.example/platform.git".into(),
            directories: vec![item("clusters/*", false), item("clusters/legacy", true)],
            ..Default::default()
        };
        let sets = params(&generator, &tree, false).unwrap();
        let paths: Vec<&str> = sets.iter().map(|s| s.params["path"].as_str().unwrap()).collect();
        assert_eq!(paths, ["clusters/east", "clusters/west"]);
        assert_eq!(sets[0].params["path.basename"], "east");
        assert_eq!(sets[0].params["path[0]"], "clusters");
        assert_eq!(sets[0].params["path[1]"], "east");
    }

    #[test]
    fn files_give_their_keys_and_path_parameters_nested_for_go_templates() {
        let (_dir, tree) = tree(&[
            ("clusters/east/config.json", r#"{"cluster": {"name": "east", "zone": "ccr"}}"#),
            ("clusters/west/config.yaml", "- cluster: {name: west-a}\n- cluster: {name: west-b}\n"),
        ]);
        let generator = GitGenerator {
            repo_url: "https://git.example/platform.git".into(),
            files: vec![item("clusters/*/config.*", false)],
            values: [("zone".to_string(), "{{cluster.zone}}".to_string())].into(),
            ..Default::default()
        };
        let sets = params(&generator, &tree, false).unwrap();
        assert_eq!(sets.len(), 3);
        let flat = crate::params::flatten(&sets[0].params);
        assert_eq!(flat["cluster.name"], "east");
        assert_eq!(flat["path"], "clusters/east");
        assert_eq!(flat["path.filename"], "config.json");
        assert_eq!(flat["values.zone"], "ccr");
        let nested = params(&generator, &tree, true).unwrap();
        assert_eq!(nested[1].params["path"]["basename"], "west");
        assert_eq!(nested[1].params["path"]["segments"], serde_json::json!(["clusters", "west"]));
    }

    #[test]
    fn a_prefix_moves_the_path_parameters_and_a_broken_file_is_named() {
        let (_dir, tree) = tree(&[("apps/a/config.yaml", "name: [unclosed")]);
        let directories = GitGenerator {
            repo_url: "r".into(),
            directories: vec![item("apps/*", false)],
            path_param_prefix: Some("app".into()),
            ..Default::default()
        };
        let sets = params(&directories, &tree, false).unwrap();
        assert_eq!(sets[0].params["app.path.basename"], "a");
        let files =
            GitGenerator { repo_url: "r".into(), files: vec![item("apps/*/config.yaml", false)], ..Default::default() };
        let err = params(&files, &tree, false).unwrap_err();
        assert!(err.to_string().contains("apps/a/config.yaml") && err.to_string().contains("not YAML"), "{err}");
        let both = GitGenerator { repo_url: "r".into(), ..Default::default() };
        assert!(params(&both, &tree, false).is_err());
    }
}
