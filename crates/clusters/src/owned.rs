//! Which managed objects each Application's tracking id is on, as the managed-object watches see
//! them. Prune works from the inventory in status; this index finds what the inventory lost (a
//! status written by an older version, restored from a backup, or edited by hand), so such orphans
//! are pruned or reported like any object that left git, as Argo CD finds resources by tracking.
//! It also holds each watched object's `resourceVersion`, so the engine reads again only what changed
//! since it was found in sync, and for kinds whose health reads status, what
//! [`lockstep_engine::watched`] keeps (status, generation, metadata digest), so a change of status
//! alone is answered without a read.

use std::collections::HashMap;

use lockstep_engine::tracking::{AppRef, owner_of};
use lockstep_engine::{ResourceKey, WatchedState, WatchedStatus};

/// A watched kind: group, version, kind.
pub type KindId = (String, String, String);

/// One object of a watched kind: namespace and name.
type ObjectName = (Option<String>, String);

/// Owner and version of every watched object, per watched kind.
#[derive(Debug, Default)]
pub struct OwnedIndex {
    by_kind: HashMap<KindId, HashMap<ObjectName, Entry>>,
    /// A relisting in progress per kind: replaces the kind's entries when it completes.
    relisting: HashMap<KindId, HashMap<ObjectName, Entry>>,
}

/// What the index keeps of one watched object.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// The Application its tracking id names; `None` for hooks and untracked objects.
    owner: Option<AppRef>,
    resource_version: Option<String>,
    /// Boxed: most objects have none, and then take a pointer's room only.
    state: Option<Box<WatchedState>>,
}

/// What the watch saw of one object: its namespace, name, tracking id and whether it is a hook.
#[derive(Debug, Clone)]
pub struct Seen<'a> {
    pub namespace: Option<&'a str>,
    pub name: &'a str,
    pub tracking_id: Option<&'a str>,
    /// Hooks carry the tracking id too, but belong to a sync operation, not to the inventory.
    pub hook: bool,
    pub resource_version: Option<&'a str>,
    /// Its status and what tells a change of status alone, for kinds whose health reads status.
    pub state: Option<WatchedState>,
}

impl OwnedIndex {
    /// A listing of `kind` starts.
    pub fn relist_started(&mut self, kind: &KindId) {
        self.relisting.insert(kind.clone(), HashMap::new());
    }

    /// A listing of `kind` is complete: it is now the truth for that kind.
    pub fn relist_done(&mut self, kind: &KindId) {
        let listed = self.relisting.remove(kind).unwrap_or_default();
        self.by_kind.insert(kind.clone(), listed);
    }

    /// An object of `kind` exists as `seen` (during a listing or after a change).
    pub fn applied(&mut self, kind: &KindId, seen: Seen<'_>, listing: bool) {
        let map = if listing {
            self.relisting.entry(kind.clone()).or_default()
        } else {
            self.by_kind.entry(kind.clone()).or_default()
        };
        let name = (seen.namespace.map(str::to_string), seen.name.to_string());
        let owner = seen.tracking_id.filter(|_| !seen.hook).and_then(owner_of);
        let resource_version = seen.resource_version.map(str::to_string);
        map.insert(name, Entry { owner, resource_version, state: seen.state.map(Box::new) });
    }

    /// An object of `kind` was deleted.
    pub fn deleted(&mut self, kind: &KindId, namespace: Option<&str>, name: &str) {
        if let Some(map) = self.by_kind.get_mut(kind) {
            map.remove(&(namespace.map(str::to_string), name.to_string()));
        }
    }

    /// Every object whose tracking id names `app`, of the kinds watched.
    pub fn owned_by(&self, app: &AppRef) -> Vec<ResourceKey> {
        let mut keys: Vec<ResourceKey> = self
            .by_kind
            .iter()
            .flat_map(|((group, version, kind), objects)| {
                objects.iter().filter(|(_, entry)| entry.owner.as_ref() == Some(app)).map(|((namespace, name), _)| {
                    ResourceKey {
                        group: group.clone(),
                        version: version.clone(),
                        kind: kind.clone(),
                        namespace: namespace.clone(),
                        name: name.clone(),
                    }
                })
            })
            .collect();
        keys.sort_by(|a, b| (&a.kind, &a.namespace, &a.name).cmp(&(&b.kind, &b.namespace, &b.name)));
        keys
    }

    /// The `resourceVersion` the watch of `kind` last saw of the object, if it saw it.
    pub fn resource_version(&self, kind: &KindId, namespace: Option<&str>, name: &str) -> Option<String> {
        let objects = self.by_kind.get(kind)?;
        objects.get(&(namespace.map(str::to_string), name.to_string()))?.resource_version.clone()
    }

    /// The version and state the watch of `kind` last saw of the object, if it keeps its status.
    pub fn status(&self, kind: &KindId, namespace: Option<&str>, name: &str) -> Option<WatchedStatus> {
        let entry = self.by_kind.get(kind)?.get(&(namespace.map(str::to_string), name.to_string()))?;
        let state = entry.state.as_deref()?.clone();
        Some(WatchedStatus { resource_version: entry.resource_version.clone()?, state })
    }

    /// Whether the listing of `kind` is complete and holds no object of that name.
    pub fn absent(&self, kind: &KindId, namespace: Option<&str>, name: &str) -> bool {
        let objects = self.by_kind.get(kind);
        objects.is_some_and(|objects| !objects.contains_key(&(namespace.map(str::to_string), name.to_string())))
    }

    /// Drops a kind no Application uses any more.
    pub fn forget_kind(&mut self, kind: &KindId) {
        self.by_kind.remove(kind);
        self.relisting.remove(kind);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm() -> KindId {
        (String::new(), "v1".into(), "ConfigMap".into())
    }

    fn seen<'a>(name: &'a str, tracking_id: Option<&'a str>, hook: bool) -> Seen<'a> {
        Seen { namespace: Some("team"), name, tracking_id, hook, resource_version: Some("1"), state: None }
    }

    fn names(index: &OwnedIndex, app: &AppRef) -> Vec<String> {
        index.owned_by(app).into_iter().map(|k| k.name).collect()
    }

    #[test]
    fn objects_are_indexed_by_their_tracking_owner_and_hooks_are_not() {
        let web = AppRef { namespace: "apps".into(), name: "web".into() };
        let mut index = OwnedIndex::default();
        index.applied(&cm(), seen("a", Some("apps/web:/ConfigMap:team/a"), false), false);
        index.applied(&cm(), seen("b", Some("apps/other:/ConfigMap:team/b"), false), false);
        index.applied(&cm(), seen("hook", Some("apps/web:/ConfigMap:team/hook"), true), false);
        index.applied(&cm(), seen("untracked", None, false), false);
        assert_eq!(names(&index, &web), ["a"]);
        index.applied(&cm(), seen("b", Some("apps/web:/ConfigMap:team/b"), false), false);
        assert_eq!(names(&index, &web), ["a", "b"], "taken over");
        index.deleted(&cm(), Some("team"), "a");
        assert_eq!(names(&index, &web), ["b"]);
        index.applied(&cm(), seen("b", None, false), false);
        assert!(names(&index, &web).is_empty(), "tracking removed");
    }

    #[test]
    fn a_relisting_replaces_what_it_does_not_list() {
        let web = AppRef { namespace: "apps".into(), name: "web".into() };
        let mut index = OwnedIndex::default();
        index.applied(&cm(), seen("gone-while-away", Some("apps/web:/ConfigMap:team/gone-while-away"), false), false);
        index.relist_started(&cm());
        index.applied(&cm(), seen("still", Some("apps/web:/ConfigMap:team/still"), false), true);
        assert_eq!(names(&index, &web), ["gone-while-away"], "the old truth holds until the listing is done");
        index.relist_done(&cm());
        assert_eq!(names(&index, &web), ["still"]);
        index.forget_kind(&cm());
        assert!(names(&index, &web).is_empty());
    }

    #[test]
    fn every_watched_object_has_its_last_seen_version() {
        let mut index = OwnedIndex::default();
        let at = |name, version| Seen { resource_version: Some(version), ..seen(name, None, false) };
        index.applied(&cm(), at("untracked", "4"), false);
        index.applied(&cm(), Seen { hook: true, ..at("hook", "5") }, false);
        assert_eq!(index.resource_version(&cm(), Some("team"), "untracked").as_deref(), Some("4"));
        assert_eq!(index.resource_version(&cm(), Some("team"), "hook").as_deref(), Some("5"));
        index.applied(&cm(), at("untracked", "6"), false);
        assert_eq!(index.resource_version(&cm(), Some("team"), "untracked").as_deref(), Some("6"));
        assert_eq!(index.resource_version(&cm(), Some("other"), "untracked"), None);
        index.relist_started(&cm());
        index.applied(&cm(), at("untracked", "9"), true);
        assert_eq!(index.resource_version(&cm(), Some("team"), "untracked").as_deref(), Some("6"));
        index.relist_done(&cm());
        assert_eq!(index.resource_version(&cm(), Some("team"), "untracked").as_deref(), Some("9"));
        assert_eq!(index.resource_version(&cm(), Some("team"), "hook"), None, "not listed again: gone");
        index.deleted(&cm(), Some("team"), "untracked");
        assert_eq!(index.resource_version(&cm(), Some("team"), "untracked"), None);
    }

    #[test]
    fn the_status_of_kinds_that_keep_it_comes_with_the_last_seen_version() {
        let deploy: KindId = ("apps".into(), "v1".into(), "Deployment".into());
        let metadata = |generation: i64| serde_json::json!({"uid": "u1", "generation": generation});
        let state = |generation, ready: i64| {
            WatchedState::of(&metadata(generation), Some(&serde_json::json!({"readyReplicas": ready})))
        };
        let mut index = OwnedIndex::default();
        index.applied(
            &deploy,
            Seen { resource_version: Some("4"), state: state(1, 0), ..seen("web", None, false) },
            false,
        );
        index.applied(&cm(), seen("config", None, false), false);
        assert_eq!(index.status(&cm(), Some("team"), "config"), None, "a kind without status keeps none");
        let web = index.status(&deploy, Some("team"), "web").expect("kept");
        assert_eq!((web.resource_version.as_str(), Some(web.state)), ("4", state(1, 0)));
        index.applied(
            &deploy,
            Seen { resource_version: Some("5"), state: state(1, 1), ..seen("web", None, false) },
            false,
        );
        let web = index.status(&deploy, Some("team"), "web").expect("kept");
        assert_eq!((web.resource_version.as_str(), Some(web.state)), ("5", state(1, 1)));
        index.deleted(&deploy, Some("team"), "web");
        assert_eq!(index.status(&deploy, Some("team"), "web"), None);
    }

    #[test]
    fn an_object_is_absent_only_once_its_kinds_listing_is_complete_and_lacks_it() {
        let mut index = OwnedIndex::default();
        assert!(!index.absent(&cm(), Some("team"), "a"), "never listed: unknown, read it");
        index.relist_started(&cm());
        assert!(!index.absent(&cm(), Some("team"), "a"), "listing: unknown");
        index.applied(&cm(), seen("a", Some("apps/other:/ConfigMap:team/a"), false), true);
        index.relist_done(&cm());
        assert!(!index.absent(&cm(), Some("team"), "a"), "another Application's object is present");
        assert!(index.absent(&cm(), Some("team"), "b"));
        assert!(index.absent(&cm(), Some("other"), "a"), "same name, other namespace");
        index.applied(&cm(), seen("b", None, false), false);
        assert!(!index.absent(&cm(), Some("team"), "b"), "seen after the listing");
        index.deleted(&cm(), Some("team"), "a");
        assert!(index.absent(&cm(), Some("team"), "a"), "deleted");
        index.forget_kind(&cm());
        assert!(!index.absent(&cm(), Some("team"), "b"), "no longer watched: unknown");
    }
}
