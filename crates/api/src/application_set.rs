//! The `ApplicationSet` custom resource: generators produce parameter sets, and each set fills the
//! Application template once.
//!
//! Field names and enum values follow Argo CD's `argoproj.io/v1alpha1` ApplicationSet so that an
//! Argo set moves over by changing its apiVersion. Generator-level templates and the generators
//! nested in `matrix` and `merge` are kept as free-form JSON (as Argo keeps the inner ones), which
//! keeps the CRD small enough for client-side apply.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{ApplicationSpec, HealthStatusCode, SyncStatusCode};

/// Desired state of an ApplicationSet.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "lockstep.dev",
    version = "v1alpha1",
    kind = "ApplicationSet",
    namespaced,
    status = "ApplicationSetStatus",
    shortname = "lsappset",
    category = "lockstep",
    printcolumn = r#"{"name":"Applications","type":"integer","jsonPath":".status.resourcesCount"}"#,
    printcolumn = r#"{"name":"Healthy","type":"integer","jsonPath":".status.healthyCount"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Message","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetSpec {
    /// Each generator yields parameter sets; the template is filled once per set.
    pub generators: Vec<ApplicationSetGenerator>,
    /// The Application every parameter set fills in.
    pub template: ApplicationSetTemplate,
    /// Go-template syntax (`{{ .path.basename }}`) instead of `{{path.basename}}`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub go_template: bool,
    /// Options of Go templates, such as `missingkey=error`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub go_template_options: Vec<String>,
    /// What the set may do to the Applications it generates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync_policy: Option<ApplicationSetSyncPolicy>,
    /// Fields of generated Applications the set leaves as they are once created.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_application_differences: Vec<ApplicationSetResourceIgnoreDifferences>,
    /// A Go template, rendered per parameter set, whose YAML is merged into the template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_patch: Option<String>,
    /// How a change reaches the generated Applications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<ApplicationSetStrategy>,
}

/// The Application template: metadata and spec, each string of which may hold parameters.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetTemplate {
    /// Name, labels, annotations and finalizers of each generated Application.
    #[serde(default)]
    pub metadata: ApplicationSetTemplateMeta,
    /// The generated Application's spec.
    pub spec: ApplicationSpec,
}

/// Metadata of a generated Application; its namespace is always the set's own.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetTemplateMeta {
    /// The Application's name; must differ between parameter sets.
    #[serde(default)]
    pub name: String,
    /// Ignored when it differs from the set's namespace: a set generates only in its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels, added to the set's own ownership label.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Finalizers, such as `resources-finalizer.argocd.argoproj.io`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

/// One generator: exactly one of its kinds is set, optionally narrowed by `selector`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetGenerator {
    /// Parameter sets written out in the set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list: Option<ListGenerator>,
    /// One parameter set per destination cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clusters: Option<ClusterGenerator>,
    /// One parameter set per directory or file in a git repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitGenerator>,
    /// Every combination of two generators' parameter sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<MatrixGenerator>,
    /// A base generator's parameter sets, overridden by those of the others that share its keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge: Option<MergeGenerator>,
    /// Keeps only the parameter sets whose (flattened) values match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

/// `list`: the elements are the parameter sets.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListGenerator {
    /// Each element is one parameter set (an object).
    #[serde(default)]
    #[schemars(schema_with = "preserve_unknown_list")]
    pub elements: Vec<serde_json::Value>,
    /// A YAML list of further elements, often itself a parameter of an outer generator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elements_yaml: Option<String>,
    /// Overrides of the set's template for this generator's Applications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_optional")]
    pub template: Option<serde_json::Value>,
}

/// `clusters`: the local cluster and every cluster Secret the selector matches.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClusterGenerator {
    /// Labels the cluster Secret must carry; when set, the local cluster (which has no Secret) is left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// Extra parameters, `values.<key>`, which may themselves hold parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
    /// Overrides of the set's template for this generator's Applications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_optional")]
    pub template: Option<serde_json::Value>,
}

/// `git`: directories or files of one repository at one revision.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitGenerator {
    /// The repository.
    #[serde(rename = "repoURL")]
    pub repo_url: String,
    /// Branch, tag or commit; `HEAD` when empty.
    #[serde(default)]
    pub revision: String,
    /// Path globs of directories, one parameter set each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directories: Vec<GitPathItem>,
    /// Path globs of JSON or YAML files whose keys become parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<GitPathItem>,
    /// Prefix of the `path` parameters (`<prefix>.path`), for matrices of two git generators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_param_prefix: Option<String>,
    /// Extra parameters, `values.<key>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
    /// How often to look at the repository again when no webhook says it changed (default 180).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requeue_after_seconds: Option<i64>,
    /// Overrides of the set's template for this generator's Applications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_optional")]
    pub template: Option<serde_json::Value>,
}

/// A path glob of the git generator; `exclude` removes what it matches.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitPathItem {
    /// A glob such as `clusters/*`.
    pub path: String,
    /// Removes the matches instead of adding them.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exclude: bool,
}

/// `matrix`: the product of two generators' parameter sets.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MatrixGenerator {
    /// Exactly two generators; the second may use the first's parameters.
    #[schemars(schema_with = "preserve_unknown_list")]
    pub generators: Vec<serde_json::Value>,
    /// Overrides of the set's template for this generator's Applications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_optional")]
    pub template: Option<serde_json::Value>,
}

/// `merge`: the first generator's parameter sets, with the values of later ones whose merge keys match.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MergeGenerator {
    /// The base generator first, then the ones that override it.
    #[schemars(schema_with = "preserve_unknown_list")]
    pub generators: Vec<serde_json::Value>,
    /// The parameters two sets must share to be merged.
    pub merge_keys: Vec<String>,
    /// Overrides of the set's template for this generator's Applications.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "preserve_unknown_optional")]
    pub template: Option<serde_json::Value>,
}

/// What the set may do to its Applications.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetSyncPolicy {
    /// When a generated Application is deleted, leave its objects in the cluster.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub preserve_resources_on_deletion: bool,
    /// Which of create, update and delete the set performs; `sync` (all three) by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applications_sync: Option<ApplicationsSyncPolicy>,
}

/// Argo CD's `applicationsSync` values.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ApplicationsSyncPolicy {
    /// Create Applications; never change or delete them.
    #[serde(rename = "create-only")]
    CreateOnly,
    /// Create and update; never delete.
    #[serde(rename = "create-update")]
    CreateUpdate,
    /// Create and delete; never update.
    #[serde(rename = "create-delete")]
    CreateDelete,
    /// Create, update and delete.
    #[default]
    #[serde(rename = "sync")]
    Sync,
}

impl ApplicationsSyncPolicy {
    /// Whether an existing Application is brought back to the template.
    pub fn updates(self) -> bool {
        matches!(self, Self::CreateUpdate | Self::Sync)
    }

    /// Whether an Application no parameter set generates any more is deleted.
    pub fn deletes(self) -> bool {
        matches!(self, Self::CreateDelete | Self::Sync)
    }
}

/// Fields of the Applications that `name` matches (all when empty) that the set does not overwrite.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetResourceIgnoreDifferences {
    /// Only the generated Application of this name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// RFC 6901 JSON pointers into the Application, such as `/spec/source/targetRevision`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub json_pointers: Vec<String>,
}

/// How changes roll out over the generated Applications.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetStrategy {
    /// `AllAtOnce` (default) or `RollingSync`.
    #[serde(default, rename = "type")]
    pub type_: String,
    /// The steps of a `RollingSync`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolling_sync: Option<RollingSyncStrategy>,
}

/// `RollingSync`: Applications sync step by step.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RollingSyncStrategy {
    /// In order; an Application belongs to the first step whose expressions its labels match.
    #[serde(default)]
    pub steps: Vec<RollingSyncStep>,
}

/// One step of a `RollingSync`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RollingSyncStep {
    /// Label expressions (`In`, `NotIn`, `Exists`, `DoesNotExist`) an Application must match.
    #[serde(default)]
    pub match_expressions: Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement>,
    /// How many of the step's Applications sync at once: a number, or a percentage such as `"25%"`
    /// (at least one); all of them when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_update: Option<k8s_openapi::apimachinery::pkg::util::intstr::IntOrString>,
}

impl ApplicationSetSpec {
    /// The steps when the set rolls out with `RollingSync`, else `None`.
    pub fn rolling_steps(&self) -> Option<&[RollingSyncStep]> {
        let strategy = self.strategy.as_ref().filter(|s| s.type_ == "RollingSync")?;
        Some(strategy.rolling_sync.as_ref().map(|r| r.steps.as_slice()).unwrap_or_default())
    }
}

/// Observed state of an ApplicationSet.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetStatus {
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `ErrorOccurred`, `ParametersGenerated`, `ResourcesUpToDate` and `Ready`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
    /// The generated Applications with their sync and health, in name order; at most the first
    /// [`APPLICATION_SET_RESOURCES_LISTED`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ApplicationSetResource>,
    /// How many Applications the set has generated, listed or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources_count: Option<i64>,
    /// How many of them are Healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthy_count: Option<i64>,
    /// Where each Application stands in a `RollingSync`, as Argo's `status.applicationStatus[]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub application_status: Vec<ApplicationSetApplicationStatus>,
}

/// One Application's progress through a `RollingSync`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetApplicationStatus {
    /// The Application's name.
    pub application: String,
    /// `Waiting` (for its step, or for a change), `Progressing` (synced by the rollout, not yet
    /// Healthy) or `Healthy`.
    pub status: String,
    /// Its step, counted from 1; empty when no step selects it.
    pub step: String,
    /// Why it is where it is.
    pub message: String,
    /// When `status` last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
}

/// How many generated Applications `status.resources` lists.
pub const APPLICATION_SET_RESOURCES_LISTED: usize = 500;

/// One generated Application, as Argo's `status.resources[]` lists it.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationSetResource {
    /// `lockstep.dev`.
    pub group: String,
    /// `v1alpha1`.
    pub version: String,
    /// `Application`.
    pub kind: String,
    /// The set's namespace.
    pub namespace: String,
    /// The Application's name.
    pub name: String,
    /// Its sync status.
    #[serde(default)]
    pub status: SyncStatusCode,
    /// Its health.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<ApplicationSetResourceHealth>,
}

/// Health of one generated Application.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ApplicationSetResourceHealth {
    /// Argo CD's health code.
    pub status: HealthStatusCode,
}

/// The label on every generated Application naming the set that owns it.
pub const APPLICATION_SET_LABEL: &str = "lockstep.dev/application-set";

fn preserve_unknown_list(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
    })
}

fn preserve_unknown_optional(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}
