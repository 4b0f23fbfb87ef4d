//! The executor: carries a [`SyncPlan`] out step by step, gating each wave on health, running the
//! hooks, then deleting what left git. What to write was decided by the plan; this only writes it
//! and reports what came of it.

use futures::{StreamExt, stream};
use lockstep_render::Manifest;

use crate::drift::Kept;
use crate::engine::{CONCURRENCY, Engine, RenderFacts, SyncOptions, Target};
use crate::error::{Fault, ObjectError};
use crate::gates::step_progress;
use crate::plan::{Action, Observation, Progress, ResourceResult, SyncResult};
use crate::prune_plan::PruneStep;
use crate::sync_object::Compared;
use crate::sync_plan::{Origin, Planned, PlannedObject, PlannedStep, SyncPlan, plan_resource, unwritten_resource};

impl Engine {
    /// Carries `plan` out under `options`. Without `options.apply` nothing is written: the result
    /// is the comparison. A heal of a revision that already synced (`heal_only`) with nothing
    /// drifted only prunes; a new operation with hooks is first recorded; otherwise the operation
    /// runs its steps in order, SyncFail hooks after a failure, and prunes once it completed.
    pub async fn execute(&self, plan: &SyncPlan, manifests: &[Manifest], options: &SyncOptions) -> SyncResult {
        let mut result = SyncResult { hooks: options.hooks_done.clone(), ..Default::default() };
        if heals_nothing(plan, options) {
            result.resources.extend(plan.resources().filter_map(PlannedObject::unwritten));
            self.prune(plan, true, &mut result).await;
        } else if !options.apply || (!options.operation_recorded && plan.has_hooks()) {
            result.resources.extend(plan.resources().filter_map(PlannedObject::unwritten));
            if options.apply {
                result.progress = Progress::Waiting("recording the sync operation before its hooks run".into());
            }
            self.prune(plan, false, &mut result).await;
        } else {
            self.operation(plan, manifests, options, &mut result).await;
        }
        let managed = result.resources.iter().filter(|r| !r.requires_pruning).map(|r| &r.key);
        self.verified.retain(&options.app, managed);
        result
    }

    async fn operation(&self, plan: &SyncPlan, manifests: &[Manifest], options: &SyncOptions, result: &mut SyncResult) {
        let mut wrote = false;
        for step in &plan.steps {
            let active = result.progress == Progress::Complete;
            if step.hooks {
                if active {
                    self.run_hook_step(step, options, result).await;
                }
                continue;
            }
            if !active {
                result.resources.extend(step.objects.iter().filter_map(PlannedObject::unwritten));
                continue;
            }
            let outcomes = self.carry_out(step, &plan.facts, manifests, options, wrote).await;
            wrote |= outcomes.iter().any(|r| r.action != Action::None);
            result.progress = step_progress(step.wave, step.gate, &outcomes);
            result.resources.extend(outcomes);
        }
        if let (true, Progress::Waiting(why)) = (options.timed_out, &result.progress) {
            result.progress = Progress::Failed(ObjectError::refused(format!("sync timed out: {why}")));
        }
        if matches!(result.progress, Progress::Failed(_)) {
            for step in &plan.on_failure {
                self.run_hook_step(step, options, result).await;
            }
        }
        let complete = result.progress == Progress::Complete;
        self.prune(plan, complete, result).await;
    }

    /// Writes the objects of one step, then waits for the CRDs among them to be served.
    async fn carry_out(
        &self,
        step: &PlannedStep,
        facts: &RenderFacts,
        manifests: &[Manifest],
        options: &SyncOptions,
        wrote: bool,
    ) -> Vec<ResourceResult> {
        let pending: Vec<_> =
            step.objects.iter().map(|o| self.carry_out_one(o, facts, manifests, options, wrote)).collect();
        let mut outcomes: Vec<ResourceResult> =
            stream::iter(pending).buffered(CONCURRENCY).filter_map(|o| async { o }).collect().await;
        self.await_established(&mut outcomes).await;
        outcomes
    }

    /// Writes one object as planned. An object the plan could not observe in full (its kind was not
    /// served yet, or the server refused it before an earlier step of this pass wrote) is observed
    /// again first and decided by the same rule.
    async fn carry_out_one(
        &self,
        planned: &PlannedObject,
        facts: &RenderFacts,
        manifests: &[Manifest],
        options: &SyncOptions,
        wrote: bool,
    ) -> Option<ResourceResult> {
        let Origin::Resource { index, observed } = &planned.origin else { return planned.unwritten() };
        let again;
        let (observed, action) =
            if needs_second_look(planned.action, observed.target.is_some(), &observed.compared, wrote) {
                again = self.observe_resource(&manifests[*index], options, facts, true).await;
                (&again, plan_resource(&again).0)
            } else {
                (observed.as_ref(), planned.action)
            };
        let unwritten = || unwritten_resource(observed.key.clone(), &observed.compared);
        Some(match (action.action(), &observed.target) {
            (Action::Create | Action::Update | Action::Replace, Some(target)) => {
                self.write(target, &observed.compared, action.action(), options).await
            }
            _ => unwritten(),
        })
    }

    async fn write(
        &self,
        target: &Target,
        compared: &Compared,
        action: Action,
        options: &SyncOptions,
    ) -> ResourceResult {
        let api = self.api_for(&target.key, &target.kind);
        match self.write_one(&api, target, compared, action).await {
            Ok(live) if compared.kept_drift(&live) => {
                self.verified.forget(&options.app, &target.key);
                ResourceResult::written(target.key.clone(), action, live).kept_by(Kept::Reported)
            }
            Ok(live) => {
                self.verified.record(&options.app, &target.key, compared.desired, &target.object, &live);
                ResourceResult::written(target.key.clone(), action, live)
            }
            Err(err) => ResourceResult::observed(target.key.clone(), Observation::Rejected(err)),
        }
    }

    /// Deletes (when the operation is `complete`) or reports what left git, in the plan's order.
    async fn prune(&self, plan: &SyncPlan, complete: bool, result: &mut SyncResult) {
        if complete {
            result.prune_blocked = plan.prune_blocked.clone();
        }
        for planned in &plan.prune {
            let outcome = match &planned.origin {
                Origin::LeftGit(PruneStep::Delete { live, uid }) if complete && planned.action == Planned::Prune => {
                    self.delete(planned.key.clone(), live.clone(), uid.clone()).await
                }
                _ => planned.unwritten(),
            };
            result.resources.extend(outcome);
        }
    }
}

/// The pass heals a revision that already synced and nothing drifted: no sync operation, so no
/// hooks and no waves; only what left git is pruned.
fn heals_nothing(plan: &SyncPlan, options: &SyncOptions) -> bool {
    options.apply && options.heal_only && !plan.drifted()
}

/// Whether an object must be observed again before its step is carried out: its kind was not
/// served when the plan was made (its CRD comes with this sync), or the server refused it before
/// an earlier step of this pass wrote what it may depend on. A refusal for want of permission is
/// not retried: no write of this sync grants one.
fn needs_second_look(action: Planned, prepared: bool, compared: &Compared, wrote: bool) -> bool {
    match &compared.observation {
        Observation::Drifted { live: None } => action == Planned::Create && !prepared,
        Observation::Rejected(error) => wrote && error.fault != Fault::Forbidden,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compared(observation: Observation) -> Compared {
        Compared::unprepared(json!({}), observation)
    }

    #[test]
    fn only_what_the_plan_could_not_see_is_looked_at_again() {
        let crd_defined = compared(Observation::Drifted { live: None });
        assert!(needs_second_look(Planned::Create, false, &crd_defined, false), "its kind is served only now");
        assert!(!needs_second_look(Planned::Create, true, &crd_defined, false), "an ordinary create is applied");
        let refused = compared(Observation::Rejected(ObjectError::refused("admission webhook denied")));
        assert!(needs_second_look(Planned::Skip, true, &refused, true), "an earlier step may have fixed it");
        assert!(!needs_second_look(Planned::Skip, true, &refused, false), "nothing was written since");
        let forbidden = ObjectError { fault: Fault::Forbidden, message: "forbidden".into() };
        assert!(!needs_second_look(Planned::Skip, true, &compared(Observation::Rejected(forbidden)), true));
        let in_sync = compared(Observation::InSync { live: json!({}) });
        assert!(!needs_second_look(Planned::Unchanged, true, &in_sync, true));
    }
}
