//! The `Application` custom resource: what to deploy (source), where (destination) and how (sync policy).
//!
//! Field names and enum values follow Argo CD's `argoproj.io/v1alpha1` Application so that an Argo
//! Application moves over by changing its apiVersion.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ApplicationStatus;

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
#[schemars(extend("x-kubernetes-validations" = [{
    "rule": "has(self.source) != (has(self.sources) && size(self.sources) > 0)",
    "message": "exactly one of spec.source and spec.sources must be set"
}]))]
pub struct ApplicationSpec {
    /// The project whose rules apply; `default` when empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// Where the manifests come from; exclusive with `sources`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<ApplicationSource>,
    /// Several sources rendered into one Application (Argo CD's multi-source); exclusive with `source`.
    /// A source with `ref` can be named by the others' Helm `valueFiles` as `$<ref>/path`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<ApplicationSource>,
    /// Where the manifests go.
    #[serde(default)]
    pub destination: ApplicationDestination,
    /// Applications that must be ready (reconciled, Synced and Healthy, no sync running) before this
    /// one syncs, as Flux's `dependsOn`; each is looked up again whenever its status changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<ApplicationDependency>,
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
    /// How SOPS-encrypted files are decrypted (keys from a Secret in the Application's namespace);
    /// default: the project's `decryption`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption: Option<crate::Decryption>,
}

/// Another Application this one waits for, as Flux's `dependsOn[]` entry.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationDependency {
    /// The Application's name.
    #[schemars(length(min = 1))]
    pub name: String,
    /// The Application's namespace; default this Application's own namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
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
    /// URL of the git repository, or of the Helm repository when `chart` is set.
    #[schemars(length(min = 1))]
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// Name of a chart in the Helm repository at `repoURL` (whose `index.yaml` lists it); with it,
    /// `targetRevision` is the chart's version or a semver range, and `path` is unused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart: Option<String>,
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
    /// Signatures that must verify before a revision is rendered (see docs/security.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<crate::SourceVerify>,
    /// Name under which the other sources of a multi-source Application read this source's files
    /// (`$<ref>/path` in their Helm `valueFiles`); a source with `ref` and no `path` renders nothing.
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub ref_name: Option<String>,
}

impl ApplicationSource {
    /// Whether nothing names a repository (the placeholder of a status that records `sources`).
    pub fn is_unset(&self) -> bool {
        self.repo_url.is_empty()
    }
}

impl ApplicationSpec {
    /// Every source in order: `spec.sources` when set, else `spec.source` alone (none when neither is).
    pub fn all_sources(&self) -> Vec<&ApplicationSource> {
        if self.sources.is_empty() { self.source.iter().collect() } else { self.sources.iter().collect() }
    }

    /// Whether this Application lists its sources in `spec.sources`, and reports one revision per source.
    pub fn is_multi_source(&self) -> bool {
        !self.sources.is_empty()
    }

    /// The first source: the only one of a single-source Application; what one-line summaries show.
    pub fn primary_source(&self) -> Option<&ApplicationSource> {
        self.all_sources().into_iter().next()
    }
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
    /// What a sync does with live changes made outside git (default `heal`); an object's
    /// `lockstep.dev/drift` annotation overrides it for that object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<DriftMode>,
}

/// What a sync does with drift: live changes made outside git.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DriftMode {
    /// Overwrite drift: `selfHeal` restores git's object, a new revision applies all of it.
    #[default]
    Heal,
    /// Report drift and never overwrite it: a new revision applies only the fields git changed.
    Warn,
    /// Create the object when missing, then leave it alone (never updated; still pruned).
    Ignore,
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
