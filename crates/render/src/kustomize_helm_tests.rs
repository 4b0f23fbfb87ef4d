use super::*;
use crate::test_tree::tree;

fn places(charts: &[KustomizeHelmChart]) -> Vec<(String, String, bool)> {
    charts.iter().map(|c| (c.name.clone(), c.place.display().to_string(), c.needs_resolving())).collect()
}

#[test]
fn charts_are_looked_for_where_kustomize_looks() {
    let dir = tree(&[
        (
            "app/kustomization.yaml",
            "resources:\n- ../base\n- cm.yaml\n- https://example.com/remote.yaml\nhelmCharts:\n\
             - {name: web, repo: 'https://charts.example/', version: 1.2.3, releaseName: web, valuesInline: {a: 1}}\n\
             - {name: latest, repo: 'https://charts.example/'}\n\
             - {name: local}\n",
        ),
        ("app/charts/local/Chart.yaml", "name: local"),
        ("app/cm.yaml", "kind: ConfigMap"),
        (
            "base/kustomization.yaml",
            "helmGlobals:\n  chartHome: vendor/helm\nhelmCharts:\n- name: db\n  repo: oci://registry.example/charts\n  version: ~2.0\n",
        ),
    ]);
    let root = dir.path();
    let charts = helm_charts(root, &[root.join("app")]).unwrap();
    assert_eq!(
        places(&charts),
        vec![
            ("web".into(), "app/charts/web-1.2.3/web".into(), true),
            ("latest".into(), "app/charts/latest".into(), true),
            ("local".into(), "app/charts/local".into(), false),
            ("db".into(), "base/vendor/helm/db-~2.0/db".into(), true),
        ]
    );
    assert_eq!(charts[0].kustomization, "app/kustomization.yaml");
    assert!(charts[0].is_helm_repository() && !charts[0].is_oci());
    assert!(charts[3].is_oci() && !charts[3].is_helm_repository());
    assert_eq!(charts[3].kustomization, "base/kustomization.yaml");
}

#[test]
fn a_vendored_versioned_chart_is_not_resolved() {
    let dir = tree(&[
        ("kustomization.yaml", "helmCharts:\n- {name: web, repo: 'https://charts.example', version: 1.0.0}\n"),
        ("charts/web-1.0.0/web/Chart.yaml", "name: web"),
    ]);
    let charts = helm_charts(dir.path(), &[dir.path().to_path_buf()]).unwrap();
    assert!(charts[0].vendored && !charts[0].needs_resolving());
}

#[test]
fn chart_homes_and_names_that_leave_the_repository_and_generator_forms_are_refused() {
    for kustomization in [
        "helmGlobals: {chartHome: ../../outside}\nhelmCharts:\n- {name: web, repo: 'https://c.example'}\n",
        "helmGlobals: {chartHome: /etc}\nhelmCharts:\n- {name: web, repo: 'https://c.example'}\n",
        "helmCharts:\n- {name: ../../../x, repo: 'https://c.example'}\n",
        "helmCharts:\n- {name: web, repo: 'https://c.example', version: ../../../../../x}\n",
    ] {
        let dir = tree(&[("app/kustomization.yaml", kustomization)]);
        let err = helm_charts(dir.path(), &[dir.path().join("app")]).unwrap_err();
        assert!(matches!(err, RenderError::ReferenceOutsideRepository { .. }), "{kustomization}: {err}");
    }
    let dir = tree(&[(
        "app/kustomization.yaml",
        "helmChartInflationGenerator:\n- {chartName: web, chartRepoUrl: 'https://c.example'}\n",
    )]);
    let err = helm_charts(dir.path(), &[dir.path().join("app")]).unwrap_err();
    assert!(matches!(err, RenderError::InvalidOption { field: "helmChartInflationGenerator", .. }), "{err}");
    let dir = tree(&[
        ("app/kustomization.yaml", "generators: [gen.yaml]\n"),
        ("app/gen.yaml", "apiVersion: builtin\nkind: HelmChartInflationGenerator\nmetadata: {name: x}\n"),
    ]);
    let err = helm_charts(dir.path(), &[dir.path().join("app")]).unwrap_err();
    assert!(err.to_string().contains("app/gen.yaml"), "{err}");
    let dir = tree(&[("app/kustomization.yaml", "helmGlobals: {chartHome: ../../outside}\nresources: [cm.yaml]\n")]);
    assert!(helm_charts(dir.path(), &[dir.path().join("app")]).unwrap().is_empty(), "no charts, no concern");
}

#[test]
fn an_unresolved_chart_fails_naming_it_and_its_kustomization() {
    let dir = tree(&[(
        "app/kustomization.yaml",
        "helmCharts:\n- {name: web, repo: 'https://c.example', version: 1.0.0}\n- {name: api, repo: 'https://c.example', version: 2.0.0}\n",
    )]);
    let charts = helm_charts(dir.path(), &[dir.path().join("app")]).unwrap();
    let resolved = |name: &str, version: &str| ResolvedHelmChart {
        name: name.into(),
        repository: "https://c.example".into(),
        version: version.into(),
        dir: format!("/cache/{name}-{version}").into(),
    };
    let both = [resolved("web", "1.0.0"), resolved("api", "2.0.0")];
    let placed = placements(&charts, &both).unwrap();
    assert_eq!(placed[1], (Path::new("app/charts/api-2.0.0/api"), Path::new("/cache/api-2.0.0")));
    let err = placements(&charts, &[resolved("web", "1.0.0"), resolved("api", "1.0.0")]).unwrap_err();
    assert!(
        matches!(&err, RenderError::HelmChart { file, chart, .. } if file == "app/kustomization.yaml" && chart.starts_with("\"api\" \"2.0.0\"")),
        "{err}"
    );
    assert_eq!(err.reason(), lockstep_api::conditions::Reason::DependencyNotResolved);
}

#[test]
fn the_copy_leaves_out_git_and_links_out_of_the_repository_and_places_charts() {
    let dir = tree(&[
        ("app/kustomization.yaml", "resources: [cm.yaml]\n"),
        ("app/cm.yaml", "kind: ConfigMap"),
        (".git/HEAD", "ref"),
    ]);
    let root = dir.path();
    std::os::unix::fs::symlink("cm.yaml", root.join("app/alias.yaml")).unwrap();
    std::os::unix::fs::symlink("/etc/hostname", root.join("app/host.yaml")).unwrap();
    std::os::unix::fs::symlink(root.join("app/cm.yaml"), root.join("app/absolute.yaml")).unwrap();
    let chart = tree(&[("Chart.yaml", "name: web"), ("templates/cm.yaml", "x")]);
    let scratch = tempfile::tempdir().unwrap();
    let copy = scratch.path().join("tree");
    copy_tree(root, &copy).unwrap();
    place_charts(&copy, &[(Path::new("app/charts/web"), chart.path())]).unwrap();
    assert_eq!(std::fs::read_to_string(copy.join("app/alias.yaml")).unwrap(), "kind: ConfigMap");
    assert!(std::fs::symlink_metadata(copy.join("app/host.yaml")).is_err());
    let absolute = std::fs::symlink_metadata(copy.join("app/absolute.yaml")).unwrap();
    assert!(absolute.is_file(), "an absolute link into the repository is copied, not kept");
    assert!(!copy.join(".git").exists());
    assert!(copy.join("app/charts/web/templates/cm.yaml").is_file());
    assert!(!root.join("app/charts").exists(), "the snapshot is not written");
}

#[test]
fn only_kustomize_sources_ask_for_charts() {
    let dir = tree(&[
        (
            "app/kustomization.yaml",
            "helmCharts:\n- {name: web, repo: 'https://c.example', version: 1.0.0}\n- {name: v}\n",
        ),
        ("comp/kustomization.yaml", "kind: Component\nhelmCharts:\n- {name: extra, repo: 'https://c.example'}\n"),
    ]);
    let root = dir.path();
    let source = |path: &str| ApplicationSource { path: Some(path.into()), ..Default::default() };
    let names = |charts: Vec<KustomizeHelmChart>| charts.into_iter().map(|c| c.name).collect::<Vec<_>>();
    assert_eq!(names(kustomize_helm_charts(&source("app"), root).unwrap()), vec!["web"]);
    let with_component = ApplicationSource {
        kustomize: Some(lockstep_api::ApplicationSourceKustomize {
            components: vec!["../comp".into()],
            ..Default::default()
        }),
        ..source("app")
    };
    assert_eq!(names(kustomize_helm_charts(&with_component, root).unwrap()), vec!["web", "extra"]);
    let as_directory = ApplicationSource { directory: Some(Default::default()), ..source("app") };
    assert!(kustomize_helm_charts(&as_directory, root).unwrap().is_empty());
}
