//! What a managed-object watch keeps of an object whose health reads its status, so that a change
//! of status alone (a Deployment's controller reporting progress, an Ingress given an address) is
//! answered from the watch instead of by reading the object again.
//!
//! Per object only its `status` (compact JSON), its `generation` and a digest of its metadata are
//! kept, never the whole object: the rest comes from the live copy [`crate::verified`] remembers of
//! the object found in sync. The watch's copy answers only when it tells the object is in the state
//! the remembered copy was found in sync in (same generation, same metadata as far as the
//! fingerprint counts it); in any doubt the object is read as before. An answer is always
//! "in sync": the watch's copy never leads to a write or a prune.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use serde_json::{Map, Value};

/// Pure: whether health reads the status of objects of this kind (the built-in rules of the
/// `health` crate, and kstatus's conditions for custom resources), so its watch keeps status.
/// Built-in kinds without status (ConfigMaps, Secrets, RBAC...) are watched by metadata only.
pub fn carries_status(group: &str, kind: &str) -> bool {
    match group {
        "" => matches!(kind, "Service" | "PersistentVolumeClaim" | "Pod" | "ReplicationController"),
        "apps" => matches!(kind, "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet"),
        "batch" => matches!(kind, "Job" | "CronJob"),
        "networking.k8s.io" => kind == "Ingress",
        "autoscaling" => kind == "HorizontalPodAutoscaler",
        "policy" => kind == "PodDisruptionBudget",
        "apiregistration.k8s.io" => kind == "APIService",
        "apiextensions.k8s.io" => kind == "CustomResourceDefinition",
        // Other built-in groups: configuration, access and scheduling kinds, without health.
        group if group.ends_with(".k8s.io") || group.ends_with(".kubernetes.io") => false,
        _ => true,
    }
}

/// What the watch keeps of one object of a kind that [`carries_status`], at one version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchedState {
    generation: i64,
    metadata: MetadataDigest,
    /// The object's `status` as compact JSON; `None` when it has none.
    status: Option<Box<str>>,
}

/// What the watch of an object's kind saw of it last: its version and state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchedStatus {
    /// The object's `resourceVersion` when the watch saw it.
    pub resource_version: String,
    /// Its generation, metadata digest and status.
    pub state: WatchedState,
}

/// Hashes of an object's metadata: of each label and annotation (by field and name), and of the
/// rest without `resourceVersion`, `generation` and `managedFields` (the uid is part of it).
#[derive(Clone, Debug, PartialEq, Eq)]
struct MetadataDigest {
    rest: u64,
    /// `(hash of field and name, hash of value)`, sorted by the first.
    marks: Box<[(u64, u64)]>,
}

const MARKS: [&str; 2] = ["labels", "annotations"];

impl WatchedState {
    /// Pure: what to keep of an object with this `metadata` and `status`; `None` for an object the
    /// watch cannot answer for: no generation (any change may be to its spec) or being deleted.
    pub fn of(metadata: &Value, status: Option<&Value>) -> Option<Self> {
        let metadata = metadata.as_object()?;
        if metadata.get("deletionTimestamp").is_some_and(|t| !t.is_null()) {
            return None;
        }
        let generation = metadata.get("generation").and_then(Value::as_i64).filter(|g| *g > 0)?;
        let status = status.filter(|s| !s.is_null()).map(|s| s.to_string().into_boxed_str());
        Some(Self { generation, metadata: MetadataDigest::of(metadata), status })
    }

    /// The heap and inline bytes this state takes, to measure what the watches keep.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.metadata.marks.len() * std::mem::size_of::<(u64, u64)>()
            + self.status.as_ref().map_or(0, |s| s.len())
    }
}

impl MetadataDigest {
    fn of(metadata: &Map<String, Value>) -> Self {
        let mut rest = DefaultHasher::new();
        let mut marks = Vec::new();
        for (field, value) in metadata {
            match field.as_str() {
                "resourceVersion" | "generation" | "managedFields" => {}
                "labels" | "annotations" => {
                    for (name, value) in value.as_object().into_iter().flatten() {
                        marks.push((mark_name(field, name), hash_of(value)));
                    }
                }
                _ => {
                    field.hash(&mut rest);
                    value.to_string().hash(&mut rest);
                }
            }
        }
        marks.sort_unstable();
        Self { rest: rest.finish(), marks: marks.into_boxed_slice() }
    }

    /// The hash of the value of the label or annotation `name`, if the object has it.
    fn mark(&self, field: &str, name: &str) -> Option<u64> {
        let wanted = mark_name(field, name);
        let at = self.marks.binary_search_by_key(&wanted, |(name, _)| *name).ok()?;
        Some(self.marks[at].1)
    }
}

fn mark_name(field: &str, name: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    field.hash(&mut hasher);
    name.hash(&mut hasher);
    hasher.finish()
}

fn hash_of(value: &Value) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.to_string().hash(&mut hasher);
    hasher.finish()
}

/// Pure: whether the watch's state of an object says it is still as `remembered` (the live copy
/// found in sync with `git`'s object) but for its status: the same generation, the same uid and
/// other metadata, and the same values of the labels and annotations git's object sets (the
/// fingerprint [`crate::verified`] compares; others' marks, such as a Deployment's revision, do
/// not count).
pub(crate) fn answers(remembered: &Value, git: &Value, watched: &WatchedState) -> bool {
    let Some(metadata) = remembered.get("metadata").and_then(Value::as_object) else { return false };
    let Some(then) = WatchedState::of(&Value::Object(metadata.clone()), None) else { return false };
    if then.generation != watched.generation || then.metadata.rest != watched.metadata.rest {
        return false;
    }
    MARKS.iter().all(|field| {
        let gits = git.get("metadata").and_then(|m| m.get(*field)).and_then(Value::as_object);
        gits.into_iter()
            .flatten()
            .all(|(name, _)| then.metadata.mark(field, name) == watched.metadata.mark(field, name))
    })
}

/// Pure: the live object as the watch saw it at `watched.resource_version`, when [`answers`] says
/// it differs from `remembered` only in status: the remembered copy with the watch's status and
/// version. `None` when the watch cannot answer, so the object is read.
pub(crate) fn merged(remembered: Value, git: &Value, watched: &WatchedStatus) -> Option<Value> {
    if !answers(&remembered, git, &watched.state) {
        return None;
    }
    let mut live = remembered;
    let status = match &watched.state.status {
        Some(status) => Some(serde_json::from_str::<Value>(status).ok()?),
        None => None,
    };
    let object = live.as_object_mut()?;
    match status {
        Some(status) => object.insert("status".into(), status),
        None => object.remove("status"),
    };
    let metadata = object.get_mut("metadata")?.as_object_mut()?;
    metadata.insert("resourceVersion".into(), Value::String(watched.resource_version.clone()));
    Some(live)
}

#[cfg(test)]
#[path = "watched_tests.rs"]
mod tests;
