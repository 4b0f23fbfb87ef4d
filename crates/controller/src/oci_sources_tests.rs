use super::*;

fn secret(name: &str, kind: &str, data: &[(&str, &str)]) -> Arc<Secret> {
    let encoded: serde_json::Map<String, serde_json::Value> =
        data.iter().map(|(k, v)| (k.to_string(), base64::engine::general_purpose::STANDARD.encode(v).into())).collect();
    Arc::new(
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "namespace": "ns", "labels": {SECRET_TYPE_LABEL: kind}},
            "data": encoded,
        }))
        .unwrap(),
    )
}

#[test]
fn exact_url_beats_prefix_beats_docker_config() {
    let docker = r#"{"auths":{"https://reg.example:5000/v1/":{"auth":"ZG9ja2VyOmQtcGFzcw=="}}}"#;
    let secrets = vec![
        secret("docker", "repo-creds", &[(DOCKER_CONFIG_KEY, docker)]),
        secret("prefix", "repo-creds", &[("url", "oci://reg.example:5000/charts"), ("password", "p-pass")]),
        secret("longer", "repo-creds", &[("url", "reg.example:5000/charts/"), ("password", "l-pass")]),
        secret(
            "exact",
            "repository",
            &[("url", "oci://reg.example:5000/charts/app"), ("username", "u"), ("password", "e-pass")],
        ),
    ];
    let auth = |url: &str, secrets: &[Arc<Secret>]| select_auth(url, "reg.example:5000", secrets);
    let exact = auth("oci://reg.example:5000/charts/app", &secrets).unwrap();
    assert_eq!((exact.password.as_deref(), exact.origin.as_deref()), (Some("e-pass"), Some("ns/exact")));
    let prefix = auth("oci://reg.example:5000/charts/other", &secrets).unwrap();
    assert_eq!(prefix.origin.as_deref(), Some("ns/longer"), "the longest prefix wins");
    let docker_only = auth("oci://reg.example:5000/apps/x", &secrets).unwrap();
    assert_eq!(
        (docker_only.username.as_deref(), docker_only.password.as_deref(), docker_only.origin.as_deref()),
        (Some("docker"), Some("d-pass"), Some("ns/docker"))
    );
    assert_eq!(select_auth("oci://other.example/apps/x", "other.example", &secrets), None);
}

#[test]
fn docker_config_entries_by_host() {
    let config = r#"{"auths":{"reg.example":{"username":"a","password":"b"},"other:5000":{"auth":"dTpw"}}}"#;
    assert_eq!(docker_config_entry(config, "reg.example"), Some(("a".into(), "b".into())));
    assert_eq!(docker_config_entry(config, "OTHER:5000"), Some(("u".into(), "p".into())));
    assert_eq!(docker_config_entry(config, "reg.example:443"), None);
    assert_eq!(docker_config_entry("not json", "reg.example"), None);
    assert!(is_oci("OCI://reg/app") && !is_oci("https://reg/app"));
}

#[test]
fn a_chart_reads_the_secret_of_its_url_or_of_its_repository() {
    let secrets = vec![
        secret("repo", "repository", &[("url", "reg.example/charts"), ("password", "repo-pass")]),
        secret("chart", "repository", &[("url", "oci://reg.example/charts/web"), ("password", "chart-pass")]),
    ];
    let auth = |urls: &[&str]| select_auth_for(urls, "reg.example", &secrets).and_then(|a| a.origin);
    assert_eq!(auth(&["oci://reg.example/charts/web", "reg.example/charts"]).as_deref(), Some("ns/chart"));
    assert_eq!(auth(&["oci://reg.example/charts/api", "reg.example/charts"]).as_deref(), Some("ns/repo"));
    assert_eq!(auth(&["oci://reg.example/charts/api"]), None, "the repository's Secret needs the repository URL");
    assert_eq!(auth(&["oci://reg.example/other/api", "oci://reg.example/other"]), None);
}

#[test]
fn enable_oci_comes_from_the_secret_that_applies() {
    let argo = |name: &str, kind: &str, data: &[(&str, &str)]| {
        let mut s = (*secret(name, kind, data)).clone();
        let labels = s.metadata.labels.get_or_insert_with(Default::default);
        labels.remove(SECRET_TYPE_LABEL);
        labels.insert(ARGO_SECRET_TYPE_LABEL.into(), kind.into());
        Arc::new(s)
    };
    let secrets = vec![
        argo("oci", "repository", &[("url", "reg.example/charts"), ("type", "helm"), (ENABLE_OCI_KEY, "true")]),
        secret("plain", "repository", &[("url", "reg.example/legacy"), ("type", "helm")]),
        secret("creds", "repo-creds", &[("url", "mirror.example/"), (ENABLE_OCI_KEY, "True")]),
    ];
    assert_eq!(enables_oci("reg.example/charts", &secrets), Some(true));
    assert_eq!(enables_oci("reg.example/charts/", &secrets), Some(true), "a trailing / is the same URL");
    assert_eq!(enables_oci("reg.example/legacy", &secrets), Some(false));
    assert_eq!(enables_oci("mirror.example/team/charts", &secrets), Some(true), "a repo-creds prefix");
    assert_eq!(enables_oci("other.example/charts", &secrets), None);
}
