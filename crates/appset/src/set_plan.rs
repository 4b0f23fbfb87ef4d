//! Which Applications a pass creates, updates and deletes: pure, over the generated Applications
//! and the ones the set already owns.
//!
//! An existing Application is updated when the template's output for it changed (its recorded
//! hash differs) or when someone changed a field the set writes; fields the set does not write
//! are not its business. `ignoreApplicationDifferences` keeps the live value of the fields it
//! names. `applicationsSync` decides whether updates and deletions happen at all; a set only ever
//! deletes Applications it owns (owner reference with its uid).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use kube::ResourceExt;
use lockstep_api::stable_hash::fnv1a64;
use lockstep_api::{Application, ApplicationSet, ApplicationsSyncPolicy};
use serde_json::Value;

/// The annotation recording the hash of what the set last wrote to an Application.
pub const TEMPLATE_HASH_ANNOTATION: &str = "lockstep.dev/application-set-hash";

/// What one pass does.
#[derive(Clone, Debug, Default)]
pub struct SetPlan {
    /// Applications to create (the API server refuses one whose name is taken).
    pub create: Vec<Application>,
    /// Owned Applications to bring back to the template, each with why.
    pub update: Vec<(Application, &'static str)>,
    /// Owned Applications no parameter set generates any more.
    pub delete: Vec<Deletion>,
    /// Owned Applications already as generated.
    pub unchanged: usize,
    /// Applications the policy keeps although they differ or are no longer generated.
    pub held_by_policy: Vec<String>,
}

/// One owned Application to delete.
#[derive(Clone, Debug, PartialEq)]
pub struct Deletion {
    /// Its name.
    pub name: String,
    /// Remove its finalizers first, so that its objects stay (`preserveResourcesOnDeletion`).
    pub strip_finalizers: bool,
}

impl SetPlan {
    /// Whether the pass writes nothing.
    pub fn is_empty(&self) -> bool {
        self.create.is_empty() && self.update.is_empty() && self.delete.is_empty()
    }
}

/// Whether `set` owns `app`: an owner reference with the set's uid.
pub fn owns(set: &ApplicationSet, app: &Application) -> bool {
    let uid = set.metadata.uid.as_deref().unwrap_or_default();
    !uid.is_empty() && app.owner_references().iter().any(|r| r.uid == uid && r.kind == "ApplicationSet")
}

/// The plan for `desired` (the template's output) against `existing` (Applications carrying the
/// set's label; those it does not own are ignored).
pub fn plan(set: &ApplicationSet, desired: Vec<Application>, existing: &[Arc<Application>]) -> SetPlan {
    let policy = set.spec.sync_policy.as_ref().and_then(|p| p.applications_sync).unwrap_or_default();
    let preserve = set.spec.sync_policy.as_ref().is_some_and(|p| p.preserve_resources_on_deletion);
    let owned: BTreeMap<String, &Application> =
        existing.iter().filter(|app| owns(set, app)).map(|app| (app.name_any(), app.as_ref())).collect();
    let mut plan = SetPlan::default();
    let mut generated = BTreeSet::new();
    for mut app in desired {
        let name = app.name_any();
        generated.insert(name.clone());
        let Some(live) = owned.get(&name) else {
            stamp(&mut app);
            plan.create.push(app);
            continue;
        };
        stamp(&mut app);
        keep_ignored(set, &mut app, live);
        let why = if live.metadata.deletion_timestamp.is_some() {
            None
        } else if recorded_hash(live) != recorded_hash(&app) {
            Some("the template's output changed")
        } else if !written_fields_match(&app, live) {
            Some("a field the set writes was changed")
        } else {
            None
        };
        match why {
            None => plan.unchanged += 1,
            Some(why) if policy.updates() => plan.update.push((app, why)),
            Some(_) => plan.held_by_policy.push(name),
        }
    }
    for (name, live) in owned {
        if generated.contains(&name) || live.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if policy.deletes() {
            plan.delete.push(Deletion { name, strip_finalizers: preserve && !live.finalizers().is_empty() });
        } else {
            plan.held_by_policy.push(name);
        }
    }
    plan
}

/// Records the hash of what the set writes, so that a field removed from the template is noticed.
fn stamp(app: &mut Application) {
    let hash = format!("{:016x}", fnv1a64(written(app).to_string().as_bytes()));
    app.annotations_mut().insert(TEMPLATE_HASH_ANNOTATION.into(), hash);
}

fn recorded_hash(app: &Application) -> Option<&str> {
    app.annotations().get(TEMPLATE_HASH_ANNOTATION).map(String::as_str)
}

/// The fields the set writes: labels, annotations, finalizers, owner references and spec.
fn written(app: &Application) -> Value {
    let mut annotations = app.annotations().clone();
    annotations.remove(TEMPLATE_HASH_ANNOTATION);
    serde_json::json!({
        "labels": app.labels(),
        "annotations": annotations,
        "finalizers": app.finalizers(),
        "ownerReferences": app.owner_references(),
        "spec": serde_json::to_value(&app.spec).unwrap_or(Value::Null),
    })
}

/// Whether every field the set writes holds its value on `live` (fields others added are fine).
fn written_fields_match(desired: &Application, live: &Application) -> bool {
    let contains = |want: &BTreeMap<String, String>, have: &BTreeMap<String, String>| {
        want.iter().all(|(k, v)| have.get(k) == Some(v))
    };
    contains(desired.labels(), live.labels())
        && contains(desired.annotations(), live.annotations())
        && desired.finalizers().iter().all(|f| live.finalizers().contains(f))
        && subset(
            &serde_json::to_value(&desired.spec).unwrap_or(Value::Null),
            &serde_json::to_value(&live.spec).unwrap_or(Value::Null),
        )
}

/// Whether `want` is contained in `have`: objects key by key, anything else equal.
fn subset(want: &Value, have: &Value) -> bool {
    match (want, have) {
        (Value::Object(want), Value::Object(have)) => {
            want.iter().all(|(k, v)| have.get(k).is_some_and(|h| subset(v, h)) || v.is_null())
        }
        _ => want == have,
    }
}

/// Copies the live values of the fields `ignoreApplicationDifferences` names into `app`.
fn keep_ignored(set: &ApplicationSet, app: &mut Application, live: &Application) {
    let name = app.name_any();
    let pointers: Vec<&String> = set
        .spec
        .ignore_application_differences
        .iter()
        .filter(|rule| rule.name.as_deref().is_none_or(|n| n == name))
        .flat_map(|rule| rule.json_pointers.iter())
        .collect();
    if pointers.is_empty() {
        return;
    }
    let Ok(mut wanted) = serde_json::to_value(&*app) else { return };
    let Ok(have) = serde_json::to_value(live) else { return };
    for pointer in pointers {
        match have.pointer(pointer) {
            Some(value) => set_pointer(&mut wanted, pointer, value.clone()),
            None => remove_pointer(&mut wanted, pointer),
        }
    }
    if let Ok(kept) = serde_json::from_value::<Application>(wanted) {
        *app = kept;
    }
}

fn set_pointer(value: &mut Value, pointer: &str, new: Value) {
    if let Some(slot) = value.pointer_mut(pointer) {
        *slot = new;
        return;
    }
    let Some((parent, key)) = pointer.rsplit_once('/') else { return };
    if let Some(Value::Object(map)) = value.pointer_mut(parent) {
        map.insert(key.replace("~1", "/").replace("~0", "~"), new);
    }
}

fn remove_pointer(value: &mut Value, pointer: &str) {
    let Some((parent, key)) = pointer.rsplit_once('/') else { return };
    if let Some(Value::Object(map)) = value.pointer_mut(parent) {
        map.remove(&key.replace("~1", "/").replace("~0", "~"));
    }
}

/// The policy in force, for status and Events.
pub fn policy_of(set: &ApplicationSet) -> ApplicationsSyncPolicy {
    set.spec.sync_policy.as_ref().and_then(|p| p.applications_sync).unwrap_or_default()
}

#[cfg(test)]
#[path = "set_plan_tests.rs"]
mod tests;
