//! The plan of one sync as a value: per object, what a sync does to it and why, in waves and hook
//! phases, decided from what was observed before anything is written. Pure: [`SyncPlan::decide`]
//! and the functions it is made of read data only. The executor ([`crate::execute`]) carries a
//! plan out; `lockstep diff` and `lockstep sync --dry-run` show one.

use lockstep_api::DriftMode;
use serde_json::Value;

use crate::drift::Kept;
use crate::engine::{RenderFacts, Target};
use crate::error::ObjectError;
use crate::hooks::Phase;
use crate::key::ResourceKey;
use crate::observe::{Observations, Observed};
use crate::plan::{Action, HookRun, HookStatus, Observation, ResourceResult};
use crate::prune_plan::{PruneGuard, PruneStep, unwritten};
use crate::steps::SyncOrder;
use crate::sync_object::Compared;
use crate::tracking::AppRef;

/// What a sync does to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Planned {
    /// Apply an object that does not exist yet (for a hook: run it).
    Create,
    /// Apply over a live object that differs.
    Update,
    /// Delete the live object and create git's: an immutable field changed and `Replace=true`.
    Replace,
    /// Delete an object that left git, once every step has completed.
    Prune,
    /// Nothing: it matches git (for a hook: it already ran in this operation).
    Unchanged,
    /// Nothing, although it differs or left git: the reason says why.
    Skip,
}

impl Planned {
    /// The write this entry makes, if any.
    pub fn action(self) -> Action {
        match self {
            Planned::Create => Action::Create,
            Planned::Update => Action::Update,
            Planned::Replace => Action::Replace,
            Planned::Prune => Action::Prune,
            Planned::Unchanged | Planned::Skip => Action::None,
        }
    }

    /// The word for it in lists.
    pub fn word(self) -> &'static str {
        match self {
            Planned::Create => "create",
            Planned::Update => "update",
            Planned::Replace => "replace",
            Planned::Prune => "prune",
            Planned::Unchanged => "unchanged",
            Planned::Skip => "skip",
        }
    }
}

/// Where a planned object comes from, with what carrying it out needs.
pub(crate) enum Origin {
    /// A rendered resource: its index among the rendered objects, and what was observed.
    Resource { index: usize, observed: Box<Observed> },
    /// A hook of one phase: how to address it, and its run in this operation so far.
    Hook { target: Option<Box<Target>>, error: Option<ObjectError> },
    /// An object of the previous inventory that git no longer renders.
    LeftGit(PruneStep),
}

/// One object's entry in the plan.
pub struct PlannedObject {
    /// Which object.
    pub key: ResourceKey,
    /// What a sync does to it.
    pub action: Planned,
    /// Why, in a phrase.
    pub reason: String,
    pub(crate) origin: Origin,
}

impl PlannedObject {
    /// The live object observed, if one was read.
    pub fn live(&self) -> Option<&Value> {
        match &self.origin {
            Origin::Resource { observed, .. } => observed.compared.live(),
            Origin::LeftGit(PruneStep::Delete { live, .. } | PruneStep::Keep { live, .. }) => Some(live),
            Origin::Hook { .. } | Origin::LeftGit(_) => None,
        }
    }

    /// What the server's dry-run of the apply would store, when it was asked and answered.
    pub fn predicted(&self) -> Option<&Value> {
        match &self.origin {
            Origin::Resource { observed, .. } => observed.compared.predicted.as_ref(),
            _ => None,
        }
    }

    /// Git's object as it would be applied (placed and marked), for a rendered object.
    pub fn desired(&self) -> Option<&Value> {
        match &self.origin {
            Origin::Resource { observed, .. } => Some(&observed.compared.object),
            Origin::Hook { target, .. } => target.as_ref().map(|t| &t.object),
            Origin::LeftGit(_) => None,
        }
    }

    /// Why the object cannot be synced as git says, in the server's or lockstep's words.
    pub fn error(&self) -> Option<&ObjectError> {
        match &self.origin {
            Origin::Resource { observed, .. } => match &observed.compared.observation {
                Observation::Rejected(error) => Some(error),
                Observation::Immutable { error, .. } if self.action == Planned::Skip && self.kept().is_none() => {
                    Some(error)
                }
                _ => None,
            },
            Origin::Hook { error, .. } => error.as_ref(),
            Origin::LeftGit(PruneStep::Unconfirmed(error)) => Some(error),
            Origin::LeftGit(_) => None,
        }
    }

    /// How its drift mode leaves a rendered object that exists and differs from git, when it does.
    pub fn kept(&self) -> Option<Kept> {
        match &self.origin {
            Origin::Resource { observed, .. } => kept(&observed.compared),
            _ => None,
        }
    }

    /// What the object leaves in a sync's result when nothing is written to it (`None` for hooks,
    /// which are reported as runs, and for what left git and is gone).
    pub(crate) fn unwritten(&self) -> Option<ResourceResult> {
        match &self.origin {
            Origin::Resource { observed, .. } => Some(unwritten_resource(self.key.clone(), &observed.compared)),
            Origin::Hook { .. } => None,
            Origin::LeftGit(step) => unwritten(self.key.clone(), step.clone()),
        }
    }
}

/// The objects of one step: one wave of one phase, applied together.
pub struct PlannedStep {
    /// The sync phase.
    pub phase: Phase,
    /// The wave within the phase.
    pub wave: i32,
    /// Whether these are hooks (run once per operation) rather than resources.
    pub hooks: bool,
    /// Whether they must be healthy before the next step starts.
    pub gate: bool,
    /// The objects, in apply order.
    pub objects: Vec<PlannedObject>,
}

/// What one sync would do, before anything is written.
pub struct SyncPlan {
    /// Steps in order: PreSync hooks, resources and Sync hooks by wave, PostSync hooks.
    pub steps: Vec<PlannedStep>,
    /// SyncFail hooks, run only when a step failed.
    pub on_failure: Vec<PlannedStep>,
    /// Objects that left git, in reverse apply order; deleted only after every step completed.
    pub prune: Vec<PlannedObject>,
    /// Why nothing that left git is deleted although prune is on, when that is so.
    pub prune_blocked: Option<String>,
    pub(crate) facts: RenderFacts,
}

/// The Application's rules a plan is decided under.
pub struct PlanRules<'a> {
    /// The Application: only objects carrying its tracking id are pruned.
    pub app: &'a AppRef,
    /// Delete what left git (`syncPolicy.automated.prune`, or a sync request that prunes).
    pub prune: bool,
    /// Prune even when git renders nothing (`syncPolicy.automated.allowEmpty`).
    pub allow_empty: bool,
    /// Hook runs this operation already made.
    pub hooks_done: &'a [HookRun],
}

/// How many objects a plan gives each action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PlanSummary {
    /// Objects to create (hooks to run included).
    pub create: usize,
    /// Objects to update.
    pub update: usize,
    /// Objects to delete and create again.
    pub replace: usize,
    /// Objects to delete.
    pub prune: usize,
    /// Objects left as they are because they match.
    pub unchanged: usize,
    /// Objects left as they are for a reason.
    pub skip: usize,
}

impl std::fmt::Display for PlanSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self { create, update, replace, prune, unchanged, skip } = self;
        write!(f, "{create} to create, {update} to update, {replace} to replace, {prune} to prune, ")?;
        write!(f, "{unchanged} unchanged, {skip} skipped")
    }
}

impl SyncPlan {
    /// Decides every object of `order` from what was observed, under `rules`.
    pub(crate) fn decide(
        order: &SyncOrder,
        mut observations: Observations,
        facts: RenderFacts,
        rules: &PlanRules,
    ) -> Self {
        let mut step_of = |step: &crate::steps::Step| PlannedStep {
            phase: step.phase,
            wave: step.wave,
            hooks: step.hooks,
            gate: step.gate,
            objects: step
                .items
                .iter()
                .filter_map(|index| {
                    if step.hooks {
                        let prepared = observations.hooks.get(index)?;
                        Some(plan_hook(prepared, step.phase, rules.hooks_done))
                    } else {
                        let observed = observations.resources.remove(index)?;
                        let (action, reason) = plan_resource(&observed);
                        let key = observed.key.clone();
                        let origin = Origin::Resource { index: *index, observed: Box::new(observed) };
                        Some(PlannedObject { key, action, reason, origin })
                    }
                })
                .collect(),
        };
        let steps: Vec<PlannedStep> = order.steps.iter().map(&mut step_of).collect();
        let on_failure = order.on_failure.iter().map(&mut step_of).collect();
        let render_empty = order.resources().is_empty();
        let guard =
            PruneGuard { operation_complete: true, prune: rules.prune, render_empty, allow_empty: rules.allow_empty };
        let prune: Vec<PlannedObject> = observations
            .left_git
            .into_iter()
            .filter_map(|(key, found)| {
                let step = crate::prune_plan::decide(&key, found, rules.app, &guard);
                let (action, reason) = plan_left_git(&step, &guard)?;
                Some(PlannedObject { key, action, reason, origin: Origin::LeftGit(step) })
            })
            .collect();
        let prune_blocked = if prune.is_empty() { None } else { guard.blocked(prune.len()) };
        SyncPlan { steps, on_failure, prune, prune_blocked, facts }
    }

    /// Every rendered resource (no hooks), in apply order.
    pub fn resources(&self) -> impl Iterator<Item = &PlannedObject> {
        self.steps.iter().filter(|s| !s.hooks).flat_map(|s| &s.objects)
    }

    /// Whether any rendered resource differs from git or cannot be synced, other than as its drift
    /// mode leaves it: a sync operation (with its hooks and waves) has something to do beyond pruning.
    pub fn drifted(&self) -> bool {
        self.resources().any(|o| o.action != Planned::Unchanged && o.kept().is_none())
    }

    /// Whether the sync runs hooks.
    pub fn has_hooks(&self) -> bool {
        self.steps.iter().any(|s| s.hooks && !s.objects.is_empty())
    }

    /// How many objects get each action (hooks of the main phases included, SyncFail hooks not).
    pub fn summary(&self) -> PlanSummary {
        let mut summary = PlanSummary::default();
        for object in self.steps.iter().flat_map(|s| &s.objects).chain(&self.prune) {
            *match object.action {
                Planned::Create => &mut summary.create,
                Planned::Update => &mut summary.update,
                Planned::Replace => &mut summary.replace,
                Planned::Prune => &mut summary.prune,
                Planned::Unchanged => &mut summary.unchanged,
                Planned::Skip => &mut summary.skip,
            } += 1;
        }
        summary
    }
}

/// Decides one rendered resource from its observation, under its drift mode.
pub(crate) fn plan_resource(observed: &Observed) -> (Planned, String) {
    let compared = &observed.compared;
    if let Some(kept) = kept(compared) {
        return (Planned::Skip, kept.reason().into());
    }
    match &compared.observation {
        Observation::InSync { .. } => (Planned::Unchanged, "matches the live object".into()),
        Observation::Drifted { live: None } if observed.target.is_none() => {
            (Planned::Create, "its CustomResourceDefinition is created by this sync".into())
        }
        Observation::Drifted { live: None } => (Planned::Create, "not in the cluster".into()),
        Observation::AwaitingNamespace => (Planned::Create, "its namespace is created by this sync".into()),
        Observation::Drifted { live: Some(_) } if compared.take_over => {
            (Planned::Update, "takes over the fields kubectl's client-side apply set".into())
        }
        Observation::Drifted { live: Some(_) } => (Planned::Update, "differs from the live object".into()),
        Observation::Immutable { .. } if compared.replace_allowed => {
            (Planned::Replace, "an immutable field changed; Replace=true recreates it".into())
        }
        Observation::Immutable { error, .. } | Observation::Rejected(error) => (Planned::Skip, error.message.clone()),
        Observation::Shared { owner, .. } => (Planned::Skip, format!("already managed by Application {owner}")),
    }
}

/// Whether the drift mode leaves an object that exists and differs from git as it is: under `ignore`
/// always; under `warn` unless git changed fields it does not hold yet (or kubectl's client-side
/// apply is to be taken over: an apply that keeps the drift).
pub(crate) fn kept(compared: &Compared) -> Option<Kept> {
    let due = compared.git_change_due;
    match (compared.drift, &compared.observation) {
        (DriftMode::Ignore, Observation::Drifted { live: Some(_) } | Observation::Immutable { .. }) => {
            Some(Kept::LeftAlone)
        }
        (DriftMode::Warn, Observation::Drifted { live: Some(_) }) if !due && !compared.take_over => {
            Some(Kept::Reported)
        }
        (DriftMode::Warn, Observation::Immutable { .. }) if !due => Some(Kept::Reported),
        _ => None,
    }
}

/// What a rendered object leaves in a sync's result when nothing is written to it.
pub(crate) fn unwritten_resource(key: ResourceKey, compared: &Compared) -> ResourceResult {
    let observed = ResourceResult::observed(key, compared.observation.clone());
    match kept(compared) {
        Some(kept) => observed.kept_by(kept),
        None => observed,
    }
}

/// Decides one hook of one phase: it runs once per operation.
fn plan_hook(prepared: &Result<Target, (ResourceKey, ObjectError)>, phase: Phase, done: &[HookRun]) -> PlannedObject {
    let (key, target, error) = match prepared {
        Ok(target) => (target.key.clone(), Some(Box::new(target.clone())), None),
        Err((key, error)) => (key.clone(), None, Some(error.clone())),
    };
    let ran = done.iter().find(|r| r.key == key && r.phase == phase).map(|r| r.status);
    let (action, reason) = match (&error, ran) {
        (Some(error), _) => (Planned::Skip, error.message.clone()),
        (None, Some(HookStatus::Succeeded)) => {
            (Planned::Unchanged, format!("{phase:?} hook: succeeded in this operation"))
        }
        (None, Some(HookStatus::Failed)) => (Planned::Unchanged, format!("{phase:?} hook: failed in this operation")),
        (None, Some(HookStatus::Running)) => (Planned::Create, format!("{phase:?} hook: followed until it finishes")),
        (None, None) => (Planned::Create, format!("{phase:?} hook: runs once per sync operation")),
    };
    PlannedObject { key, action, reason, origin: Origin::Hook { target, error } }
}

/// Decides one object that left git; `None` when it is gone or no longer this Application's.
fn plan_left_git(step: &PruneStep, guard: &PruneGuard) -> Option<(Planned, String)> {
    Some(match step {
        PruneStep::Forget => return None,
        PruneStep::Delete { .. } => (Planned::Prune, "left git".into()),
        PruneStep::Keep { .. } if !guard.prune => (Planned::Skip, "left git; only a sync with prune deletes it".into()),
        PruneStep::Keep { .. } if guard.render_empty && !guard.allow_empty => {
            (Planned::Skip, "left git; git renders no objects and allowEmpty is off".into())
        }
        PruneStep::Keep { .. } => (Planned::Skip, "left git; the object opts out of pruning".into()),
        PruneStep::Unconfirmed(error) => (Planned::Skip, format!("left git; its state could not be read: {error}")),
    })
}

#[cfg(test)]
#[path = "sync_plan_tests.rs"]
mod tests;
