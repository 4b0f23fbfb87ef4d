//! The registry credentials of an OCI source, from the same labelled Secrets as git credentials
//! (`lockstep.dev/secret-type: repository` or `repo-creds`): a Secret whose `url` matches the
//! `oci://` URL (exactly, or as the longest prefix) gives `username`/`password`/`caData`; a
//! docker-config Secret (`kubernetes.io/dockerconfigjson`, key `.dockerconfigjson`) gives the
//! entry of the registry's host. The Application's namespace is searched first, then the
//! controller's.

use std::sync::Arc;

use base64::Engine as _;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use lockstep_api::kube_error::one_line;
use lockstep_source::{OCI_SCHEME, OciAuth, OciChartRef, OciRequest, OciTarget, SourceError};

use crate::lookups::Lookups;
use crate::sources::{ARGO_SECRET_TYPE_LABEL, SECRET_TYPE_LABEL};

/// The key of a credential Secret holding a cosign public key (PEM): artifacts read with that
/// Secret must carry a signature by it.
pub const COSIGN_KEY: &str = "cosignPublicKey";
/// The key of Argo CD's Helm repository Secrets marking a schemeless `url` as an OCI registry.
pub const ENABLE_OCI_KEY: &str = "enableOCI";
/// The key of a docker-config Secret.
pub const DOCKER_CONFIG_KEY: &str = ".dockerconfigjson";

/// The request for an `oci://` source read from `namespace`, with the credentials that apply.
pub(crate) async fn oci_request(
    client: &Client,
    lookups: &Lookups,
    controller_namespace: &str,
    namespace: &str,
    repo_url: &str,
    target_revision: Option<String>,
) -> Result<OciRequest, SourceError> {
    request_with(client, lookups, controller_namespace, namespace, &[repo_url], target_revision).await
}

/// The request for a chart in an OCI repository (Helm's layout): a `repository` Secret may name
/// the chart's own URL or the repository it is in (Argo CD's OCI Helm repositories are keyed so).
pub(crate) async fn oci_chart_request(
    client: &Client,
    lookups: &Lookups,
    controller_namespace: &str,
    namespace: &str,
    chart: &OciChartRef,
) -> Result<OciRequest, SourceError> {
    let urls = [chart.url.as_str(), chart.repository.as_str()];
    request_with(client, lookups, controller_namespace, namespace, &urls, chart.version.clone()).await
}

/// The request for `urls[0]`, with the credentials of the first namespace holding some for any of `urls`.
async fn request_with(
    client: &Client,
    lookups: &Lookups,
    controller_namespace: &str,
    namespace: &str,
    urls: &[&str],
    target_revision: Option<String>,
) -> Result<OciRequest, SourceError> {
    let repo_url = urls.first().copied().unwrap_or_default();
    let target = OciTarget::parse(repo_url, target_revision.as_deref())
        .map_err(|message| SourceError::Configuration { message })?;
    let scopes = scopes_of(client, lookups, controller_namespace, namespace).await?;
    let auth = scopes.iter().find_map(|scope| select_auth_for(urls, &target.registry, scope)).unwrap_or_default();
    Ok(OciRequest { repo_url: repo_url.trim().to_string(), target_revision, auth })
}

/// Whether a credential Secret of the Application's namespace (else the controller's) marks
/// `repo_url` as an OCI Helm repository (Argo CD's `enableOCI: "true"`).
pub(crate) async fn oci_enabled(
    client: &Client,
    lookups: &Lookups,
    controller_namespace: &str,
    namespace: &str,
    repo_url: &str,
) -> Result<bool, SourceError> {
    let scopes = scopes_of(client, lookups, controller_namespace, namespace).await?;
    Ok(scopes.iter().find_map(|scope| enables_oci(repo_url, scope)).unwrap_or(false))
}

/// The credential Secrets of the namespace, then of the controller's (when it differs).
async fn scopes_of(
    client: &Client,
    lookups: &Lookups,
    controller_namespace: &str,
    namespace: &str,
) -> Result<[Vec<Arc<Secret>>; 2], SourceError> {
    let own = secrets_of(client, lookups, namespace).await?;
    let shared = if controller_namespace == namespace {
        Vec::new()
    } else {
        secrets_of(client, lookups, controller_namespace).await?
    };
    Ok([own, shared])
}

/// The credential Secrets of one namespace: the reflector's, else listed (none when forbidden).
async fn secrets_of(client: &Client, lookups: &Lookups, namespace: &str) -> Result<Vec<Arc<Secret>>, SourceError> {
    if let Some(stored) = lookups.credential_secrets(namespace) {
        return Ok(stored);
    }
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let mut found = Vec::new();
    for selector in crate::lookups::credential_selectors() {
        match api.list(&ListParams::default().labels(&selector)).await {
            Ok(list) => found.extend(list.items.into_iter().map(Arc::new)),
            Err(kube::Error::Api(status)) if status.code == 403 => return Ok(Vec::new()),
            Err(e) => {
                return Err(SourceError::Configuration {
                    message: format!("listing credential Secrets in {namespace}: {}", one_line(&e)),
                });
            }
        }
    }
    Ok(found)
}

/// The credentials in one namespace's Secrets for `repo_url` on `registry`.
#[cfg(test)]
pub(crate) fn select_auth(repo_url: &str, registry: &str, secrets: &[Arc<Secret>]) -> Option<OciAuth> {
    select_auth_for(&[repo_url], registry, secrets)
}

/// The credentials in one namespace's Secrets for `urls[0]` on `registry`: a `repository` Secret
/// naming one of `urls` exactly (earlier first), then the longest `repo-creds` prefix of `urls[0]`,
/// then a docker-config entry for the host.
pub(crate) fn select_auth_for(urls: &[&str], registry: &str, secrets: &[Arc<Secret>]) -> Option<OciAuth> {
    if let Some(secret) = url_secret(urls, secrets) {
        return Some(OciAuth {
            username: value(secret, "username"),
            password: value(secret, "password"),
            ca_data: value(secret, "caData"),
            origin: Some(origin(secret)),
            cosign_public_key: value(secret, COSIGN_KEY),
        });
    }
    secrets.iter().find_map(|secret| {
        let config = value(secret, DOCKER_CONFIG_KEY)?;
        let (username, password) = docker_config_entry(&config, registry)?;
        Some(OciAuth {
            username: Some(username),
            password: Some(password),
            ca_data: value(secret, "caData"),
            origin: Some(origin(secret)),
            cosign_public_key: value(secret, COSIGN_KEY),
        })
    })
}

/// The `repository` Secret naming one of `urls` (earlier URLs first), else the `repo-creds` Secret
/// with the longest `url` prefixing `urls[0]`.
fn url_secret<'s>(urls: &[&str], secrets: &'s [Arc<Secret>]) -> Option<&'s Arc<Secret>> {
    let url_of = |s: &Secret| value(s, "url").map(|u| without_scheme(&u));
    let exact = urls.iter().map(|u| without_scheme(u)).find_map(|wanted| {
        secrets.iter().find(|s| secret_kind(s) == "repository" && url_of(s).as_deref() == Some(wanted.as_str()))
    });
    let wanted = without_scheme(urls.first().copied().unwrap_or_default());
    exact.or_else(|| {
        secrets
            .iter()
            .filter(|s| secret_kind(s) == "repo-creds")
            .filter_map(|s| url_of(s).filter(|u| !u.is_empty() && wanted.starts_with(u.as_str())).map(|u| (u.len(), s)))
            .max_by_key(|(len, _)| *len)
            .map(|(_, s)| s)
    })
}

/// What the Secret that applies to `repo_url` says about OCI (`enableOCI`, as Argo CD's Helm
/// repository Secrets carry it); `None` when no `url` Secret applies.
pub(crate) fn enables_oci(repo_url: &str, secrets: &[Arc<Secret>]) -> Option<bool> {
    let secret = url_secret(&[repo_url], secrets)?;
    Some(value(secret, ENABLE_OCI_KEY).is_some_and(|v| v.trim().eq_ignore_ascii_case("true")))
}

/// `repository` or `repo-creds`, from lockstep's label else Argo CD's.
fn secret_kind(secret: &Secret) -> String {
    let labels = secret.labels();
    labels.get(SECRET_TYPE_LABEL).or_else(|| labels.get(ARGO_SECRET_TYPE_LABEL)).cloned().unwrap_or_default()
}

/// The user and password a docker config (`{"auths": {host: {username, password | auth}}}`)
/// holds for `registry` (`host[:port]`); keys may carry a scheme and path (`https://host/v1/`).
pub(crate) fn docker_config_entry(config: &str, registry: &str) -> Option<(String, String)> {
    let parsed: serde_json::Value = serde_json::from_str(config).ok()?;
    let auths = parsed.get("auths")?.as_object()?;
    let (_, entry) = auths.iter().find(|(key, _)| {
        let host = without_scheme(key);
        host.split('/').next().is_some_and(|h| h.eq_ignore_ascii_case(registry))
    })?;
    let text = |k: &str| entry.get(k).and_then(|v| v.as_str()).filter(|v| !v.is_empty()).map(String::from);
    if let (Some(user), Some(password)) = (text("username"), text("password")) {
        return Some((user, password));
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(text("auth")?).ok()?;
    let (user, password) =
        String::from_utf8(decoded).ok()?.split_once(':').map(|(u, p)| (u.to_string(), p.to_string()))?;
    Some((user, password))
}

fn without_scheme(url: &str) -> String {
    let url = url.trim();
    let rest = match url.find("://") {
        Some(i) => &url[i + 3..],
        None => url,
    };
    rest.trim_end_matches('/').to_ascii_lowercase()
}

fn value(secret: &Secret, key: &str) -> Option<String> {
    let bytes = secret.data.as_ref()?.get(key)?;
    String::from_utf8(bytes.0.clone()).ok().filter(|v| !v.is_empty())
}

fn origin(secret: &Secret) -> String {
    format!("{}/{}", secret.namespace().unwrap_or_default(), secret.name_any())
}

/// Whether an Application's source is an OCI artifact.
pub(crate) fn is_oci(repo_url: &str) -> bool {
    repo_url.trim().to_ascii_lowercase().starts_with(OCI_SCHEME)
}

#[cfg(test)]
#[path = "oci_sources_tests.rs"]
mod tests;
