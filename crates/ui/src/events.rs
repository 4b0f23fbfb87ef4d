//! `/events`: Server-Sent Events with one small JSON per changed Application (namespace, name,
//! health, sync, revision, or `deleted`), and whether it passes the page's filters (`shown`) with,
//! when it does, the list row the page inserts if it has none yet. Each session has at most one
//! Application watch, made with its user's token and shared by the session's open pages; it ends
//! when no page listens or the session ends. A page that connects first gets the current state of
//! every Application.

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
use kube::api::{Api, ObjectMeta};
use kube::runtime::{WatchStreamExt as _, watcher};
use lockstep_api::{Application, ApplicationStatus};
use serde::Serialize;
use tokio::sync::broadcast;

use crate::filter::ListFilter;
use crate::server::Caller;
use crate::session::{Session, is_live};

/// How often an idle watch checks whether anyone still listens.
const IDLE_CHECK: Duration = Duration::from_secs(15);
/// How many changes a slow page may fall behind before it is told to reload.
const BACKLOG: usize = 1024;

/// A session's running watch: its scope, its updates and the last update of every Application.
pub struct SharedWatch {
    scope: Vec<String>,
    sender: broadcast::Sender<Arc<Update>>,
    current: Arc<Mutex<BTreeMap<String, Arc<Update>>>>,
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

/// One Application's update as the watch publishes it to every page of the session: the change,
/// what the list's filters look at, and its list row, rendered once for all pages.
#[derive(Debug)]
pub(crate) struct Update {
    change: Change,
    /// The Application cut down to what [`ListFilter::matches`] reads; `None` once deleted.
    filtered: Option<Application>,
    /// The list row (`<tr data-app=...>`), escaped by maud; empty once deleted.
    row: String,
}

impl Update {
    /// The update that `app` now is.
    pub(crate) fn of(app: &Application) -> Self {
        let row = crate::pages::list::row(app).into_string();
        Self { change: Change::of(app, false), filtered: Some(for_filters(app)), row }
    }

    /// The update that `namespace/name` is gone.
    fn deleted(namespace: &str, name: &str) -> Self {
        let change = Change {
            namespace: namespace.into(),
            name: name.into(),
            health: String::new(),
            sync: String::new(),
            revision: String::new(),
            deleted: true,
        };
        Self { change, filtered: None, row: String::new() }
    }

    /// The message for a page whose list shows what `filter` passes: the change, whether this
    /// Application belongs on the page and, if so, its row.
    pub(crate) fn message(&self, filter: &ListFilter) -> String {
        #[derive(Serialize)]
        struct Message<'a> {
            #[serde(flatten)]
            change: &'a Change,
            shown: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            row: Option<&'a str>,
        }
        let shown = self.filtered.as_ref().is_some_and(|app| filter.matches(app));
        let message = Message { change: &self.change, shown, row: shown.then_some(self.row.as_str()) };
        serde_json::to_string(&message).unwrap_or_default()
    }
}

/// `app` with only what the list's filters read: name, namespace, labels, spec, health and sync.
fn for_filters(app: &Application) -> Application {
    let mut status = ApplicationStatus::default();
    if let Some(full) = &app.status {
        status.health.status = full.health.status;
        status.sync.status = full.sync.status;
    }
    Application {
        metadata: ObjectMeta {
            name: app.metadata.name.clone(),
            namespace: app.metadata.namespace.clone(),
            labels: app.metadata.labels.clone(),
            ..ObjectMeta::default()
        },
        spec: app.spec.clone(),
        status: Some(status),
    }
}

/// GET /events, with the list's filters as the query (`namespace` also names the namespaces to
/// follow when the user may not watch all of them).
pub(crate) async fn stream(Caller(session): Caller, Query(filter): Query<ListFilter>) -> Response {
    let all = crate::auth::may(&session.client, "watch", "", None).await;
    let scope: Vec<String> = if all { Vec::new() } else { filter.namespaces() };
    if !all && scope.is_empty() {
        return (StatusCode::FORBIDDEN, "you may not watch Applications in all namespaces; name some").into_response();
    }
    let (snapshot, receiver) = subscribe(&session, scope);
    let filter = Arc::new(filter);
    let event = |update: &Update, filter: &ListFilter| SseEvent::default().event("app").data(update.message(filter));
    let first_filter = filter.clone();
    let first = stream::iter(snapshot).map(move |update| Ok::<_, Infallible>(event(&update, &first_filter)));
    let live = stream::unfold((receiver, filter), move |(mut receiver, filter)| async move {
        match receiver.recv().await {
            Ok(update) => Some((Ok(event(&update, &filter)), (receiver, filter))),
            Err(broadcast::error::RecvError::Lagged(_)) => {
                Some((Ok(SseEvent::default().event("reload").data("behind")), (receiver, filter)))
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    });
    let session_end = tokio::time::sleep_until(session.expires_at.into());
    Sse::new(first.chain(live).take_until(session_end)).keep_alive(KeepAlive::default()).into_response()
}

/// Joins the session's watch of `scope` (empty: all namespaces), starting one if none runs.
fn subscribe(session: &Arc<Session>, scope: Vec<String>) -> (Vec<Arc<Update>>, broadcast::Receiver<Arc<Update>>) {
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
    sender: broadcast::Sender<Arc<Update>>,
    current: Arc<Mutex<BTreeMap<String, Arc<Update>>>>,
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
fn should_stop(session: &Weak<Session>, sender: &broadcast::Sender<Arc<Update>>) -> bool {
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
    sender: &broadcast::Sender<Arc<Update>>,
    current: &Mutex<BTreeMap<String, Arc<Update>>>,
    relisted: &mut BTreeSet<String>,
) {
    let mut current = current.lock().unwrap_or_else(PoisonError::into_inner);
    let send = |update: Update, current: &mut BTreeMap<String, Arc<Update>>| {
        let update = Arc::new(update);
        if update.change.deleted {
            current.remove(&update.change.key());
        } else {
            current.insert(update.change.key(), update.clone());
        }
        // No page listening is not an error: the idle check ends the watch.
        let _ = sender.send(update);
    };
    match event {
        watcher::Event::Init => relisted.clear(),
        watcher::Event::InitApply(app) => {
            let update = Update::of(&app);
            relisted.insert(update.change.key());
            send(update, &mut current);
        }
        watcher::Event::InitDone => {
            let gone: Vec<String> = current.keys().filter(|k| !relisted.contains(*k)).cloned().collect();
            for key in gone {
                let (namespace, name) = key.split_once('/').unwrap_or_default();
                send(Update::deleted(namespace, name), &mut current);
            }
        }
        watcher::Event::Apply(app) => send(Update::of(&app), &mut current),
        watcher::Event::Delete(app) => {
            send(Update::deleted(&app.namespace().unwrap_or_default(), &app.name_any()), &mut current)
        }
    }
}

#[cfg(test)]
#[path = "events_tests.rs"]
mod tests;
