//! The `Application` custom resource: what to deploy (source), where (destination) and how (sync policy).
//!
//! Field names and enum values follow Argo CD's `argoproj.io/v1alpha1` Application so that an Argo
//! Application moves over by changing its apiVersion.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Desired state of an Application.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "lockstep.dev",
    version = "v1alpha1",
    kind = "Application",
    namespaced,
    status = "ApplicationStatus",
    shortname = "lsapp",
    category = "lockstep",
    printcolumn = r#"{"name":"Sync","type":"string","jsonPath":".status.sync.status"}"#,
    printcolumn = r#"{"name":"Health","type":"string","jsonPath":".status.health.status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Revision","type":"string","priority":1,"jsonPath":".status.sync.revision"}"#,
    printcolumn = r#"{"name":"Repo","type":"string","priority":1,"jsonPath":".spec.source.repoURL"}"#,
    printcolumn = r#"{"name":"Path","type":"string","priority":1,"jsonPath":".spec.source.path"}"#,
    printcolumn = r#"{"name":"Destination","type":"string","priority":1,"jsonPath":".spec.destination.namespace"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSpec {
    /// The project whose rules apply; `default` when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Where the manifests come from.
    pub source: ApplicationSource,
    /// Where the manifests go.
    #[serde(default)]
    pub destination: ApplicationDestination,
    /// When and how to sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_policy: Option<SyncPolicy>,
    /// How many deployed revisions `status.history` keeps (default 10).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub revision_history_limit: Option<i64>,
    /// The ServiceAccount (in the destination namespace) every apply, prune and dry-run of this
    /// Application runs as, through impersonation; default the project's `destinationServiceAccounts`,
    /// then the controller's `--default-service-account`, else the controller's own identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Differences to ignore: the fields they name neither make the Application OutOfSync nor are
    /// overwritten by a sync.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_differences: Vec<ResourceIgnoreDifferences>,
}

/// Fields to ignore on the objects one entry selects, as Argo CD's `spec.ignoreDifferences[]`.
/// `group` and `kind` select by type (empty or `*` matches every one); `name` and `namespace`, when
/// set, narrow to one object.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceIgnoreDifferences {
    /// API group; empty for the core group, `*` for any.
    #[serde(default)]
    pub group: String,
    /// Kind; `*` for any.
    pub kind: String,
    /// Only the object of this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Only objects in this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// RFC 6901 JSON pointers to the ignored fields, such as `/spec/replicas`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json_pointers: Vec<String>,
    /// jq path expressions; accepted for compatibility with Argo CD and not evaluated (an Application
    /// using them is reported as InvalidSpec).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jq_path_expressions: Vec<String>,
    /// Field managers whose fields (per the live object's managedFields) are ignored, such as
    /// `kube-controller-manager` for replicas an autoscaler sets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_fields_managers: Vec<String>,
}

/// A git repository, a revision in it and a path inside it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSource {
    /// URL of the git repository.
    #[schemars(length(min = 1))]
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// Branch, tag or commit to deploy; empty or `HEAD` means the default branch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_revision: Option<String>,
    /// Directory inside the repository, relative to its root; empty means the root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Options for plain directories of YAML.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<ApplicationSourceDirectory>,
    /// Options for a Kustomize source; setting it forces the Kustomize type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kustomize: Option<ApplicationSourceKustomize>,
    /// Options for a Helm chart source; setting it forces the Helm type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm: Option<ApplicationSourceHelm>,
}

/// Options for a source that is a plain directory of manifests.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSourceDirectory {
    /// Also read manifests in subdirectories.
    #[serde(default)]
    pub recurse: bool,
    /// Only files whose path (relative to the source path) matches this glob; `{a,b}` lists several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<String>,
    /// Skip files whose path matches this glob; wins over `include`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<String>,
}

/// Options applied on top of a Kustomize source, as Argo CD's `spec.source.kustomize`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSourceKustomize {
    /// Prefix added to every object's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_prefix: Option<String>,
    /// Suffix added to every object's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_suffix: Option<String>,
    /// Namespace set on every namespaced object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Image overrides, `[old=]new[:tag|@digest]` as `kustomize edit set image` takes them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<String>,
    /// Labels added to every object (and selector).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub common_labels: BTreeMap<String, String>,
    /// Annotations added to every object.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub common_annotations: BTreeMap<String, String>,
    /// Strategic-merge or JSON 6902 patches, in Kustomize's `patches` form.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patches: Vec<KustomizePatch>,
    /// Kustomize components, relative to the source path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<String>,
}

/// One Kustomize patch: inline (`patch`) or from a file in the repository (`path`).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KustomizePatch {
    /// File holding the patch, relative to the source path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The patch itself (YAML or JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<String>,
    /// Which objects the patch applies to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<KustomizeSelector>,
    /// Kustomize patch options such as `allowNameChange`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<BTreeMap<String, bool>>,
}

/// Selects the objects a Kustomize patch applies to.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KustomizeSelector {
    /// API group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// API version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name (a regular expression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace (a regular expression).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Label selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
    /// Annotation selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotation_selector: Option<String>,
}

/// Options of a Helm chart source, as Argo CD's `spec.source.helm`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSourceHelm {
    /// Values files, relative to the chart directory, in increasing precedence.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub value_files: Vec<String>,
    /// Skip values files that do not exist instead of failing.
    #[serde(default)]
    pub ignore_missing_value_files: bool,
    /// Values as a YAML string; applied after `valueFiles`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub values: Option<String>,
    /// Values as an object; wins over `values` when both are set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_object")]
    pub values_object: Option<serde_json::Value>,
    /// `--set`/`--set-string` parameters, applied last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<HelmParameter>,
    /// Release name; default the Application's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_name: Option<String>,
    /// Namespace the chart is rendered for; default the destination namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Leave out the chart's `crds/` directory.
    #[serde(default)]
    pub skip_crds: bool,
    /// `.Capabilities.KubeVersion`; default the destination cluster's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube_version: Option<String>,
    /// `.Capabilities.APIVersions`; default what the destination cluster serves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_versions: Vec<String>,
}

/// One Helm `--set` parameter.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HelmParameter {
    /// Dotted path of the value, as `--set` takes it.
    pub name: String,
    /// The value.
    #[serde(default)]
    pub value: String,
    /// Pass as a string (`--set-string`) even if it looks like a number or boolean.
    #[serde(default)]
    pub force_string: bool,
}

/// Schema of a free-form object kept as written (`x-kubernetes-preserve-unknown-fields`).
fn preserve_unknown_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}

/// The cluster and namespace the manifests are applied to.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationDestination {
    /// Namespace given to namespaced objects that name none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// API server URL of the destination cluster; `https://kubernetes.default.svc` is the controller's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Name of the destination cluster; `in-cluster` is the controller's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl ApplicationDestination {
    /// Whether this is the controller's own cluster: no `name` and no `server`, `name: in-cluster`,
    /// or (without a name) `server: https://kubernetes.default.svc`.
    pub fn is_in_cluster(&self) -> bool {
        let name = self.name.as_deref().map(str::trim).filter(|n| !n.is_empty());
        let server = self.server.as_deref().map(|s| s.trim().trim_end_matches('/')).filter(|s| !s.is_empty());
        match (name, server) {
            (None, None) => true,
            (Some(name), _) => name == IN_CLUSTER_NAME,
            (None, Some(server)) => server == IN_CLUSTER_SERVER,
        }
    }
}

/// The API server URL Argo CD and lockstep use for the controller's own cluster.
pub const IN_CLUSTER_SERVER: &str = "https://kubernetes.default.svc";
/// The cluster name Argo CD and lockstep use for the controller's own cluster.
pub const IN_CLUSTER_NAME: &str = "in-cluster";

/// How the Application is kept in sync.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicy {
    /// Sync automatically when git or the cluster changes; without it lockstep only reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automated: Option<SyncPolicyAutomated>,
    /// Retry a failed sync with backoff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryStrategy>,
    /// Argo CD's sync options as `Key=value` strings; lockstep acts on `Replace=true` and `Force=true`
    /// (recreate an object whose immutable fields changed) and accepts the others it has no use for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_options: Vec<String>,
}

/// Automated sync options.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncPolicyAutomated {
    /// Delete objects that left git.
    #[serde(default)]
    pub prune: bool,
    /// Correct changes made to live objects outside git.
    #[serde(default)]
    pub self_heal: bool,
    /// Let a render with no objects prune everything; otherwise an empty render prunes nothing.
    #[serde(default)]
    pub allow_empty: bool,
}

/// How a failed sync is retried.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryStrategy {
    /// How many retries of one revision (negative: without limit).
    #[serde(default)]
    pub limit: i64,
    /// The delay between retries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Backoff>,
}

/// Exponential backoff between retries, as Argo CD writes it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Backoff {
    /// The first delay, as a duration (`5s`, `2m`) or plain seconds; default `5s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// What each delay is multiplied by; default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<i64>,
    /// The longest delay; default `3m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<String>,
}

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
    /// Full commit SHA.
    pub revision: String,
    /// The source as it was when synced, so a spec change is seen as a new sync.
    pub source: ApplicationSource,
    /// The hooks this operation ran.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<HookResult>,
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
    /// The phase it ran in: `PreSync`, `Sync`, `PostSync` or `SyncFail`.
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
}

/// The objects an Application manages, in Flux's compact form.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Inventory {
    /// One entry per object.
    #[serde(default)]
    pub entries: Vec<InventoryEntry>,
}

/// One managed object: `<namespace>_<name>_<group>_<kind>` and its API version.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema)]
pub struct InventoryEntry {
    /// `<namespace>_<name>_<group>_<kind>`; namespace and group empty where absent.
    pub id: String,
    /// API version the object was applied with.
    pub v: String,
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
    /// The full commit SHA compared with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
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
