//! The sync executor against a recorded sequence of API responses: a `kube::Client` over an
//! in-process service that answers each request from a script and records what was sent. This
//! pins down which requests a sync makes and what it concludes from the answers; the end-to-end
//! suite runs the same code against a real API server.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use kube::client::Body;
use lockstep_api::{Inventory, SyncStatusCode};
use lockstep_engine::{Action, AppRef, Engine, Fault, Progress, SyncOptions, inventory};
use lockstep_render::Manifest;
use serde_json::{Value, json};

/// One request the engine sent.
#[derive(Debug, Clone)]
struct Sent {
    method: Method,
    path: String,
    query: String,
    body: Value,
}

/// Recorded answers (status, body) for each (method, path), in the order they are given.
type Script = HashMap<(Method, String), VecDeque<(u16, Value)>>;

/// Answers requests from per-(method, path) queues of recorded responses, in order; discovery
/// (`GET /api/v1`) is answered every time, since objects of one kind are looked up concurrently.
#[derive(Clone, Default)]
struct Recorded {
    answers: Arc<Mutex<Script>>,
    sent: Arc<Mutex<Vec<Sent>>>,
}

impl Recorded {
    fn answer(&self, method: Method, path: &str, status: u16, body: Value) -> &Self {
        let mut answers = self.answers.lock().unwrap();
        answers.entry((method, path.to_string())).or_default().push_back((status, body));
        self
    }

    fn client(&self) -> kube::Client {
        let recorded = self.clone();
        let service = tower::service_fn(move |request: Request<Body>| {
            let recorded = recorded.clone();
            async move {
                let (parts, body) = request.into_parts();
                let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                let path = parts.uri.path().to_string();
                let query = parts.uri.query().unwrap_or_default().to_string();
                recorded.sent.lock().unwrap().push(Sent {
                    method: parts.method.clone(),
                    path: path.clone(),
                    query,
                    body,
                });
                let next = if parts.method == Method::GET && path == CORE {
                    Some((200, discovery()))
                } else {
                    let mut answers = recorded.answers.lock().unwrap();
                    answers.get_mut(&(parts.method.clone(), path.clone())).and_then(VecDeque::pop_front)
                };
                let (status, body) =
                    next.unwrap_or_else(|| (599, json!({"unexpected": format!("{} {path}", parts.method)})));
                let response = Response::builder()
                    .status(StatusCode::from_u16(status).unwrap())
                    .header("content-type", "application/json")
                    .body(Body::from(serde_json::to_vec(&body).unwrap()))
                    .unwrap();
                Ok::<_, std::convert::Infallible>(response)
            }
        });
        kube::Client::new(service, "default")
    }

    fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    /// `METHOD [(dry-run)]` of every request about the ConfigMap `name`, in order (objects of one
    /// step are synced concurrently, so only the order per object is fixed).
    fn requests(&self, name: &str) -> Vec<String> {
        self.sent()
            .iter()
            .filter(|s| s.path == format!("{CMS}/{name}"))
            .map(|s| {
                let dry = if s.query.contains("dryRun=All") { " (dry-run)" } else { "" };
                format!("{}{dry}", s.method)
            })
            .collect()
    }

    /// How many requests were sent, discovery left out.
    fn writes_and_reads(&self) -> usize {
        self.sent().iter().filter(|s| s.path != CORE).count()
    }
}

const CORE: &str = "/api/v1";
const CMS: &str = "/api/v1/namespaces/web/configmaps";

fn discovery() -> Value {
    json!({
        "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "v1",
        "resources": [{"name": "configmaps", "singularName": "configmap", "namespaced": true, "kind": "ConfigMap",
                       "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}],
    })
}

fn app() -> AppRef {
    AppRef { namespace: "argo".into(), name: "web".into() }
}

fn config_map(name: &str, value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"value": value}})
}

/// The object as the API server holds it: git's, marked with this Application's tracking id.
fn live(name: &str, value: &str) -> Value {
    let mut object = config_map(name, value);
    object["metadata"]["namespace"] = json!("web");
    object["metadata"]["uid"] = json!(format!("uid-{name}"));
    object["metadata"]["labels"] = json!({"lockstep.dev/managed": "true"});
    object["metadata"]["annotations"] = json!({"lockstep.dev/tracking-id": format!("argo/web:/ConfigMap:web/{name}")});
    object
}

fn not_found(name: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
           "message": format!("configmaps \"{name}\" not found")})
}

fn failure(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason, "code": code, "message": message})
}

fn manifests(objects: &[Value]) -> Vec<Manifest> {
    objects
        .iter()
        .enumerate()
        .map(|(i, o)| Manifest { object: o.clone(), file: "all.yaml".into(), document: i })
        .collect()
}

fn options(previous: &[&str]) -> SyncOptions {
    let keys: Vec<_> = previous
        .iter()
        .map(|n| lockstep_engine::ResourceKey {
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("web".into()),
            name: (*n).into(),
            ..Default::default()
        })
        .collect();
    SyncOptions {
        app: app(),
        default_namespace: "web".into(),
        apply: true,
        heal_only: false,
        operation_recorded: true,
        prune: true,
        allow_empty: false,
        previous: Some(inventory::of(keys)),
        operation_id: "op".into(),
        hooks_done: vec![],
        timed_out: false,
        ignore_differences: vec![],
        sync_options: vec![],
        drift: Default::default(),
        previous_objects: Default::default(),
    }
}

#[tokio::test]
async fn creates_what_is_missing_leaves_what_matches_and_prunes_what_left_git() {
    let api = Recorded::default();
    api.answer(Method::GET, &format!("{CMS}/new"), 404, not_found("new"))
        .answer(Method::PATCH, &format!("{CMS}/new"), 201, live("new", "1"))
        .answer(Method::GET, &format!("{CMS}/same"), 200, live("same", "1"))
        .answer(Method::PATCH, &format!("{CMS}/same"), 200, live("same", "1"))
        .answer(Method::GET, &format!("{CMS}/old"), 200, live("old", "1"))
        .answer(Method::DELETE, &format!("{CMS}/old"), 200, live("old", "1"));
    let engine = Engine::new(api.client());
    let result =
        engine.sync(&manifests(&[config_map("new", "1"), config_map("same", "1")]), &options(&["same", "old"])).await;

    assert_eq!(result.progress, Progress::Complete);
    let actions: Vec<_> = result.resources.iter().map(|r| (r.key.name.as_str(), r.action, r.status)).collect();
    assert_eq!(
        actions,
        [
            ("new", Action::Create, SyncStatusCode::Synced),
            ("same", Action::None, SyncStatusCode::Synced),
            ("old", Action::Prune, SyncStatusCode::Synced),
        ]
    );
    assert_eq!(api.requests("new"), ["GET", "PATCH"], "no dry-run before a create");
    assert_eq!(api.requests("same"), ["GET", "PATCH (dry-run)"], "no write of what matches");
    assert_eq!(api.requests("old"), ["GET", "DELETE"]);
    assert_eq!(api.writes_and_reads(), 6);
    assert_eq!(api.sent().iter().filter(|s| s.path == CORE).count(), 1, "one discovery for one kind");
    let sent = api.sent();
    let create = sent.iter().find(|s| s.method == Method::PATCH && s.path.ends_with("/new")).unwrap();
    assert!(create.query.contains("fieldManager=lockstep") && create.query.contains("force=true"), "{}", create.query);
    assert_eq!(create.body["metadata"]["annotations"]["lockstep.dev/tracking-id"], "argo/web:/ConfigMap:web/new");
    let delete = sent.iter().find(|s| s.method == Method::DELETE).unwrap();
    assert_eq!(delete.body["preconditions"]["uid"], "uid-old", "the delete is pinned to the uid read");
    assert_eq!(inventory::managed(&result, &app(), None).len(), 2);
}

#[tokio::test]
async fn a_refusal_fails_the_operation_and_nothing_is_pruned() {
    let api = Recorded::default();
    api.answer(Method::GET, &format!("{CMS}/bad"), 200, live("bad", "0"))
        .answer(Method::PATCH, &format!("{CMS}/bad"), 422, failure(422, "Invalid", "data: Invalid value"))
        .answer(Method::GET, &format!("{CMS}/old"), 200, live("old", "1"));
    let engine = Engine::new(api.client());
    let result = engine.sync(&manifests(&[config_map("bad", "1")]), &options(&["bad", "old"])).await;

    let Progress::Failed(why) = &result.progress else { panic!("{:?}", result.progress) };
    assert_eq!(why.fault, Fault::Refused);
    assert!(why.message.contains("data: Invalid value"), "{}", why.message);
    assert_eq!(api.requests("bad"), ["GET", "PATCH (dry-run)"]);
    assert_eq!(api.requests("old"), ["GET"], "read to report it; not deleted after a failed step");
    let old = result.resources.iter().find(|r| r.key.name == "old").expect("reported");
    assert!(old.requires_pruning && old.error.is_none());
    let kept: Inventory = inventory::managed(&result, &app(), options(&["bad", "old"]).previous.as_ref());
    assert_eq!(kept.len(), 2, "what left git stays listed until it is pruned");
}

#[tokio::test]
async fn the_api_server_failing_is_a_transient_failure() {
    let api = Recorded::default();
    api.answer(Method::GET, CORE, 200, discovery()).answer(
        Method::GET,
        &format!("{CMS}/a"),
        503,
        failure(503, "ServiceUnavailable", "etcd is unavailable"),
    );
    let engine = Engine::new(api.client());
    let result = engine.sync(&manifests(&[config_map("a", "1")]), &options(&[])).await;

    let Progress::Failed(why) = &result.progress else { panic!("{:?}", result.progress) };
    assert!(why.is_transient(), "{why:?}");
    assert_eq!(result.resources[0].error.as_ref().map(|e| e.fault), Some(Fault::Unavailable));
}

#[tokio::test]
async fn a_denied_write_is_forbidden_on_data() {
    let api = Recorded::default();
    api.answer(Method::GET, &format!("{CMS}/a"), 404, not_found("a")).answer(
        Method::PATCH,
        &format!("{CMS}/a"),
        403,
        failure(403, "Forbidden", "configmaps \"a\" is forbidden"),
    );
    let engine = Engine::new(api.client());
    let result = engine.sync(&manifests(&[config_map("a", "1")]), &options(&[])).await;

    let Progress::Failed(why) = &result.progress else { panic!("{:?}", result.progress) };
    assert_eq!(why.fault, Fault::Forbidden);
}

#[tokio::test]
async fn an_immutable_change_is_recreated_only_with_replace() {
    let immutable = failure(422, "Invalid", "spec.selector: field is immutable");
    let scripted = || {
        let api = Recorded::default();
        api.answer(Method::GET, &format!("{CMS}/a"), 200, live("a", "0")).answer(
            Method::PATCH,
            &format!("{CMS}/a"),
            422,
            immutable.clone(),
        );
        api
    };
    let refused = scripted();
    let result = Engine::new(refused.client()).sync(&manifests(&[config_map("a", "1")]), &options(&[])).await;
    let error = result.resources[0].error.clone().expect("refused");
    assert!(error.message.contains("Replace=true"), "the hint names the option: {}", error.message);
    assert_eq!(refused.requests("a"), ["GET", "PATCH (dry-run)"]);

    let replaced = scripted();
    replaced
        .answer(Method::DELETE, &format!("{CMS}/a"), 200, live("a", "0"))
        .answer(Method::GET, &format!("{CMS}/a"), 404, not_found("a"))
        .answer(Method::PATCH, &format!("{CMS}/a"), 201, live("a", "1"));
    let mut with_replace = options(&[]);
    with_replace.sync_options = vec!["Replace=true".into()];
    let result = Engine::new(replaced.client()).sync(&manifests(&[config_map("a", "1")]), &with_replace).await;
    assert_eq!(result.progress, Progress::Complete);
    assert_eq!(result.resources[0].action, Action::Replace);
    assert_eq!(
        replaced.requests("a"),
        ["GET", "PATCH (dry-run)", "DELETE", "GET", "PATCH"],
        "deleted (pinned to the uid read), awaited, created"
    );
    let delete = replaced.sent().into_iter().find(|s| s.method == Method::DELETE).unwrap();
    assert_eq!(delete.body["preconditions"]["uid"], "uid-a");
}

/// A ConfigMap with two keys: `value`, which git changes, and `other`, which someone may edit live.
fn two_keys(value: &str, other: &str) -> Value {
    let mut object = live("a", value);
    object["data"]["other"] = json!(other);
    object
}

fn warned(heal_only: bool, previous: Option<Value>) -> SyncOptions {
    let mut options = options(&[]);
    options.drift = lockstep_engine::DriftMode::Warn;
    options.heal_only = heal_only;
    let key = |object: &Value| lockstep_engine::ResourceKey::of(object);
    options.previous_objects = previous.into_iter().map(|p| (key(&p), p)).collect();
    options
}

#[tokio::test]
async fn warn_applies_only_what_git_changed_and_reports_the_drift_it_kept() {
    let api = Recorded::default();
    api.answer(Method::GET, &format!("{CMS}/a"), 200, two_keys("1", "edited"))
        .answer(Method::PATCH, &format!("{CMS}/a"), 200, two_keys("2", "git"))
        .answer(Method::PATCH, &format!("{CMS}/a"), 200, two_keys("2", "edited"));
    let git = |value: &str| {
        let mut object = config_map("a", value);
        object["data"]["other"] = json!("git");
        object
    };
    let mut previous = git("1");
    previous["metadata"]["namespace"] = json!("web");
    let result = Engine::new(api.client()).sync(&manifests(&[git("2")]), &warned(false, Some(previous))).await;

    assert_eq!(api.requests("a"), ["GET", "PATCH (dry-run)", "PATCH"]);
    let apply = api.sent().into_iter().rfind(|s| s.method == Method::PATCH).unwrap();
    assert_eq!(apply.body["data"], json!({"value": "2", "other": "edited"}), "git's change, the drift kept");
    let a = &result.resources[0];
    assert_eq!((a.action, a.status, a.drifted), (Action::Update, SyncStatusCode::OutOfSync, true));
    assert_eq!(result.drifted(), vec![a.key.clone()]);
}

#[tokio::test]
async fn warn_never_heals_drift_of_a_synced_revision() {
    let api = Recorded::default();
    api.answer(Method::GET, &format!("{CMS}/a"), 200, two_keys("1", "edited")).answer(
        Method::PATCH,
        &format!("{CMS}/a"),
        200,
        two_keys("1", "git"),
    );
    let mut git = config_map("a", "1");
    git["data"]["other"] = json!("git");
    let result = Engine::new(api.client()).sync(&manifests(&[git]), &warned(true, None)).await;

    assert_eq!(api.requests("a"), ["GET", "PATCH (dry-run)"], "compared, not written");
    assert_eq!(result.progress, Progress::Complete);
    let a = &result.resources[0];
    assert_eq!((a.action, a.status, a.drifted), (Action::None, SyncStatusCode::OutOfSync, true));
}

#[tokio::test]
async fn ignore_creates_what_is_missing_and_leaves_what_exists() {
    let api = Recorded::default();
    api.answer(Method::GET, &format!("{CMS}/new"), 404, not_found("new"))
        .answer(Method::PATCH, &format!("{CMS}/new"), 201, live("new", "1"))
        .answer(Method::GET, &format!("{CMS}/edited"), 200, live("edited", "changed by hand"));
    let mut options = options(&[]);
    options.drift = lockstep_engine::DriftMode::Ignore;
    let result = Engine::new(api.client())
        .sync(&manifests(&[config_map("new", "1"), config_map("edited", "1")]), &options)
        .await;

    assert_eq!(api.requests("new"), ["GET", "PATCH"]);
    assert_eq!(api.requests("edited"), ["GET"], "not even dry-run");
    let outcomes: Vec<_> = result.resources.iter().map(|r| (r.key.name.as_str(), r.action, r.status)).collect();
    assert_eq!(
        outcomes,
        [("new", Action::Create, SyncStatusCode::Synced), ("edited", Action::None, SyncStatusCode::Synced)]
    );
    assert!(result.drifted().is_empty());
}
