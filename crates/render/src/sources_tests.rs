use super::*;
use lockstep_api::ApplicationSourceHelm;
use serde_json::json;

fn source(path: Option<&str>, ref_name: Option<&str>, value_files: &[&str]) -> ApplicationSource {
    ApplicationSource {
        repo_url: "https://git/r".into(),
        path: path.map(String::from),
        ref_name: ref_name.map(String::from),
        helm: (!value_files.is_empty()).then(|| ApplicationSourceHelm {
            value_files: value_files.iter().map(|v| v.to_string()).collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn manifest(api_version: &str, kind: &str, namespace: Option<&str>, name: &str, file: &str) -> Manifest {
    let mut object = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}});
    if let Some(ns) = namespace {
        object["metadata"]["namespace"] = json!(ns);
    }
    Manifest { object, file: file.into(), document: 0 }
}

#[test]
fn value_refs_split_into_ref_name_and_path() {
    assert_eq!(split_value_ref("$values/envs/prod.yaml"), Some(("values", "envs/prod.yaml")));
    assert_eq!(split_value_ref(" $values/a.yaml"), Some(("values", "a.yaml")));
    assert_eq!(split_value_ref("$values"), Some(("values", "")));
    assert_eq!(split_value_ref("values.yaml"), None);
    assert_eq!(split_value_ref("$/x.yaml"), None);
}

#[test]
fn a_ref_source_without_path_only_provides_files() {
    assert!(!renders(&source(None, Some("values"), &[])));
    assert!(!renders(&source(Some(" "), Some("values"), &[])));
    assert!(renders(&source(Some("deploy"), Some("values"), &[])));
    assert!(renders(&source(None, None, &[])));
}

#[test]
fn every_values_ref_must_name_a_declared_ref() {
    let chart = source(Some("chart"), None, &["values.yaml", "$values/prod.yaml"]);
    let values = source(None, Some("values"), &[]);
    assert!(check_value_refs(&[&chart, &values]).is_ok());
    let err = check_value_refs(&[&values, &source(Some("c"), None, &["$config/x.yaml"])]).unwrap_err();
    assert_eq!(err.source_index, Some(1));
    assert!(matches!(&err.error, RenderError::ValuesRefNotFound { name, .. } if name == "config"));
    assert!(err.to_string().starts_with("spec.sources[1]: spec.sources[1].helm.valueFiles"), "{err}");
    let err = check_value_refs(&[&chart]).unwrap_err();
    assert_eq!(err.error.reason(), lockstep_api::conditions::Reason::ValuesRefNotFound);
}

#[test]
fn value_roots_map_each_ref_to_its_own_revision() {
    let (chart, values, other) =
        (source(Some("c"), None, &[]), source(None, Some("values"), &[]), source(None, Some(" values "), &[]));
    let fetched = [
        FetchedSource {
            source: &chart,
            revision: "aaa".into(),
            root: "/snap/aaa".into(),
            dependencies: Vec::new(),
            helm_charts: Vec::new(),
        },
        FetchedSource {
            source: &values,
            revision: "bbb".into(),
            root: "/snap/bbb".into(),
            dependencies: Vec::new(),
            helm_charts: Vec::new(),
        },
        FetchedSource {
            source: &other,
            revision: "ccc".into(),
            root: "/snap/ccc".into(),
            dependencies: Vec::new(),
            helm_charts: Vec::new(),
        },
    ];
    let roots = value_roots(&fetched);
    assert_eq!(roots.len(), 1);
    assert_eq!(roots["values"], ValueRoot { revision: "bbb".into(), root: "/snap/bbb".into() });
}

#[test]
fn merge_keeps_source_order_and_refuses_an_object_two_sources_render() {
    let first =
        [manifest("apps/v1", "Deployment", None, "web", "a.yaml"), manifest("v1", "Service", None, "web", "a.yaml")];
    let second = [manifest("v1", "ConfigMap", Some("apps"), "web", "b.yaml")];
    let merged = merge(&[(0, &first), (2, &second)], "apps").unwrap();
    let names: Vec<_> = merged.iter().map(|m| (m.kind(), m.file.as_str())).collect();
    assert_eq!(names, [("Deployment", "a.yaml"), ("Service", "a.yaml"), ("ConfigMap", "b.yaml")]);

    let again = [manifest("apps/v1", "Deployment", Some("apps"), "web", "c.yaml")];
    let err = merge(&[(0, &first), (1, &again)], "apps").unwrap_err();
    assert_eq!(err.reason(), lockstep_api::conditions::Reason::RepeatedResource);
    assert_eq!(
        err.to_string(),
        "Deployment.apps apps/web is rendered by source 0 (a.yaml) and again by source 1 (c.yaml)"
    );
    // The same name in another namespace, group or kind is another object.
    let other = [
        manifest("apps/v1", "Deployment", Some("other"), "web", "d.yaml"),
        manifest("extensions/v1beta1", "Deployment", None, "web", "d.yaml"),
    ];
    assert_eq!(merge(&[(0, &first), (1, &other)], "apps").unwrap().len(), 4);
    // Repeats inside one source are that source's business (its own render decides), not a clash.
    let twice = [manifest("v1", "Service", None, "x", "e.yaml"), manifest("v1", "Service", None, "x", "e.yaml")];
    assert_eq!(merge(&[(0, &twice)], "apps").unwrap().len(), 2);
}
