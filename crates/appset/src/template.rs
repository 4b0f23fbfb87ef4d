//! Filling the template: one Application per parameter set, pure.
//!
//! The set's template, with each generator's `template` laid over it, is rendered as JSON: every
//! string (and map key) goes through fasttemplate, or through Go templates with `goTemplate`
//! ([`crate::gotemplate`]). The result must read back as an Application, must be valid as
//! the controller would judge it, and no two sets may name the same Application; otherwise
//! nothing is generated this pass.

use std::collections::{BTreeMap, HashMap};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};
use lockstep_api::{
    APPLICATION_SET_LABEL, Application, ApplicationSet, ApplicationSetGenerator, ApplicationSetTemplate,
    RESOURCES_FINALIZER,
};
use serde_json::Value;

use crate::error::{GenerateError, TemplateError};
use crate::fasttemplate;
use crate::generate::{Generated, overlay};
use crate::gotemplate::GoTemplate;
use crate::params::{Params, flatten};

/// Argo CD's resources finalizer, honoured as lockstep's own (see lockstep_policy::deletion).
const ARGO_RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";

/// The Applications `set` generates from `generated`, in order.
pub fn render_all(set: &ApplicationSet, generated: &[Generated]) -> Result<Vec<Application>, TemplateError> {
    let base = serde_json::to_value(&set.spec.template).unwrap_or(Value::Null);
    let go = set.spec.go_template.then(|| GoTemplate::new(&set.spec.go_template_options));
    let mut apps = Vec::with_capacity(generated.len());
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (index, one) in generated.iter().enumerate() {
        let app = render_one(set, &base, one, go.as_ref(), index)?;
        let name = app.name_any();
        if let Some(first) = seen.insert(name.clone(), index) {
            return Err(TemplateError::Duplicate { name, first, second: index });
        }
        apps.push(app);
    }
    Ok(apps)
}

fn render_one(
    set: &ApplicationSet,
    base: &Value,
    one: &Generated,
    go: Option<&GoTemplate>,
    index: usize,
) -> Result<Application, TemplateError> {
    let mut value = base.clone();
    if let Some(over) = &one.template {
        overlay(&mut value, over.clone());
    }
    let template_error = |message: String| TemplateError::Template { index, message };
    match go {
        Some(go) => {
            render_strings(&mut value, &mut |text| go.render(text, &one.params)).map_err(template_error)?;
            if let Some(patch) = set.spec.template_patch.as_deref().filter(|p| !p.trim().is_empty()) {
                let text = go.render(patch, &one.params).map_err(template_error)?;
                let patch: Value = serde_yaml_ng::from_str(&text)
                    .map_err(|e| template_error(format!("templatePatch is not YAML after rendering: {e}")))?;
                overlay(&mut value, patch);
            }
        }
        None => {
            let flat = flatten(&one.params);
            render_strings(&mut value, &mut |text| Ok(fasttemplate::render(text, &flat))).map_err(template_error)?;
        }
    }
    let invalid = |message: String| TemplateError::Invalid { index, message };
    let template: ApplicationSetTemplate = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
    let name = template.metadata.name.clone();
    if let Some(problem) = invalid_name(&name) {
        return Err(invalid(format!("metadata.name {name:?} {problem}")));
    }
    if let Some(problem) = lockstep_policy::validate::invalid_spec(&template.spec) {
        return Err(invalid(format!("Application {name:?}: {problem}")));
    }
    Ok(application(set, template))
}

/// The generated Application: in the set's namespace, labelled with and owned by the set,
/// carrying the resources finalizer unless the set preserves resources on deletion, and without
/// automated sync when the set rolls out step by step.
fn application(set: &ApplicationSet, template: ApplicationSetTemplate) -> Application {
    let meta = template.metadata;
    let mut labels: BTreeMap<String, String> = meta.labels;
    labels.insert(APPLICATION_SET_LABEL.into(), set.name_any());
    let preserve = set.spec.sync_policy.as_ref().is_some_and(|p| p.preserve_resources_on_deletion);
    let mut finalizers = meta.finalizers;
    if preserve {
        finalizers.retain(|f| f != RESOURCES_FINALIZER && f != ARGO_RESOURCES_FINALIZER);
    } else if !finalizers.iter().any(|f| f == RESOURCES_FINALIZER || f == ARGO_RESOURCES_FINALIZER) {
        finalizers.push(RESOURCES_FINALIZER.into());
    }
    let owner = OwnerReference {
        api_version: ApplicationSet::api_version(&()).into_owned(),
        kind: ApplicationSet::kind(&()).into_owned(),
        name: set.name_any(),
        uid: set.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    };
    let mut spec = template.spec;
    if set.spec.rolling_steps().is_some()
        && let Some(policy) = spec.sync_policy.as_mut()
    {
        // The rollout syncs each Application when its step comes (crate::rollout).
        policy.automated = None;
    }
    Application {
        metadata: ObjectMeta {
            name: Some(meta.name),
            namespace: set.namespace(),
            labels: Some(labels),
            annotations: (!meta.annotations.is_empty()).then_some(meta.annotations),
            finalizers: (!finalizers.is_empty()).then_some(finalizers),
            owner_references: Some(vec![owner]),
            ..Default::default()
        },
        spec,
        status: None,
    }
}

/// Why `name` cannot name an Application (an RFC 1123 subdomain), or `None`.
fn invalid_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("is empty");
    }
    if name.len() > 253 {
        return Some("is longer than 253 characters");
    }
    let allowed = name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
    let edges = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !allowed || !edges(name.bytes().next()) || !edges(name.bytes().last()) {
        return Some("is not a valid name (lower-case letters, digits, '-' and '.')");
    }
    None
}

/// Renders every string and map key in `value` in place.
fn render_strings(value: &mut Value, render: &mut dyn FnMut(&str) -> Result<String, String>) -> Result<(), String> {
    match value {
        Value::String(text) if text.contains("{{") => *text = render(text)?,
        Value::Array(items) => {
            for item in items {
                render_strings(item, render)?;
            }
        }
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (key, mut inner) in entries {
                render_strings(&mut inner, render)?;
                let key = if key.contains("{{") { render(&key)? } else { key };
                map.insert(key, inner);
            }
        }
        _ => {}
    }
    Ok(())
}

/// A matrix's second generator with the first's parameters filled in, so that one generator can
/// read what another produced (a git revision per cluster, say).
pub fn interpolate_generator(
    generator: &ApplicationSetGenerator,
    outer: &Params,
    go_template: bool,
) -> Result<ApplicationSetGenerator, GenerateError> {
    let mut value = serde_json::to_value(generator).map_err(|e| GenerateError::Invalid(e.to_string()))?;
    if go_template {
        let go = GoTemplate::default();
        render_strings(&mut value, &mut |text| go.render(text, outer)).map_err(GenerateError::Invalid)?;
    } else {
        let flat = flatten(outer);
        render_strings(&mut value, &mut |text| Ok(fasttemplate::render(text, &flat)))
            .map_err(GenerateError::Invalid)?;
    }
    serde_json::from_value(value)
        .map_err(|e| GenerateError::Invalid(format!("generator with the outer parameters filled in: {e}")))
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
