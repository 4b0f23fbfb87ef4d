//! Deciding what happens to an object that left git: pure. [`crate::prune`] reads each object and
//! carries out what these functions decide.

use serde_json::Value;

use crate::error::ObjectError;
use crate::key::ResourceKey;
use crate::plan::ResourceResult;
use crate::tracking::{AppRef, prune_disabled, tracking_id_of};

/// What one pass may prune, from the sync options and how the operation went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PruneGuard {
    /// The operation applied and completed (prune never follows a failed or waiting step).
    pub operation_complete: bool,
    /// `syncPolicy.automated.prune`, or a sync request that prunes.
    pub prune: bool,
    /// Git rendered no objects at all.
    pub render_empty: bool,
    /// `syncPolicy.automated.allowEmpty`.
    pub allow_empty: bool,
}

impl PruneGuard {
    /// Why nothing may be deleted although prune is on, when an empty render is the reason: an
    /// empty render is more often a broken source than an intent to delete everything.
    pub fn blocked(&self, stale: usize) -> Option<String> {
        (self.operation_complete && self.prune && self.render_empty && !self.allow_empty)
            .then(|| format!("git renders no objects; not pruning {stale} without syncPolicy.automated.allowEmpty"))
    }

    /// Whether objects that left git may be deleted in this pass.
    pub fn deletes(&self) -> bool {
        self.operation_complete && self.prune && (!self.render_empty || self.allow_empty)
    }
}

/// What a read of one object that left git found.
#[derive(Clone, Debug, PartialEq)]
pub enum Found {
    /// No such object (or no such kind is served): nothing to prune.
    Gone,
    /// The kind or the object could not be read; nothing may be concluded.
    Unreadable(ObjectError),
    /// The live object.
    Live(Value),
}

/// What to do with one object that left git.
#[derive(Clone, Debug, PartialEq)]
pub enum PruneStep {
    /// It is gone, or no longer this Application's: it leaves the inventory.
    Forget,
    /// Delete it, pinned to the uid read.
    Delete { live: Value, uid: Option<String> },
    /// Keep it and report it as awaiting prune (`why` when that is not simply prune being off).
    Keep { live: Value, why: Option<String> },
    /// Its state is unknown: it stays in the inventory until a later pass confirms it gone.
    Unconfirmed(ObjectError),
}

/// Decides one object: only an object still carrying this Application's tracking id is ever
/// deleted, and only when the guard allows and the object does not opt out of pruning.
pub fn decide(key: &ResourceKey, found: Found, app: &AppRef, guard: &PruneGuard) -> PruneStep {
    let live = match found {
        Found::Gone => return PruneStep::Forget,
        Found::Unreadable(err) => return PruneStep::Unconfirmed(err),
        Found::Live(live) => live,
    };
    if tracking_id_of(&live) != Some(app.tracking_id(key).as_str()) {
        return PruneStep::Forget;
    }
    if !guard.deletes() || prune_disabled(&live) {
        return PruneStep::Keep { live, why: None };
    }
    let uid = live.pointer("/metadata/uid").and_then(Value::as_str).map(str::to_string);
    PruneStep::Delete { live, uid }
}

/// The result a step that writes nothing leaves for the object (`None`: it leaves the inventory).
pub fn unwritten(key: ResourceKey, step: PruneStep) -> Option<ResourceResult> {
    match step {
        PruneStep::Forget => None,
        PruneStep::Unconfirmed(err) => Some(ResourceResult::prune_unconfirmed(key, err)),
        PruneStep::Keep { live, why } => Some(ResourceResult::awaiting_prune(key, live, why.map(ObjectError::refused))),
        PruneStep::Delete { live, .. } => Some(ResourceResult::awaiting_prune(key, live, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app() -> AppRef {
        AppRef { namespace: "argo".into(), name: "web".into() }
    }

    fn key() -> ResourceKey {
        ResourceKey {
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("web".into()),
            name: "old".into(),
            ..Default::default()
        }
    }

    fn live(tracking: &str, annotations: Value) -> Value {
        let mut annotations = annotations;
        annotations["lockstep.dev/tracking-id"] = json!(tracking);
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "old", "uid": "u-1", "annotations": annotations}})
    }

    fn ours(annotations: Value) -> Found {
        Found::Live(live(&app().tracking_id(&key()), annotations))
    }

    const OPEN: PruneGuard =
        PruneGuard { operation_complete: true, prune: true, render_empty: false, allow_empty: false };

    #[test]
    fn only_our_object_is_deleted_and_pinned_to_its_uid() {
        match decide(&key(), ours(json!({})), &app(), &OPEN) {
            PruneStep::Delete { uid, .. } => assert_eq!(uid.as_deref(), Some("u-1")),
            other => panic!("{other:?}"),
        }
        let foreign = Found::Live(live("argo/other:/ConfigMap:web/old", json!({})));
        assert_eq!(decide(&key(), foreign, &app(), &OPEN), PruneStep::Forget, "another Application's object");
        let untracked = Found::Live(json!({"metadata": {"name": "old"}}));
        assert_eq!(decide(&key(), untracked, &app(), &OPEN), PruneStep::Forget, "taken out of lockstep's hands");
        assert_eq!(decide(&key(), Found::Gone, &app(), &OPEN), PruneStep::Forget);
    }

    #[test]
    fn an_unreadable_object_stays_unconfirmed() {
        let err = ObjectError::refused("connection reset");
        assert_eq!(decide(&key(), Found::Unreadable(err.clone()), &app(), &OPEN), PruneStep::Unconfirmed(err.clone()));
        let result = unwritten(key(), PruneStep::Unconfirmed(err)).expect("kept in the inventory");
        assert!(result.requires_pruning && result.error.is_some());
    }

    #[test]
    fn an_object_that_opts_out_is_kept() {
        for annotations in [
            json!({"lockstep.dev/prune": "disabled"}),
            json!({"argocd.argoproj.io/sync-options": "ServerSideApply=true, Prune=false"}),
        ] {
            assert!(matches!(decide(&key(), ours(annotations), &app(), &OPEN), PruneStep::Keep { .. }));
        }
    }

    #[test]
    fn nothing_is_deleted_unless_the_operation_completed_with_prune_on() {
        for guard in [
            PruneGuard { operation_complete: false, ..OPEN },
            PruneGuard { prune: false, ..OPEN },
            PruneGuard { render_empty: true, ..OPEN },
        ] {
            let step = decide(&key(), ours(json!({})), &app(), &guard);
            assert!(matches!(step, PruneStep::Keep { why: None, .. }), "{guard:?}: {step:?}");
            let result = unwritten(key(), step).expect("awaits pruning");
            assert!(result.requires_pruning && result.error.is_none());
        }
        let allowed = PruneGuard { render_empty: true, allow_empty: true, ..OPEN };
        assert!(matches!(decide(&key(), ours(json!({})), &app(), &allowed), PruneStep::Delete { .. }));
    }

    #[test]
    fn an_empty_render_blocks_prune_with_a_reason() {
        let empty = PruneGuard { render_empty: true, ..OPEN };
        let why = empty.blocked(3).expect("blocked");
        assert!(why.contains("not pruning 3") && why.contains("allowEmpty"), "{why}");
        assert_eq!(OPEN.blocked(3), None);
        assert_eq!(PruneGuard { allow_empty: true, ..empty }.blocked(3), None);
        assert_eq!(PruneGuard { prune: false, ..empty }.blocked(3), None, "prune off is no block");
        assert_eq!(PruneGuard { operation_complete: false, ..empty }.blocked(3), None);
    }
}
