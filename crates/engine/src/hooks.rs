//! Sync hooks: objects run in a phase of the sync rather than kept in sync. Pure.

use serde_json::Value;

use crate::annotations::{HOOK, HOOK_DELETE_POLICY, annotation};

/// The phases of a sync operation, in the order they run (`SyncFail` only when the sync failed),
/// and `PreDelete`, which no sync runs: only the deletion of the Application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Before any resource is applied.
    PreSync,
    /// With the resources.
    Sync,
    /// After every wave is applied and healthy.
    PostSync,
    /// After a failed sync.
    SyncFail,
    /// Before the Application's objects are deleted by its resources finalizer.
    PreDelete,
}

/// What the hook annotation says about an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HookRole {
    /// An ordinary resource, kept in sync.
    Resource,
    /// A hook run in these phases.
    Hook(Vec<Phase>),
    /// Never applied (`Skip`).
    Skip,
}

/// Reads the hook annotation (lockstep's or Argo CD's).
pub fn role(object: &Value) -> HookRole {
    let Some(value) = annotation(object, &HOOK) else {
        return HookRole::Resource;
    };
    let mut phases = Vec::new();
    for part in value.split(',').map(str::trim) {
        match part {
            "PreSync" => phases.push(Phase::PreSync),
            "Sync" => phases.push(Phase::Sync),
            "PostSync" => phases.push(Phase::PostSync),
            "SyncFail" => phases.push(Phase::SyncFail),
            "PreDelete" => phases.push(Phase::PreDelete),
            "Skip" => return HookRole::Skip,
            _ => {}
        }
    }
    if phases.is_empty() { HookRole::Resource } else { HookRole::Hook(phases) }
}

/// When a hook object is deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeletePolicy {
    /// Delete the previous run's object before creating this run's (Argo CD's default).
    pub before_creation: bool,
    /// Delete once the hook succeeded.
    pub on_success: bool,
    /// Delete once the hook failed.
    pub on_failure: bool,
}

/// Reads the delete-policy annotation; without one, `BeforeHookCreation` applies, as in Argo CD.
pub fn delete_policy(object: &Value) -> DeletePolicy {
    let Some(value) = annotation(object, &HOOK_DELETE_POLICY) else {
        return DeletePolicy { before_creation: true, ..Default::default() };
    };
    let mut policy = DeletePolicy::default();
    for part in value.split(',').map(str::trim) {
        match part {
            "BeforeHookCreation" => policy.before_creation = true,
            "HookSucceeded" => policy.on_success = true,
            "HookFailed" => policy.on_failure = true,
            _ => {}
        }
    }
    policy
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with(annotations: Value) -> Value {
        json!({"metadata": {"annotations": annotations}})
    }

    #[test]
    fn reads_roles_with_argo_aliases() {
        assert_eq!(role(&json!({})), HookRole::Resource);
        assert_eq!(role(&with(json!({"argocd.argoproj.io/hook": "PreSync"}))), HookRole::Hook(vec![Phase::PreSync]));
        assert_eq!(
            role(&with(json!({"lockstep.dev/hook": "PreSync, PostSync"}))),
            HookRole::Hook(vec![Phase::PreSync, Phase::PostSync])
        );
        assert_eq!(role(&with(json!({"argocd.argoproj.io/hook": "Skip"}))), HookRole::Skip);
        assert_eq!(
            role(&with(json!({"argocd.argoproj.io/hook": "PreDelete"}))),
            HookRole::Hook(vec![Phase::PreDelete])
        );
    }

    #[test]
    fn delete_policy_defaults_to_before_creation() {
        assert_eq!(delete_policy(&json!({})), DeletePolicy { before_creation: true, ..Default::default() });
        let p = delete_policy(&with(json!({"argocd.argoproj.io/hook-delete-policy": "HookSucceeded,HookFailed"})));
        assert_eq!(p, DeletePolicy { before_creation: false, on_success: true, on_failure: true });
    }
}
