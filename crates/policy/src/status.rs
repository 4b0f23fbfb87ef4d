//! From what a reconcile found to the Application's status: pure.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use lockstep_api::conditions::{DRIFT_DETECTED, DRIFTED, PAUSED, READY, RECONCILING, ROLLED_BACK, STALLED, reason};
use lockstep_api::{
    ApplicationStatus, HealthStatus, HealthStatusCode, Inventory, OperationPhase, OperationState, ResourceStatus,
    RevisionHistory, SyncStatus, SyncStatusCode,
};
use lockstep_engine::{ObjectError, Progress, ResourceKey};
use lockstep_health::Health;

/// How many failing (or drifted) objects a condition message names before summarising the rest.
const NAMED_FAILURES: usize = 3;

/// What one pass of the pipeline found: the only input besides the previous status.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// The pipeline stopped before comparing: invalid spec, fetch or render failure.
    Stopped {
        /// One of [`lockstep_api::conditions::reason`].
        reason: &'static str,
        /// What went wrong, naming the repo, revision, file or field.
        message: String,
        /// The revision resolved before the failure, if any.
        revision: Option<String>,
    },
    /// The revision was compared with live state and, when automated, applied.
    Compared {
        /// Full commit SHA.
        revision: String,
        /// Each rendered object, in apply order.
        resources: Vec<AssessedResource>,
        /// Whether drift was applied (automated sync) or only reported.
        automated: bool,
        /// Every object this Application manages after the sync.
        inventory: Inventory,
        /// Why objects that left git were kept although prune is on.
        prune_blocked: Option<String>,
        /// How far the sync operation got (Complete when nothing was applied).
        progress: Progress,
        /// The sync operation this pass ran, when it applied a new revision or wrote anything.
        operation: Option<Box<OperationState>>,
        /// How many deployed revisions to keep.
        history_limit: usize,
        /// What held this pass's writes (a pause, dependencies, a sync window), if anything did.
        held: Option<Box<crate::hold::Hold>>,
        /// Objects that differ from git and were left so by drift mode `warn`.
        drifted: Vec<ResourceKey>,
    },
}

/// One object after sync, with its health.
#[derive(Clone, Debug, PartialEq)]
pub struct AssessedResource {
    /// Which object.
    pub key: ResourceKey,
    /// Whether it matches git.
    pub sync: SyncStatusCode,
    /// Why applying it failed, if it did.
    pub error: Option<ObjectError>,
    /// Its health.
    pub health: Health,
    /// Excluded from the Application's health by annotation.
    pub ignore_health: bool,
    /// Left git and awaits pruning.
    pub requires_pruning: bool,
    /// Managed by this other Application, so left alone.
    pub shared_with: Option<String>,
}

/// The status an Application should have after `outcome`. `reconciledAt` is carried over; the
/// caller stamps it only when the status changed, so a no-op reconcile writes nothing.
pub fn next_status(
    previous: Option<&ApplicationStatus>,
    generation: Option<i64>,
    outcome: &Outcome,
    now: &Time,
) -> ApplicationStatus {
    let previous_conditions = previous.map(|s| s.conditions.as_slice()).unwrap_or_default();
    let mut status = match outcome {
        Outcome::Stopped { revision, .. } => ApplicationStatus {
            sync: SyncStatus {
                status: SyncStatusCode::Unknown,
                revision: revision.clone().or_else(|| previous.and_then(|p| p.sync.revision.clone())),
                revisions: Vec::new(),
            },
            health: previous.map(|p| p.health.clone()).unwrap_or_default(),
            resources: previous.map(|p| p.resources.clone()).unwrap_or_default(),
            inventory: previous.and_then(|p| p.inventory.clone()),
            history: previous.map(|p| p.history.clone()).unwrap_or_default(),
            operation_state: previous.and_then(|p| p.operation_state.clone()),
            ..Default::default()
        },
        Outcome::Compared { revision, resources, inventory, operation, history_limit, .. } => ApplicationStatus {
            sync: SyncStatus {
                status: if resources.iter().all(|r| r.sync == SyncStatusCode::Synced) {
                    SyncStatusCode::Synced
                } else {
                    SyncStatusCode::OutOfSync
                },
                revision: Some(revision.clone()),
                revisions: Vec::new(),
            },
            health: app_health(resources),
            resources: resources.iter().map(resource_status).collect(),
            inventory: Some(inventory.clone()),
            history: history(previous, operation.as_deref(), *history_limit),
            operation_state: operation.as_deref().cloned().or_else(|| previous.and_then(|p| p.operation_state.clone())),
            ..Default::default()
        },
    };
    crate::bounded::bound(&mut status, previous, matches!(outcome, Outcome::Compared { .. }));
    status.observed_generation = generation;
    status.reconciled_at = previous.and_then(|p| p.reconciled_at.clone());
    let (ready, why, message) = ready_condition(outcome, &status);
    let mut conditions = vec![condition(previous_conditions, READY, ready, why, message.clone(), generation, now)];
    // Reconciling and Stalled follow kstatus's abnormal-true convention: present only while True.
    if let Some(reconciling_why) = reconciling(why, &status) {
        conditions.push(condition(
            previous_conditions,
            RECONCILING,
            true,
            reconciling_why,
            message.clone(),
            generation,
            now,
        ));
    }
    if stalled(why, &status) {
        conditions.push(condition(previous_conditions, STALLED, true, why, message, generation, now));
    }
    conditions.extend(drifted_condition(outcome, previous_conditions, generation, now));
    status.conditions = conditions;
    status
}

/// The `Drifted` condition: present (True) while objects under drift mode `warn` are left drifted;
/// carried over when the pipeline stopped before comparing, as the resources are.
fn drifted_condition(
    outcome: &Outcome,
    previous: &[Condition],
    generation: Option<i64>,
    now: &Time,
) -> Option<Condition> {
    match outcome {
        Outcome::Stopped { .. } => previous.iter().find(|c| c.type_ == DRIFTED).cloned(),
        Outcome::Compared { drifted, .. } if drifted.is_empty() => None,
        Outcome::Compared { drifted, .. } => {
            Some(condition(previous, DRIFTED, true, DRIFT_DETECTED, drifted_message(drifted), generation, now))
        }
    }
}

/// The `Drifted` condition's message: how many objects, naming the first few.
pub fn drifted_message(drifted: &[ResourceKey]) -> String {
    let named: Vec<String> = drifted.iter().take(NAMED_FAILURES).map(ToString::to_string).collect();
    let mut message =
        format!("{} objects differ from git and are kept so (drift: warn): {}", drifted.len(), named.join(", "));
    if drifted.len() > NAMED_FAILURES {
        message.push_str(&format!(" and {} more", drifted.len() - NAMED_FAILURES));
    }
    message
}

/// How many objects the `Drifted` condition of `status` counts; 0 without one.
pub fn drifted_count(status: &ApplicationStatus) -> usize {
    let drifted = status.conditions.iter().find(|c| c.type_ == DRIFTED && c.status == "True");
    drifted.and_then(|c| c.message.split_whitespace().next()?.parse().ok()).unwrap_or(0)
}

/// Why work is under way, if it is: a sync waiting on a wave or hook, or objects still Progressing.
fn reconciling(ready_reason: &str, status: &ApplicationStatus) -> Option<&'static str> {
    if ready_reason == reason::SYNC_IN_PROGRESS {
        Some(reason::SYNC_IN_PROGRESS)
    } else if status.health.status == HealthStatusCode::Progressing {
        Some("Progressing")
    } else {
        None
    }
}

/// Whether nothing will change without a new commit or spec: the spec, revision, path or render is
/// wrong, the server rejects objects, or an object is Degraded.
fn stalled(ready_reason: &str, status: &ApplicationStatus) -> bool {
    reason::stalls(ready_reason) || status.health.status == HealthStatusCode::Degraded
}

/// True when two statuses differ in anything but `reconciledAt`.
pub fn changed(previous: Option<&ApplicationStatus>, next: &ApplicationStatus) -> bool {
    match previous {
        None => true,
        Some(previous) => {
            let mut previous = previous.clone();
            previous.reconciled_at = next.reconciled_at.clone();
            &previous != next
        }
    }
}

/// The deployed revisions: a succeeded operation of a new revision appends one, the oldest go past `limit`.
fn history(
    previous: Option<&ApplicationStatus>,
    operation: Option<&OperationState>,
    limit: usize,
) -> Vec<RevisionHistory> {
    let mut history = previous.map(|p| p.history.clone()).unwrap_or_default();
    let deployed = operation
        .filter(|op| op.phase == lockstep_api::OperationPhase::Succeeded)
        .and_then(|op| Some((op, op.sync_result.as_ref()?, op.finished_at.clone()?)));
    if let Some((op, result, deployed_at)) = deployed
        && history.last().is_none_or(|h| {
            h.revision != result.revision || h.source.as_ref() != source_of(result) || h.sources != result.sources
        })
    {
        let id = history.last().map_or(0, |h| h.id + 1);
        history.push(RevisionHistory {
            id,
            revision: result.revision.clone(),
            deployed_at,
            source: source_of(result).cloned(),
            sources: result.sources.clone(),
            revisions: result.revisions.clone(),
            initiated_by: Some(initiated_by(op.sync_request.as_deref())),
        });
    }
    let excess = history.len().saturating_sub(limit.max(1));
    history.drain(..excess);
    history
}

/// The single source an operation synced; `None` for a multi-source one (its `sources` say).
fn source_of(result: &lockstep_api::SyncOperationResult) -> Option<&lockstep_api::ApplicationSource> {
    (!result.source.is_unset()).then_some(&result.source)
}

/// Who asked for a sync, from its operation's sync request: a rollback, a person or automation.
fn initiated_by(sync_request: Option<&str>) -> String {
    match sync_request {
        Some(request) if request.starts_with("rollback ") => request.to_string(),
        Some(request) => format!("sync-request {request}"),
        None => "automated".to_string(),
    }
}

/// Conditions about the Application's state that hold beside `Ready`: `Paused` while nothing may
/// be written, `RolledBack` while a rollback is deployed; each present only while True.
pub fn mark(status: &mut ApplicationStatus, previous: Option<&ApplicationStatus>, marks: &Marks, now: &Time) {
    let previous = previous.map(|s| s.conditions.as_slice()).unwrap_or_default();
    let generation = status.observed_generation;
    if let Some(paused) = &marks.paused {
        status.conditions.push(condition(previous, PAUSED, true, reason::PAUSED, paused.clone(), generation, now));
    }
    if let Some(rollback) = marks.rollback.as_ref().filter(|r| r.active) {
        let message = crate::rollback::message(rollback);
        status.conditions.push(condition(previous, ROLLED_BACK, true, reason::ROLLED_BACK, message, generation, now));
    }
    status.rollback = marks.rollback.clone();
}

/// What [`mark`] reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Marks {
    /// Why nothing may be written, when the Application or its cluster is paused.
    pub paused: Option<String>,
    /// The rollback in force (or spent), kept in `status.rollback`.
    pub rollback: Option<lockstep_api::RollbackStatus>,
}

fn app_health(resources: &[AssessedResource]) -> HealthStatus {
    let names: Vec<String> = resources.iter().map(|r| r.key.to_string()).collect();
    let considered =
        resources.iter().zip(&names).filter(|(r, _)| !r.ignore_health).map(|(r, n)| (n.as_str(), &r.health));
    let health = lockstep_health::aggregate(considered);
    HealthStatus { status: health.status, message: health.message }
}

fn resource_status(resource: &AssessedResource) -> ResourceStatus {
    ResourceStatus {
        group: resource.key.group.clone(),
        version: resource.key.version.clone(),
        kind: resource.key.kind.clone(),
        namespace: resource.key.namespace.clone(),
        name: resource.key.name.clone(),
        status: resource.sync,
        health: Some(HealthStatus { status: resource.health.status, message: resource.health.message.clone() }),
        requires_pruning: resource.requires_pruning,
    }
}

fn ready_condition(outcome: &Outcome, status: &ApplicationStatus) -> (bool, &'static str, String) {
    let (revision, resources, automated, prune_blocked, progress, held) = match outcome {
        Outcome::Stopped { reason, message, .. } => return (false, reason, message.clone()),
        Outcome::Compared { revision, resources, automated, prune_blocked, progress, held, .. } => {
            (short(revision), resources, *automated, prune_blocked, progress, held)
        }
    };
    let failures: Vec<String> =
        resources.iter().filter_map(|r| r.error.as_ref().map(|e| format!("{}: {e}", r.key))).collect();
    let transient = resources.iter().filter_map(|r| r.error.as_ref()).all(ObjectError::is_transient);
    if !failures.is_empty() {
        let mut message = if transient {
            format!(
                "the API server failed for {} of {} objects at {revision}; retrying: ",
                failures.len(),
                resources.len()
            )
        } else {
            format!("{} of {} objects failed to sync at {revision}: ", failures.len(), resources.len())
        };
        message.push_str(&failures.iter().take(NAMED_FAILURES).cloned().collect::<Vec<_>>().join("; "));
        if failures.len() > NAMED_FAILURES {
            message.push_str(&format!("; and {} more", failures.len() - NAMED_FAILURES));
        }
        let all_shared = resources.iter().filter(|r| r.error.is_some()).all(|r| r.shared_with.is_some());
        let why = match (all_shared, transient) {
            (true, _) => reason::SHARED_RESOURCE,
            (false, true) => reason::CLUSTER_UNREACHABLE,
            (false, false) => reason::SYNC_FAILED,
        };
        return (false, why, message);
    }
    match progress {
        Progress::Failed(why) if why.is_transient() => {
            return (false, reason::CLUSTER_UNREACHABLE, format!("sync of {revision} interrupted, retrying: {why}"));
        }
        Progress::Failed(why) => return (false, reason::SYNC_FAILED, format!("sync of {revision} failed: {why}")),
        Progress::Waiting(why) => return (false, reason::SYNC_IN_PROGRESS, why.clone()),
        Progress::Complete => {}
    }
    if status.sync.status != SyncStatusCode::Synced
        && let Some(op) = status.operation_state.as_ref().filter(|op| {
            op.phase == OperationPhase::Failed
                && op.sync_result.as_ref().is_some_and(|r| status.sync.revision.as_deref() == Some(r.revision.as_str()))
        })
    {
        // A compare-only pass after a failed sync of this revision: the failure still explains the drift.
        let why = op.message.clone().unwrap_or_default();
        return (false, reason::SYNC_FAILED, format!("sync of {revision} failed: {why}"));
    }
    // A hold explains the drift it keeps; a missing dependency or a cycle is reported even in sync.
    if let Some(held) = held.as_ref().filter(|h| status.sync.status != SyncStatusCode::Synced || h.always_reported) {
        return (false, held.reason, held.message.clone());
    }
    if status.sync.status != SyncStatusCode::Synced {
        let drifted = resources.iter().filter(|r| r.sync != SyncStatusCode::Synced && !r.requires_pruning).count();
        let rendered = resources.iter().filter(|r| !r.requires_pruning).count();
        let to_prune = resources.iter().filter(|r| r.requires_pruning).count();
        let mut message = format!("{drifted} of {rendered} objects differ from git at {revision}");
        if to_prune > 0 {
            message.push_str(&format!("; {to_prune} objects left git and await pruning"));
        }
        if let Some(blocked) = prune_blocked {
            message.push_str(&format!("; {blocked}"));
        }
        if !automated {
            message.push_str("; automated sync is off");
        }
        return (false, reason::OUT_OF_SYNC, message);
    }
    if status.health.status != HealthStatusCode::Healthy {
        let message = status.health.message.clone().unwrap_or_else(|| format!("health is {}", status.health.status));
        return (false, reason::NOT_HEALTHY, message);
    }
    (true, reason::SUCCEEDED, format!("Synced to {revision}; {} objects Healthy", resources.len()))
}

/// A condition, keeping the previous transition time when its status did not change.
fn condition(
    previous: &[Condition],
    type_: &str,
    ready: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    let status = if ready { "True" } else { "False" };
    let last_transition_time = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone());
    Condition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message,
        last_transition_time,
        observed_generation: generation,
    }
}

/// The first 12 hex digits of a SHA, as people quote commits.
pub fn short(revision: &str) -> &str {
    revision.get(..12).unwrap_or(revision)
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
