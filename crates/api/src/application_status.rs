//! What an Application's status reports: sync and health, the last operation, history, and the
//! inventory of what it manages. Field names follow Argo CD's Application status.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{ApplicationSource, Inventory};

/// Observed state of an Application.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Whether the live objects match git.
    #[serde(default)]
    pub sync: SyncStatus,
    /// Aggregate health of the live objects.
    #[serde(default)]
    pub health: HealthStatus,
    /// Standard conditions; `Ready` is True when the Application is Synced and Healthy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// Where the revision was fetched from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceStatus>,
    /// The signature that vouched for the revision from git, when `spec.source.verify` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_verification: Option<crate::SourceVerificationStatus>,
    /// When a reconcile last changed this status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconciled_at: Option<Time>,
    /// The `lockstep.dev/refresh` value the latest written status saw: once it equals the
    /// annotation, the status reflects a fetch and compare made after that refresh was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_refresh: Option<String>,
    /// One entry per object rendered from git, plus objects that left git and await pruning.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceStatus>,
    /// Every object lockstep applied for this Application and still manages; what prune works from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<Inventory>,
    /// The last deployed revisions, newest last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<RevisionHistory>,
    /// The last sync operation: what was synced, when, and how it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_state: Option<OperationState>,
    /// Totals over every object, including those `resources` leaves out when there are too many.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<ResourceSummary>,
    /// The rollback asked for by `lockstep.dev/rollback`: what it deploys and when it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackStatus>,
    /// While the Application is deleted: its PreDelete hooks' runs, which must succeed before its
    /// objects are deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_delete: Option<PreDeleteStatus>,
}

/// The PreDelete hooks of an Application being deleted, so a restart does not run a succeeded one
/// again.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreDeleteStatus {
    /// `Running` while a hook runs, `Failed` while one failed (the deletion waits), `Succeeded`
    /// once every hook succeeded (or the revision has none) and the objects may go.
    pub phase: OperationPhase,
    /// What happened, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The revision whose PreDelete hooks ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Each hook's run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<HookResult>,
}

/// A rollback to a history entry. While `active`, automated sync of newer commits is paused and the
/// entry's revision and source are deployed (and healed) instead.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RollbackStatus {
    /// The `lockstep.dev/rollback` value this rollback answers; a new value starts another.
    pub request: String,
    /// The history entry rolled back to.
    pub id: i64,
    /// Its full commit SHA.
    pub revision: String,
    /// Its source (repository, path, options), deployed instead of `spec.source`.
    pub source: ApplicationSource,
    /// The revision git's target resolved to when the rollback started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_at_start: Option<String>,
    /// End the rollback when git's target moves past `headAtStart` (else only when the annotation
    /// is removed).
    #[serde(default)]
    pub until_new_commit: bool,
    /// False once ended by a new commit; the request is then spent.
    pub active: bool,
    /// When it started.
    pub started_at: Time,
}

/// Counts of the Application's objects by sync and health, so a status that lists only some of
/// them still tells the whole story.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSummary {
    /// Objects rendered from git plus objects awaiting pruning.
    pub total: i64,
    /// Objects that match git.
    pub synced: i64,
    /// Objects that differ from git (or await pruning).
    pub out_of_sync: i64,
    /// Objects that are Healthy.
    pub healthy: i64,
    /// Objects that are not Healthy (Progressing, Degraded, Missing, Suspended or Unknown).
    pub unhealthy: i64,
    /// Objects left out of `status.resources` to keep the status small; the not-Synced and
    /// not-Healthy ones are always listed first.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// One sync operation, as Argo CD records it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperationState {
    /// How the operation ended (or that it runs).
    pub phase: OperationPhase,
    /// What happened, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What was synced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_result: Option<SyncOperationResult>,
    /// When the operation started.
    pub started_at: Time,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// How many times a failed sync of this revision was retried.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub retry_count: i64,
    /// The `lockstep.dev/sync-request` value this operation answered, for a requested sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_request: Option<String>,
}

/// Argo CD's operation phases.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum OperationPhase {
    /// Under way.
    Running,
    /// Every object synced.
    Succeeded,
    /// At least one object failed.
    Failed,
    /// The operation could not run.
    Error,
}

/// The revision and source a sync operation applied.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncOperationResult {
    /// Full commit SHA (a multi-source Application's: its `revisions` joined by `,`).
    pub revision: String,
    /// The source as it was when synced, so a spec change is seen as a new sync (unset when `sources` is).
    #[serde(default, skip_serializing_if = "ApplicationSource::is_unset")]
    pub source: ApplicationSource,
    /// A multi-source Application's sources as they were when synced.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<ApplicationSource>,
    /// A multi-source Application's revisions, one per source in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<String>,
    /// The hooks this operation ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<HookResult>,
}

impl SyncOperationResult {
    /// The sources synced: `sources` when recorded (multi-source), else `source` alone.
    pub fn synced_sources(&self) -> Vec<&ApplicationSource> {
        if self.sources.is_empty() { vec![&self.source] } else { self.sources.iter().collect() }
    }
}

/// One hook run of a sync operation (Argo CD's resource result of a hook).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HookResult {
    /// API group; empty for the core group.
    #[serde(default)]
    pub group: String,
    /// API version.
    pub version: String,
    /// Kind.
    pub kind: String,
    /// Namespace; absent for cluster-scoped hooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// The phase it ran in: `PreSync`, `Sync`, `PostSync`, `SyncFail` or `PreDelete`.
    pub hook_type: HookType,
    /// Where it stands.
    pub hook_phase: OperationPhase,
    /// Why, when it failed or still runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The sync phases a hook can run in.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum HookType {
    /// Before any resource is applied.
    PreSync,
    /// With the resources.
    Sync,
    /// After every wave is healthy.
    PostSync,
    /// After a failed sync.
    SyncFail,
    /// Before the Application's objects are deleted by its resources finalizer; never in a sync.
    PreDelete,
}

/// One deployed revision.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevisionHistory {
    /// Sequence number, increasing by one per deploy.
    pub id: i64,
    /// Full commit SHA.
    pub revision: String,
    /// When the sync of this revision finished.
    pub deployed_at: Time,
    /// The source deployed (repository, path, options), so a rollback can deploy it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ApplicationSource>,
    /// A multi-source Application's sources as deployed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<ApplicationSource>,
    /// A multi-source Application's revisions, one per source in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<String>,
    /// Who or what asked for the sync: `automated`, `sync-request <value>` or `rollback <value>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiated_by: Option<String>,
}

/// Where the revision came from.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceStatus {
    /// The URL that served the latest ref listing: a mirror or `spec.source.repoURL` itself
    /// (never with credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fetched_from: Option<String>,
}

/// Comparison of live state with git at one revision.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncStatus {
    /// `Synced`, `OutOfSync` or `Unknown`.
    #[serde(default)]
    pub status: SyncStatusCode,
    /// The full commit SHA compared with (a multi-source Application's: its `revisions` joined by `,`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// A multi-source Application's revisions compared with, one per source in `spec.sources` order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub revisions: Vec<String>,
}

/// Argo CD's sync status values.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum SyncStatusCode {
    /// Not compared yet, or the comparison failed.
    #[default]
    Unknown,
    /// Every object matches git.
    Synced,
    /// At least one object differs from git.
    OutOfSync,
}

/// Health of an Application or of one of its objects.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HealthStatus {
    /// Argo CD's health code.
    #[serde(default)]
    pub status: HealthStatusCode,
    /// Why, when not Healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Argo CD's health values, in order from best to worst.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, JsonSchema)]
pub enum HealthStatusCode {
    /// Working as intended.
    Healthy,
    /// Deliberately paused (a suspended CronJob, a paused Deployment).
    Suspended,
    /// Not yet healthy, but still converging.
    Progressing,
    /// Expected but absent from the cluster.
    Missing,
    /// Failed, or will not converge without a change.
    Degraded,
    /// Health could not be assessed.
    #[default]
    Unknown,
}

impl fmt::Display for SyncStatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unknown => "Unknown",
            Self::Synced => "Synced",
            Self::OutOfSync => "OutOfSync",
        })
    }
}

impl fmt::Display for HealthStatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Healthy => "Healthy",
            Self::Suspended => "Suspended",
            Self::Progressing => "Progressing",
            Self::Missing => "Missing",
            Self::Degraded => "Degraded",
            Self::Unknown => "Unknown",
        })
    }
}

/// Sync and health of one object rendered from git.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    /// API group; empty for the core group.
    #[serde(default)]
    pub group: String,
    /// API version within the group.
    pub version: String,
    /// Kind of the object.
    pub kind: String,
    /// Namespace; absent for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name of the object.
    pub name: String,
    /// Whether the live object matches git.
    #[serde(default)]
    pub status: SyncStatusCode,
    /// Health of the live object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthStatus>,
    /// The object left git and is deleted on the next sync with prune.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub requires_pruning: bool,
}
