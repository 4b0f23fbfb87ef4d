//! Kustomize sources: refuse remote or escaping bases, lay the Application's options over the
//! source as a generated overlay in scratch space (the snapshot is never written), run
//! `kustomize build`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::detect::KUSTOMIZATION_FILES;
use crate::error::RenderError;
use crate::options::KustomizeOptions;
use crate::sandbox::{check_symlinks, looks_remote, relative, resolve_inside};

/// Walks the kustomization in `dir` and every local base or component it names, failing on a
/// remote reference, one that leaves `root`, or a symlink out of the repository in any of them,
/// before kustomize ever runs.
pub fn check_references(root: &Path, dir: &Path) -> Result<(), RenderError> {
    let mut seen = Vec::new();
    check_dir(root, dir, &mut seen)
}

/// The kustomization file of `dir`, if it has one: its path relative to `root` (for messages) and
/// its parsed content.
pub(crate) fn read_kustomization(root: &Path, dir: &Path) -> Result<Option<(String, Value)>, RenderError> {
    let Some(file) = KUSTOMIZATION_FILES.iter().map(|f| dir.join(f)).find(|f| f.is_file()) else {
        return Ok(None);
    };
    let display = relative(root, &file);
    let text = std::fs::read_to_string(&file)
        .map_err(|e| RenderError::Read { file: display.clone(), message: e.to_string() })?;
    let doc = serde_yaml_ng::from_str(&text).map_err(|e| RenderError::Parse {
        file: display.clone(),
        line: e.location().map(|l| l.line()),
        message: e.to_string(),
    })?;
    Ok(Some((display, doc)))
}

fn check_dir(root: &Path, dir: &Path, seen: &mut Vec<PathBuf>) -> Result<(), RenderError> {
    if seen.iter().any(|d| d == dir) {
        return Ok(());
    }
    seen.push(dir.to_path_buf());
    check_symlinks(root, &[dir.to_path_buf()])?;
    let Some((display, doc)) = read_kustomization(root, dir)? else {
        return Ok(());
    };
    for field in ["resources", "bases", "components"] {
        let entries = doc.get(field).and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str);
        for entry in entries {
            if looks_remote(entry) {
                return Err(RenderError::RemoteBase { file: display.clone(), url: entry.to_string() });
            }
            let target = resolve_inside(root, dir, entry).ok_or_else(|| RenderError::ReferenceOutsideRepository {
                file: display.clone(),
                reference: entry.to_string(),
            })?;
            if target.is_dir() {
                check_dir(root, &target, seen)?;
            } else {
                check_symlinks(root, &[target])?;
            }
        }
    }
    Ok(())
}

/// The kustomization, to be written in `overlay_dir`, that lays `options` over the source at
/// `source_dir`. Kustomize refuses absolute bases, so the source and components are named relative
/// to `overlay_dir`; patch files named by `path` are read from the repository and inlined.
pub fn overlay(
    root: &Path,
    source_dir: &Path,
    overlay_dir: &Path,
    options: &KustomizeOptions,
) -> Result<String, RenderError> {
    let mut k = Map::new();
    k.insert("apiVersion".into(), json!("kustomize.config.k8s.io/v1beta1"));
    k.insert("kind".into(), json!("Kustomization"));
    k.insert("resources".into(), json!([relative_path(overlay_dir, source_dir)]));
    let mut set = |key: &str, value: &Option<String>| {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            k.insert(key.into(), json!(v));
        }
    };
    set("namePrefix", &options.name_prefix);
    set("nameSuffix", &options.name_suffix);
    set("namespace", &options.namespace);
    if !options.images.is_empty() {
        let images = options.images.iter().map(|i| parse_image(i)).collect::<Result<Vec<_>, _>>()?;
        k.insert("images".into(), Value::Array(images));
    }
    if !options.common_labels.is_empty() {
        k.insert("commonLabels".into(), json!(options.common_labels));
    }
    if !options.common_annotations.is_empty() {
        k.insert("commonAnnotations".into(), json!(options.common_annotations));
    }
    if !options.patches.is_empty() {
        let patches =
            options.patches.iter().map(|p| inline_patch(root, source_dir, p)).collect::<Result<Vec<_>, _>>()?;
        k.insert("patches".into(), Value::Array(patches));
    }
    if !options.components.is_empty() {
        let mut components = Vec::new();
        for c in &options.components {
            if looks_remote(c) {
                return Err(RenderError::RemoteBase {
                    file: "spec.source.kustomize.components".into(),
                    url: c.clone(),
                });
            }
            let dir = resolve_inside(root, source_dir, c).ok_or_else(|| RenderError::ReferenceOutsideRepository {
                file: "spec.source.kustomize.components".into(),
                reference: c.clone(),
            })?;
            check_references(root, &dir)?;
            components.push(json!(relative_path(overlay_dir, &dir)));
        }
        k.insert("components".into(), Value::Array(components));
    }
    serde_yaml_ng::to_string(&Value::Object(k)).map_err(|e| RenderError::scratch("kustomization overlay", e))
}

fn inline_patch(root: &Path, source_dir: &Path, patch: &Value) -> Result<Value, RenderError> {
    let mut patch = patch.as_object().cloned().ok_or_else(|| RenderError::InvalidOption {
        field: "kustomize.patches",
        message: "each patch must be an object".into(),
    })?;
    if let Some(path) = patch.remove("path") {
        let path = path.as_str().unwrap_or_default().to_string();
        let file = resolve_inside(root, source_dir, &path).ok_or_else(|| RenderError::ReferenceOutsideRepository {
            file: "spec.source.kustomize.patches".into(),
            reference: path.clone(),
        })?;
        check_symlinks(root, std::slice::from_ref(&file))?;
        let text = std::fs::read_to_string(&file)
            .map_err(|e| RenderError::Read { file: relative(root, &file), message: e.to_string() })?;
        patch.insert("patch".into(), json!(text));
    }
    if patch.get("patch").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err(RenderError::InvalidOption {
            field: "kustomize.patches",
            message: "a patch needs `patch` or `path`".into(),
        });
    }
    Ok(Value::Object(patch))
}

/// `[old=]new[:tag|@digest]`, as `kustomize edit set image` (and Argo CD) take it, into a
/// kustomization `images` entry.
pub fn parse_image(spec: &str) -> Result<Value, RenderError> {
    let invalid = || RenderError::InvalidOption {
        field: "kustomize.images",
        message: format!("{spec:?} is not [old=]new[:tag|@digest]"),
    };
    let (old, new) = match spec.split_once('=') {
        Some((old, new)) => (Some(old), new),
        None => (None, spec),
    };
    let (image, tag, digest) = if let Some((image, digest)) = new.split_once('@') {
        (image, None, Some(digest))
    } else {
        let slash = new.rfind('/').map_or(0, |i| i + 1);
        match new[slash..].rfind(':') {
            Some(colon) => (&new[..slash + colon], Some(&new[slash + colon + 1..]), None),
            None => (new, None, None),
        }
    };
    let mut entry = Map::new();
    match old {
        Some(old) if !old.is_empty() => {
            entry.insert("name".into(), json!(old));
            if !image.is_empty() {
                entry.insert("newName".into(), json!(image));
            }
        }
        Some(_) => return Err(invalid()),
        None if image.is_empty() => return Err(invalid()),
        None => {
            entry.insert("name".into(), json!(image));
        }
    }
    if let Some(tag) = tag {
        entry.insert("newTag".into(), json!(tag));
    }
    if let Some(digest) = digest {
        entry.insert("digest".into(), json!(digest));
    }
    Ok(Value::Object(entry))
}

/// The path that leads from the directory `from` to `to` (both absolute and free of `..`).
pub fn relative_path(from: &Path, to: &Path) -> String {
    let from: Vec<_> = from.components().collect();
    let to: Vec<_> = to.components().collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut path = PathBuf::new();
    for _ in common..from.len() {
        path.push("..");
    }
    for part in &to[common..] {
        path.push(part);
    }
    if path.as_os_str().is_empty() { ".".into() } else { path.display().to_string() }
}

/// Arguments of `kustomize build`: the directory only; no plugins, no exec, no Helm, root-only
/// file loading (kustomize's defaults).
pub fn build_args(dir: &Path) -> Vec<String> {
    vec!["build".into(), dir.display().to_string()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_parse_like_kustomize_edit_set_image() {
        assert_eq!(parse_image("nginx:1.25").unwrap(), json!({"name": "nginx", "newTag": "1.25"}));
        assert_eq!(
            parse_image("ghcr.io/stefanprodan/podinfo=registry:5000/podinfo:6.5.0").unwrap(),
            json!({"name": "ghcr.io/stefanprodan/podinfo", "newName": "registry:5000/podinfo", "newTag": "6.5.0"})
        );
        assert_eq!(
            parse_image("app=app@sha256:abc").unwrap(),
            json!({"name": "app", "newName": "app", "digest": "sha256:abc"})
        );
        assert_eq!(parse_image("registry:5000/app").unwrap(), json!({"name": "registry:5000/app"}));
        assert!(parse_image("=x:1").is_err());
    }

    #[test]
    fn overlay_names_the_source_and_inlines_patch_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("app/comp")).unwrap();
        std::fs::write(root.join("app/p.yaml"), "- op: add\n  path: /x\n  value: 1\n").unwrap();
        let options = KustomizeOptions {
            name_prefix: Some("pre-".into()),
            images: vec!["nginx:1".into()],
            patches: vec![json!({"path": "p.yaml", "target": {"kind": "Deployment"}})],
            components: vec!["comp".into()],
            ..Default::default()
        };
        let text = overlay(root, &root.join("app"), &root.join("scratch/overlay"), &options).unwrap();
        let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
        assert_eq!(doc["resources"][0], json!("../../app"));
        assert_eq!(doc["namePrefix"], "pre-");
        assert_eq!(doc["patches"][0]["target"]["kind"], "Deployment");
        assert!(doc["patches"][0]["patch"].as_str().unwrap().contains("op: add"));
        assert_eq!(doc["components"][0], json!("../../app/comp"));
        let escaping = KustomizeOptions { patches: vec![json!({"path": "../../../etc/passwd"})], ..Default::default() };
        assert!(matches!(
            overlay(root, &root.join("app"), root, &escaping),
            Err(RenderError::ReferenceOutsideRepository { .. })
        ));
    }

    #[test]
    fn relative_paths_climb_to_the_common_ancestor() {
        assert_eq!(relative_path(Path::new("/tmp/s/overlay"), Path::new("/cache/snap/app")), "../../../cache/snap/app");
        assert_eq!(relative_path(Path::new("/a/b"), Path::new("/a/b/c")), "c");
        assert_eq!(relative_path(Path::new("/a/b"), Path::new("/a/b")), ".");
    }

    #[test]
    fn remote_and_escaping_bases_are_refused_before_kustomize_runs() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("base")).unwrap();
        std::fs::create_dir_all(root.join("overlay")).unwrap();
        std::fs::write(root.join("overlay/kustomization.yaml"), "resources:\n- ../base\n").unwrap();
        std::fs::write(root.join("base/kustomization.yaml"), "resources:\n- https://github.com/org/repo//x?ref=v1\n")
            .unwrap();
        let err = check_references(root, &root.join("overlay")).unwrap_err();
        assert!(matches!(&err, RenderError::RemoteBase { file, .. } if file == "base/kustomization.yaml"), "{err}");
        std::fs::write(root.join("base/kustomization.yaml"), "resources:\n- ../../outside\n").unwrap();
        assert!(matches!(
            check_references(root, &root.join("overlay")),
            Err(RenderError::ReferenceOutsideRepository { .. })
        ));
        std::fs::write(root.join("base/kustomization.yaml"), "resources:\n- ../overlay\n").unwrap();
        assert!(check_references(root, &root.join("overlay")).is_ok(), "cycles end");
    }

    #[test]
    fn symlinks_out_of_the_repository_fail_only_kustomizations_that_reach_them() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for sub in ["base", "apps/web", "apps/api", "unrelated"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        std::fs::write(root.join("base/kustomization.yaml"), "resources:\n- cm.yaml\n").unwrap();
        std::fs::write(root.join("apps/web/kustomization.yaml"), "resources:\n- ../../base\n").unwrap();
        std::fs::write(root.join("apps/api/kustomization.yaml"), "resources:\n- ../../base\n").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("unrelated/passwd.yaml")).unwrap();
        assert!(check_references(root, &root.join("apps/web")).is_ok(), "a bad link elsewhere is no concern");
        // A base outside the application's path that holds a bad link is reached, so it fails.
        std::os::unix::fs::symlink("/etc/hostname", root.join("base/cm.yaml")).unwrap();
        let err = check_references(root, &root.join("apps/api")).unwrap_err();
        assert!(matches!(&err, RenderError::SymlinkOutsideRepository { file } if file == "base/cm.yaml"), "{err}");
    }
}
