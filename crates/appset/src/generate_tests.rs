use std::collections::BTreeMap;

use serde_json::json;

use super::*;

/// A repository per URL, each a directory of files; an unknown URL is unreachable.
struct Repos(BTreeMap<String, tempfile::TempDir>);

impl GitTrees for Repos {
    fn tree<'a>(&'a self, _namespace: &'a str, repo_url: &'a str, _revision: &'a str) -> PendingTree<'a> {
        Box::pin(async move {
            match self.0.get(repo_url) {
                Some(dir) => Ok(GitTree { root: dir.path().to_path_buf(), revision: "abc123".into() }),
                None => Err("connection refused".into()),
            }
        })
    }
}

fn repos(files: &[(&str, &str, &str)]) -> Repos {
    let mut repos: BTreeMap<String, tempfile::TempDir> = BTreeMap::new();
    for (repo, path, content) in files {
        let dir = repos.entry(repo.to_string()).or_insert_with(|| tempfile::tempdir().unwrap());
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }
    Repos(repos)
}

fn clusters() -> Vec<ClusterInfo> {
    vec![
        ClusterInfo {
            name: "in-cluster".into(),
            server: "https://kubernetes.default.svc".into(),
            ..Default::default()
        },
        ClusterInfo {
            name: "Zone_513".into(),
            server: "https://513:6443".into(),
            labels: Some([("zone".to_string(), "513".to_string())].into()),
            ..Default::default()
        },
        ClusterInfo {
            name: "ccr".into(),
            server: "https://ccr:6443".into(),
            labels: Some([("zone".to_string(), "ccr".to_string())].into()),
            ..Default::default()
        },
        ClusterInfo {
            name: "broken-secret".into(),
            labels: Some([("zone".to_string(), "gpu".to_string())].into()),
            unreadable: Some("key config is not valid JSON".into()),
            ..Default::default()
        },
    ]
}

fn generators(value: serde_json::Value) -> Vec<ApplicationSetGenerator> {
    serde_json::from_value(value).unwrap()
}

async fn run(value: serde_json::Value, repos: &Repos) -> Result<Vec<Generated>, GenerateError> {
    let clusters = clusters();
    let inputs = Inputs { namespace: "ops", clusters: &clusters, git: repos, go_template: false };
    generate_all(&generators(value), &inputs).await
}

fn flat(sets: &[Generated], key: &str) -> Vec<String> {
    sets.iter().map(|s| flatten(&s.params).get(key).cloned().unwrap_or_default()).collect()
}

#[tokio::test]
async fn list_elements_and_elements_yaml() {
    let sets = run(
        json!([{"list": {"elements": [{"cluster": "a"}, {"cluster": "b"}], "elementsYaml": "- cluster: c\n"}}]),
        &repos(&[]),
    )
    .await
    .unwrap();
    assert_eq!(flat(&sets, "cluster"), ["a", "b", "c"]);
    let err = run(json!([{"list": {"elements": ["not-an-object"]}}]), &repos(&[])).await.unwrap_err();
    assert!(err.to_string().starts_with("generators[0]: list element 0"), "{err}");
}

#[tokio::test]
async fn clusters_include_the_local_one_unless_a_selector_is_given() {
    let readable = json!({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["gpu"]}]});
    let err = run(json!([{"clusters": {}}]), &repos(&[])).await.unwrap_err();
    assert!(err.is_source() && err.to_string().contains("cluster Secret broken-secret"), "{err}");
    let all = run(json!([{"clusters": {"values": {"env": "prod-{{name}}"}}}]), &repos(&[])).await.unwrap_or_default();
    assert!(all.is_empty(), "an unreadable selected Secret fails the whole generator");
    let all = run(
        json!([{"merge": {"mergeKeys": ["name"], "generators": [{"clusters": {"selector": readable}}]}}]),
        &repos(&[]),
    )
    .await
    .unwrap();
    assert_eq!(flat(&all, "name"), ["Zone_513", "ccr"], "a selector leaves the local cluster out");
    let all = run(json!([{"clusters": {"values": {"env": "prod-{{name}}"}, "selector": readable}}]), &repos(&[]))
        .await
        .unwrap();
    assert_eq!(flat(&all, "nameNormalized"), ["zone-513", "ccr"]);
    assert_eq!(flat(&all, "values.env")[1], "prod-ccr");
    let selected = run(
        json!([{"clusters": {"selector": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["ccr"]}]}}}]),
        &repos(&[]),
    )
    .await
    .unwrap();
    assert_eq!(flat(&selected, "server"), ["https://ccr:6443"]);
    assert_eq!(flat(&selected, "metadata.labels.zone"), ["ccr"]);
}

#[tokio::test]
async fn matrix_of_clusters_and_git_files_with_the_first_parameters_in_the_second() {
    let repos = repos(&[
        ("https://git/platform", "clusters/ccr/config.yaml", "network: tn1-eth0\n"),
        ("https://git/platform", "clusters/513/config.yaml", "network: tn1-eth2\n"),
    ]);
    let sets = run(
        json!([{"matrix": {"generators": [
            {"clusters": {"selector": {"matchExpressions": [{"key": "zone", "operator": "Exists"}, {"key": "zone", "operator": "NotIn", "values": ["gpu"]}]}}},
            {"git": {"repoURL": "https://git/platform", "revision": "main",
                     "files": [{"path": "clusters/{{metadata.labels.zone}}/config.yaml"}]}}
        ]}}]),
        &repos,
    )
    .await
    .unwrap();
    assert_eq!(flat(&sets, "name"), ["Zone_513", "ccr"]);
    assert_eq!(flat(&sets, "network"), ["tn1-eth2", "tn1-eth0"]);
    assert_eq!(flat(&sets, "path.basename"), ["513", "ccr"]);
}

#[tokio::test]
async fn merge_overrides_by_key_and_selector_filters_the_result() {
    let sets = run(
        json!([{
            "merge": {"mergeKeys": ["name"], "generators": [
                {"clusters": {"values": {"replicas": "1"}, "selector": {"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["gpu"]}]}}},
                {"list": {"elements": [{"name": "ccr", "values.replicas": "3"}]}}
            ]},
            "selector": {"matchExpressions": [{"key": "name", "operator": "NotIn", "values": ["in-cluster"]}]}
        }]),
        &repos(&[]),
    )
    .await
    .unwrap();
    assert_eq!(flat(&sets, "name"), ["Zone_513", "ccr"]);
    assert_eq!(flat(&sets, "values.replicas"), ["1", "3"]);
    assert_eq!(flat(&sets, "values.replicas.x"), ["", ""], "an overriding flat key does not leak into others");
}

#[tokio::test]
async fn bad_generators_are_named_and_an_unreachable_repository_is_a_source_error() {
    let err = run(json!([{}]), &repos(&[])).await.unwrap_err();
    assert!(err.to_string().contains("no generator kind"), "{err}");
    let err = run(json!([{"list": {"elements": []}, "clusters": {}}]), &repos(&[])).await.unwrap_err();
    assert!(err.to_string().contains("more than one"), "{err}");
    let err = run(json!([{"matrix": {"generators": [{"list": {"elements": []}}]}}]), &repos(&[])).await.unwrap_err();
    assert!(err.to_string().contains("exactly two"), "{err}");
    let deep = json!([{"matrix": {"generators": [
        {"list": {"elements": [{"a": "1"}]}},
        {"matrix": {"generators": [{"list": {"elements": []}}, {"merge": {"mergeKeys": ["a"], "generators": []}}]}}
    ]}}]);
    let err = run(deep, &repos(&[])).await.unwrap_err();
    assert!(err.to_string().contains("at most 2 levels"), "{err}");
    let err = run(json!([{"list": {"elements": [{"a": "1"}]}}, {"git": {"repoURL": "https://gone", "directories": [{"path": "*"}]}}]), &repos(&[]))
        .await
        .unwrap_err();
    assert!(err.is_source(), "{err:?}");
    assert!(err.to_string().contains("generators[1]: repository https://gone: connection refused"), "{err}");
    let clash = json!([{"matrix": {"generators": [{"list": {"elements": [{"a": "1"}]}}, {"list": {"elements": [{"a": "2"}]}}]}}]);
    assert!(run(clash, &repos(&[])).await.unwrap_err().to_string().contains("both generators set parameter \"a\""));
}

#[test]
fn generator_templates_lay_over_the_set_template_and_requeue_follows_git() {
    let merged = merge_templates(
        Some(json!({"metadata": {"name": "{{name}}", "labels": {"a": "1"}}, "spec": {"project": "default"}})),
        Some(json!({"metadata": {"labels": {"b": "2"}, "name": ""}, "spec": {"project": "ops"}})),
    );
    assert_eq!(
        merged,
        Some(json!({"metadata": {"name": "{{name}}", "labels": {"a": "1", "b": "2"}}, "spec": {"project": "ops"}}))
    );
    assert_eq!(requeue_seconds(&generators(json!([{"list": {"elements": []}}]))), None);
    let nested = json!([{"matrix": {"generators": [
        {"git": {"repoURL": "r", "directories": [{"path": "*"}], "requeueAfterSeconds": 30}},
        {"git": {"repoURL": "s", "revision": "main", "directories": [{"path": "*"}]}}
    ]}}]);
    assert_eq!(requeue_seconds(&generators(nested.clone())), Some(30));
    assert_eq!(
        git_sources(&generators(nested)),
        [("r".to_string(), None), ("s".to_string(), Some("main".to_string()))]
    );
}
