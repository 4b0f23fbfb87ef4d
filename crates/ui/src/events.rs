//! `/events`: Server-Sent Events with one small JSON per changed Application (namespace, name,
//! health, sync, revision, or `deleted`). Each session has at most one Application watch, made
//! with its user's token and shared by the session's open pages; it ends when no page listens or
//! the session ends. A page that connects first gets the current state of every Application.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{StreamExt as _, stream};
use kube::ResourceExt as _;
use kube::api::Api;
use kube::runtime::{WatchStreamExt as _, watcher};
use lockstep_api::Application;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::server::Caller;
use crate::session::{Session, is_live};

/// How often an idle watch checks whether anyone still listens.
const IDLE_CHECK: Duration = Duration::from_secs(15);
/// How many changes a slow page may fall behind before it is told to reload.
const BACKLOG: usize = 1024;

/// A session's running watch: its scope, its changes and the last change of every Application.
pub struct SharedWatch {
    scope: Vec<String>,
    sender: broadcast::Sender<String>,
    current: Arc<Mutex<BTreeMap<String, String>>>,
}

/// What one message says about one Application.
#[derive(Debug, Serialize, PartialEq)]
pub(crate) struct Change {
    namespace: String,
    name: String,
    health: String,
    sync: String,
    revision: String,
    deleted: bool,
}

impl Change {
    /// The change that `app` is now as it is (or, with `deleted`, gone).
    pub(crate) fn of(app: &Application, deleted: bool) -> Self {
        let status = app.status.clone().unwrap_or_default();
        Self {
            namespace: app.namespace().unwrap_or_default(),
            name: app.name_any(),
            health: status.health.status.to_string(),
            sync: status.sync.status.to_string(),
            revision: status.sync.revision.unwrap_or_default(),
            deleted,
        }
    }

    fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

/// The stream's query: the namespaces to follow when the user may not watch all of them.
#[derive(Deserialize)]
pub(crate) struct StreamQuery {
    #[serde(default)]
    namespace: String,
}

/// GET /events.
pub(crate) async fn stream(Caller(session): Caller, Query(query): Query<StreamQuery>) -> Response {
    let all = crate::auth::may(&session.client, "watch", "", None).await;
    let scope: Vec<String> = if all {
        Vec::new()
    } else {
        query.namespace.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect()
    };
    if !all && scope.is_empty() {
        return (StatusCode::FORBIDDEN, "you may not watch Applications in all namespaces; name some").into_response();
    }
    let (snapshot, receiver) = subscribe(&session, scope);
    let first =
        stream::iter(snapshot.into_iter().map(|data| Ok::<_, Infallible>(SseEvent::default().event("app").data(data))));
    let live = stream::unfold(receiver, |mut receiver| async move {
        match receiver.recv().await {
            Ok(data) => Some((Ok(SseEvent::default().event("app").data(data)), receiver)),
            Err(broadcast::error::RecvError::Lagged(_)) => {
                Some((Ok(SseEvent::default().event("reload").data("behind")), receiver))
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    });
    let session_end = tokio::time::sleep_until(session.expires_at.into());
    Sse::new(first.chain(live).take_until(session_end)).keep_alive(KeepAlive::default()).into_response()
}

/// Joins the session's watch of `scope` (empty: all namespaces), starting one if none runs.
fn subscribe(session: &Arc<Session>, scope: Vec<String>) -> (Vec<String>, broadcast::Receiver<String>) {
    let mut slot = session.watch.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(watch) = slot.as_ref().filter(|w| w.scope == scope) {
        let current = watch.current.lock().unwrap_or_else(PoisonError::into_inner);
        return (current.values().cloned().collect(), watch.sender.subscribe());
    }
    let (sender, receiver) = broadcast::channel(BACKLOG);
    let current = Arc::new(Mutex::new(BTreeMap::new()));
    tokio::spawn(run(Arc::downgrade(session), session.client.clone(), scope.clone(), sender.clone(), current.clone()));
    *slot = Some(SharedWatch { scope, sender, current });
    (Vec::new(), receiver)
}

/// The watch: publishes each change until no page listens or the session ends.
async fn run(
    session: Weak<Session>,
    client: kube::Client,
    scope: Vec<String>,
    sender: broadcast::Sender<String>,
    current: Arc<Mutex<BTreeMap<String, String>>>,
) {
    let config = watcher::Config::default();
    let streams: Vec<_> = if scope.is_empty() {
        vec![watcher(Api::<Application>::all(client), config).default_backoff().boxed()]
    } else {
        scope
            .iter()
            .map(|ns| {
                watcher(Api::<Application>::namespaced(client.clone(), ns), config.clone()).default_backoff().boxed()
            })
            .collect()
    };
    let mut events = stream::select_all(streams);
    let mut idle = tokio::time::interval(IDLE_CHECK);
    let mut relisted: BTreeSet<String> = BTreeSet::new();
    loop {
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(event)) => publish(event, &sender, &current, &mut relisted),
                Some(Err(err)) => tracing::warn!(error = %err, "the Application watch of a UI session failed; retrying"),
                None => break,
            },
            _ = idle.tick() => if should_stop(&session, &sender) { break },
        }
    }
}

/// Whether the watch should end (then it also leaves the session, under the session's lock, so a
/// page joining at that moment starts a new one).
fn should_stop(session: &Weak<Session>, sender: &broadcast::Sender<String>) -> bool {
    let Some(session) = session.upgrade() else { return true };
    if !is_live(session.expires_at, std::time::Instant::now()) {
        return true;
    }
    let mut slot = session.watch.lock().unwrap_or_else(PoisonError::into_inner);
    if sender.receiver_count() > 0 {
        return false;
    }
    if slot.as_ref().is_some_and(|w| w.sender.same_channel(sender)) {
        *slot = None;
    }
    true
}

fn publish(
    event: watcher::Event<Application>,
    sender: &broadcast::Sender<String>,
    current: &Mutex<BTreeMap<String, String>>,
    relisted: &mut BTreeSet<String>,
) {
    let mut current = current.lock().unwrap_or_else(PoisonError::into_inner);
    let send = |change: Change, current: &mut BTreeMap<String, String>| {
        let Ok(data) = serde_json::to_string(&change) else { return };
        if change.deleted {
            current.remove(&change.key());
        } else {
            current.insert(change.key(), data.clone());
        }
        // No page listening is not an error: the idle check ends the watch.
        let _ = sender.send(data);
    };
    match event {
        watcher::Event::Init => relisted.clear(),
        watcher::Event::InitApply(app) => {
            let change = Change::of(&app, false);
            relisted.insert(change.key());
            send(change, &mut current);
        }
        watcher::Event::InitDone => {
            let gone: Vec<String> = current.keys().filter(|k| !relisted.contains(*k)).cloned().collect();
            for key in gone {
                let (namespace, name) = key.split_once('/').unwrap_or_default();
                let change = Change {
                    namespace: namespace.into(),
                    name: name.into(),
                    health: String::new(),
                    sync: String::new(),
                    revision: String::new(),
                    deleted: true,
                };
                send(change, &mut current);
            }
        }
        watcher::Event::Apply(app) => send(Change::of(&app, false), &mut current),
        watcher::Event::Delete(app) => send(Change::of(&app, true), &mut current),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_api::{ApplicationStatus, HealthStatusCode, SyncStatusCode};

    fn app(name: &str, health: HealthStatusCode) -> Application {
        let spec = serde_json::from_value(serde_json::json!({"source": {"repoURL": "https://g/r"}, "destination": {}}))
            .unwrap();
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
        let messages: Vec<serde_json::Value> =
            std::iter::from_fn(|| receiver.try_recv().ok()).map(|m| serde_json::from_str(&m).unwrap()).collect();
        assert_eq!(messages.len(), 4);
        assert_eq!((messages[3]["name"].as_str(), messages[3]["deleted"].as_bool()), (Some("a"), Some(true)));
        let current = current.lock().unwrap();
        assert_eq!(current.keys().collect::<Vec<_>>(), ["team/b"]);
        assert!(current["team/b"].contains("Progressing"));
    }
}
