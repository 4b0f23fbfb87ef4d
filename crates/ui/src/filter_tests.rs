use super::*;
use lockstep_api::{ApplicationSpec, ApplicationStatus, HealthStatusCode, SyncStatusCode};
use serde_json::json;

fn app(namespace: &str, name: &str, project: &str, health: HealthStatusCode, sync: SyncStatusCode) -> Application {
    let spec: ApplicationSpec = serde_json::from_value(json!({
        "project": project,
        "source": {"repoURL": "https://git.example/team/Platform.git", "path": "apps/web", "targetRevision": "main"},
        "destination": {"server": "https://kubernetes.default.svc", "namespace": "web"},
    }))
    .unwrap();
    let mut app = Application::new(name, spec);
    app.metadata.namespace = Some(namespace.into());
    app.metadata.labels = Some([("team".to_string(), "a".to_string()), ("tier".to_string(), "web".to_string())].into());
    let mut status = ApplicationStatus::default();
    status.health.status = health;
    status.sync.status = sync;
    app.status = Some(status);
    app
}

fn filter(query: &str) -> ListFilter {
    serde_json::from_value(
        serde_json::to_value(
            query.split('&').filter_map(|p| p.split_once('=')).collect::<std::collections::BTreeMap<_, _>>(),
        )
        .unwrap(),
    )
    .unwrap()
}

#[test]
fn no_filter_passes_everything() {
    assert!(ListFilter::default().matches(&app(
        "a",
        "web",
        "default",
        HealthStatusCode::Degraded,
        SyncStatusCode::Unknown
    )));
}

#[test]
fn each_field_filters_on_its_own() {
    let web = app("team-a", "web", "payments", HealthStatusCode::Healthy, SyncStatusCode::OutOfSync);
    let cases = [
        ("project=payments", true),
        ("project=default", false),
        ("namespace=team-b, team-a", true),
        ("namespace=team-b", false),
        ("cluster=https://kubernetes.default.svc", true),
        ("cluster=in-cluster", false),
        ("health=Healthy", true),
        ("health=Degraded", false),
        ("sync=OutOfSync", true),
        ("sync=Synced", false),
        ("q=WE", true),
        ("q=platform", true),
        ("q=apps/w", true),
        ("q=nothing", false),
    ];
    for (query, expected) in cases {
        assert_eq!(filter(query).matches(&web), expected, "{query}");
    }
}

#[test]
fn a_spec_without_a_project_is_in_default() {
    let mut web = app("a", "web", "x", HealthStatusCode::Healthy, SyncStatusCode::Synced);
    web.spec.project = None;
    assert!(filter("project=default").matches(&web));
}

#[test]
fn the_cluster_may_be_named() {
    let mut web = app("a", "web", "x", HealthStatusCode::Healthy, SyncStatusCode::Synced);
    web.spec.destination = serde_json::from_value(json!({"name": "prod-eu"})).unwrap();
    assert!(filter("cluster=prod-eu").matches(&web));
}

#[test]
fn label_selectors_take_equality_inequality_and_existence() {
    let labels: std::collections::BTreeMap<String, String> =
        [("team".to_string(), "a".to_string()), ("tier".to_string(), "web".to_string())].into();
    for (selector, expected) in [
        ("", true),
        ("team=a", true),
        ("team==a", true),
        ("team=a,tier=web", true),
        ("team=a,tier=db", false),
        ("team!=b", true),
        ("team!=a", false),
        ("tier", true),
        ("owner", false),
        ("!owner", true),
        ("!team", false),
    ] {
        assert_eq!(labels_match(selector, &labels), expected, "{selector}");
    }
}

#[test]
fn all_filters_must_pass_together() {
    let web = app("team-a", "web", "payments", HealthStatusCode::Healthy, SyncStatusCode::Synced);
    assert!(filter("project=payments&health=Healthy&labels=team=a").matches(&web));
    assert!(!filter("project=payments&health=Healthy&labels=team=b").matches(&web));
}

#[test]
fn the_query_string_carries_the_set_filters_and_reads_back_the_same() {
    assert_eq!(ListFilter::default().query(), "");
    let set = ListFilter {
        namespace: "team-a,team-b".into(),
        labels: "team=a,!legacy".into(),
        q: "web & db".into(),
        ..ListFilter::default()
    };
    let query = set.query();
    assert_eq!(query, "namespace=team-a%2Cteam-b&labels=team%3Da%2C%21legacy&q=web+%26+db");
    let back: ListFilter = serde_urlencoded::from_str(&query).unwrap();
    assert_eq!(back, set);
}
