use super::*;
use lockstep_api::{ApplicationStatus, HealthStatusCode, SyncStatusCode};

fn app(name: &str, health: HealthStatusCode) -> Application {
    let spec =
        serde_json::from_value(serde_json::json!({"source": {"repoURL": "https://g/r"}, "destination": {}})).unwrap();
    let mut app = Application::new(name, spec);
    app.metadata.namespace = Some("team".into());
    let mut status = ApplicationStatus::default();
    status.health.status = health;
    status.sync.status = SyncStatusCode::Synced;
    status.sync.revision = Some("abc".into());
    app.status = Some(status);
    app
}

#[test]
fn a_change_is_a_small_json() {
    let json = serde_json::to_value(Change::of(&app("web", HealthStatusCode::Degraded), false)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"namespace": "team", "name": "web", "health": "Degraded", "sync": "Synced",
                           "revision": "abc", "deleted": false})
    );
}

#[test]
fn a_relist_reports_what_vanished_while_the_watch_was_away() {
    let (sender, mut receiver) = broadcast::channel(16);
    let current = Mutex::new(BTreeMap::new());
    let mut relisted = BTreeSet::new();
    for event in [
        watcher::Event::Init,
        watcher::Event::InitApply(app("a", HealthStatusCode::Healthy)),
        watcher::Event::InitApply(app("b", HealthStatusCode::Healthy)),
        watcher::Event::InitDone,
        watcher::Event::Init,
        watcher::Event::InitApply(app("b", HealthStatusCode::Progressing)),
        watcher::Event::InitDone,
    ] {
        publish(event, &sender, &current, &mut relisted);
    }
    let all = ListFilter::default();
    let messages: Vec<serde_json::Value> = std::iter::from_fn(|| receiver.try_recv().ok())
        .map(|update| serde_json::from_str(&update.message(&all)).unwrap())
        .collect();
    assert_eq!(messages.len(), 4);
    assert_eq!((messages[3]["name"].as_str(), messages[3]["deleted"].as_bool()), (Some("a"), Some(true)));
    let current = current.lock().unwrap();
    assert_eq!(current.keys().collect::<Vec<_>>(), ["team/b"]);
    assert_eq!(current["team/b"].change.health, "Progressing");
}

fn filter(query: &str) -> ListFilter {
    serde_urlencoded::from_str(query).unwrap()
}

#[test]
fn an_application_the_page_shows_comes_with_its_row() {
    let message: serde_json::Value =
        serde_json::from_str(&Update::of(&app("web", HealthStatusCode::Healthy)).message(&filter("namespace=team")))
            .unwrap();
    assert_eq!(message["shown"], true);
    let row = message["row"].as_str().unwrap();
    assert!(row.starts_with(r#"<tr data-app="team/web">"#), "{row}");
    assert!(row.contains(r#"<a href="/apps/team/web">web</a>"#), "{row}");
    assert!(row.contains("health-badge health-Healthy") && row.contains("sync-badge sync-Synced"), "{row}");
    assert!(row.ends_with("</tr>"), "{row}");
}

#[test]
fn an_application_the_filters_leave_out_has_no_row() {
    let update = Update::of(&app("web", HealthStatusCode::Degraded));
    for query in ["health=Healthy", "namespace=other", "q=api", "labels=team"] {
        let message: serde_json::Value = serde_json::from_str(&update.message(&filter(query))).unwrap();
        assert_eq!(message["shown"], false, "{query}");
        assert_eq!(message.get("row"), None, "{query}");
        assert_eq!(message["health"], "Degraded", "the badges of a detail page still change: {query}");
    }
    let message: serde_json::Value = serde_json::from_str(&update.message(&filter("health=Degraded"))).unwrap();
    assert_eq!(message["shown"], true);
}

#[test]
fn a_deleted_application_is_not_shown_and_has_no_row() {
    let message: serde_json::Value =
        serde_json::from_str(&Update::deleted("team", "web").message(&ListFilter::default())).unwrap();
    assert_eq!(
        message,
        serde_json::json!({"namespace": "team", "name": "web", "health": "", "sync": "", "revision": "",
                           "deleted": true, "shown": false})
    );
}

#[test]
fn the_row_escapes_what_the_spec_says() {
    let mut hostile = app("web", HealthStatusCode::Healthy);
    hostile.spec.source.as_mut().unwrap().path = Some(r#"</td><script>alert("x")</script>"#.into());
    let message: serde_json::Value =
        serde_json::from_str(&Update::of(&hostile).message(&ListFilter::default())).unwrap();
    let row = message["row"].as_str().unwrap();
    assert!(!row.contains("<script>"), "{row}");
    assert!(row.contains("&lt;/td&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"), "{row}");
}

#[test]
fn the_filters_see_labels_spec_and_badges_but_not_the_rest_of_the_status() {
    let mut full = app("web", HealthStatusCode::Healthy);
    full.metadata.labels = Some([("team".to_string(), "a".to_string())].into());
    let kept = for_filters(&full);
    assert_eq!(kept.metadata.labels, full.metadata.labels);
    assert_eq!(kept.spec, full.spec);
    let status = kept.status.unwrap();
    assert_eq!((status.health.status, status.sync.status), (HealthStatusCode::Healthy, SyncStatusCode::Synced));
    assert_eq!(status.sync.revision, None);
}
