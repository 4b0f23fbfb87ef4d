//! The `AppProject` custom resource: which repositories, destinations and kinds the Applications of a
//! project may use, and from which namespaces. Field names follow Argo CD's `AppProject`.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The name of the project an Application without `spec.project` belongs to.
pub const DEFAULT_PROJECT: &str = "default";

/// Rules shared by the Applications of one project. Lives in the controller's namespace.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "lockstep.dev",
    version = "v1alpha1",
    kind = "AppProject",
    namespaced,
    shortname = "appproj",
    shortname = "lsproj",
    category = "lockstep",
    printcolumn = r#"{"name":"Description","type":"string","jsonPath":".spec.description"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct AppProjectSpec {
    /// Free text shown by `kubectl get appprojects`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Repository URLs the project's Applications may deploy from, as globs (`*` matches anything,
    /// `/` included); a pattern starting with `!` denies. Empty denies every repository.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_repos: Vec<String>,
    /// Clusters and namespaces the project's Applications may deploy to. Empty denies every destination.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<ApplicationDestinationRule>,
    /// Cluster-scoped kinds the project may manage. Empty allows none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_resource_whitelist: Vec<GroupKind>,
    /// Cluster-scoped kinds the project may not manage, even when whitelisted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cluster_resource_blacklist: Vec<GroupKind>,
    /// Namespaced kinds the project may manage. Empty allows every one not blacklisted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_resource_whitelist: Vec<GroupKind>,
    /// Namespaced kinds the project may not manage.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespace_resource_blacklist: Vec<GroupKind>,
    /// Namespaces (globs) whose Applications may belong to the project, besides the controller's
    /// own namespace, which always may.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_namespaces: Vec<String>,
    /// The ServiceAccount the project's Applications deploy as, per destination, when they name none
    /// themselves (`spec.serviceAccountName`); the first matching entry wins.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destination_service_accounts: Vec<ApplicationDestinationServiceAccount>,
    /// Times at which the project's Applications may or may not sync, as Argo CD's `syncWindows`.
    /// Empty lets them sync at any time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sync_windows: Vec<SyncWindow>,
    /// The default decryption of the project's Applications that set no `spec.decryption` (keys from
    /// a Secret in the project's namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decryption: Option<crate::Decryption>,
    /// Signature verification the project demands of its Applications and the keys it trusts
    /// (see docs/security.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_integrity: Option<crate::SourceIntegrity>,
}

/// One allowed destination: each field is a glob; an empty or missing field matches anything, and a
/// pattern starting with `!` denies what it matches.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationDestinationRule {
    /// API server URL of the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// Name of the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace in the cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A kind selected by API group and kind, both globs (`""` is the core group).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GroupKind {
    /// API group; empty for the core group, `*` for any.
    #[serde(default)]
    pub group: String,
    /// Kind; `*` for any.
    pub kind: String,
}

/// The ServiceAccount used for Applications deploying to matching destinations, as Argo CD's
/// `destinationServiceAccounts[]`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationDestinationServiceAccount {
    /// API server URL of the destination cluster (glob; `https://kubernetes.default.svc` is the
    /// controller's own).
    #[serde(default)]
    pub server: String,
    /// Destination namespace (glob); empty matches any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The ServiceAccount: `name` (in the destination namespace) or `namespace:name`.
    pub default_service_account: String,
}

/// A recurring time window that allows or denies syncs of the Applications it matches, as one of
/// Argo CD's `syncWindows[]`. It matches an Application when any of `applications`, `namespaces` or
/// `clusters` does.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncWindow {
    /// `allow`: matching Applications sync only while some such window is open; `deny`: they do not
    /// sync while it is open.
    pub kind: SyncWindowKind,
    /// When the window opens: a five-field cron expression (minute hour day-of-month month
    /// day-of-week), read in `timeZone`.
    pub schedule: String,
    /// How long the window stays open after each opening, such as `1h`, `30m` or `1h30m`.
    pub duration: String,
    /// Application names (globs, `*` matches anything) the window applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub applications: Vec<String>,
    /// Destination namespaces (globs) whose Applications the window applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Destination clusters (globs over the cluster's name or server URL) whose Applications the
    /// window applies to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<String>,
    /// Let manual syncs (`lockstep sync`, the sync-request annotation) through where this window
    /// would block them; automated syncs stay blocked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manual_sync: bool,
    /// IANA time zone the schedule is read in, such as `Europe/Zurich`; UTC when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
}

/// Whether a sync window allows or denies syncs while it is open (Argo CD's values).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SyncWindowKind {
    /// Syncs happen only while an allow window is open.
    Allow,
    /// No sync happens while the window is open.
    Deny,
}
