//! SOPS decryption of a render: which Secret holds an Application's keys (its own
//! `spec.decryption`, else its project's), read only when the render holds encrypted objects, and
//! the decrypted objects, which live in memory only (the render cache keeps the encrypted form).

use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::{Api, ResourceExt};
use lockstep_api::kube_error::one_line;
use lockstep_api::{AppProject, Application, DEFAULT_PROJECT, Decryption, SOPS_PROVIDER};
use lockstep_render::decrypt::{DecryptionKeys, decrypt_manifests, needs_decryption};
use lockstep_render::{RenderError, Rendered};

use crate::context::Context;

/// Where an Application's decryption keys are: a Secret's namespace and name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct KeySecret {
    pub namespace: String,
    pub name: String,
}

/// Pure: the Secret holding `app`'s keys: its own `spec.decryption` (a Secret of its namespace),
/// else its project's (a Secret of the controller's namespace). An error names a provider other
/// than `sops`.
pub(crate) fn key_secret(
    app: &Application,
    project: Option<&Decryption>,
    controller_namespace: &str,
) -> Result<Option<KeySecret>, String> {
    let (decryption, namespace) = match (&app.spec.decryption, project) {
        (Some(own), _) => (own, app.namespace().unwrap_or_default()),
        (None, Some(project)) => (project, controller_namespace.to_string()),
        (None, None) => return Ok(None),
    };
    if decryption.provider != SOPS_PROVIDER {
        return Err(format!("decryption provider {:?} is not supported (only {SOPS_PROVIDER:?})", decryption.provider));
    }
    Ok(decryption
        .secret_ref
        .as_ref()
        .filter(|r| !r.name.is_empty())
        .map(|r| KeySecret { namespace, name: r.name.clone() }))
}

/// `rendered` with its SOPS-encrypted objects decrypted; untouched (and no Secret read) when it has
/// none. Every failure names the file, or the Secret, never a value.
pub(crate) async fn decrypt(
    ctx: &Context,
    app: &Application,
    root: &std::path::Path,
    rendered: Rendered,
) -> Result<Rendered, RenderError> {
    if !needs_decryption(&rendered.manifests) {
        return Ok(rendered);
    }
    let keys = keys_for(ctx, app).await.map_err(|message| {
        let file = rendered
            .manifests
            .iter()
            .find(|m| lockstep_render::decrypt::is_encrypted(&m.object))
            .map(|m| m.file.clone())
            .unwrap_or_default();
        RenderError::Decryption { file, message }
    })?;
    let root = root.to_path_buf();
    let manifests = rendered.manifests.clone();
    let decrypted = tokio::task::spawn_blocking(move || decrypt_manifests(&root, &manifests, &keys))
        .await
        .map_err(|e| RenderError::Decryption { file: String::new(), message: format!("decryption task: {e}") })??;
    Ok(Rendered { manifests: Arc::new(decrypted), kind: rendered.kind })
}

/// The keys of `app`'s decryption Secret, read directly (only Applications with encrypted objects
/// ask, and no other Secret is held in memory for it).
async fn keys_for(ctx: &Context, app: &Application) -> Result<DecryptionKeys, String> {
    let controller_namespace = &ctx.config.controller_namespace;
    let project = project_decryption(ctx, app).await?;
    let Some(secret) = key_secret(app, project.as_ref(), controller_namespace)? else {
        return Err("the render holds SOPS-encrypted objects but neither the Application nor its project sets \
                    decryption.secretRef"
            .into());
    };
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &secret.namespace);
    let found = api
        .get_opt(&secret.name)
        .await
        .map_err(|e| format!("reading decryption Secret {}/{}: {}", secret.namespace, secret.name, one_line(&e)))?;
    let Some(found) = found else {
        return Err(format!("decryption Secret {}/{} does not exist", secret.namespace, secret.name));
    };
    let data = found.data.unwrap_or_default();
    let keys = DecryptionKeys::from_secret_data(data.iter().map(|(k, v)| (k, v.0.as_slice())))
        .map_err(|e| format!("decryption Secret {}/{}: {e}", secret.namespace, secret.name))?;
    if keys.is_empty() {
        return Err(format!("decryption Secret {}/{} has no .agekey or .asc entry", secret.namespace, secret.name));
    }
    Ok(keys)
}

/// The `decryption` of `app`'s project, from the store (or read directly before it has listed).
async fn project_decryption(ctx: &Context, app: &Application) -> Result<Option<Decryption>, String> {
    if app.spec.decryption.is_some() {
        return Ok(None);
    }
    let namespace = &ctx.config.controller_namespace;
    let name = app.spec.project.as_deref().filter(|p| !p.is_empty()).unwrap_or(DEFAULT_PROJECT);
    let project = match ctx.lookups.project(namespace, name) {
        Some(stored) => stored.map(|p| AppProject::clone(&p)),
        None => Api::<AppProject>::namespaced(ctx.client.clone(), namespace)
            .get_opt(name)
            .await
            .map_err(|e| format!("reading project {name:?}: {}", one_line(&e)))?,
    };
    Ok(project.and_then(|p| p.spec.decryption))
}

#[cfg(test)]
#[path = "decryption_tests.rs"]
mod tests;
