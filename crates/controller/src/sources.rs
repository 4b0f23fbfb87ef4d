//! Everything a fetch needs from the cluster: credential Secrets (the Application's namespace, then
//! the controller's), SSH known hosts and the mirror map (ConfigMaps in the controller's namespace).
//! They come from the reflector stores of [`crate::lookups`] (read directly until those have
//! listed), so changes apply without a restart and a fetch costs no API request; values never
//! reach a log line.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use lockstep_api::kube_error::one_line;
use lockstep_api::{Application, ApplicationSource, REFRESH_ANNOTATION};
use lockstep_source::{
    CredentialKind, CredentialSecret, Credentials, Endpoint, MirrorMap, SourceError, SourceRequest, select_credentials,
};
use tracing::debug;

use crate::lookups::Lookups;

/// The label that marks credential Secrets, with Argo CD's two values.
pub const SECRET_TYPE_LABEL: &str = "lockstep.dev/secret-type";
/// Argo CD's label for the same Secrets, read too (lockstep's label wins when both are set).
pub const ARGO_SECRET_TYPE_LABEL: &str = "argocd.argoproj.io/secret-type";
/// ConfigMap (controller namespace) whose values are `known_hosts` lines for SSH.
pub const KNOWN_HOSTS_CONFIG_MAP: &str = "lockstep-ssh-known-hosts";
/// ConfigMap (controller namespace) holding the mirror map under [`MIRRORS_KEY`].
pub const MIRRORS_CONFIG_MAP: &str = "lockstep-source-mirrors";
/// Key of the mirror map in [`MIRRORS_CONFIG_MAP`].
pub const MIRRORS_KEY: &str = "mirrors.yaml";

/// Per-Application memory of the source side: the last refresh token seen, to tell an explicit
/// refresh from a periodic look.
#[derive(Default)]
pub(crate) struct Sources {
    tokens: Mutex<HashMap<String, String>>,
}

impl Sources {
    /// Builds the request for one `source` of `app`: mirrors then canonical URL, each with its
    /// credentials, the shared known hosts, and a fresh ref listing when `refresh` (the user asked for
    /// a refresh or changed the spec, see [`Sources::explicit_refresh`]).
    pub(crate) async fn request(
        &self,
        client: &Client,
        lookups: &Lookups,
        controller_namespace: &str,
        app: &Application,
        source: &ApplicationSource,
        refresh: bool,
    ) -> Result<SourceRequest, SourceError> {
        let app_namespace = app.namespace().unwrap_or_default();
        let mut request = request_for(
            client,
            lookups,
            controller_namespace,
            &app_namespace,
            &source.repo_url,
            source.target_revision.clone(),
        )
        .await?;
        request.max_listing_age = refresh.then_some(Duration::ZERO);
        Ok(request)
    }

    /// True when the spec or the refresh annotation changed since this Application's last fetch
    /// (asked once per pass: the answer remembers the token).
    pub(crate) fn explicit_refresh(&self, app: &Application) -> bool {
        let token = format!(
            "{}/{}",
            app.metadata.generation.unwrap_or_default(),
            app.annotations().get(REFRESH_ANNOTATION).map(String::as_str).unwrap_or_default()
        );
        let mut tokens = self.tokens.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let previous = tokens.insert(app_key(app), token.clone());
        previous.is_some_and(|p| p != token)
    }

    /// Drops what is remembered about an Application that is gone.
    pub(crate) fn forget(&self, namespace: &str, name: &str) {
        let key = format!("{namespace}/{name}");
        self.tokens.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&key);
    }

    /// Keeps only the Applications `exists` knows (a sweep after watch gaps, where no delete was seen).
    pub(crate) fn retain(&self, exists: impl Fn(&str, &str) -> bool) {
        let keep = |key: &String| key.split_once('/').is_some_and(|(ns, name)| exists(ns, name));
        self.tokens.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).retain(|k, _| keep(k));
    }

    /// Number of Applications something is remembered about.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.tokens.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }
}

/// The request for `repo_url` at `target_revision` read from `namespace` (an Application's or an
/// ApplicationSet's): mirrors then canonical URL, each with the credentials that namespace (then the
/// controller's) holds for it, and the shared known hosts.
pub(crate) async fn request_for(
    client: &Client,
    lookups: &Lookups,
    controller_namespace: &str,
    namespace: &str,
    repo_url: &str,
    target_revision: Option<String>,
) -> Result<SourceRequest, SourceError> {
    let repo_url = repo_url.trim().to_string();
    let app_secrets = credential_secrets(client, lookups, namespace).await?;
    let shared_secrets = if controller_namespace == namespace {
        Vec::new()
    } else {
        credential_secrets(client, lookups, controller_namespace).await?
    };
    let known_hosts = config_map(client, lookups, controller_namespace, KNOWN_HOSTS_CONFIG_MAP)
        .await?
        .and_then(|cm| cm.data.clone())
        .map(|data| data.into_values().collect::<Vec<_>>().join("\n"))
        .unwrap_or_default();
    let mirrors = match config_map(client, lookups, controller_namespace, MIRRORS_CONFIG_MAP)
        .await?
        .and_then(|cm| cm.data.clone())
        .and_then(|mut data| data.remove(MIRRORS_KEY))
    {
        Some(yaml) => MirrorMap::parse(&yaml)
            .map_err(|e| configuration(format!("ConfigMap {controller_namespace}/{MIRRORS_CONFIG_MAP}: {e}")))?,
        None => MirrorMap::default(),
    };
    let scopes = [app_secrets.as_slice(), shared_secrets.as_slice()];
    let endpoints = mirrors
        .candidates(&repo_url)
        .into_iter()
        .map(|url| {
            let secret = select_credentials(&url, &scopes);
            let credentials = secret.map(|s| s.credentials.clone()).unwrap_or_default();
            Endpoint { url, credentials, credential_source: secret.map(|s| s.origin.clone()) }
        })
        .collect();
    Ok(SourceRequest { repo_url, target_revision, endpoints, known_hosts, max_listing_age: None, verification: None })
}

fn configuration(message: String) -> SourceError {
    SourceError::Configuration { message }
}

fn app_key(app: &Application) -> String {
    format!("{}/{}", app.namespace().unwrap_or_default(), app.name_any())
}

/// The credential Secrets of one namespace. A namespace the controller may not read Secrets in has
/// none for it (public repositories keep working); other API errors stop the fetch.
/// A ConfigMap of the controller's namespace, from the store or, before it has listed, read.
async fn config_map(
    client: &Client,
    lookups: &Lookups,
    namespace: &str,
    name: &str,
) -> Result<Option<Arc<ConfigMap>>, SourceError> {
    if let Some(found) = lookups.config_map(namespace, name) {
        return Ok(found);
    }
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    let read = api.get_opt(name).await;
    let found = read.map_err(|e| configuration(format!("reading ConfigMap {namespace}/{name}: {}", one_line(&e))))?;
    Ok(found.map(Arc::new))
}

async fn credential_secrets(
    client: &Client,
    lookups: &Lookups,
    namespace: &str,
) -> Result<Vec<CredentialSecret>, SourceError> {
    if let Some(stored) = lookups.credential_secrets(namespace) {
        return Ok(stored.iter().filter_map(|s| credential_secret(namespace, Secret::clone(s))).collect());
    }
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut found = Vec::new();
    for selector in crate::lookups::credential_selectors() {
        let list = match secrets.list(&ListParams::default().labels(&selector)).await {
            Ok(list) => list,
            Err(kube::Error::Api(status)) if status.code == 403 => {
                debug!(%namespace, "not allowed to list credential Secrets; using none from this namespace");
                return Ok(Vec::new());
            }
            Err(e) => {
                return Err(configuration(format!("listing credential Secrets in {namespace}: {}", one_line(&e))));
            }
        };
        found.extend(list.items.into_iter().filter_map(|s| credential_secret(namespace, s)));
    }
    Ok(found)
}

/// One Secret as credentials; `None` when it has no `url`.
fn credential_secret(namespace: &str, secret: Secret) -> Option<CredentialSecret> {
    let labels = secret.labels();
    let label = labels.get(SECRET_TYPE_LABEL).or_else(|| labels.get(ARGO_SECRET_TYPE_LABEL));
    let kind = match label.map(String::as_str) {
        Some("repository") => CredentialKind::Repository,
        Some("repo-creds") => CredentialKind::RepoCreds,
        _ => return None,
    };
    let origin = format!("{namespace}/{}", secret.name_any());
    let mut data: HashMap<String, String> = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| String::from_utf8(v.0).ok().map(|v| (k, v)))
        .collect();
    let url = data.remove("url")?;
    let mut take = |key: &str| data.remove(key).filter(|v| !v.is_empty());
    let credentials = Credentials {
        username: take("username"),
        password: take("password"),
        ssh_private_key: take("sshPrivateKey"),
        tls_client_cert_data: take("tlsClientCertData"),
        tls_client_cert_key: take("tlsClientCertKey"),
        ca_data: take("caData"),
        proxy: take("proxy"),
        no_proxy: take("noProxy"),
        known_hosts: take("knownHosts"),
        bearer_token: take("bearerToken"),
    };
    Some(CredentialSecret { origin, kind, url, credentials })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_source::strip_userinfo;

    #[test]
    fn gone_applications_are_forgotten() {
        let app = |ns: &str, name: &str| {
            let mut app = Application::new(name, Default::default());
            app.metadata.namespace = Some(ns.into());
            app
        };
        let sources = Sources::default();
        for (ns, name) in [("a", "one"), ("a", "two"), ("b", "one")] {
            sources.explicit_refresh(&app(ns, name));
        }
        assert_eq!(sources.len(), 3);
        sources.forget("a", "one");
        assert_eq!(sources.len(), 2);
        sources.retain(|ns, name| (ns, name) == ("b", "one"));
        assert_eq!(sources.len(), 1);
        assert!(!sources.explicit_refresh(&app("b", "one")), "the kept one still remembers its token");
    }

    #[test]
    fn secrets_become_credentials_without_url_passwords() {
        let secret: Secret = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "git", "labels": {SECRET_TYPE_LABEL: "repository"}},
            "data": {"url": "aHR0cHM6Ly91OnBAaC9y", "password": "cA=="},
        }))
        .unwrap();
        let parsed = credential_secret("ns", secret).unwrap();
        assert_eq!(strip_userinfo(&parsed.url), "https://h/r");
        assert_eq!(parsed.kind, CredentialKind::Repository);
        assert_eq!(parsed.credentials.password.as_deref(), Some("p"));
        assert_eq!(parsed.origin, "ns/git");
    }

    #[test]
    fn argo_cd_repository_secrets_are_read_too() {
        let secret: Secret = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "charts", "labels": {ARGO_SECRET_TYPE_LABEL: "repo-creds"}},
            "data": {"url": "aHR0cHM6Ly9oLw==", "type": "aGVsbQ==", "bearerToken": "dG9r"},
        }))
        .unwrap();
        let parsed = credential_secret("ns", secret).unwrap();
        assert_eq!(parsed.kind, CredentialKind::RepoCreds);
        assert_eq!(parsed.url, "https://h/");
        assert_eq!(parsed.credentials.bearer_token.as_deref(), Some("tok"));
        let other: Secret = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "cluster", "labels": {ARGO_SECRET_TYPE_LABEL: "cluster"}},
            "data": {"url": "aHR0cHM6Ly9oLw=="},
        }))
        .unwrap();
        assert!(credential_secret("ns", other).is_none());
    }
}
