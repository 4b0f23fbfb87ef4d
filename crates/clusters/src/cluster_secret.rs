//! Cluster Secrets in Argo CD's format, read into a kubeconfig: pure.
//!
//! A Secret labelled `lockstep.dev/secret-type: cluster` holds `name`, `server` and either `config`
//! (Argo CD's JSON: `bearerToken`, `username`/`password`, `tlsClientConfig.{caData, certData, keyData,
//! serverName, insecure}`, `proxyUrl`) or `kubeconfig` (a whole kubeconfig; its current context is used).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use kube::config::{AuthInfo, Cluster, Context, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext};
use serde::Deserialize;

/// The label (and value) that marks a Secret as a cluster Secret.
pub const CLUSTER_SECRET_LABEL: (&str, &str) = ("lockstep.dev/secret-type", "cluster");

/// One destination cluster, as its Secret describes it.
#[derive(Clone, Debug)]
pub struct ClusterSecret {
    /// The cluster's name (`name`, else the Secret's name).
    pub name: String,
    /// The API server URL, without a trailing `/`.
    pub server: String,
    /// How to reach it.
    pub kubeconfig: Kubeconfig,
}

/// Argo CD's `config` key.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
struct ClusterConfig {
    #[serde(default)]
    bearer_token: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    tls_client_config: TlsClientConfig,
    #[serde(default)]
    proxy_url: Option<String>,
}

/// Argo CD's `config.tlsClientConfig`; the `*Data` fields are base64 of PEM, as in a kubeconfig.
#[derive(Deserialize, Default, Debug)]
#[serde(rename_all = "camelCase")]
struct TlsClientConfig {
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    server_name: Option<String>,
    #[serde(default)]
    ca_data: Option<String>,
    #[serde(default)]
    cert_data: Option<String>,
    #[serde(default)]
    key_data: Option<String>,
}

/// Reads a cluster Secret; the error says which key is missing or broken.
pub fn parse(secret: &Secret) -> Result<ClusterSecret, String> {
    let secret_name = secret.metadata.name.clone().unwrap_or_default();
    let data: BTreeMap<&str, String> = secret
        .data
        .iter()
        .flatten()
        .map(|(k, v)| (k.as_str(), String::from_utf8_lossy(&v.0).into_owned()))
        .chain(secret.string_data.iter().flatten().map(|(k, v)| (k.as_str(), v.clone())))
        .collect();
    let field = |key: &str| data.get(key).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let name = field("name").unwrap_or_else(|| secret_name.clone());
    let why = |what: String| format!("cluster Secret {secret_name:?}: {what}");
    let kubeconfig = match (field("config"), data.get("kubeconfig")) {
        (_, Some(text)) if !text.trim().is_empty() => {
            Kubeconfig::from_yaml(text).map_err(|e| why(format!("key kubeconfig is not a kubeconfig: {e}")))?
        }
        (Some(json), _) => {
            let server = field("server").ok_or_else(|| why("key server is missing".into()))?;
            let config: ClusterConfig =
                serde_json::from_str(&json).map_err(|e| why(format!("key config is not valid JSON: {e}")))?;
            from_config(&name, &server, config)
        }
        _ => return Err(why("neither key config nor key kubeconfig is set".into())),
    };
    let server = match field("server") {
        Some(server) => server,
        None => current_server(&kubeconfig).ok_or_else(|| why("no key server and the kubeconfig names none".into()))?,
    };
    Ok(ClusterSecret { name, server: server.trim_end_matches('/').to_string(), kubeconfig })
}

/// A one-context kubeconfig from Argo CD's `config`.
fn from_config(name: &str, server: &str, config: ClusterConfig) -> Kubeconfig {
    let tls = config.tls_client_config;
    let cluster = Cluster {
        server: Some(server.to_string()),
        insecure_skip_tls_verify: Some(tls.insecure),
        certificate_authority_data: tls.ca_data,
        tls_server_name: tls.server_name,
        proxy_url: config.proxy_url.filter(|p| !p.is_empty()),
        ..Default::default()
    };
    let auth = AuthInfo {
        token: config.bearer_token.filter(|t| !t.is_empty()).map(Into::into),
        username: config.username.filter(|u| !u.is_empty()),
        password: config.password.filter(|p| !p.is_empty()).map(Into::into),
        client_certificate_data: tls.cert_data,
        client_key_data: tls.key_data.map(Into::into),
        ..Default::default()
    };
    Kubeconfig {
        clusters: vec![NamedCluster { name: name.into(), cluster: Some(cluster), other: Default::default() }],
        auth_infos: vec![NamedAuthInfo { name: name.into(), auth_info: Some(auth), other: Default::default() }],
        contexts: vec![NamedContext {
            name: name.into(),
            context: Some(Context { cluster: name.into(), user: Some(name.into()), ..Default::default() }),
            other: Default::default(),
        }],
        current_context: Some(name.into()),
        ..Default::default()
    }
}

/// The server of a kubeconfig's current context (or its only cluster).
fn current_server(kubeconfig: &Kubeconfig) -> Option<String> {
    let cluster_name = kubeconfig
        .current_context
        .as_ref()
        .and_then(|current| kubeconfig.contexts.iter().find(|c| c.name == *current))
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone());
    let cluster = match cluster_name {
        Some(name) => kubeconfig.clusters.iter().find(|c| c.name == name),
        None => kubeconfig.clusters.first(),
    };
    cluster.and_then(|c| c.cluster.as_ref()).and_then(|c| c.server.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::ByteString;

    fn secret(data: &[(&str, &str)]) -> Secret {
        Secret {
            metadata: kube::api::ObjectMeta { name: Some("prod-secret".into()), ..Default::default() },
            data: Some(data.iter().map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec()))).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn reads_argo_cd_config() {
        let config = r#"{"bearerToken":"t0k","tlsClientConfig":{"caData":"Q0E=","serverName":"api.prod","insecure":false},"proxyUrl":"http://proxy:3128"}"#;
        let parsed =
            parse(&secret(&[("name", "prod"), ("server", "https://10.0.0.1:6443/"), ("config", config)])).unwrap();
        assert_eq!(parsed.name, "prod");
        assert_eq!(parsed.server, "https://10.0.0.1:6443");
        let cluster = parsed.kubeconfig.clusters[0].cluster.as_ref().unwrap();
        assert_eq!(cluster.certificate_authority_data.as_deref(), Some("Q0E="));
        assert_eq!(cluster.tls_server_name.as_deref(), Some("api.prod"));
        assert_eq!(cluster.proxy_url.as_deref(), Some("http://proxy:3128"));
        let auth = parsed.kubeconfig.auth_infos[0].auth_info.as_ref().unwrap();
        assert!(auth.token.is_some() && auth.username.is_none());
    }

    #[test]
    fn reads_a_kubeconfig_and_takes_its_server() {
        let kubeconfig = "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:7443\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\nusers:\n- name: u\n  user:\n    token: abc\n";
        let parsed = parse(&secret(&[("kubeconfig", kubeconfig)])).unwrap();
        assert_eq!(parsed.name, "prod-secret", "without a name key the Secret's name is used");
        assert_eq!(parsed.server, "https://127.0.0.1:7443");
    }

    #[test]
    fn says_what_is_missing_or_broken() {
        assert!(parse(&secret(&[("name", "x")])).unwrap_err().contains("neither key config nor key kubeconfig"));
        assert!(parse(&secret(&[("config", "{}")])).unwrap_err().contains("key server is missing"));
        let broken = parse(&secret(&[("server", "https://x"), ("config", "{not json")])).unwrap_err();
        assert!(broken.contains("prod-secret") && broken.contains("not valid JSON"), "{broken}");
    }
}
