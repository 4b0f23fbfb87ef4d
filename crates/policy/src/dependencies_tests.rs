use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use lockstep_api::conditions::reason;
use lockstep_api::{
    ApplicationDependency, ApplicationSpec, ApplicationStatus, HealthStatus, OperationState, SyncStatus,
};

use super::*;

fn key(namespace: &str, name: &str) -> AppRef {
    AppRef { namespace: namespace.into(), name: name.into() }
}

fn ready_condition(status: &str, why: &str, generation: Option<i64>) -> Condition {
    Condition {
        type_: READY.into(),
        status: status.into(),
        reason: why.into(),
        message: String::new(),
        last_transition_time: Time(Timestamp::UNIX_EPOCH),
        observed_generation: generation,
    }
}

/// An Application of generation 3 in `ns`, reconciled, Synced, Healthy and Ready, depending on `deps`
/// (`name` or `namespace/name`).
fn app(ns: &str, name: &str, deps: &[&str]) -> Application {
    let depends_on = deps
        .iter()
        .map(|dep| match dep.split_once('/') {
            Some((namespace, name)) => ApplicationDependency { name: name.into(), namespace: Some(namespace.into()) },
            None => ApplicationDependency { name: (*dep).into(), namespace: None },
        })
        .collect();
    let mut app = Application::new(name, ApplicationSpec { depends_on, ..Default::default() });
    app.metadata.namespace = Some(ns.into());
    app.metadata.generation = Some(3);
    app.status = Some(ApplicationStatus {
        observed_generation: Some(3),
        sync: SyncStatus { status: SyncStatusCode::Synced, revision: Some("abc".into()), ..Default::default() },
        health: HealthStatus { status: HealthStatusCode::Healthy, message: None },
        conditions: vec![ready_condition("True", reason::SUCCEEDED, Some(3))],
        ..Default::default()
    });
    app
}

fn status(app: &mut Application) -> &mut ApplicationStatus {
    app.status.as_mut().unwrap()
}

/// A lookup over these Applications, as the controller's watch cache answers it.
fn cache(apps: &[Application]) -> impl Fn(&AppRef) -> Option<DependencyView> + use<> {
    let views: BTreeMap<AppRef, DependencyView> =
        apps.iter().map(DependencyView::of).map(|view| (view.key.clone(), view)).collect();
    move |key| views.get(key).cloned()
}

fn why_not_ready(app: &Application) -> Option<String> {
    DependencyView::of(app).not_ready
}

#[test]
fn a_reconciled_synced_healthy_ready_application_is_ready() {
    let view = DependencyView::of(&app("team", "db", &[]));
    assert_eq!(view.key, key("team", "db"));
    assert!(view.is_ready());
}

#[test]
fn each_way_of_not_being_ready_has_its_reason() {
    let mut deleting = app("team", "db", &[]);
    deleting.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
    assert_eq!(why_not_ready(&deleting).as_deref(), Some("being deleted"));

    let mut fresh = app("team", "db", &[]);
    fresh.status = None;
    assert_eq!(why_not_ready(&fresh).as_deref(), Some("not reconciled yet"));

    let mut changed = app("team", "db", &[]);
    changed.metadata.generation = Some(4);
    assert_eq!(why_not_ready(&changed).as_deref(), Some("not reconciled since its last change"));

    let mut syncing = app("team", "db", &[]);
    status(&mut syncing).operation_state = Some(OperationState {
        phase: OperationPhase::Running,
        message: None,
        sync_result: None,
        started_at: Time(Timestamp::UNIX_EPOCH),
        finished_at: None,
        retry_count: 0,
        sync_request: None,
    });
    assert_eq!(why_not_ready(&syncing).as_deref(), Some("sync running"));
    status(&mut syncing).operation_state.as_mut().unwrap().phase = OperationPhase::Succeeded;
    assert_eq!(why_not_ready(&syncing), None, "a finished operation does not hold dependents back");

    let mut drifted = app("team", "db", &[]);
    status(&mut drifted).sync.status = SyncStatusCode::OutOfSync;
    assert_eq!(why_not_ready(&drifted).as_deref(), Some("OutOfSync"));
    status(&mut drifted).sync.status = SyncStatusCode::Unknown;
    assert_eq!(why_not_ready(&drifted).as_deref(), Some("Unknown"));

    let mut rolling = app("team", "db", &[]);
    status(&mut rolling).health.status = HealthStatusCode::Progressing;
    assert_eq!(why_not_ready(&rolling).as_deref(), Some("Progressing"));
    status(&mut rolling).health.status = HealthStatusCode::Suspended;
    assert_eq!(why_not_ready(&rolling).as_deref(), Some("Suspended"));
}

#[test]
fn the_ready_condition_must_be_true_for_this_generation() {
    let mut none = app("team", "db", &[]);
    status(&mut none).conditions.clear();
    assert_eq!(why_not_ready(&none).as_deref(), Some("no Ready condition"));

    let mut stale = app("team", "db", &[]);
    status(&mut stale).conditions = vec![ready_condition("True", reason::SUCCEEDED, Some(2))];
    assert_eq!(why_not_ready(&stale).as_deref(), Some("not reconciled since its last change"));

    let mut blocked = app("team", "db", &[]);
    status(&mut blocked).conditions = vec![ready_condition("False", reason::DEPENDENCY_NOT_READY, Some(3))];
    assert_eq!(why_not_ready(&blocked).as_deref(), Some("Ready is False (DependencyNotReady)"));

    let mut unstamped = app("team", "db", &[]);
    status(&mut unstamped).conditions = vec![ready_condition("True", reason::SUCCEEDED, None)];
    assert_eq!(why_not_ready(&unstamped), None, "a condition without observedGeneration counts by its status");
}

#[test]
fn dependencies_default_to_the_own_namespace_and_may_name_another() {
    let mut web = app("team", "web", &["db", "infra/cert-manager"]);
    web.spec.depends_on.push(ApplicationDependency { name: "cache".into(), namespace: Some(String::new()) });
    let view = DependencyView::of(&web);
    assert_eq!(view.depends_on, [key("team", "db"), key("infra", "cert-manager"), key("team", "cache")]);
}

#[test]
fn no_dependencies_or_an_unknown_application_is_ready() {
    assert_eq!(assess(&key("team", "web"), cache(&[app("team", "web", &[])])), DependencyVerdict::Ready);
    assert_eq!(assess(&key("team", "gone"), cache(&[])), DependencyVerdict::Ready);
    assert_eq!(DependencyVerdict::Ready.message(), None);
    assert!(DependencyVerdict::Ready.is_ready());
}

#[test]
fn a_chain_of_ready_dependencies_is_ready() {
    let apps = [app("team", "web", &["api"]), app("team", "api", &["infra/db"]), app("infra", "db", &[])];
    assert_eq!(assess(&key("team", "web"), cache(&apps)), DependencyVerdict::Ready);
}

#[test]
fn a_cross_namespace_dependency_is_looked_up_there() {
    let apps = [app("team", "web", &["infra/db"]), app("team", "db", &[])];
    let verdict = assess(&key("team", "web"), cache(&apps));
    assert_eq!(verdict, DependencyVerdict::Missing(vec![key("infra", "db")]), "team/db is not infra/db");
}

#[test]
fn waiting_names_each_dependency_not_ready_with_why() {
    let mut api = app("team", "api", &[]);
    status(&mut api).health.status = HealthStatusCode::Progressing;
    let mut db = app("team", "db", &[]);
    status(&mut db).sync.status = SyncStatusCode::OutOfSync;
    let apps = [app("team", "web", &["api", "db", "cache", "api"]), api, db, app("team", "cache", &[])];
    let verdict = assess(&key("team", "web"), cache(&apps));
    assert_eq!(
        verdict,
        DependencyVerdict::Waiting(vec![
            (key("team", "api"), "Progressing".into()),
            (key("team", "db"), "OutOfSync".into())
        ])
    );
    assert_eq!(
        verdict.message().as_deref(),
        Some("waiting for dependencies: team/api (Progressing), team/db (OutOfSync)")
    );
    assert!(!verdict.is_ready());
    let one = DependencyVerdict::Waiting(vec![(key("team", "api"), "sync running".into())]);
    assert_eq!(one.message().as_deref(), Some("waiting for dependency: team/api (sync running)"));
}

#[test]
fn a_missing_dependency_is_reported_before_one_not_ready() {
    let mut api = app("team", "api", &[]);
    status(&mut api).health.status = HealthStatusCode::Degraded;
    let apps = [app("team", "web", &["api", "x", "infra/y"]), api];
    let verdict = assess(&key("team", "web"), cache(&apps));
    assert_eq!(verdict, DependencyVerdict::Missing(vec![key("team", "x"), key("infra", "y")]));
    assert_eq!(verdict.message().as_deref(), Some("dependencies team/x, infra/y not found"));
    let one = DependencyVerdict::Missing(vec![key("team", "x")]);
    assert_eq!(one.message().as_deref(), Some("dependency team/x not found"));
}

#[test]
fn a_self_dependency_is_a_cycle() {
    let apps = [app("team", "web", &["web"])];
    let verdict = assess(&key("team", "web"), cache(&apps));
    assert_eq!(verdict, DependencyVerdict::Cycle(vec![key("team", "web"), key("team", "web")]));
    assert_eq!(verdict.message().as_deref(), Some("dependency cycle: team/web → team/web"));
}

#[test]
fn a_two_cycle_is_reported_from_each_side() {
    let apps = [app("team", "a", &["b"]), app("team", "b", &["a"])];
    assert_eq!(
        assess(&key("team", "a"), cache(&apps)),
        DependencyVerdict::Cycle(vec![key("team", "a"), key("team", "b"), key("team", "a")])
    );
    assert_eq!(
        assess(&key("team", "b"), cache(&apps)),
        DependencyVerdict::Cycle(vec![key("team", "b"), key("team", "a"), key("team", "b")])
    );
}

#[test]
fn a_three_cycle_across_namespaces_names_its_path_in_order_and_wins_over_missing() {
    let apps = [app("team", "a", &["gone", "other/b"]), app("other", "b", &["team/c"]), app("team", "c", &["a"])];
    let verdict = assess(&key("team", "a"), cache(&apps));
    assert_eq!(
        verdict,
        DependencyVerdict::Cycle(vec![key("team", "a"), key("other", "b"), key("team", "c"), key("team", "a")])
    );
    assert_eq!(verdict.message().as_deref(), Some("dependency cycle: team/a → other/b → team/c → team/a"));
}

#[test]
fn a_cycle_the_application_only_leads_into_makes_it_wait() {
    let mut b = app("team", "b", &["c"]);
    status(&mut b).conditions = vec![ready_condition("False", reason::DEPENDENCY_NOT_READY, Some(3))];
    let apps = [app("team", "a", &["b"]), b, app("team", "c", &["b"])];
    assert_eq!(
        assess(&key("team", "a"), cache(&apps)),
        DependencyVerdict::Waiting(vec![(key("team", "b"), "Ready is False (DependencyNotReady)".into())])
    );
    assert!(matches!(assess(&key("team", "b"), cache(&apps)), DependencyVerdict::Cycle(_)));
}

#[test]
fn a_diamond_is_not_a_cycle() {
    let apps = [
        app("team", "web", &["api", "worker"]),
        app("team", "api", &["db"]),
        app("team", "worker", &["db"]),
        app("team", "db", &[]),
    ];
    assert_eq!(assess(&key("team", "web"), cache(&apps)), DependencyVerdict::Ready);
}

#[test]
fn dependents_are_those_naming_the_changed_application_directly() {
    let apps = [
        app("team", "web", &["db"]),
        app("team", "worker", &["api", "db"]),
        app("other", "report", &["team/db"]),
        app("other", "db-copy", &["db"]),
        app("team", "ui", &["web"]),
    ];
    let found = dependents(&key("team", "db"), apps.iter().map(DependencyView::of));
    assert_eq!(found, [key("other", "report"), key("team", "web"), key("team", "worker")]);
    assert!(dependents(&key("team", "nobody"), apps.iter().map(DependencyView::of)).is_empty());
}

#[test]
fn the_cycle_search_stops_after_a_bounded_walk() {
    // team/a0 → a1 → … → a(n-1) → a0, longer than the search visits: not reported as a cycle, and
    // a0 waits on a1 as on any dependency not ready.
    let n = MAX_VISITED + 10;
    let lookup = move |key: &AppRef| {
        let i: usize = key.name.strip_prefix('a')?.parse().ok().filter(|i| *i < n)?;
        Some(DependencyView {
            key: key.clone(),
            depends_on: vec![self::key("team", &format!("a{}", (i + 1) % n))],
            not_ready: (i == 1).then(|| "Progressing".to_string()),
        })
    };
    assert_eq!(
        assess(&key("team", "a0"), lookup),
        DependencyVerdict::Waiting(vec![(key("team", "a1"), "Progressing".into())])
    );
    let short = move |key: &AppRef| {
        let i: usize = key.name.strip_prefix('a')?.parse().ok()?;
        Some(DependencyView {
            key: key.clone(),
            depends_on: vec![self::key("team", &format!("a{}", (i + 1) % 50))],
            not_ready: None,
        })
    };
    assert!(matches!(assess(&key("team", "a0"), short), DependencyVerdict::Cycle(path) if path.len() == 51));
}
