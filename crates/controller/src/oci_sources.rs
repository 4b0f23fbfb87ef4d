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
use lockstep_source::{OCI_SCHEME, OciAuth, OciRequest, OciTarget, SourceError};

use crate::lookups::Lookups;
use crate::sources::{ARGO_SECRET_TYPE_LABEL, SECRET_TYPE_LABEL};

/// The key of a credential Secret holding a cosign public key (PEM): artifacts read with that
/// Secret must carry a signature by it.
pub const COSIGN_KEY: &str = "cosignPublicKey";
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
    let target = OciTarget::parse(repo_url, target_revision.as_deref())
        .map_err(|message| SourceError::Configuration { message })?;
    let own = secrets_of(client, lookups, namespace).await?;
    let shared = if controller_namespace == namespace {
        Vec::new()
    } else {
        secrets_of(client, lookups, controller_namespace).await?
    };
    let auth =
        [own, shared].iter().find_map(|scope| select_auth(repo_url, &target.registry, scope)).unwrap_or_default();
    Ok(OciRequest { repo_url: repo_url.trim().to_string(), target_revision, auth })
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

/// The credentials in one namespace's Secrets for `repo_url` on `registry`: an exact `repository`
/// URL, then the longest `repo-creds` prefix, then a docker-config entry for the host.
pub(crate) fn select_auth(repo_url: &str, registry: &str, secrets: &[Arc<Secret>]) -> Option<OciAuth> {
    let wanted = without_scheme(repo_url);
    let url_of = |s: &Secret| value(s, "url").map(|u| without_scheme(&u));
    let kind = |s: &Secret| {
        let labels = s.labels();
        labels.get(SECRET_TYPE_LABEL).or_else(|| labels.get(ARGO_SECRET_TYPE_LABEL)).cloned().unwrap_or_default()
    };
    let exact = secrets.iter().find(|s| kind(s) == "repository" && url_of(s).as_deref() == Some(wanted.as_str()));
    let prefix = || {
        secrets
            .iter()
            .filter(|s| kind(s) == "repo-creds")
            .filter_map(|s| url_of(s).filter(|u| !u.is_empty() && wanted.starts_with(u.as_str())).map(|u| (u.len(), s)))
            .max_by_key(|(len, _)| *len)
            .map(|(_, s)| s)
    };
    if let Some(secret) = exact.or_else(prefix) {
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
