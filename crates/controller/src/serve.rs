//! The controller's side tasks: the metrics/health server (`--metrics-addr`), the push webhook
//! server (`--webhook-addr`), the notifier, readiness, and counting finished sync operations.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::runtime::reflector::Store;
use lockstep_api::{Application, OperationPhase};
use tracing::{info, warn};

use crate::context::Context;
use crate::error::ControllerError;
use crate::metrics::metrics;
use crate::webhook::WebhookState;
use lockstep_lease::Leadership;

/// Binds the configured servers and spawns every side task.
pub(crate) async fn start(
    ctx: Arc<Context>,
    apps: Store<Application>,
    pushed: crate::webhook::Pushed,
    leadership: Leadership,
) -> Result<(), ControllerError> {
    let observer: lockstep_source::GitRequestObserver = Box::new(|request| metrics().git_request(request));
    ctx.source.counters().observe(observer);
    if let Some(addr) = ctx.config.metrics_addr {
        let router = Router::new()
            .route("/metrics", get(render_metrics))
            .route("/healthz", get(healthz))
            .route("/readyz", get(readyz))
            .with_state(Probes { apps: apps.clone(), leadership: leadership.clone(), stuck_after: stuck_after(&ctx) });
        serve(addr, "metrics", router).await?;
    }
    if let Some(addr) = ctx.config.webhook_addr {
        let state = WebhookState { ctx: ctx.clone(), apps: apps.clone(), pushed, leadership: leadership.clone() };
        let router = lockstep_webhook::router(Arc::new(state));
        serve(addr, "webhook", router).await?;
    }
    tokio::spawn(count_syncs(apps.clone()));
    let namespace = ctx.config.controller_namespace.clone();
    let wiring = lockstep_notify::notifier::Wiring {
        is_leading: Arc::new(move || leadership.is_leading()),
        delivered: Arc::new(|kind: &'static str, result: &'static str| metrics().notification(kind, result)),
        queue_depth: Arc::new(|depth| metrics().notification_queue_depth(depth)),
        cached: notification_config(ctx.clone()),
        ui_url: ctx.config.ui_url.clone(),
    };
    tokio::spawn(lockstep_notify::notifier::run(ctx.client.clone(), namespace, apps, wiring));
    Ok(())
}

/// The notification ConfigMap and Secret from the lookups' watches, once both have listed.
fn notification_config(
    ctx: Arc<Context>,
) -> Arc<dyn Fn() -> Option<lockstep_notify::notifier::Configuration> + Send + Sync> {
    use lockstep_notify::config::CONFIG_NAME;
    Arc::new(move || {
        let namespace = &ctx.config.controller_namespace;
        let map = ctx.lookups.config_map(namespace, CONFIG_NAME)?;
        let secret = ctx.lookups.named_secret(namespace, CONFIG_NAME)?;
        Some((map.map(|m| m.as_ref().clone()), secret.map(|s| s.as_ref().clone())))
    })
}

/// Marks the controller ready once the Application watch has listed everything (its first
/// `InitDone`). `Store::wait_until_ready` is not used: it wakes only one waiter, the Controller.
pub(crate) fn mark_ready(event: &kube::runtime::watcher::Event<Application>) {
    if matches!(event, kube::runtime::watcher::Event::InitDone) {
        metrics().set_ready();
    }
}

async fn serve(addr: SocketAddr, what: &'static str, router: Router) -> Result<(), ControllerError> {
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|source| ControllerError::Listen { what, addr, source })?;
    info!(%addr, what, "listening");
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router).await {
            warn!(what, %err, "server stopped");
        }
    });
    Ok(())
}

/// What the metrics and probe endpoints read.
#[derive(Clone)]
struct Probes {
    apps: Store<Application>,
    leadership: Leadership,
    /// The longest one reconcile may legitimately take; past it with work in flight, `/healthz` fails.
    stuck_after: Duration,
}

/// A reconcile may wait out a sync operation, a fetch and a render; add a margin for the API calls.
fn stuck_after(ctx: &Context) -> Duration {
    let config = &ctx.config;
    config.sync_timeout + config.source.fetch_timeout + config.render.limits.timeout + Duration::from_secs(120)
}

async fn healthz(State(probes): State<Probes>) -> (StatusCode, String) {
    match lockstep_policy::liveness::verdict(crate::liveness::liveness().facts(), probes.stuck_after) {
        Ok(()) => (StatusCode::OK, "ok\n".to_owned()),
        Err(why) => {
            warn!("liveness: {why}");
            (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n"))
        }
    }
}

async fn render_metrics(State(probes): State<Probes>) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    let state = probes.apps.state();
    let text = metrics().render(state.iter().map(|a| a.as_ref()));
    ([(axum::http::header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text)
}

async fn readyz(State(probes): State<Probes>) -> (StatusCode, String) {
    readiness(metrics().is_ready(), probes.leadership.trouble())
}

/// Ready once the Application watch has listed everything and leader election works: a replica that
/// can't read or write its Lease will never lead, so it must not look like a working one.
fn readiness(watch_synced: bool, lease_trouble: Option<String>) -> (StatusCode, String) {
    match (watch_synced, lease_trouble) {
        (_, Some(trouble)) => (StatusCode::SERVICE_UNAVAILABLE, format!("leader election: {trouble}\n")),
        (false, None) => (StatusCode::SERVICE_UNAVAILABLE, "Application watch not synced\n".to_owned()),
        (true, None) => (StatusCode::OK, "ok\n".to_owned()),
    }
}

/// Counts each sync operation that finished after this process started, once, by phase.
async fn count_syncs(apps: Store<Application>) {
    let started = Timestamp::now();
    let mut counted: HashSet<(String, i64)> = HashSet::new();
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        for app in apps.state() {
            let Some(op) = app.status.as_ref().and_then(|s| s.operation_state.as_ref()) else { continue };
            let Some(finished) = op.finished_at.as_ref() else { continue };
            // Status times have whole seconds: an operation finished in the second the process
            // started counts.
            if op.phase == OperationPhase::Running || finished.0.as_second() < started.as_second() {
                continue;
            }
            let key = (app.uid().unwrap_or_default(), op.started_at.0.as_millisecond());
            if counted.insert(key) {
                let phase = format!("{:?}", op.phase);
                metrics().sync_ended(&app.namespace().unwrap_or_default(), &app.name_any(), &phase);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_needs_a_synced_watch_and_a_working_lease() {
        assert_eq!(readiness(true, None), (StatusCode::OK, "ok\n".to_owned()));
        assert_eq!(readiness(false, None).0, StatusCode::SERVICE_UNAVAILABLE);
        let (code, body) = readiness(true, Some("the lease namespace \"x\" does not exist".into()));
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("\"x\""), "{body}");
    }
}
