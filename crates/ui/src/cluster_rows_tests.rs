use k8s_openapi::ByteString;
use serde_json::json;

use super::*;

fn secret(data: &[(&str, &str)]) -> Secret {
    let mut secret: Secret =
        serde_json::from_value(json!({"metadata": {"name": "east-secret", "namespace": "lockstep-system"}})).unwrap();
    secret.data = Some(data.iter().map(|(k, v)| ((*k).to_owned(), ByteString(v.as_bytes().to_vec()))).collect());
    secret
}

fn app(name: &str, destination: serde_json::Value, unreachable: Option<&str>) -> Application {
    let conditions = match unreachable {
        Some(message) => json!([{"type": "Ready", "status": "False", "reason": "ClusterUnreachable",
            "message": message, "lastTransitionTime": "2026-01-01T00:00:00Z"}]),
        None => json!([{"type": "Ready", "status": "True", "reason": "Succeeded",
            "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]),
    };
    serde_json::from_value(json!({
        "apiVersion": "lockstep.dev/v1alpha1", "kind": "Application",
        "metadata": {"name": name, "namespace": "team-a"},
        "spec": {"source": {"repoURL": "https://example.com/r.git", "path": "."}, "destination": destination},
        "status": {"conditions": conditions}
    }))
    .unwrap()
}

#[test]
fn a_row_names_the_cluster_and_never_its_credentials() {
    let config = r#"{"bearerToken":"s3cr3t-token","tlsClientConfig":{"caData":"Q0E="}}"#;
    let s = secret(&[
        ("name", "east"),
        ("server", "https://10.0.0.9:6443/"),
        ("namespaces", "a, b"),
        ("clusterResources", "false"),
        ("project", "team"),
        ("config", config),
    ]);
    let row = secret_row(&s, &[]).unwrap();
    assert_eq!(row.name, "east");
    assert_eq!(row.secret, "lockstep-system/east-secret");
    assert_eq!(row.server, "https://10.0.0.9:6443");
    assert_eq!(row.namespaces, vec!["a", "b"]);
    assert_eq!(row.cluster_resources, Some(false));
    assert_eq!(row.project.as_deref(), Some("team"));
    assert_eq!(row.connection, Connection::Unknown);
    assert!(!format!("{row:?}").contains("s3cr3t"));
}

#[test]
fn the_server_comes_from_a_kubeconfig_key_when_the_secret_has_none() {
    let kubeconfig = "apiVersion: v1\nkind: Config\ncurrent-context: c\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nclusters:\n- name: k\n  cluster: {server: 'https://west:6443'}\nusers:\n- name: u\n  user: {token: hidden}\n";
    let row = secret_row(&secret(&[("kubeconfig", kubeconfig)]), &[]).unwrap();
    assert_eq!(row.name, "east-secret");
    assert_eq!(row.server, "https://west:6443");
    assert!(secret_row(&secret(&[("name", "x")]), &[]).is_none());
}

#[test]
fn the_connection_is_what_the_applications_deploying_there_report() {
    let by_name = app("a", json!({"name": "east"}), None);
    let by_server = app("b", json!({"server": "https://10.0.0.9:6443/"}), None);
    let elsewhere = app("c", json!({"name": "west"}), Some("no route"));
    let down = app("d", json!({"name": "east"}), Some("dial tcp: connection refused"));
    let server = "https://10.0.0.9:6443";
    assert_eq!(connection("east", server, std::slice::from_ref(&elsewhere)), Connection::Unknown);
    assert_eq!(
        connection("east", server, &[by_name.clone(), by_server.clone(), elsewhere.clone()]),
        Connection::Reachable { applications: 2 }
    );
    assert_eq!(
        connection("east", server, &[by_name, down, elsewhere]),
        Connection::Unreachable { application: "team-a/d".into(), message: "dial tcp: connection refused".into() }
    );
    let local = app("e", json!({"namespace": "x"}), None);
    assert_eq!(in_cluster_row(&[local]).connection, Connection::Reachable { applications: 1 });
    let mut never_reconciled = app("f", json!({"name": "east"}), None);
    never_reconciled.status = None;
    assert_eq!(connection("east", server, &[never_reconciled]), Connection::Unknown);
}
