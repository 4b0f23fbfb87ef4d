//! Helm chart sources: the chart is copied into scratch space with its local (`file://`)
//! dependencies placed under `charts/` (so nothing is fetched and the snapshot is never written),
//! values files are checked to stay in the repository, and `helm template` runs with the options.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::chart_dependencies::ResolvedDependency;
use crate::error::RenderError;
use crate::options::HelmOptions;
use crate::sandbox::{check_symlinks, looks_remote, relative, resolve_inside};

/// How deep `file://` dependencies of dependencies are followed.
const MAX_DEPENDENCY_DEPTH: usize = 8;

/// Copies the chart at `chart_dir` to `scratch/chart` and vendors its `file://` dependencies, each
/// after refusing symlinks out of the repository in it, and the remote ones the caller resolved
/// (`resolved`, from the Helm repository cache); a dependency that is none of these fails with
/// [`RenderError::RemoteChart`].
pub fn prepare_chart(
    root: &Path,
    chart_dir: &Path,
    scratch: &Path,
    resolved: &[ResolvedDependency],
) -> Result<PathBuf, RenderError> {
    let target = scratch.join("chart");
    check_symlinks(root, &[chart_dir.to_path_buf()])?;
    copy_dir(root, chart_dir, &target)?;
    vendor_dependencies(root, chart_dir, &target, 0, resolved)?;
    Ok(target)
}

fn vendor_dependencies(
    root: &Path,
    original: &Path,
    copy: &Path,
    depth: usize,
    resolved: &[ResolvedDependency],
) -> Result<(), RenderError> {
    let chart_file = original.join("Chart.yaml");
    let display = relative(root, &chart_file);
    let text = std::fs::read_to_string(&chart_file)
        .map_err(|e| RenderError::Read { file: display.clone(), message: e.to_string() })?;
    let chart: Value = serde_yaml_ng::from_str(&text).map_err(|e| RenderError::Parse {
        file: display.clone(),
        line: e.location().map(|l| l.line()),
        message: e.to_string(),
    })?;
    for dep in chart.get("dependencies").and_then(Value::as_array).into_iter().flatten() {
        let name = dep.get("name").and_then(Value::as_str).unwrap_or_default();
        let repository = dep.get("repository").and_then(Value::as_str).unwrap_or_default();
        if is_vendored(&copy.join("charts"), name) {
            continue;
        }
        let remote =
            || RenderError::RemoteChart { file: display.clone(), name: name.into(), repository: repository.into() };
        if let Some(found) = crate::chart_dependencies::resolved(resolved, name, repository) {
            copy_dir(&found.dir, &found.dir, &copy.join("charts").join(name))?;
            continue;
        }
        let Some(local) = repository.strip_prefix("file://") else {
            return Err(remote());
        };
        if depth >= MAX_DEPENDENCY_DEPTH || looks_remote(local) {
            return Err(remote());
        }
        let dep_dir = resolve_inside(root, original, local).ok_or_else(|| RenderError::ReferenceOutsideRepository {
            file: display.clone(),
            reference: repository.into(),
        })?;
        if !dep_dir.join("Chart.yaml").is_file() {
            return Err(RenderError::Read {
                file: relative(root, &dep_dir.join("Chart.yaml")),
                message: "no chart here".into(),
            });
        }
        let dep_copy = copy.join("charts").join(name);
        check_symlinks(root, std::slice::from_ref(&dep_dir))?;
        copy_dir(root, &dep_dir, &dep_copy)?;
        vendor_dependencies(root, &dep_dir, &dep_copy, depth + 1, resolved)?;
    }
    Ok(())
}

/// True when `charts/` holds the dependency unpacked (`charts/<name>/`) or packed (`<name>-<version>.tgz`).
pub(crate) fn is_vendored(charts: &Path, name: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(charts) else { return false };
    entries.flatten().any(|e| {
        let file = e.file_name().to_string_lossy().into_owned();
        file == name || (file.starts_with(&format!("{name}-")) && file.ends_with(".tgz"))
    })
}

/// Copies a directory tree (following in-repository symlinks; the caller has refused the others).
fn copy_dir(root: &Path, from: &Path, to: &Path) -> Result<(), RenderError> {
    std::fs::create_dir_all(to).map_err(|e| RenderError::scratch(to.display(), e))?;
    let read_err = |e: std::io::Error| RenderError::Read { file: relative(root, from), message: e.to_string() };
    for entry in std::fs::read_dir(from).map_err(read_err)? {
        let entry = entry.map_err(read_err)?;
        let source = entry.path();
        let dest = to.join(entry.file_name());
        if source.is_dir() {
            copy_dir(root, &source, &dest)?;
        } else if source.is_file() {
            std::fs::copy(&source, &dest).map_err(|e| RenderError::scratch(relative(root, &source), e))?;
        }
    }
    Ok(())
}

/// The values files to pass, resolved against the chart directory inside the repository; missing
/// ones fail unless `ignoreMissingValueFiles`, remote ones always fail (rendering is offline).
pub fn value_files(root: &Path, chart_dir: &Path, options: &HelmOptions) -> Result<Vec<PathBuf>, RenderError> {
    let mut files = Vec::new();
    for name in &options.value_files {
        let outside = || RenderError::ReferenceOutsideRepository {
            file: "spec.source.helm.valueFiles".into(),
            reference: name.clone(),
        };
        if looks_remote(name) {
            return Err(outside());
        }
        let (root, file) = match crate::sources::split_value_ref(name) {
            Some((ref_name, path)) => {
                let value_root = options.value_roots.get(ref_name).ok_or_else(|| RenderError::ValuesRefNotFound {
                    field: "spec.sources[].helm.valueFiles".into(),
                    reference: name.clone(),
                    name: ref_name.to_string(),
                })?;
                let ref_root = value_root.root.as_path();
                (ref_root, resolve_inside(ref_root, ref_root, path).ok_or_else(outside)?)
            }
            None => (root, resolve_inside(root, chart_dir, name).ok_or_else(outside)?),
        };
        check_symlinks(root, std::slice::from_ref(&file))?;
        if file.is_file() {
            files.push(file);
        } else if !options.ignore_missing_value_files {
            return Err(RenderError::MissingValueFile { file: relative(root, &file) });
        }
    }
    Ok(files)
}

/// The inline values (`valuesObject` wins over `values`) as YAML text, if any.
pub fn inline_values(options: &HelmOptions) -> Result<Option<String>, RenderError> {
    if let Some(object) = options.values_object.as_ref().filter(|v| !v.is_null()) {
        return serde_yaml_ng::to_string(object)
            .map(Some)
            .map_err(|e| RenderError::InvalidOption { field: "helm.valuesObject", message: e.to_string() });
    }
    Ok(options.values.clone().filter(|v| !v.trim().is_empty()))
}

/// Arguments of `helm template`, in Argo CD's order: values files, inline values, then parameters.
pub fn template_args(chart: &Path, options: &HelmOptions, values: &[PathBuf]) -> Vec<String> {
    let mut args = vec![
        "template".to_string(),
        options.release_name.clone(),
        chart.display().to_string(),
        "--namespace".into(),
        options.namespace.clone(),
    ];
    if let Some(version) = options.kube_version.as_deref().filter(|v| !v.is_empty()) {
        args.extend(["--kube-version".into(), version.into()]);
    }
    for api in &options.api_versions {
        args.extend(["--api-versions".into(), api.clone()]);
    }
    if !options.skip_crds {
        args.push("--include-crds".into());
    }
    for file in values {
        args.extend(["--values".into(), file.display().to_string()]);
    }
    for p in &options.parameters {
        let flag = if p.force_string { "--set-string" } else { "--set" };
        args.extend([flag.into(), format!("{}={}", p.name, escape_set_value(&p.value))]);
    }
    args
}

/// Drops Helm test hooks (`helm.sh/hook: test`, `test-success`, `test-failure`): they are for
/// `helm test`, not part of the release, and Argo CD ignores them too.
pub fn without_test_hooks(manifests: Vec<crate::Manifest>) -> Vec<crate::Manifest> {
    manifests
        .into_iter()
        .filter(|m| {
            let hooks = m.object["metadata"]["annotations"]["helm.sh/hook"].as_str().unwrap_or_default();
            !hooks.split(',').map(str::trim).any(|h| h.starts_with("test"))
        })
        .collect()
}

/// Commas separate `--set` pairs; a value's own commas are escaped unless it is a `{a,b}` list.
fn escape_set_value(value: &str) -> String {
    if value.starts_with('{') && value.ends_with('}') { value.to_string() } else { value.replace(',', "\\,") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::HelmParameter;
    use crate::test_tree::tree;

    #[test]
    fn template_args_follow_argo_order() {
        let options = HelmOptions {
            release_name: "web".into(),
            namespace: "apps".into(),
            kube_version: Some("v1.36.3".into()),
            api_versions: vec!["apps/v1".into(), "apps/v1/Deployment".into()],
            parameters: vec![
                HelmParameter { name: "a.b".into(), value: "1,2".into(), force_string: false },
                HelmParameter { name: "tag".into(), value: "01".into(), force_string: true },
            ],
            ..Default::default()
        };
        let args = template_args(Path::new("/c"), &options, &[PathBuf::from("/v.yaml")]);
        assert_eq!(
            args.join(" "),
            "template web /c --namespace apps --kube-version v1.36.3 --api-versions apps/v1 --api-versions apps/v1/Deployment \
             --include-crds --values /v.yaml --set a.b=1\\,2 --set-string tag=01"
        );
        let skip = HelmOptions { skip_crds: true, ..options };
        assert!(!template_args(Path::new("/c"), &skip, &[]).contains(&"--include-crds".to_string()));
    }

    #[test]
    fn value_files_stay_inside_and_missing_ones_fail_unless_ignored() {
        let dir = tree(&[("chart/Chart.yaml", "name: c"), ("chart/prod.yaml", "a: 1"), ("shared/common.yaml", "b: 2")]);
        let root = dir.path();
        let chart = root.join("chart");
        let mut options =
            HelmOptions { value_files: vec!["prod.yaml".into(), "../shared/common.yaml".into()], ..Default::default() };
        assert_eq!(
            value_files(root, &chart, &options).unwrap(),
            vec![chart.join("prod.yaml"), root.join("shared/common.yaml")]
        );
        options.value_files.push("missing.yaml".into());
        let err = value_files(root, &chart, &options).unwrap_err();
        assert!(matches!(&err, RenderError::MissingValueFile { file } if file == "chart/missing.yaml"), "{err}");
        options.ignore_missing_value_files = true;
        assert_eq!(value_files(root, &chart, &options).unwrap().len(), 2);
        options.value_files = vec!["../../../etc/passwd".into()];
        assert!(matches!(value_files(root, &chart, &options), Err(RenderError::ReferenceOutsideRepository { .. })));
    }

    #[test]
    fn values_refs_read_the_ref_sources_checkout_and_stay_inside_it() {
        let chart_repo = tree(&[("chart/Chart.yaml", "name: c"), ("chart/values.yaml", "a: 1")]);
        let values_repo = tree(&[("envs/prod.yaml", "a: 2")]);
        let (root, chart) = (chart_repo.path(), chart_repo.path().join("chart"));
        let roots =
            [("values".to_string(), crate::ValueRoot { revision: "v".into(), root: values_repo.path().into() })];
        let mut options = HelmOptions {
            value_files: vec!["values.yaml".into(), "$values/envs/prod.yaml".into()],
            value_roots: roots.into_iter().collect(),
            ..Default::default()
        };
        assert_eq!(
            value_files(root, &chart, &options).unwrap(),
            vec![chart.join("values.yaml"), values_repo.path().join("envs/prod.yaml")]
        );
        options.value_files = vec!["$values/../../etc/passwd".into()];
        assert!(matches!(value_files(root, &chart, &options), Err(RenderError::ReferenceOutsideRepository { .. })));
        options.value_files = vec!["$values/envs/missing.yaml".into()];
        let err = value_files(root, &chart, &options).unwrap_err();
        assert!(matches!(&err, RenderError::MissingValueFile { file } if file == "envs/missing.yaml"), "{err}");
        options.value_files = vec!["$config/x.yaml".into()];
        let err = value_files(root, &chart, &options).unwrap_err();
        assert!(matches!(&err, RenderError::ValuesRefNotFound { name, .. } if name == "config"), "{err}");
    }

    #[test]
    fn test_hooks_are_dropped_and_other_hooks_kept() {
        let docs = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: t\n  annotations:\n    helm.sh/hook: test\n---\n\
                    apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: pre-install,post-upgrade\n---\n\
                    apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n";
        let kept = without_test_hooks(crate::parse_manifests("x", docs).unwrap());
        assert_eq!(kept.iter().map(crate::Manifest::name).collect::<Vec<_>>(), vec!["j", "c"]);
    }

    #[test]
    fn values_object_wins_over_values() {
        let mut options = HelmOptions { values: Some("a: 1\n".into()), ..Default::default() };
        assert_eq!(inline_values(&options).unwrap().as_deref(), Some("a: 1\n"));
        options.values_object = Some(serde_json::json!({"b": 2}));
        assert_eq!(inline_values(&options).unwrap().as_deref(), Some("b: 2\n"));
    }

    #[test]
    fn local_dependencies_are_vendored_and_remote_ones_refused() {
        let dir = tree(&[
            (
                "app/Chart.yaml",
                "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: lib\n  version: 0.1.0\n  repository: file://../lib\n",
            ),
            ("lib/Chart.yaml", "apiVersion: v2\nname: lib\nversion: 0.1.0\n"),
            ("lib/templates/cm.yaml", "kind: ConfigMap"),
        ]);
        let scratch = tempfile::tempdir().unwrap();
        let chart = prepare_chart(dir.path(), &dir.path().join("app"), scratch.path(), &[]).unwrap();
        assert!(chart.join("charts/lib/templates/cm.yaml").is_file());
        assert!(!dir.path().join("app/charts").exists(), "the snapshot is not written");

        std::fs::write(
            dir.path().join("app/Chart.yaml"),
            "apiVersion: v2\nname: app\nversion: 0.1.0\ndependencies:\n- name: redis\n  version: 1.0.0\n  repository: https://charts.example.com\n",
        )
        .unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let err = prepare_chart(dir.path(), &dir.path().join("app"), scratch.path(), &[]).unwrap_err();
        assert!(matches!(&err, RenderError::RemoteChart { name, .. } if name == "redis"), "{err}");
        std::fs::create_dir_all(dir.path().join("app/charts")).unwrap();
        std::fs::write(dir.path().join("app/charts/redis-1.0.0.tgz"), "").unwrap();
        let scratch = tempfile::tempdir().unwrap();
        assert!(
            prepare_chart(dir.path(), &dir.path().join("app"), scratch.path(), &[]).is_ok(),
            "vendored tgz is enough"
        );
    }

    #[test]
    fn symlinks_out_of_the_repository_fail_only_charts_that_reach_them() {
        let dir = tree(&[
            ("charts/web/Chart.yaml", "name: web\ndependencies:\n- name: lib\n  repository: file://../../lib\n"),
            ("lib/Chart.yaml", "name: lib\n"),
            ("charts/api/Chart.yaml", "name: api\n"),
        ]);
        let root = dir.path();
        std::fs::create_dir_all(root.join("elsewhere")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("elsewhere/passwd.yaml")).unwrap();
        let scratch = tempfile::tempdir().unwrap();
        assert!(prepare_chart(root, &root.join("charts/web"), scratch.path(), &[]).is_ok());
        let options = HelmOptions { value_files: vec!["../../elsewhere/passwd.yaml".into()], ..Default::default() };
        let err = value_files(root, &root.join("charts/api"), &options).unwrap_err();
        assert!(matches!(&err, RenderError::SymlinkOutsideRepository { .. }), "{err}");
        std::os::unix::fs::symlink("/etc", root.join("lib/templates")).unwrap();
        let scratch = tempfile::tempdir().unwrap();
        let err = prepare_chart(root, &root.join("charts/web"), scratch.path(), &[]).unwrap_err();
        assert!(matches!(&err, RenderError::SymlinkOutsideRepository { file } if file == "lib/templates"), "{err}");
        assert!(prepare_chart(root, &root.join("charts/api"), scratch.path(), &[]).is_ok());
    }
}
