//! Objects found in sync, remembered with the state they were in, so that an object nobody changed
//! since is not compared again by a server-side dry-run, nor read again while the managed-object
//! watch reports the version it was read at.
//!
//! Every reconcile reads each managed object; without this, it also asked the server for a dry-run
//! apply of each one, the largest part of an idle controller's API traffic (the periodic resync)
//! and of a cold start's (each status change a controller makes to a new Deployment or Ingress
//! triggers a reconcile). An object's spec can only change with its `generation` (for kinds that
//! have one: the API server bumps it on every change outside status and metadata); its metadata is
//! compared whole, and kinds without a generation count any change of `resourceVersion`. A change
//! to git's object or to the ignore rules makes a new fingerprint too.
//!
//! The live copy kept with each fingerprint (compact JSON without `managedFields`) answers a pass
//! whose watch still reports the same `resourceVersion`: any change at all, status included, gives
//! a new one, so health is assessed from the same object a read would have returned.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use serde_json::Value;

use crate::key::ResourceKey;
use crate::tracking::AppRef;
use crate::watched::WatchedStatus;

/// The `resourceVersion` each managed object has now, as a watch of its kind last saw it; `None`
/// when the object is not watched (yet), so it is read.
pub trait LiveVersions: Send + Sync {
    /// The current `resourceVersion` of `key`, if its kind is watched and the object was seen.
    fn resource_version(&self, key: &ResourceKey) -> Option<String>;

    /// Whether the watch of `key`'s kind has listed and holds no managed object of that name, so a
    /// sync creates it without reading it first. Objects without lockstep's managed label are not
    /// watched: an apply finds them and the executor takes kubectl's fields over afterwards.
    fn absent(&self, _key: &ResourceKey) -> bool {
        false
    }

    /// What the watch of `key`'s kind last saw of its generation, metadata and status, for kinds
    /// whose health reads status ([`crate::watched::carries_status`]); `None` when not kept.
    fn status(&self, _key: &ResourceKey) -> Option<WatchedStatus> {
        None
    }
}

/// What was in sync: git's object (with the rules it was compared under) and the live state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Fingerprint {
    desired: u64,
    live: LiveState,
}

/// The part of a live object that changes whenever a dry-run apply could answer differently.
#[derive(Clone, Debug, PartialEq, Eq)]
enum LiveState {
    /// A kind with a generation: spec changes bump it; metadata is hashed apart.
    Generation { uid: String, generation: i64, metadata: u64 },
    /// A kind without one: any change at all.
    Version { uid: String, resource_version: String },
}

/// One object found in sync: its fingerprint and the live copy it was taken from.
#[derive(Debug)]
struct InSync {
    fingerprint: Fingerprint,
    resource_version: String,
    /// The live object as read, without `managedFields`, as compact JSON (a third of a parsed
    /// value's memory).
    live: Box<str>,
}

/// Fingerprints of the objects each Application last found in sync, per engine (one per cluster
/// and identity), kept in memory only: after a restart every object is compared once again. An
/// entry is the object's compact JSON (about 1–2 KiB for a Deployment), replaced on each comparison.
#[derive(Default)]
pub(crate) struct Verified {
    apps: Mutex<HashMap<AppRef, HashMap<ResourceKey, InSync>>>,
}

impl Verified {
    /// Whether `live` is still in the state it was in when found in sync with `desired`.
    pub fn holds(&self, app: &AppRef, key: &ResourceKey, desired: u64, git: &Value, live: &Value) -> bool {
        let Some(now) = fingerprint(desired, git, live) else { return false };
        let apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        apps.get(app).and_then(|objects| objects.get(key)).is_some_and(|entry| entry.fingerprint == now)
    }

    /// The live copy of `key` found in sync with `desired`, if the object is still at
    /// `resource_version` (the watch's): then it is unchanged, and in sync, without a read.
    pub fn unchanged(&self, app: &AppRef, key: &ResourceKey, desired: u64, resource_version: &str) -> Option<Value> {
        let apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        let entry = apps.get(app)?.get(key)?;
        if entry.fingerprint.desired != desired || entry.resource_version != resource_version {
            return None;
        }
        serde_json::from_str(&entry.live).ok()
    }

    /// The live copy of `key` last found in sync with `desired`, at whatever version it was read.
    pub fn remembered(&self, app: &AppRef, key: &ResourceKey, desired: u64) -> Option<Value> {
        let apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        let entry = apps.get(app)?.get(key)?;
        if entry.fingerprint.desired != desired {
            return None;
        }
        serde_json::from_str(&entry.live).ok()
    }

    /// Remembers that `live` is in sync with `desired`, the hash of `git`'s object (compared, or
    /// just written).
    pub fn record(&self, app: &AppRef, key: &ResourceKey, desired: u64, git: &Value, live: &Value) {
        let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        match in_sync(desired, git, live) {
            Some(entry) => {
                apps.entry(app.clone()).or_default().insert(key.clone(), entry);
            }
            None => {
                if let Some(objects) = apps.get_mut(app) {
                    objects.remove(key);
                }
            }
        }
    }

    /// Whether anything is remembered of `key` for `app` (found in sync or written by this engine).
    pub fn knows(&self, app: &AppRef, key: &ResourceKey) -> bool {
        let apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        apps.get(app).is_some_and(|objects| objects.contains_key(key))
    }

    /// Forgets what was found about `key` (it drifted, or could not be compared).
    pub fn forget(&self, app: &AppRef, key: &ResourceKey) {
        let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(objects) = apps.get_mut(app) {
            objects.remove(key);
        }
    }

    /// Keeps only what `app` still manages, so objects that left git are not remembered.
    pub fn retain<'a>(&self, app: &AppRef, managed: impl IntoIterator<Item = &'a ResourceKey>) {
        let managed: std::collections::HashSet<&ResourceKey> = managed.into_iter().collect();
        let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(objects) = apps.get_mut(app) {
            objects.retain(|key, _| managed.contains(key));
            if objects.is_empty() {
                apps.remove(app);
            }
        }
    }

    /// Forgets everything about an Application that is gone.
    pub fn forget_app(&self, app: &AppRef) {
        self.apps.lock().unwrap_or_else(|p| p.into_inner()).remove(app);
    }
}

/// Hash of git's object together with the rules it is compared under.
pub(crate) fn desired_hash(object: &Value, rules: &impl serde::Serialize) -> u64 {
    let mut hasher = DefaultHasher::new();
    object.to_string().hash(&mut hasher);
    serde_json::to_string(rules).unwrap_or_default().hash(&mut hasher);
    hasher.finish()
}

/// The entry remembering `live` as in sync with `desired`; `None` when it has no fingerprint.
fn in_sync(desired: u64, git: &Value, live: &Value) -> Option<InSync> {
    let fingerprint = fingerprint(desired, git, live)?;
    let resource_version = live.pointer("/metadata/resourceVersion")?.as_str()?.to_owned();
    let mut copy = live.clone();
    if let Some(metadata) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
    Some(InSync { fingerprint, resource_version, live: copy.to_string().into_boxed_str() })
}

/// The fingerprint of `live` compared with `desired` (the hash of `git`'s object); `None` for an
/// object without identity or one being deleted (always compared). Of the labels and annotations,
/// only those git's object sets count: others' (a Deployment's `deployment.kubernetes.io/revision`)
/// cannot make the live object differ from git's, since an apply leaves them alone.
fn fingerprint(desired: u64, git: &Value, live: &Value) -> Option<Fingerprint> {
    let metadata = live.get("metadata")?.as_object()?;
    if metadata.contains_key("deletionTimestamp") {
        return None;
    }
    let uid = metadata.get("uid")?.as_str()?.to_owned();
    let generation = metadata.get("generation").and_then(Value::as_i64).filter(|g| *g > 0);
    let live = match generation {
        Some(generation) => {
            let mut hasher = DefaultHasher::new();
            for (field, value) in metadata {
                match field.as_str() {
                    "resourceVersion" | "managedFields" | "generation" => {}
                    "labels" | "annotations" => {
                        let gits = git.get("metadata").and_then(|m| m.get(field)).and_then(Value::as_object);
                        for (name, value) in value.as_object().into_iter().flatten() {
                            if gits.is_some_and(|gits| gits.contains_key(name)) {
                                field.hash(&mut hasher);
                                name.hash(&mut hasher);
                                value.to_string().hash(&mut hasher);
                            }
                        }
                    }
                    _ => {
                        field.hash(&mut hasher);
                        value.to_string().hash(&mut hasher);
                    }
                }
            }
            LiveState::Generation { uid, generation, metadata: hasher.finish() }
        }
        None => {
            let resource_version = metadata.get("resourceVersion")?.as_str()?.to_owned();
            LiveState::Version { uid, resource_version }
        }
    };
    Some(Fingerprint { desired, live })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn app() -> AppRef {
        AppRef { namespace: "team".into(), name: "web".into() }
    }

    fn key() -> ResourceKey {
        ResourceKey {
            group: "apps".into(),
            version: "v1".into(),
            kind: "Deployment".into(),
            namespace: Some("team".into()),
            name: "web".into(),
        }
    }

    /// Git's object: it sets the label `a` (and the annotation `mine`).
    fn git() -> Value {
        json!({"metadata": {"labels": {"a": "x"}, "annotations": {"mine": "x"}}, "spec": {"replicas": 0}})
    }

    fn deployment(generation: i64, resource_version: &str, labels: Value) -> Value {
        json!({"metadata": {"uid": "u1", "generation": generation, "resourceVersion": resource_version,
            "labels": labels, "managedFields": [{"manager": resource_version}]},
            "status": {"observedGeneration": generation, "rv": resource_version}})
    }

    #[test]
    fn status_changes_keep_the_fingerprint_spec_and_metadata_changes_do_not() {
        let verified = Verified::default();
        let desired = desired_hash(&json!({"spec": {"replicas": 0}}), &Vec::<String>::new());
        verified.record(&app(), &key(), desired, &git(), &deployment(1, "10", json!({"a": "b"})));
        assert!(verified.holds(&app(), &key(), desired, &git(), &deployment(1, "11", json!({"a": "b"}))));
        assert!(!verified.holds(&app(), &key(), desired, &git(), &deployment(2, "12", json!({"a": "b"}))));
        assert!(!verified.holds(&app(), &key(), desired, &git(), &deployment(1, "12", json!({"a": "c"}))));
        let changed_in_git = desired_hash(&json!({"spec": {"replicas": 1}}), &Vec::<String>::new());
        assert!(!verified.holds(&app(), &key(), changed_in_git, &git(), &deployment(1, "11", json!({"a": "b"}))));
        let other_rules = desired_hash(&json!({"spec": {"replicas": 0}}), &vec!["/spec/replicas"]);
        assert!(!verified.holds(&app(), &key(), other_rules, &git(), &deployment(1, "11", json!({"a": "b"}))));
    }

    #[test]
    fn the_live_copy_answers_only_at_the_same_version_and_desired_state() {
        let verified = Verified::default();
        let live = deployment(1, "10", json!({"a": "b"}));
        verified.record(&app(), &key(), 3, &git(), &live);
        let copy = verified.unchanged(&app(), &key(), 3, "10").expect("unchanged");
        assert_eq!(copy["status"], live["status"]);
        assert!(copy["metadata"].get("managedFields").is_none(), "managedFields are not kept");
        assert_eq!(verified.unchanged(&app(), &key(), 3, "11"), None, "any change gives a new version");
        assert_eq!(verified.unchanged(&app(), &key(), 4, "10"), None, "git changed");
        verified.forget(&app(), &key());
        assert_eq!(verified.unchanged(&app(), &key(), 3, "10"), None);
    }

    #[test]
    fn kinds_without_generation_count_every_change() {
        let verified = Verified::default();
        let config_map = |rv: &str| json!({"metadata": {"uid": "u2", "resourceVersion": rv}, "data": {}});
        verified.record(&app(), &key(), 7, &git(), &config_map("5"));
        assert!(verified.holds(&app(), &key(), 7, &git(), &config_map("5")));
        assert!(!verified.holds(&app(), &key(), 7, &git(), &config_map("6")));
    }

    #[test]
    fn recreated_deleting_and_forgotten_objects_are_compared_again() {
        let verified = Verified::default();
        let live = deployment(1, "10", json!({}));
        verified.record(&app(), &key(), 1, &git(), &live);
        let mut recreated = live.clone();
        recreated["metadata"]["uid"] = json!("u9");
        assert!(!verified.holds(&app(), &key(), 1, &git(), &recreated));
        let mut deleting = live.clone();
        deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        assert!(!verified.holds(&app(), &key(), 1, &git(), &deleting));
        let other_app = AppRef { namespace: "team".into(), name: "api".into() };
        assert!(!verified.holds(&other_app, &key(), 1, &git(), &live));
        verified.forget(&app(), &key());
        assert!(!verified.holds(&app(), &key(), 1, &git(), &live));
    }

    #[test]
    fn objects_that_left_git_and_applications_that_are_gone_are_forgotten() {
        let verified = Verified::default();
        let live = deployment(1, "10", json!({}));
        let other = ResourceKey { name: "other".into(), ..key() };
        verified.record(&app(), &key(), 1, &git(), &live);
        verified.record(&app(), &other, 1, &git(), &live);
        verified.retain(&app(), [&key()]);
        assert!(verified.holds(&app(), &key(), 1, &git(), &live));
        assert!(!verified.holds(&app(), &other, 1, &git(), &live));
        verified.forget_app(&app());
        assert!(!verified.holds(&app(), &key(), 1, &git(), &live));
        assert!(verified.apps.lock().unwrap().is_empty());
    }

    #[test]
    fn labels_and_annotations_git_does_not_set_are_not_part_of_the_fingerprint() {
        let verified = Verified::default();
        let live = deployment(1, "10", json!({"a": "b"}));
        verified.record(&app(), &key(), 1, &git(), &live);
        let mut revised = deployment(1, "11", json!({"a": "b", "pod-template-hash": "5d4"}));
        revised["metadata"]["annotations"] = json!({"deployment.kubernetes.io/revision": "1"});
        assert!(verified.holds(&app(), &key(), 1, &git(), &revised), "the Deployment controller's marks");
        revised["metadata"]["annotations"]["mine"] = json!("edited");
        assert!(!verified.holds(&app(), &key(), 1, &git(), &revised), "an annotation git sets changed");
        let mut owned = deployment(1, "12", json!({"a": "b"}));
        owned["metadata"]["ownerReferences"] = json!([{"uid": "o1"}]);
        assert!(!verified.holds(&app(), &key(), 1, &git(), &owned), "other metadata counts whole");
    }
}
