//! A plan shown to people (`lockstep diff`, `lockstep explain`): per object, the live object and what
//! the server's dry-run of lockstep's apply would store, both normalised and with ignored fields
//! removed exactly as the controller compares them. Pure.

use lockstep_api::ResourceIgnoreDifferences;
use serde_json::Value;

use crate::compare::normalize;
use crate::ignore;
use crate::key::ResourceKey;
use crate::sync_plan::{Planned, PlannedObject, SyncPlan};

/// What applying git would do to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The object does not exist and would be created.
    Create,
    /// The object exists and would change.
    Update,
    /// An immutable field would change: the object would be deleted and created again
    /// (`Replace=true`).
    Replace,
    /// The object matches git.
    Unchanged,
    /// The object left git and would be deleted by a sync with prune.
    Prune,
    /// The object cannot be compared or applied (see `error`).
    Failed,
    /// The object differs from git and a sync keeps it so (drift mode `warn`).
    Drifted,
}

/// The comparison of one object, ready to show.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectPreview {
    /// Which object.
    pub key: ResourceKey,
    /// What a sync would do to it.
    pub change: Change,
    /// The live object as compared (normalised, ignored fields removed); `None` when absent.
    pub live: Option<Value>,
    /// What the object would look like after the apply, as compared; `None` when the server did
    /// not answer (a failure, a prune, or an object whose namespace or CRD this render creates).
    pub predicted: Option<Value>,
    /// Why it failed: the server's message, or the Application that already manages it.
    pub error: Option<String>,
    /// Who else wrote the live object: each field manager but lockstep's, with its operation and
    /// time, from `managedFields` (so a drift can be traced to a person or a controller).
    pub managers: Vec<String>,
}

/// What `plan` shows a person: per rendered resource (in apply order) its change, and every object
/// that left git as [`Change::Prune`] whatever the prune setting (the caller decides whether to
/// show them). Live and predicted objects are normalised, with the fields `ignore_differences`
/// ignores removed, exactly as they were compared.
pub fn previews(plan: &SyncPlan, ignore_differences: &[ResourceIgnoreDifferences]) -> Vec<ObjectPreview> {
    let mut previews: Vec<ObjectPreview> = plan.resources().map(|p| preview_one(p, ignore_differences)).collect();
    previews.extend(plan.prune.iter().map(|planned| ObjectPreview {
        key: planned.key.clone(),
        change: Change::Prune,
        live: planned.live().map(normalize),
        predicted: None,
        error: planned.error().map(|e| e.message.clone()),
        managers: Vec::new(),
    }));
    previews
}

fn preview_one(planned: &PlannedObject, ignore_differences: &[ResourceIgnoreDifferences]) -> ObjectPreview {
    let live = planned.live();
    let ignored = ignore::ignored_paths(ignore_differences, &planned.key, live);
    let shown = |object: &Value| normalize(&ignore::strip(object, &ignored));
    let (change, error) = match (planned.action, planned.kept()) {
        (_, Some(crate::drift::Kept::Reported)) => (Change::Drifted, None),
        (_, Some(crate::drift::Kept::LeftAlone)) => (Change::Unchanged, None),
        (action, None) => change_of(action, planned),
    };
    let predicted = match (planned.predicted(), change) {
        (Some(predicted), _) => Some(shown(predicted)),
        // No dry-run answer (its namespace or CRD is created by this render): show git's object.
        (None, Change::Create | Change::Replace) => planned.desired().map(shown),
        (None, _) => None,
    };
    let managers = live.map(other_managers).unwrap_or_default();
    ObjectPreview { key: planned.key.clone(), change, live: live.map(shown), predicted, error, managers }
}

fn change_of(action: Planned, planned: &PlannedObject) -> (Change, Option<String>) {
    match action {
        Planned::Create => (Change::Create, None),
        Planned::Update => (Change::Update, None),
        Planned::Replace => (Change::Replace, None),
        Planned::Unchanged => (Change::Unchanged, None),
        Planned::Prune | Planned::Skip => (Change::Failed, Some(planned.reason.clone())),
    }
}

/// `manager (Operation, time)` for each entry of the live object's `managedFields` but lockstep's.
pub fn other_managers(live: &Value) -> Vec<String> {
    let entries = live["metadata"]["managedFields"].as_array().map(Vec::as_slice).unwrap_or_default();
    entries
        .iter()
        .filter_map(|entry| {
            let manager = entry["manager"].as_str().filter(|m| *m != lockstep_api::FIELD_MANAGER)?;
            let operation = entry["operation"].as_str().unwrap_or("?");
            let time = entry["time"].as_str().map(|t| format!(", {t}")).unwrap_or_default();
            Some(format!("{manager} ({operation}{time})"))
        })
        .collect()
}
