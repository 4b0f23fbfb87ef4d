//! The controller's Prometheus metrics (`prometheus-client`), one registry per process.
//!
//! Names and labels are documented in docs/metrics.md and are a public contract: dashboards and
//! alerts depend on them. `lockstep_app_info` is rebuilt from the Application cache at each scrape,
//! so it always describes exactly the Applications that exist.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use kube::ResourceExt;
use lockstep_api::Application;
use lockstep_engine::{AppRef, ResourceKey};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

/// The project of an Application that names none.
pub const DEFAULT_PROJECT: &str = "default";

/// Labels of `lockstep_app_info`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AppInfoLabels {
    /// The Application's namespace.
    pub namespace: String,
    /// The Application's name.
    pub name: String,
    /// `spec.project`, `default` when empty.
    pub project: String,
    /// `spec.source.repoURL` as written (a multi-source Application's first source's).
    pub repo: String,
    /// `spec.destination.server`; the in-cluster URL when empty (or the cluster name when only
    /// a name other than `in-cluster` is given).
    pub dest_server: String,
    /// `spec.destination.namespace` (empty when unset).
    pub dest_namespace: String,
    /// `Synced`, `OutOfSync` or `Unknown`.
    pub sync_status: String,
    /// `Healthy`, `Progressing`, `Degraded`, `Suspended`, `Missing` or `Unknown`.
    pub health_status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DriftLabels {
    namespace: String,
    name: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SyncLabels {
    namespace: String,
    name: String,
    phase: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GitLabels {
    repo: String,
    request_type: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GitDurationLabels {
    repo: String,
    request_type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KubeLabels {
    verb: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ServiceResult {
    service: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderResult {
    provider: String,
    result: String,
}

/// Every metric the controller exposes.
pub struct Metrics {
    registry: Registry,
    app_info: Family<AppInfoLabels, Gauge>,
    /// Serialises rebuilds of `app_info` by concurrent scrapes.
    scrape: Mutex<()>,
    reconcile_duration: Histogram,
    reconcile_queue: Histogram,
    sync_total: Family<SyncLabels, Counter>,
    outcomes: Family<OutcomeLabels, Counter>,
    held: Family<OutcomeLabels, Counter>,
    drift_objects: Family<DriftLabels, Gauge>,
    /// The kinds each Application last reported drifted, so a kind no longer drifted drops to 0.
    drifted_kinds: Mutex<HashMap<AppRef, BTreeSet<String>>>,
    git_requests: Family<GitLabels, Counter>,
    git_duration: Family<GitDurationLabels, Histogram>,
    kube_requests: Family<KubeLabels, Counter>,
    notifications: Family<ServiceResult, Counter>,
    webhook_requests: Family<ProviderResult, Counter>,
    reconciles_in_flight: Gauge,
    notification_queue: Gauge,
    ready: AtomicBool,
}

/// The outcome of a reconcile that failed on the controller's side (its status could not be written).
pub const CONTROLLER_ERROR: &str = "ControllerError";

fn duration_histogram() -> Histogram {
    // 5ms … ~40s
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::default();
        let app_info = Family::<AppInfoLabels, Gauge>::default();
        registry.register(
            "lockstep_app_info",
            "One per Application, labelled with its sync and health status",
            app_info.clone(),
        );
        let reconcile_duration = duration_histogram();
        registry.register(
            "lockstep_app_reconcile_duration_seconds",
            "How long one reconcile of one Application took",
            reconcile_duration.clone(),
        );
        // 1 ms … ~131 s: a backlog after a cold start or a burst of commits waits for minutes.
        let reconcile_queue = Histogram::new(exponential_buckets(0.001, 2.0, 18));
        registry.register(
            "lockstep_app_reconcile_queue_seconds",
            "How long an Application waited for a worker, from when its reconcile became due to its start",
            reconcile_queue.clone(),
        );
        let outcomes = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "lockstep_app_reconciles",
            "Finished reconciles by outcome: the Ready condition's reason, or ControllerError when the \
             reconcile failed on the controller's side",
            outcomes.clone(),
        );
        let held = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "lockstep_sync_held",
            "Passes whose writes were held, by reason: Paused, DependencyNotReady or SyncWindowBlocked",
            held.clone(),
        );
        let drift_objects = Family::<DriftLabels, Gauge>::default();
        registry.register(
            "lockstep_drift_objects",
            "Objects that differ from git and are kept so by drift mode warn, by Application and kind",
            drift_objects.clone(),
        );
        let sync_total = Family::<SyncLabels, Counter>::default();
        registry.register("lockstep_app_sync", "Sync operations that ended, by phase", sync_total.clone());
        let git_requests = Family::<GitLabels, Counter>::default();
        registry.register(
            "lockstep_git_requests",
            "Remote git requests by repository, type and result",
            git_requests.clone(),
        );
        let git_duration =
            Family::<GitDurationLabels, Histogram>::new_with_constructor(duration_histogram as fn() -> Histogram);
        registry.register(
            "lockstep_git_request_duration_seconds",
            "Duration of remote git requests",
            git_duration.clone(),
        );
        let kube_requests = Family::<KubeLabels, Counter>::default();
        registry.register(
            "lockstep_kube_requests",
            "Kubernetes API requests by verb and HTTP status code",
            kube_requests.clone(),
        );
        let notifications = Family::<ServiceResult, Counter>::default();
        registry.register("lockstep_notifications", "Notifications by service and result", notifications.clone());
        let webhook_requests = Family::<ProviderResult, Counter>::default();
        registry.register(
            "lockstep_webhook_requests",
            "Push webhook requests by provider and result",
            webhook_requests.clone(),
        );
        let reconciles_in_flight = Gauge::default();
        registry.register("lockstep_reconciles_in_flight", "Reconciles running now", reconciles_in_flight.clone());
        let notification_queue = Gauge::default();
        registry.register(
            "lockstep_notifications_queue_depth",
            "Notifications waiting for delivery",
            notification_queue.clone(),
        );
        registry.register(
            "lockstep_build",
            "The lockstep version",
            Info::new(vec![("version".to_string(), env!("CARGO_PKG_VERSION").to_string())]),
        );
        Self {
            registry,
            app_info,
            scrape: Mutex::new(()),
            reconcile_duration,
            reconcile_queue,
            sync_total,
            outcomes,
            held,
            drift_objects,
            drifted_kinds: Mutex::default(),
            git_requests,
            git_duration,
            kube_requests,
            notifications,
            webhook_requests,
            reconciles_in_flight,
            notification_queue,
            ready: AtomicBool::new(false),
        }
    }

    /// The text exposition of every metric, with `lockstep_app_info` rebuilt from `apps`.
    pub fn render<'a>(&self, apps: impl IntoIterator<Item = &'a Application>) -> String {
        let _guard = self.scrape.lock().unwrap_or_else(|p| p.into_inner());
        self.app_info.clear();
        for app in apps {
            self.app_info.get_or_create(&app_info(app)).set(1);
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Records one finished reconcile.
    pub fn reconciled(&self, took: Duration) {
        self.reconcile_duration.observe(took.as_secs_f64());
    }

    /// Records how one reconcile ended: a `Ready` reason (a bounded set, [`lockstep_api::conditions::Reason`])
    /// or [`CONTROLLER_ERROR`].
    pub fn outcome(&self, outcome: &str) {
        let outcome = if outcome == CONTROLLER_ERROR || lockstep_api::conditions::Reason::parse(outcome).is_some() {
            outcome
        } else {
            "Unknown"
        };
        self.outcomes.get_or_create(&OutcomeLabels { outcome: outcome.into() }).inc();
    }

    /// Records a pass whose writes a pause, a dependency or a sync window held (one of the `Ready`
    /// reasons naming them).
    pub fn held(&self, reason: &str) {
        self.held.get_or_create(&OutcomeLabels { outcome: reason.into() }).inc();
    }

    /// Records the objects one Application keeps drifted (drift mode `warn`) after a pass.
    pub fn drifted(&self, app: &AppRef, drifted: &[ResourceKey]) {
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        for key in drifted {
            *counts.entry(key.kind.clone()).or_default() += 1;
        }
        let mut known = self.drifted_kinds.lock().unwrap_or_else(|p| p.into_inner());
        let before = known.remove(app).unwrap_or_default();
        let labels =
            |kind: &str| DriftLabels { namespace: app.namespace.clone(), name: app.name.clone(), kind: kind.into() };
        for gone in before.iter().filter(|k| !counts.contains_key(*k)) {
            self.drift_objects.remove(&labels(gone));
        }
        for (kind, count) in &counts {
            self.drift_objects.get_or_create(&labels(kind)).set(*count);
        }
        if !counts.is_empty() {
            known.insert(app.clone(), counts.into_keys().collect());
        }
    }

    /// Records how long a reconcile waited for a worker after it became due.
    pub fn queued(&self, waited: Duration) {
        self.reconcile_queue.observe(waited.as_secs_f64());
    }

    /// A reconcile started (`+1`) or ended (`-1`).
    pub fn in_flight(&self, delta: i64) {
        self.reconciles_in_flight.inc_by(delta);
    }

    /// Records a sync operation that ended in `phase`.
    pub fn sync_ended(&self, namespace: &str, name: &str, phase: &str) {
        let labels = SyncLabels { namespace: namespace.into(), name: name.into(), phase: phase.into() };
        self.sync_total.get_or_create(&labels).inc();
    }

    /// Records one remote git request.
    pub fn git_request(&self, request: &lockstep_source::GitRequest) {
        let request_type = request.request_type.as_str().to_string();
        let result = if request.ok { "success" } else { "failure" }.to_string();
        let labels = GitLabels { repo: request.repo.clone(), request_type: request_type.clone(), result };
        self.git_requests.get_or_create(&labels).inc();
        let labels = GitDurationLabels { repo: request.repo.clone(), request_type };
        self.git_duration.get_or_create(&labels).observe(request.duration.as_secs_f64());
    }

    /// Records one Kubernetes API request.
    pub fn kube_request(&self, verb: &str, code: &str) {
        self.kube_requests.get_or_create(&KubeLabels { verb: verb.into(), code: code.into() }).inc();
    }

    /// Records one notification attempt's final result (`success`, `failure`, `dropped`).
    pub fn notification(&self, service: &str, result: &str) {
        self.notifications.get_or_create(&ServiceResult { service: service.into(), result: result.into() }).inc();
    }

    /// Sets how many notifications wait for delivery.
    pub fn notification_queue_depth(&self, depth: usize) {
        self.notification_queue.set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// Records one webhook request (`result`: `accepted`, `ignored`, `unauthorized`, `bad-request`).
    pub fn webhook_request(&self, provider: &str, result: &str) {
        let labels = ProviderResult { provider: provider.into(), result: result.into() };
        self.webhook_requests.get_or_create(&labels).inc();
    }

    /// Marks the controller ready (the Application watch has listed everything once).
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }

    /// Whether the Application watch has synced.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }
}

/// Builds the controller's client (from the kubeconfig or in-cluster config, sending
/// `lockstep/<version> (<identity>)`) with every request of every client counted in
/// `lockstep_kube_requests_total`.
pub async fn instrumented_client(identity: &str) -> Result<kube::Client, kube::Error> {
    lockstep_clusters::observe_requests(|verb, code| metrics().kube_request(verb, code));
    lockstep_clusters::instrumented_client(identity).await
}

/// The process's metrics.
pub fn metrics() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// The `lockstep_app_info` labels of one Application.
pub fn app_info(app: &Application) -> AppInfoLabels {
    let status = app.status.as_ref();
    AppInfoLabels {
        namespace: app.namespace().unwrap_or_default(),
        name: app.name_any(),
        project: app.spec.project.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| DEFAULT_PROJECT.into()),
        repo: app.spec.primary_source().map(|s| s.repo_url.clone()).unwrap_or_default(),
        dest_server: dest_server(&app.spec.destination),
        dest_namespace: app.spec.destination.namespace.clone().unwrap_or_default(),
        sync_status: status.map_or("Unknown".into(), |s| format!("{:?}", s.sync.status)),
        health_status: status.map_or("Unknown".into(), |s| format!("{:?}", s.health.status)),
    }
}

fn dest_server(destination: &lockstep_api::ApplicationDestination) -> String {
    let nonempty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    match (nonempty(&destination.server), nonempty(&destination.name)) {
        (Some(server), _) => server,
        (None, Some(name)) if name != lockstep_api::IN_CLUSTER_NAME => name,
        _ => lockstep_api::IN_CLUSTER_SERVER.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_api::{ApplicationSpec, ApplicationStatus, HealthStatusCode, SyncStatusCode};

    #[test]
    fn app_info_names_status_and_destination() {
        let mut app = Application::new("guestbook", ApplicationSpec::default());
        app.metadata.namespace = Some("team".into());
        app.spec.source = Some(lockstep_api::ApplicationSource {
            repo_url: "https://git.example.com/guestbook.git".into(),
            ..Default::default()
        });
        app.spec.destination.namespace = Some("gb".into());
        let mut status = ApplicationStatus::default();
        status.sync.status = SyncStatusCode::OutOfSync;
        status.health.status = HealthStatusCode::Degraded;
        app.status = Some(status);
        let labels = app_info(&app);
        assert_eq!((labels.sync_status.as_str(), labels.health_status.as_str()), ("OutOfSync", "Degraded"));
        let mut elsewhere = app.clone();
        elsewhere.spec.project = Some("payments".into());
        elsewhere.spec.destination.server = Some("https://prod.example.com:6443".into());
        let labels = app_info(&elsewhere);
        assert_eq!(
            (labels.project.as_str(), labels.dest_server.as_str()),
            ("payments", "https://prod.example.com:6443")
        );
        let text = metrics().render([&app]);
        assert!(text.contains(r#"lockstep_app_info{namespace="team",name="guestbook",project="default",repo="https://git.example.com/guestbook.git",dest_server="https://kubernetes.default.svc",dest_namespace="gb",sync_status="OutOfSync",health_status="Degraded"} 1"#), "{text}");
        assert!(text.contains("lockstep_build_info{version="), "{text}");
        let text = metrics().render([]);
        assert!(!text.contains("guestbook"));
    }

    #[test]
    fn queue_waits_are_a_histogram_from_a_millisecond() {
        metrics().queued(Duration::from_millis(3));
        let text = metrics().render([]);
        assert!(text.contains("# TYPE lockstep_app_reconcile_queue_seconds histogram"), "{text}");
        assert!(text.contains(r#"lockstep_app_reconcile_queue_seconds_bucket{le="0.001"}"#), "{text}");
        assert!(text.contains(r#"lockstep_app_reconcile_queue_seconds_bucket{le="0.004"}"#), "{text}");
    }

    #[test]
    fn outcomes_are_ready_reasons_or_a_bounded_fallback() {
        metrics().outcome("SyncFailed");
        metrics().outcome(CONTROLLER_ERROR);
        metrics().outcome("something a future version might write");
        let text = metrics().render([]);
        for outcome in ["SyncFailed", "ControllerError", "Unknown"] {
            let line = format!("lockstep_app_reconciles_total{{outcome=\"{outcome}\"}}");
            assert!(text.contains(&line), "{line} in {text}");
        }
        assert!(!text.contains("future version"), "{text}");
    }
}
