//! The inventory: which objects an Application manages, and which of them left git. Pure.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use lockstep_api::{Inventory, InventoryEntry, InventoryGroup};

use crate::key::ResourceKey;

/// Every object `inventory` lists, in either form; malformed legacy entries are skipped.
pub fn keys(inventory: &Inventory) -> impl Iterator<Item = ResourceKey> + '_ {
    let grouped = inventory.groups.iter().flat_map(|g| {
        g.names.iter().map(move |name| ResourceKey {
            group: g.group.clone(),
            version: g.version.clone(),
            kind: g.kind.clone(),
            namespace: g.namespace.clone(),
            name: name.clone(),
        })
    });
    grouped.chain(inventory.entries.iter().filter_map(legacy_key))
}

/// The object a legacy (one entry per object) inventory entry names; `None` for a malformed entry.
fn legacy_key(entry: &InventoryEntry) -> Option<ResourceKey> {
    // Namespaces, names, groups and kinds never contain `_`, so the id splits unambiguously.
    let mut parts = entry.id.splitn(4, '_');
    let (namespace, name, group, kind) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if name.is_empty() || kind.is_empty() || entry.v.is_empty() {
        return None;
    }
    Some(ResourceKey {
        group: group.into(),
        version: entry.v.clone(),
        kind: kind.into(),
        namespace: (!namespace.is_empty()).then(|| namespace.into()),
        name: name.into(),
    })
}

/// A grouped inventory of `keys`, sorted so it only changes when the set does.
pub fn of(keys: impl IntoIterator<Item = ResourceKey>) -> Inventory {
    let mut grouped: BTreeMap<(String, String, String, Option<String>), BTreeSet<String>> = BTreeMap::new();
    for key in keys {
        grouped.entry((key.group, key.version, key.kind, key.namespace)).or_default().insert(key.name);
    }
    let groups = grouped
        .into_iter()
        .map(|((group, version, kind, namespace), names)| InventoryGroup {
            group,
            version,
            kind,
            namespace,
            names: names.into_iter().collect(),
        })
        .collect();
    Inventory { groups, entries: Vec::new() }
}

/// Objects in `previous` that are no longer rendered, in reverse apply order (the order to delete in).
/// Identity ignores the API version, so moving `v1beta1` → `v1` in git is not a removal.
pub fn stale(previous: Option<&Inventory>, rendered: &[ResourceKey]) -> Vec<ResourceKey> {
    let identity = |k: &ResourceKey| (k.group.clone(), k.kind.clone(), k.namespace.clone(), k.name.clone());
    let current: HashSet<_> = rendered.iter().map(identity).collect();
    let mut stale: Vec<ResourceKey> =
        previous.map(|inv| keys(inv).filter(|k| !current.contains(&identity(k))).collect()).unwrap_or_default();
    stale.sort_by_key(|k| std::cmp::Reverse((crate::order::stage(&k.kind), crate::order::kind_rank(&k.kind))));
    stale
}

/// The previous inventory plus objects `found` carrying this Application's tracking id outside it
/// (see the controller's owned-object index), so that they are pruned like anything that left git.
pub fn with_found(previous: Option<&Inventory>, found: Vec<ResourceKey>) -> Option<Inventory> {
    if found.is_empty() {
        return previous.cloned();
    }
    let listed = previous.map(|inv| keys(inv).collect::<Vec<_>>()).unwrap_or_default();
    Some(of(listed.into_iter().chain(found)))
}

/// The inventory after a sync: every object whose live copy carries this Application's tracking id,
/// plus every object of the `previous` inventory not known to be gone: one that still awaits its
/// prune, or one that could not be read. An object leaves the inventory only once its deletion is
/// confirmed (or it is no longer ours), so no failure or crash can leave an object nothing prunes.
pub fn managed(
    result: &crate::plan::SyncResult,
    app: &crate::tracking::AppRef,
    previous: Option<&Inventory>,
) -> Inventory {
    let identity = |k: &ResourceKey| (k.group.clone(), k.kind.clone(), k.namespace.clone(), k.name.clone());
    let listed: HashSet<_> = previous.map(|inv| keys(inv).map(|k| identity(&k)).collect()).unwrap_or_default();
    of(result
        .resources
        .iter()
        .filter(|r| {
            let ours =
                r.live.as_ref().and_then(crate::tracking::tracking_id_of) == Some(app.tracking_id(&r.key).as_str());
            let unread = r.live.is_none() && r.error.is_some() && listed.contains(&identity(&r.key));
            ours || r.requires_pruning || unread
        })
        .map(|r| r.key.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ObjectError;

    fn k(group: &str, version: &str, kind: &str, ns: Option<&str>, name: &str) -> ResourceKey {
        ResourceKey {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            namespace: ns.map(String::from),
            name: name.into(),
        }
    }

    #[test]
    fn objects_leave_the_inventory_only_when_known_gone() {
        use crate::plan::{Observation, ResourceResult, SyncResult};
        use crate::tracking::{AppRef, TRACKING_ANNOTATION};
        let app = AppRef { namespace: "team".into(), name: "web".into() };
        let cm = |name: &str| k("", "v1", "ConfigMap", Some("team"), name);
        let live = |key: &ResourceKey, id: String| serde_json::json!({"metadata": {"name": key.name, "annotations": {TRACKING_ANNOTATION: id}}});
        let previous = of([cm("kept"), cm("unread"), cm("awaiting"), cm("unreachable"), cm("deleted"), cm("foreign")]);
        let result = SyncResult {
            resources: vec![
                ResourceResult::observed(
                    cm("kept"),
                    Observation::InSync { live: live(&cm("kept"), app.tracking_id(&cm("kept"))) },
                ),
                ResourceResult::observed(cm("unread"), Observation::Rejected(ObjectError::refused("connection reset"))),
                ResourceResult::observed(
                    cm("new-but-rejected"),
                    Observation::Rejected(ObjectError::refused("invalid")),
                ),
                ResourceResult::awaiting_prune(
                    cm("awaiting"),
                    live(&cm("awaiting"), app.tracking_id(&cm("awaiting"))),
                    None,
                ),
                ResourceResult::prune_unconfirmed(cm("unreachable"), ObjectError::refused("discovery failed")),
                ResourceResult::pruned(cm("deleted")),
                ResourceResult::observed(
                    cm("foreign"),
                    Observation::InSync { live: live(&cm("foreign"), "other:x".into()) },
                ),
            ],
            ..Default::default()
        };
        let names: Vec<String> = keys(&managed(&result, &app, Some(&previous))).map(|k| k.name).collect();
        assert_eq!(names, ["awaiting", "kept", "unreachable", "unread"]);
    }

    #[test]
    fn found_objects_join_the_inventory() {
        let cm = |name: &str| k("", "v1", "ConfigMap", Some("team"), name);
        assert_eq!(with_found(None, vec![]), None);
        let previous = of([cm("a")]);
        assert_eq!(with_found(Some(&previous), vec![]), Some(previous.clone()));
        let joined = with_found(Some(&previous), vec![cm("b"), cm("a")]).unwrap();
        assert_eq!(joined, of([cm("a"), cm("b")]));
        assert_eq!(stale(Some(&joined), &[cm("a")]), vec![cm("b")], "an orphan is stale like anything that left git");
    }

    #[test]
    fn objects_are_grouped_by_kind_and_namespace_and_read_back() {
        let keys_ = [
            k("apps", "v1", "Deployment", Some("prod"), "web"),
            k("", "v1", "Namespace", None, "prod"),
            k("", "v1", "ConfigMap", Some("prod"), "b"),
            k("", "v1", "ConfigMap", Some("prod"), "a"),
            k("", "v1", "ConfigMap", Some("dev"), "a"),
            k("", "v1", "ConfigMap", Some("prod"), "a"),
        ];
        let inventory = of(keys_.clone());
        assert_eq!(inventory.len(), 5, "duplicates collapse");
        let shape: Vec<(&str, &str, Option<&str>, Vec<&str>)> = inventory
            .groups
            .iter()
            .map(|g| {
                (
                    g.group.as_str(),
                    g.kind.as_str(),
                    g.namespace.as_deref(),
                    g.names.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                ("", "ConfigMap", Some("dev"), vec!["a"]),
                ("", "ConfigMap", Some("prod"), vec!["a", "b"]),
                ("", "Namespace", None, vec!["prod"]),
                ("apps", "Deployment", Some("prod"), vec!["web"]),
            ]
        );
        let mut back: Vec<ResourceKey> = keys(&inventory).collect();
        back.sort_by_key(|k| (k.group.clone(), k.kind.clone(), k.namespace.clone(), k.name.clone()));
        let mut expected = keys_.to_vec();
        expected.sort_by_key(|k| (k.group.clone(), k.kind.clone(), k.namespace.clone(), k.name.clone()));
        expected.dedup();
        assert_eq!(back, expected);
        let json = serde_json::to_value(&inventory).unwrap();
        assert_eq!(
            json["groups"][2],
            serde_json::json!({"version": "v1", "kind": "Namespace", "names": ["prod"]}),
            "the core group and a cluster scope are left out"
        );
        assert!(json.get("entries").is_none(), "the legacy form is never written");
    }

    #[test]
    fn the_legacy_form_is_still_read() {
        let legacy = |id: &str, v: &str| InventoryEntry { id: id.into(), v: v.into() };
        let inventory = Inventory {
            groups: vec![],
            entries: vec![
                legacy("ns_a__ConfigMap", "v1"),
                legacy("_prod__Namespace", "v1"),
                legacy("prod_web_apps_Deployment", "v1"),
                legacy("garbage", "v1"),
                legacy("ns_b__ConfigMap", ""),
            ],
        };
        let read: Vec<ResourceKey> = keys(&inventory).collect();
        assert_eq!(
            read,
            [
                k("", "v1", "ConfigMap", Some("ns"), "a"),
                k("", "v1", "Namespace", None, "prod"),
                k("apps", "v1", "Deployment", Some("prod"), "web"),
            ]
        );
        assert_eq!(stale(Some(&inventory), &[]).len(), 3, "an upgrade prunes what the old form lists");
        assert_eq!(of(read).entries, vec![], "rewritten grouped");
    }

    #[test]
    fn stale_objects_come_in_reverse_apply_order_and_ignore_version_moves() {
        let previous = of([
            k("", "v1", "Namespace", None, "old"),
            k("apps", "v1", "Deployment", Some("old"), "web"),
            k("", "v1", "ConfigMap", Some("old"), "cfg"),
            k("autoscaling", "v2beta2", "HorizontalPodAutoscaler", Some("ns"), "kept"),
        ]);
        let rendered = vec![k("autoscaling", "v2", "HorizontalPodAutoscaler", Some("ns"), "kept")];
        let names: Vec<_> = stale(Some(&previous), &rendered).into_iter().map(|k| k.kind).collect();
        assert_eq!(names, vec!["Deployment", "ConfigMap", "Namespace"]);
        assert!(stale(None, &rendered).is_empty());
    }
}
