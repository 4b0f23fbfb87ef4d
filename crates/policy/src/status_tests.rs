//! Unit tests of `status.rs`: from outcomes to conditions, history and marks.

use super::*;
use k8s_openapi::jiff::Timestamp;

fn at(seconds: i64) -> Time {
    Time(Timestamp::from_second(seconds).unwrap())
}

fn resource(name: &str, sync: SyncStatusCode, error: Option<&str>, health: HealthStatusCode) -> AssessedResource {
    AssessedResource {
        key: ResourceKey {
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("ns".into()),
            name: name.into(),
            ..Default::default()
        },
        sync,
        error: error.map(ObjectError::refused),
        health: Health { status: health, message: None },
        ignore_health: false,
        requires_pruning: false,
        shared_with: None,
    }
}

fn failing(name: &str, fault: lockstep_engine::Fault) -> AssessedResource {
    let mut r = resource(name, SyncStatusCode::OutOfSync, None, HealthStatusCode::Missing);
    r.error = Some(ObjectError { fault, message: "connection reset".into() });
    r
}

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

fn compared(resources: Vec<AssessedResource>, automated: bool) -> Outcome {
    Outcome::Compared {
        revision: SHA.into(),
        resources,
        automated,
        inventory: Inventory::default(),
        prune_blocked: None,
        progress: Progress::Complete,
        operation: None,
        history_limit: 10,
        held: None,
        drifted: vec![],
    }
}

#[test]
fn synced_and_healthy_is_ready() {
    let outcome = compared(vec![resource("a", SyncStatusCode::Synced, None, HealthStatusCode::Healthy)], true);
    let status = next_status(None, Some(3), &outcome, &at(100));
    assert_eq!(status.sync.status, SyncStatusCode::Synced);
    assert_eq!(status.sync.revision.as_deref(), Some(SHA));
    assert_eq!(status.health.status, HealthStatusCode::Healthy);
    assert_eq!(status.observed_generation, Some(3));
    let ready = &status.conditions[0];
    assert_eq!((ready.type_.as_str(), ready.status.as_str(), ready.reason.as_str()), ("Ready", "True", "Succeeded"));
    assert_eq!(ready.message, "Synced to 0123456789ab; 1 objects Healthy");
    assert_eq!(status.resources[0].name, "a");
}

#[test]
fn the_same_outcome_twice_changes_nothing_and_keeps_transition_time() {
    let outcome = compared(vec![resource("a", SyncStatusCode::Synced, None, HealthStatusCode::Healthy)], true);
    let mut first = next_status(None, Some(1), &outcome, &at(100));
    first.reconciled_at = Some(at(100));
    let second = next_status(Some(&first), Some(1), &outcome, &at(200));
    assert!(!changed(Some(&first), &second));
    assert_eq!(second.conditions[0].last_transition_time, at(100));
}

#[test]
fn reconciling_and_stalled_appear_only_while_true() {
    let progressing = compared(vec![resource("a", SyncStatusCode::Synced, None, HealthStatusCode::Progressing)], true);
    let types = |s: &ApplicationStatus| s.conditions.iter().map(|c| c.type_.clone()).collect::<Vec<_>>();
    assert_eq!(types(&next_status(None, None, &progressing, &at(1))), vec!["Ready", "Reconciling"]);
    let degraded = compared(vec![resource("a", SyncStatusCode::Synced, None, HealthStatusCode::Degraded)], true);
    assert_eq!(types(&next_status(None, None, &degraded, &at(1))), vec!["Ready", "Stalled"]);
    let healthy = compared(vec![resource("a", SyncStatusCode::Synced, None, HealthStatusCode::Healthy)], true);
    assert_eq!(types(&next_status(None, None, &healthy, &at(1))), vec!["Ready"]);
    let broken = Outcome::Stopped { reason: "RenderFailed", message: "a.yaml:1".into(), revision: None };
    assert_eq!(types(&next_status(None, None, &broken, &at(1))), vec!["Ready", "Stalled"]);
}

#[test]
fn a_rejected_object_is_named() {
    let outcome = compared(
        vec![
            resource("good", SyncStatusCode::Synced, None, HealthStatusCode::Healthy),
            resource("bad", SyncStatusCode::OutOfSync, Some("field is invalid"), HealthStatusCode::Missing),
        ],
        true,
    );
    let status = next_status(None, None, &outcome, &at(1));
    assert_eq!(status.sync.status, SyncStatusCode::OutOfSync);
    let ready = &status.conditions[0];
    assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("False", "SyncFailed"));
    assert!(ready.message.contains("ConfigMap ns/bad: field is invalid"), "{}", ready.message);
}

#[test]
fn manual_sync_reports_drift() {
    let outcome = compared(vec![resource("a", SyncStatusCode::OutOfSync, None, HealthStatusCode::Missing)], false);
    let ready = next_status(None, None, &outcome, &at(1)).conditions.remove(0);
    assert_eq!(ready.reason, "OutOfSync");
    assert_eq!(ready.message, "1 of 1 objects differ from git at 0123456789ab; automated sync is off");
}

#[test]
fn a_stopped_pipeline_keeps_what_is_known_and_says_why() {
    let good = next_status(
        None,
        Some(1),
        &compared(vec![resource("a", SyncStatusCode::Synced, None, HealthStatusCode::Healthy)], true),
        &at(1),
    );
    let stopped =
        Outcome::Stopped { reason: "RenderFailed", message: "a.yaml:3: bad".into(), revision: Some("fff".into()) };
    let status = next_status(Some(&good), Some(2), &stopped, &at(2));
    assert_eq!(status.sync.status, SyncStatusCode::Unknown);
    assert_eq!(status.sync.revision.as_deref(), Some("fff"));
    assert_eq!(status.resources, good.resources);
    let ready = &status.conditions[0];
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str(), ready.message.as_str()),
        ("False", "RenderFailed", "a.yaml:3: bad")
    );
    assert_eq!(ready.last_transition_time, at(2));
    assert!(changed(Some(&good), &status));
}

#[test]
fn the_api_server_failing_is_an_unreachable_cluster_not_a_failed_sync() {
    use lockstep_engine::Fault;
    let ok = resource("ok", SyncStatusCode::Synced, None, HealthStatusCode::Healthy);
    let outage = compared(vec![ok.clone(), failing("a", Fault::Unavailable), failing("b", Fault::Unavailable)], true);
    let status = next_status(None, Some(1), &outage, &at(1));
    let ready = status.conditions.iter().find(|c| c.type_ == READY).unwrap();
    assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("False", "ClusterUnreachable"));
    assert!(ready.message.contains("the API server failed for 2 of 3 objects"), "{}", ready.message);
    assert!(!status.conditions.iter().any(|c| c.type_ == STALLED && c.status == "True"));
    let mixed = compared(vec![ok, failing("a", Fault::Unavailable), failing("b", Fault::Refused)], true);
    let status = next_status(None, Some(1), &mixed, &at(1));
    let ready = status.conditions.iter().find(|c| c.type_ == READY).unwrap();
    assert_eq!(ready.reason, "SyncFailed", "one refusal is the revision's failure");
}

#[test]
fn a_hold_explains_the_drift_it_keeps_and_a_broken_dependency_shows_even_in_sync() {
    use crate::hold::Hold;
    let held = |always_reported| Hold {
        reason: reason::SYNC_WINDOW_BLOCKED,
        message: "deny window".into(),
        until: None,
        always_reported,
    };
    let with = |sync, hold| {
        let Outcome::Compared {
            resources,
            automated,
            inventory,
            prune_blocked,
            progress,
            operation,
            history_limit,
            ..
        } = compared(vec![resource("a", sync, None, HealthStatusCode::Healthy)], true)
        else {
            unreachable!()
        };
        Outcome::Compared {
            revision: SHA.into(),
            resources,
            automated,
            inventory,
            prune_blocked,
            progress,
            operation,
            history_limit,
            held: Some(Box::new(hold)),
            drifted: vec![],
        }
    };
    let ready = |outcome: &Outcome| next_status(None, Some(1), outcome, &at(1)).conditions[0].clone();
    let drifted = ready(&with(SyncStatusCode::OutOfSync, held(false)));
    assert_eq!((drifted.reason.as_str(), drifted.message.as_str()), ("SyncWindowBlocked", "deny window"));
    assert_eq!(ready(&with(SyncStatusCode::Synced, held(false))).reason, "Succeeded", "nothing was held");
    assert_eq!(ready(&with(SyncStatusCode::Synced, held(true))).reason, "SyncWindowBlocked");
}

#[test]
fn history_records_the_source_and_who_asked() {
    let op = |revision: &str, request: Option<&str>| OperationState {
        phase: OperationPhase::Succeeded,
        message: None,
        sync_result: Some(lockstep_api::SyncOperationResult {
            revision: revision.into(),
            source: lockstep_api::ApplicationSource { repo_url: "r".into(), ..Default::default() },
            sources: Vec::new(),
            revisions: Vec::new(),
            hooks: Vec::new(),
        }),
        started_at: at(1),
        finished_at: Some(at(2)),
        retry_count: 0,
        sync_request: request.map(Into::into),
    };
    let first = history(None, Some(&op("a", None)), 10);
    let status = ApplicationStatus { history: first, ..Default::default() };
    let second = history(Some(&status), Some(&op("b", Some("rollback 0"))), 10);
    let third = history(
        Some(&ApplicationStatus { history: second.clone(), ..Default::default() }),
        Some(&op("c", Some("t1"))),
        2,
    );
    let who: Vec<_> = third.iter().map(|h| (h.id, h.initiated_by.clone().unwrap_or_default())).collect();
    assert_eq!(who, [(1, "rollback 0".to_string()), (2, "sync-request t1".to_string())]);
    assert_eq!(second[0].source.as_ref().map(|s| s.repo_url.as_str()), Some("r"));
}

#[test]
fn paused_and_rolled_back_are_marked_while_true() {
    let rollback = lockstep_api::RollbackStatus {
        request: "3".into(),
        id: 3,
        revision: SHA.into(),
        source: lockstep_api::ApplicationSource::default(),
        head_at_start: None,
        until_new_commit: false,
        active: true,
        started_at: at(1),
    };
    let mut status = ApplicationStatus::default();
    let marks = Marks { paused: Some("paused by lockstep.dev/paused".into()), rollback: Some(rollback.clone()) };
    mark(&mut status, None, &marks, &at(5));
    let types: Vec<_> = status.conditions.iter().map(|c| (c.type_.as_str(), c.reason.as_str())).collect();
    assert_eq!(types, [("Paused", "Paused"), ("RolledBack", "RolledBack")]);
    assert!(status.conditions[1].message.contains("rolled back to history entry 3 (0123456789ab)"));
    let spent = lockstep_api::RollbackStatus { active: false, ..rollback };
    let mut status = ApplicationStatus::default();
    mark(&mut status, None, &Marks { paused: None, rollback: Some(spent.clone()) }, &at(5));
    assert!(status.conditions.is_empty());
    assert_eq!(status.rollback, Some(spent), "a spent request stays recorded");
}

fn key(name: &str) -> ResourceKey {
    ResourceKey {
        version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some("ns".into()),
        name: name.into(),
        ..Default::default()
    }
}

#[test]
fn drift_kept_under_warn_is_a_condition_naming_three_objects() {
    let with = |keys: Vec<ResourceKey>| {
        let mut outcome =
            compared(vec![resource("a", SyncStatusCode::OutOfSync, None, HealthStatusCode::Healthy)], true);
        if let Outcome::Compared { drifted, .. } = &mut outcome {
            *drifted = keys;
        }
        outcome
    };
    let status = next_status(None, None, &with(vec![key("a")]), &at(1));
    let drifted = status.conditions.iter().find(|c| c.type_ == DRIFTED).expect("a Drifted condition");
    assert_eq!((drifted.status.as_str(), drifted.reason.as_str()), ("True", "DriftDetected"));
    assert_eq!(drifted.message, "1 objects differ from git and are kept so (drift: warn): ConfigMap ns/a");
    assert_eq!(drifted_count(&status), 1);
    let many = with(["a", "b", "c", "d", "e"].map(key).to_vec());
    let status = next_status(Some(&status), None, &many, &at(2));
    let drifted = status.conditions.iter().find(|c| c.type_ == DRIFTED).expect("a Drifted condition");
    assert!(
        drifted.message.ends_with("ConfigMap ns/a, ConfigMap ns/b, ConfigMap ns/c and 2 more"),
        "{}",
        drifted.message
    );
    assert_eq!((drifted.last_transition_time.clone(), drifted_count(&status)), (at(1), 5));
    let stopped = Outcome::Stopped { reason: "RenderFailed", message: "a.yaml:1".into(), revision: None };
    let kept = next_status(Some(&status), None, &stopped, &at(3));
    assert_eq!(drifted_count(&kept), 5, "carried over while nothing is compared");
    let healed = next_status(Some(&status), None, &with(vec![]), &at(4));
    assert!(!healed.conditions.iter().any(|c| c.type_ == DRIFTED), "absent once nothing is kept drifted");
    assert_eq!(drifted_count(&healed), 0);
}
