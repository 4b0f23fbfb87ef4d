//! The inventory: every object an Application manages, the list prune works from.
//!
//! Objects are grouped by API group, version, kind and namespace, so each costs only its name in
//! the status: 30,000 ConfigMaps take about 330 KB, where one entry per object took 1.7 MB and broke
//! the 1.5 MiB object limit at about 26,000.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The objects an Application manages, grouped (see the module docs and docs/sync.md).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Inventory {
    /// One group per (group, version, kind, namespace), sorted, each with its sorted names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<InventoryGroup>,
    /// The earlier form, one entry per object: still read, so an upgrade prunes what it lists,
    /// and never written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<InventoryEntry>,
}

impl Inventory {
    /// How many objects the inventory lists, in either form.
    pub fn len(&self) -> usize {
        self.groups.iter().map(|g| g.names.len()).sum::<usize>() + self.entries.len()
    }

    /// Whether it lists no object.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Objects of one kind in one namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InventoryGroup {
    /// API group; absent for the core group.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// API version the objects were applied with.
    pub version: String,
    /// Kind of the objects.
    pub kind: String,
    /// Namespace; absent for cluster-scoped objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Names of the objects, sorted.
    pub names: Vec<String>,
}

/// One managed object in the earlier form: `<namespace>_<name>_<group>_<kind>` and its API version.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema)]
pub struct InventoryEntry {
    /// `<namespace>_<name>_<group>_<kind>`; namespace and group empty where absent.
    pub id: String,
    /// API version the object was applied with.
    pub v: String,
}
