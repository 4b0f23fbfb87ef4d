//! The signature verification an Application's fetch asks for: its mode, the keys its project
//! (and, unless the project requires verification, the Application) trusts, read from Secrets and
//! ConfigMaps, and the revision verified last. Which keys count is decided in
//! [`lockstep_policy::verification`]; the checks themselves run in the source cache.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::Api;
use kube::{Client, ResourceExt};
use lockstep_api::kube_error::one_line;
use lockstep_api::{Application, ApplicationSource, VerifyMode};
use lockstep_policy::project::Project;
use lockstep_policy::verification::{KeyObject, key_objects};
use lockstep_source::{KeySource, SourceError, Verification, VerificationMode};

use crate::lookups::Lookups;

/// What `app` asks to have verified; `None` when it sets no `spec.source.verify`.
pub(crate) async fn verification_for(
    client: &Client,
    lookups: &Lookups,
    controller_namespace: &str,
    project: &Project,
    app: &Application,
    source: &ApplicationSource,
) -> Result<Option<Verification>, SourceError> {
    let Some(verify) = source.verify.as_ref() else { return Ok(None) };
    let app_namespace = app.namespace().unwrap_or_default();
    let objects = key_objects(project, verify, &app_namespace, controller_namespace);
    let failed = |reason: String| SourceError::SignatureVerification {
        repo: lockstep_source::strip_userinfo(&source.repo_url),
        object: "the revision".into(),
        reason,
    };
    if objects.is_empty() {
        return Err(failed(
            "no trusted keys are configured (spec.source.verify.secretRef or configMapRef, or the project's spec.sourceIntegrity.keys)".into(),
        ));
    }
    let mut keys = Vec::with_capacity(objects.len());
    for object in &objects {
        keys.push(read_keys(client, lookups, controller_namespace, object).await.map_err(failed)?);
    }
    // The status records one verification: the last verified commit is this source's only when it
    // is the Application's one source.
    let last_verified = (!app.spec.is_multi_source())
        .then(|| app.status.as_ref().and_then(|s| s.source_verification.as_ref()).map(|v| v.revision.clone()))
        .flatten();
    Ok(Some(Verification { mode: mode_of(verify.mode), keys, last_verified }))
}

/// The spec's mode as the source cache names it.
fn mode_of(mode: VerifyMode) -> VerificationMode {
    match mode {
        VerifyMode::Head => VerificationMode::Head,
        VerifyMode::Tag => VerificationMode::Tag,
        VerifyMode::TagAndHead => VerificationMode::TagAndHead,
        VerifyMode::AllCommits => VerificationMode::AllCommits,
    }
}

/// The source cache's mode as the spec names it.
pub(crate) fn spec_mode(mode: VerificationMode) -> VerifyMode {
    match mode {
        VerificationMode::Head => VerifyMode::Head,
        VerificationMode::Tag => VerifyMode::Tag,
        VerificationMode::TagAndHead => VerifyMode::TagAndHead,
        VerificationMode::AllCommits => VerifyMode::AllCommits,
    }
}

/// One Secret's or ConfigMap's values as trusted keys. ConfigMaps of the controller's namespace
/// come from the reflector store; others are read (a missing one is an error naming it).
async fn read_keys(
    client: &Client,
    lookups: &Lookups,
    controller_namespace: &str,
    object: &KeyObject,
) -> Result<KeySource, String> {
    let origin = object.to_string();
    let entries: Vec<(String, String)> = match object {
        KeyObject::Secret(namespace, name) => {
            let read = Api::<Secret>::namespaced(client.clone(), namespace).get_opt(name).await;
            let secret = read.map_err(|e| format!("reading {origin}: {}", one_line(&e)))?;
            let secret = secret.ok_or_else(|| format!("{origin} with trusted keys does not exist"))?;
            let data = secret.data.unwrap_or_default().into_iter();
            data.filter_map(|(k, v)| String::from_utf8(v.0).ok().map(|v| (k, v))).collect()
        }
        KeyObject::ConfigMap(namespace, name) => {
            let stored = (namespace == controller_namespace).then(|| lookups.config_map(namespace, name)).flatten();
            let found: Option<Arc<ConfigMap>> = match stored {
                Some(found) => found,
                None => {
                    let read = Api::<ConfigMap>::namespaced(client.clone(), namespace).get_opt(name).await;
                    read.map_err(|e| format!("reading {origin}: {}", one_line(&e)))?.map(Arc::new)
                }
            };
            let config_map = found.ok_or_else(|| format!("{origin} with trusted keys does not exist"))?;
            config_map.data.clone().unwrap_or_default().into_iter().collect()
        }
    };
    Ok(KeySource { origin, entries })
}
