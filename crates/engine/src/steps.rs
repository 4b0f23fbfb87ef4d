//! The order of a sync as data: which objects go together, and where to wait for health. Pure; the
//! [`crate::sync_plan`] decides what each of them gets.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use crate::annotations::wave;
use crate::hooks::{HookRole, Phase, role};
use crate::order::{kind_rank, stage};

/// Objects applied together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The sync phase.
    pub phase: Phase,
    /// The wave within the phase.
    pub wave: i32,
    /// Indexes into the rendered objects, in apply order.
    pub items: Vec<usize>,
    /// Whether these objects are hooks (run once per operation) rather than resources.
    pub hooks: bool,
    /// Whether the objects must be healthy before the next step starts.
    pub gate: bool,
}

/// A sync operation's steps: PreSync hooks, then resources and Sync hooks by wave (Namespaces and
/// CRDs first within a wave), then PostSync hooks; `on_failure` holds the SyncFail hooks. PreDelete
/// hooks are no part of a sync (only the Application's deletion runs them).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncOrder {
    /// Steps in order.
    pub steps: Vec<Step>,
    /// Run only when a step failed.
    pub on_failure: Vec<Step>,
}

impl SyncOrder {
    /// Plans the objects (in render order).
    pub fn of(objects: &[Value]) -> Self {
        // (phase, wave, is_hook, stage) → items
        let mut groups: BTreeMap<(Phase, i32, bool, u8), Vec<usize>> = BTreeMap::new();
        for (index, object) in objects.iter().enumerate() {
            let kind = object["kind"].as_str().unwrap_or_default();
            let wave = wave(object);
            match role(object) {
                HookRole::Skip => {}
                HookRole::Resource => groups.entry((Phase::Sync, wave, false, stage(kind))).or_default().push(index),
                HookRole::Hook(phases) => {
                    for phase in phases.into_iter().filter(|p| *p != Phase::PreDelete) {
                        groups.entry((phase, wave, true, stage(kind))).or_default().push(index);
                    }
                }
            }
        }
        let mut plan = SyncOrder::default();
        for ((phase, wave, hooks, _), mut items) in groups {
            items.sort_by_key(|i| kind_rank(objects[*i]["kind"].as_str().unwrap_or_default()));
            let step = Step { phase, wave, items, hooks, gate: false };
            if phase == Phase::SyncFail { plan.on_failure.push(step) } else { plan.steps.push(step) }
        }
        // Resources and Sync hooks of one wave apply in one step each; a gate separates waves and phases.
        for i in 0..plan.steps.len() {
            let next = plan.steps.get(i + 1).map(|s| (s.phase, s.wave));
            plan.steps[i].gate = next.is_some_and(|n| n != (plan.steps[i].phase, plan.steps[i].wave));
        }
        plan
    }

    /// Indexes of every ordinary resource (not hooks, not skipped).
    pub fn resources(&self) -> HashSet<usize> {
        self.steps.iter().filter(|s| !s.hooks).flat_map(|s| s.items.iter().copied()).collect()
    }
}

/// `(group, kind)` of every custom resource kind the CRDs among `objects` define, so their custom
/// resources can be planned before the CRDs exist.
pub fn defined_kinds(objects: &[Value]) -> HashSet<(String, String)> {
    objects
        .iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
        .filter_map(|o| {
            Some((o["spec"]["group"].as_str()?.to_string(), o["spec"]["names"]["kind"].as_str()?.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(kind: &str, annotations: Value) -> Value {
        json!({"kind": kind, "metadata": {"name": kind.to_lowercase(), "annotations": annotations}})
    }

    #[test]
    fn orders_hooks_waves_and_kinds() {
        let objects = vec![
            obj("Deployment", json!({})),
            obj("Job", json!({"argocd.argoproj.io/hook": "PreSync"})),
            obj("ConfigMap", json!({"lockstep.dev/sync-wave": "-1"})),
            obj("Namespace", json!({})),
            obj("Service", json!({"lockstep.dev/sync-wave": "2"})),
            obj("Pod", json!({"lockstep.dev/hook": "PostSync"})),
            obj("Secret", json!({"lockstep.dev/hook": "SyncFail"})),
            obj("ServiceAccount", json!({"lockstep.dev/hook": "Skip"})),
            obj("Job", json!({"argocd.argoproj.io/hook": "PreDelete"})),
            obj("Pod", json!({"argocd.argoproj.io/hook": "PreDelete,PostSync"})),
        ];
        let plan = SyncOrder::of(&objects);
        let summary: Vec<_> = plan.steps.iter().map(|s| (s.phase, s.wave, s.items.clone(), s.gate)).collect();
        assert_eq!(
            summary,
            vec![
                (Phase::PreSync, 0, vec![1], true),
                (Phase::Sync, -1, vec![2], true),
                (Phase::Sync, 0, vec![3], false),
                (Phase::Sync, 0, vec![0], true),
                (Phase::Sync, 2, vec![4], true),
                (Phase::PostSync, 0, vec![5, 9], false),
            ]
        );
        assert_eq!(plan.on_failure.len(), 1);
        assert_eq!(plan.resources(), HashSet::from([0, 2, 3, 4]), "a PreDelete hook is neither resource nor step");
    }

    #[test]
    fn finds_kinds_defined_by_crds() {
        let crd =
            json!({"kind": "CustomResourceDefinition", "spec": {"group": "example.com", "names": {"kind": "Widget"}}});
        assert_eq!(defined_kinds(&[crd]), HashSet::from([("example.com".to_string(), "Widget".to_string())]));
    }
}
