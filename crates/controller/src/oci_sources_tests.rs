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
