use serde_json::json;

use super::*;
use crate::generate::Generated;

fn set(policy: Option<&str>, preserve: bool, ignore: serde_json::Value) -> ApplicationSet {
    let mut spec = json!({
        "generators": [],
        "template": {
            "metadata": {"name": "{{name}}"},
            "spec": {"source": {"repoURL": "https://git/apps", "path": "{{name}}"}, "destination": {"namespace": "x"}}
        },
        "ignoreApplicationDifferences": ignore,
        "syncPolicy": {"preserveResourcesOnDeletion": preserve},
    });
    if let Some(policy) = policy {
        spec["syncPolicy"]["applicationsSync"] = json!(policy);
    }
    serde_json::from_value(json!({
        "apiVersion": "lockstep.dev/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "regions", "namespace": "ops", "uid": "set-uid"},
        "spec": spec,
    }))
    .unwrap()
}

fn desired(set: &ApplicationSet, names: &[&str]) -> Vec<Application> {
    let generated: Vec<Generated> = names
        .iter()
        .map(|n| Generated { params: json!({"name": n}).as_object().unwrap().clone(), template: None })
        .collect();
    crate::template::render_all(set, &generated).unwrap()
}

/// What the API server holds after the set wrote `names` (the plan's created Applications).
fn live(set: &ApplicationSet, names: &[&str]) -> Vec<Arc<Application>> {
    plan(set, desired(set, names), &[]).create.into_iter().map(Arc::new).collect()
}

fn names(apps: &[Application]) -> Vec<String> {
    apps.iter().map(|a| a.name_any()).collect()
}

#[test]
fn creates_what_is_missing_and_leaves_what_matches() {
    let set = set(None, false, json!([]));
    let existing = live(&set, &["a"]);
    let plan = plan(&set, desired(&set, &["a", "b"]), &existing);
    assert_eq!(names(&plan.create), ["b"]);
    assert!(plan.create[0].annotations().contains_key(TEMPLATE_HASH_ANNOTATION));
    assert_eq!((plan.update.len(), plan.delete.len(), plan.unchanged), (0, 0, 1));
}

#[test]
fn a_template_change_or_an_edit_of_a_written_field_updates_but_a_foreign_field_does_not() {
    let set = set(None, false, json!([]));
    let existing = live(&set, &["a"]);
    let mut changed = set.clone();
    changed.spec.template.spec.source.as_mut().unwrap().target_revision = Some("v2".into());
    let plan_changed = plan(&changed, desired(&changed, &["a"]), &existing);
    assert_eq!(plan_changed.update.len(), 1);
    assert_eq!(plan_changed.update[0].1, "the template's output changed");

    let mut edited = (*existing[0]).clone();
    edited.spec.source.as_mut().unwrap().path = Some("elsewhere".into());
    let plan_edited = plan(&set, desired(&set, &["a"]), &[Arc::new(edited)]);
    assert_eq!(plan_edited.update[0].1, "a field the set writes was changed");

    let mut foreign = (*existing[0]).clone();
    foreign.labels_mut().insert("team".into(), "ops".into());
    foreign.spec.revision_history_limit = Some(3);
    foreign.status = Some(Default::default());
    assert!(plan(&set, desired(&set, &["a"]), &[Arc::new(foreign)]).is_empty());
}

#[test]
fn policies_hold_updates_and_deletions() {
    let base = set(None, false, json!([]));
    let existing = live(&base, &["a", "b"]);
    let mut changed = base.clone();
    changed.spec.template.spec.source.as_mut().unwrap().target_revision = Some("v2".into());

    let sync = plan(&changed, desired(&changed, &["a"]), &existing);
    assert_eq!(sync.update.len(), 1);
    assert_eq!(sync.delete, [Deletion { name: "b".into(), strip_finalizers: false }]);

    let mut create_only = changed.clone();
    create_only.spec.sync_policy = set(Some("create-only"), false, json!([])).spec.sync_policy;
    let held = plan(&create_only, desired(&create_only, &["a"]), &existing);
    assert!(held.is_empty());
    assert_eq!(held.held_by_policy, ["a", "b"]);

    let mut create_update = changed.clone();
    create_update.spec.sync_policy = set(Some("create-update"), false, json!([])).spec.sync_policy;
    let updates = plan(&create_update, desired(&create_update, &["a"]), &existing);
    assert_eq!((updates.update.len(), updates.delete.len()), (1, 0));

    let mut create_delete = changed;
    create_delete.spec.sync_policy = set(Some("create-delete"), false, json!([])).spec.sync_policy;
    let deletes = plan(&create_delete, desired(&create_delete, &["a"]), &existing);
    assert_eq!((deletes.update.len(), deletes.delete.len()), (0, 1));
}

#[test]
fn only_owned_applications_are_touched_and_preserve_strips_finalizers_first() {
    let set_a = set(None, true, json!([]));
    let mut stranger = (*live(&set_a, &["x"])[0]).clone();
    stranger.metadata.owner_references = None;
    let mut old = (*live(&set_a, &["old"])[0]).clone();
    old.metadata.finalizers = Some(vec![lockstep_api::RESOURCES_FINALIZER.into()]);
    let plan = plan(&set_a, desired(&set_a, &[]), &[Arc::new(stranger), Arc::new(old)]);
    assert_eq!(plan.delete, [Deletion { name: "old".into(), strip_finalizers: true }]);
}

#[test]
fn ignored_differences_keep_the_live_value() {
    let set = set(None, false, json!([{"jsonPointers": ["/spec/source/targetRevision"]}]));
    let mut drifted = (*live(&set, &["a"])[0]).clone();
    drifted.spec.source.as_mut().unwrap().target_revision = Some("hotfix".into());
    let plan = plan(&set, desired(&set, &["a"]), &[Arc::new(drifted)]);
    assert!(plan.is_empty(), "{plan:?}");
    let mut changed = set.clone();
    changed.spec.template.spec.source.as_mut().unwrap().path = Some("moved".into());
    let mut drifted = (*live(&set, &["a"])[0]).clone();
    drifted.spec.source.as_mut().unwrap().target_revision = Some("hotfix".into());
    let plan = super::plan(&changed, desired(&changed, &["a"]), &[Arc::new(drifted)]);
    assert_eq!(plan.update[0].0.spec.source.as_ref().unwrap().target_revision.as_deref(), Some("hotfix"));
    assert_eq!(plan.update[0].0.spec.source.as_ref().unwrap().path.as_deref(), Some("moved"));
}
