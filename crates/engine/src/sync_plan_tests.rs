//! Every branch of the plan: what each observation, hook run and object that left git becomes.

use std::collections::HashMap;

use kube::core::GroupVersionKind;
use kube::discovery::ApiResource;
use lockstep_api::ResourceIgnoreDifferences;
use serde_json::{Value, json};

use super::*;
use crate::catalog::KindInfo;
use crate::error::Fault;
use crate::ignore::ignored_paths;
use crate::prune_plan::Found;
use crate::sync_object::Compared;

fn app() -> AppRef {
    AppRef { namespace: "argo".into(), name: "web".into() }
}

fn key(kind: &str, name: &str) -> ResourceKey {
    ResourceKey {
        version: "v1".into(),
        kind: kind.into(),
        namespace: Some("web".into()),
        name: name.into(),
        ..Default::default()
    }
}

fn config_map(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": "web", "uid": format!("u-{name}")}, "data": data})
}

fn target(name: &str) -> Target {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap"));
    Target {
        key: key("ConfigMap", name),
        object: config_map(name, json!({})),
        kind: KindInfo { resource, namespaced: true },
    }
}

fn observed(name: &str, observation: Observation) -> Observed {
    let compared = Compared::unprepared(config_map(name, json!({})), observation);
    Observed { key: key("ConfigMap", name), target: Some(target(name)), compared }
}

fn decided(observed: &Observed) -> Planned {
    plan_resource(observed).0
}

fn rules<'a>(app: &'a AppRef, prune: bool, hooks_done: &'a [HookRun]) -> PlanRules<'a> {
    PlanRules { app, prune, allow_empty: false, hooks_done }
}

#[test]
fn each_observation_of_a_rendered_object_gets_its_action() {
    let live = config_map("a", json!({"k": "1"}));
    assert_eq!(decided(&observed("a", Observation::InSync { live: live.clone() })), Planned::Unchanged);
    assert_eq!(decided(&observed("a", Observation::Drifted { live: None })), Planned::Create);
    assert_eq!(decided(&observed("a", Observation::AwaitingNamespace)), Planned::Create);
    assert_eq!(decided(&observed("a", Observation::Drifted { live: Some(live.clone()) })), Planned::Update);
    let refused = Observation::Rejected(ObjectError { fault: Fault::Refused, message: "spec.x: Invalid value".into() });
    let (action, reason) = plan_resource(&observed("a", refused));
    assert_eq!((action, reason.as_str()), (Planned::Skip, "spec.x: Invalid value"));
}

#[test]
fn a_custom_resource_whose_crd_comes_with_the_sync_is_created() {
    let mut widget = observed("w", Observation::Drifted { live: None });
    widget.target = None;
    let (action, reason) = plan_resource(&widget);
    assert_eq!(action, Planned::Create);
    assert!(reason.contains("CustomResourceDefinition"), "{reason}");
}

#[test]
fn another_applications_object_is_skipped_naming_its_owner() {
    let shared = Observation::Shared { owner: "argo/other".into(), live: config_map("a", json!({})) };
    let (action, reason) = plan_resource(&observed("a", shared));
    assert_eq!(action, Planned::Skip);
    assert_eq!(reason, "already managed by Application argo/other");
}

#[test]
fn kubectls_client_side_apply_is_taken_over_even_when_nothing_else_differs() {
    let live = config_map("a", json!({}));
    let in_sync_but_kubectls = Observation::of_dry_run(Some(live.clone()), Some(&live), &[], true);
    let mut object = observed("a", in_sync_but_kubectls);
    object.compared.take_over = true;
    let (action, reason) = plan_resource(&object);
    assert_eq!(action, Planned::Update);
    assert!(reason.contains("client-side apply"), "{reason}");
}

#[test]
fn an_immutable_change_is_replaced_only_with_replace_true() {
    let immutable = || Observation::Immutable {
        live: config_map("a", json!({})),
        error: ObjectError::refused("spec.selector: field is immutable; set Replace=true"),
    };
    let mut allowed = observed("a", immutable());
    allowed.compared.replace_allowed = true;
    assert_eq!(decided(&allowed), Planned::Replace);
    let refused = observed("a", immutable());
    let (action, reason) = plan_resource(&refused);
    assert_eq!(action, Planned::Skip);
    assert!(reason.contains("Replace=true"), "{reason}");
    let planned = PlannedObject {
        key: refused.key.clone(),
        action,
        reason,
        origin: Origin::Resource { index: 0, observed: Box::new(refused) },
    };
    assert!(planned.error().is_some() && planned.live().is_some(), "reported as an error on a live object");
}

#[test]
fn ignored_differences_make_no_update() {
    let rule: ResourceIgnoreDifferences =
        serde_json::from_value(json!({"kind": "ConfigMap", "jsonPointers": ["/data/replicas"]})).unwrap();
    let live = config_map("a", json!({"replicas": "5", "k": "1"}));
    let ignored = ignored_paths(&[rule], &key("ConfigMap", "a"), Some(&live));
    let scaled = config_map("a", json!({"replicas": "3", "k": "1"}));
    let observation = Observation::of_dry_run(Some(live.clone()), Some(&scaled), &ignored, false);
    assert_eq!(decided(&observed("a", observation)), Planned::Unchanged, "only an ignored field differs");
    let changed = config_map("a", json!({"replicas": "3", "k": "2"}));
    let observation = Observation::of_dry_run(Some(live.clone()), Some(&changed), &ignored, false);
    assert_eq!(decided(&observed("a", observation)), Planned::Update);
    assert_eq!(Observation::of_dry_run(None, None, &ignored, false), Observation::Drifted { live: None });
}

#[test]
fn a_hook_runs_once_per_operation() {
    let prepared = Ok(target("migrate"));
    let run = |status| HookRun { key: key("ConfigMap", "migrate"), phase: Phase::PreSync, status, message: None };
    assert_eq!(plan_hook(&prepared, Phase::PreSync, &[]).action, Planned::Create);
    assert_eq!(plan_hook(&prepared, Phase::PreSync, &[run(HookStatus::Running)]).action, Planned::Create);
    assert_eq!(plan_hook(&prepared, Phase::PreSync, &[run(HookStatus::Succeeded)]).action, Planned::Unchanged);
    assert_eq!(plan_hook(&prepared, Phase::PreSync, &[run(HookStatus::Failed)]).action, Planned::Unchanged);
    assert_eq!(
        plan_hook(&prepared, Phase::PostSync, &[run(HookStatus::Succeeded)]).action,
        Planned::Create,
        "a run of another phase is another run"
    );
    let unknown = Err((key("Widget", "w"), ObjectError::refused("kind Widget is not served")));
    let planned = plan_hook(&unknown, Phase::PreSync, &[]);
    assert_eq!((planned.action, planned.reason.as_str()), (Planned::Skip, "kind Widget is not served"));
}

#[test]
fn only_our_objects_that_left_git_are_pruned_and_only_with_prune_on() {
    let open = PruneGuard { operation_complete: true, prune: true, render_empty: false, allow_empty: false };
    let ours = || config_map_tracked(&app().tracking_id(&key("ConfigMap", "old")), json!({}));
    let step = |found, guard: &PruneGuard| crate::prune_plan::decide(&key("ConfigMap", "old"), found, &app(), guard);
    let decide = |found, guard: &PruneGuard| plan_left_git(&step(found, guard), guard).map(|(action, _)| action);
    assert_eq!(decide(Found::Live(ours()), &open), Some(Planned::Prune));
    assert_eq!(decide(Found::Gone, &open), None, "gone: it leaves the inventory");
    let foreign = config_map_tracked("argo/other:/ConfigMap:web/old", json!({}));
    assert_eq!(decide(Found::Live(foreign), &open), None, "another Application's object is never ours to delete");
    let off = PruneGuard { prune: false, ..open };
    let reason = |found, guard: &PruneGuard| plan_left_git(&step(found, guard), guard).map(|(_, reason)| reason);
    assert!(reason(Found::Live(ours()), &off).is_some_and(|r| r.contains("only a sync with prune")));
    let empty = PruneGuard { render_empty: true, ..open };
    assert!(reason(Found::Live(ours()), &empty).is_some_and(|r| r.contains("allowEmpty")));
    let opted_out =
        config_map_tracked(&app().tracking_id(&key("ConfigMap", "old")), json!({"lockstep.dev/prune": "disabled"}));
    assert!(reason(Found::Live(opted_out), &open).is_some_and(|r| r.contains("opts out")));
    let unreadable = Found::Unreadable(ObjectError { fault: Fault::Unavailable, message: "connection reset".into() });
    assert_eq!(decide(unreadable, &open), Some(Planned::Skip), "unknown state: kept, never deleted");
}

fn config_map_tracked(tracking: &str, annotations: Value) -> Value {
    let mut object = config_map("old", json!({}));
    let mut annotations = annotations;
    annotations["lockstep.dev/tracking-id"] = json!(tracking);
    object["metadata"]["annotations"] = annotations;
    object
}

/// Three waves, a PreSync and a SyncFail hook, one object that left git.
fn whole_plan(prune: bool, hooks_done: &[HookRun], resources_in_sync: bool) -> SyncPlan {
    let hook = |name: &str, phase: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "annotations": {"argocd.argoproj.io/hook": phase}}})
    };
    let wave = |name: &str, wave: &str| {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "annotations": {"argocd.argoproj.io/sync-wave": wave}}})
    };
    let objects = vec![wave("b", "1"), hook("migrate", "PreSync"), wave("a", "0"), hook("undo", "SyncFail")];
    let order = SyncOrder::of(&objects);
    let live = config_map("x", json!({}));
    let resource = |name: &str| {
        let observation = if resources_in_sync {
            Observation::InSync { live: live.clone() }
        } else if name == "a" {
            Observation::Drifted { live: None }
        } else {
            Observation::Drifted { live: Some(live.clone()) }
        };
        observed(name, observation)
    };
    let observations = Observations {
        resources: HashMap::from([(0, resource("b")), (2, resource("a"))]),
        hooks: HashMap::from([(1, Ok(target("migrate"))), (3, Ok(target("undo")))]),
        left_git: vec![(
            key("ConfigMap", "old"),
            Found::Live(config_map_tracked(&app().tracking_id(&key("ConfigMap", "old")), json!({}))),
        )],
    };
    let facts = RenderFacts::of(&objects);
    let app = app();
    SyncPlan::decide(&order, observations, facts, &rules(&app, prune, hooks_done))
}

#[test]
fn the_plan_lists_every_object_in_phases_and_waves() {
    let plan = whole_plan(true, &[], false);
    let steps: Vec<_> = plan
        .steps
        .iter()
        .map(|s| {
            (s.phase, s.wave, s.hooks, s.objects.iter().map(|o| (o.key.name.as_str(), o.action)).collect::<Vec<_>>())
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            (Phase::PreSync, 0, true, vec![("migrate", Planned::Create)]),
            (Phase::Sync, 0, false, vec![("a", Planned::Create)]),
            (Phase::Sync, 1, false, vec![("b", Planned::Update)]),
        ]
    );
    assert_eq!(plan.on_failure.len(), 1);
    assert_eq!(plan.prune.iter().map(|p| p.action).collect::<Vec<_>>(), vec![Planned::Prune]);
    assert!(plan.drifted() && plan.has_hooks());
    let summary = plan.summary();
    assert_eq!((summary.create, summary.update, summary.prune, summary.unchanged), (2, 1, 1, 0));
    assert_eq!(summary.to_string(), "2 to create, 1 to update, 0 to replace, 1 to prune, 0 unchanged, 0 skipped");
}

#[test]
fn an_in_sync_render_is_not_drifted_and_prune_off_skips_with_a_reason() {
    let done = [HookRun {
        key: key("ConfigMap", "migrate"),
        phase: Phase::PreSync,
        status: HookStatus::Succeeded,
        message: None,
    }];
    let plan = whole_plan(false, &done, true);
    assert!(!plan.drifted(), "only what left git differs");
    assert_eq!(plan.steps[0].objects[0].action, Planned::Unchanged, "the hook already ran");
    assert_eq!(plan.prune[0].action, Planned::Skip);
    assert_eq!(plan.prune_blocked, None, "prune off is no block");
    let unwritten = plan.prune[0].unwritten().expect("kept in the inventory");
    assert!(unwritten.requires_pruning && unwritten.error.is_none());
    let resource = plan.resources().next().and_then(PlannedObject::unwritten).expect("a result");
    assert_eq!(resource.status, lockstep_api::SyncStatusCode::Synced);
}

#[test]
fn an_empty_render_blocks_prune_with_the_count() {
    let order = SyncOrder::of(&[]);
    let left = (
        key("ConfigMap", "old"),
        Found::Live(config_map_tracked(&app().tracking_id(&key("ConfigMap", "old")), json!({}))),
    );
    let observations = Observations { left_git: vec![left], ..Default::default() };
    let app = app();
    let plan = SyncPlan::decide(&order, observations, RenderFacts::of(&[]), &rules(&app, true, &[]));
    assert_eq!(plan.prune[0].action, Planned::Skip);
    assert!(plan.prune_blocked.as_deref().is_some_and(|why| why.contains("not pruning 1")), "{:?}", plan.prune_blocked);
}

fn under(mode: DriftMode, observation: Observation) -> Observed {
    let mut object = observed("a", observation);
    object.compared.drift = mode;
    object
}

fn planned(observed: Observed) -> PlannedObject {
    let (action, reason) = plan_resource(&observed);
    PlannedObject {
        key: observed.key.clone(),
        action,
        reason,
        origin: Origin::Resource { index: 0, observed: Box::new(observed) },
    }
}

fn drifted_live() -> Observation {
    Observation::Drifted { live: Some(config_map("a", json!({"k": "edited"}))) }
}

#[test]
fn warn_reports_drift_and_never_overwrites_it_when_git_changed_nothing() {
    let kept = planned(under(DriftMode::Warn, drifted_live()));
    assert_eq!(
        (kept.action, kept.reason.as_str()),
        (Planned::Skip, "drift is reported, not overwritten (drift: warn)")
    );
    assert_eq!(kept.kept(), Some(Kept::Reported));
    assert!(kept.error().is_none(), "drift kept is no failure");
    let result = kept.unwritten().expect("a result");
    assert_eq!((result.status, result.drifted), (lockstep_api::SyncStatusCode::OutOfSync, true));
    let immutable =
        Observation::Immutable { live: config_map("a", json!({})), error: ObjectError::refused("immutable") };
    let kept = planned(under(DriftMode::Warn, immutable));
    assert_eq!((kept.action, kept.kept()), (Planned::Skip, Some(Kept::Reported)));
    assert!(kept.error().is_none());
}

#[test]
fn warn_applies_when_git_changed_fields_or_kubectls_fields_are_taken_over() {
    let mut due = under(DriftMode::Warn, drifted_live());
    due.compared.git_change_due = true;
    let due = planned(due);
    assert_eq!((due.action, due.kept()), (Planned::Update, None));
    let mut kubectls = under(DriftMode::Warn, drifted_live());
    kubectls.compared.take_over = true;
    assert_eq!(decided(&kubectls), Planned::Update);
    assert_eq!(decided(&under(DriftMode::Warn, Observation::Drifted { live: None })), Planned::Create);
    let unchanged = under(DriftMode::Warn, Observation::InSync { live: config_map("a", json!({})) });
    assert_eq!(decided(&unchanged), Planned::Unchanged);
}

#[test]
fn ignore_creates_a_missing_object_then_leaves_it_alone_as_synced() {
    assert_eq!(decided(&under(DriftMode::Ignore, Observation::Drifted { live: None })), Planned::Create);
    assert_eq!(decided(&under(DriftMode::Ignore, Observation::AwaitingNamespace)), Planned::Create);
    let left = planned(under(DriftMode::Ignore, drifted_live()));
    assert_eq!((left.action, left.reason.as_str()), (Planned::Skip, "left alone after creation (drift: ignore)"));
    let result = left.unwritten().expect("a result");
    assert_eq!((result.status, result.drifted), (lockstep_api::SyncStatusCode::Synced, false));
    let immutable =
        Observation::Immutable { live: config_map("a", json!({})), error: ObjectError::refused("immutable") };
    let left = planned(under(DriftMode::Ignore, immutable));
    assert_eq!(left.action, Planned::Skip);
    assert!(left.error().is_none() && left.unwritten().is_some_and(|r| r.error.is_none()), "no failure either");
    let shared = Observation::Shared { owner: "argo/other".into(), live: config_map("a", json!({})) };
    assert_eq!(plan_resource(&under(DriftMode::Ignore, shared)).1, "already managed by Application argo/other");
}

#[test]
fn the_objects_annotation_overrides_the_applications_mode() {
    let annotated = |value: &str| {
        let mut object = config_map("a", json!({}));
        object["metadata"]["annotations"] = json!({"lockstep.dev/drift": value});
        object
    };
    let mode = crate::drift::mode_of(&annotated("heal"), DriftMode::Warn).expect("a valid mode");
    assert_eq!(decided(&under(mode, drifted_live())), Planned::Update, "heal overwrites the drift");
    let mode = crate::drift::mode_of(&annotated("ignore"), DriftMode::Heal).expect("a valid mode");
    assert_eq!(planned(under(mode, drifted_live())).kept(), Some(Kept::LeftAlone));
}

#[test]
fn an_unknown_drift_annotation_is_the_objects_error() {
    let mut object = config_map("a", json!({}));
    object["metadata"]["annotations"] = json!({"lockstep.dev/drift": "loud"});
    let error = crate::drift::mode_of(&object, DriftMode::Heal).expect_err("an unknown value");
    let refused = planned(observed("a", Observation::Rejected(error)));
    assert_eq!(refused.action, Planned::Skip);
    assert!(refused.reason.contains("lockstep.dev/drift") && refused.reason.contains("\"loud\""), "{}", refused.reason);
    assert!(refused.error().is_some());
    let result = refused.unwritten().expect("a result");
    assert!(result.error.is_some() && result.status == lockstep_api::SyncStatusCode::OutOfSync);
}

#[test]
fn a_heal_pass_whose_only_drift_is_kept_is_no_sync_operation() {
    let order = SyncOrder::of(&[config_map("a", json!({}))]);
    let observations =
        Observations { resources: HashMap::from([(0, under(DriftMode::Warn, drifted_live()))]), ..Default::default() };
    let app = app();
    let plan = SyncPlan::decide(&order, observations, RenderFacts::of(&[]), &rules(&app, false, &[]));
    assert_eq!(plan.summary().skip, 1);
    assert!(!plan.drifted(), "the kept drift is reported, not healed");
}
