//! kube-runtime wiring: the Application watch, the trigger filter and the worker pool, leader
//! election and sharding.
//!
//! Every replica runs the watches and keeps its cache of Applications warm; only the leader's
//! reconciles do anything (see `lockstep_lease::Election`): a follower's reconcile returns at once, and gaining
//! leadership reconciles every Application in the cache. Losing it abandons in-flight reconciles.
//! SIGTERM stops new reconciles, lets in-flight ones finish, then releases the Lease.

use std::sync::Arc;

use futures::{FutureExt, StreamExt, TryStreamExt};
use kube::core::DeserializeGuard;
use kube::runtime::controller::{Action, Config, Controller};
use kube::runtime::events::Reporter;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::utils::PredicateConfig;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client, ResourceExt};
use lockstep_api::Application;
use lockstep_engine::migrate::LAST_APPLIED;
use lockstep_source::GitCache;
use tracing::{info, warn};

use crate::config::ControllerConfig;
use crate::context::{Context, EVENT_CACHE_QUIET, EventRecorder};
use crate::error::ControllerError;
use crate::reconcile::{error_policy, reconcile};
use crate::trigger::trigger_hash;
use lockstep_clusters::Clusters;
use lockstep_lease::{Election, Leadership};

/// Runs the controller until SIGTERM or Ctrl-C.
pub async fn run(client: Client, config: ControllerConfig) -> Result<(), ControllerError> {
    let apps: Api<DeserializeGuard<Application>> = match &config.watch_namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let source = GitCache::with_options(&config.cache_dir, config.source.clone())?;
    let helm_repos = lockstep_source::HelmRepoCache::new(&config.cache_dir, config.helm_repos.clone())?;
    let oci = lockstep_source::OciCache::open(&config.cache_dir, config.oci.clone())?;
    let instance = std::env::var("POD_NAME").or_else(|_| std::env::var("HOSTNAME")).ok();
    let reporter = Reporter { controller: "lockstep".into(), instance: instance.clone() };
    let workers = config.workers;
    let shard = config.shard;
    let (election, leadership, _always) = match config.leader_election.clone() {
        Some(settings) => {
            let (election, leadership) = Election::start(client.clone(), settings);
            (Some(election), leadership, None)
        }
        None => {
            let (always, leadership) = Leadership::always();
            (None, leadership, Some(always))
        }
    };
    let (trigger, managed_changes) = futures::channel::mpsc::unbounded();
    let pushed = trigger.clone();
    let (reader, writer) = reflector::store();
    let dependents = Arc::new(crate::dependents::Dependents::new(reader.clone(), trigger.clone()));
    let deleted_dependency = dependents.clone();
    let (cluster_secrets, cluster_changes) =
        lockstep_clusters::watch_secrets(client.clone(), &config.controller_namespace);
    let (lookups, project_changes) =
        crate::lookups::Lookups::start(&client, &config.controller_namespace, config.watch_namespace.as_deref());
    let context = Arc::new(Context {
        clusters: Clusters::new(
            client.clone(),
            kube::Config::infer().await.ok(),
            cluster_secrets,
            config.watch_namespace.clone(),
            trigger,
        ),
        recorder: EventRecorder::new(client.clone(), reporter),
        renderer: lockstep_render::Renderer::new(config.render.clone()),
        source,
        helm_repos,
        oci,
        sources: Default::default(),
        lookups,
        undecodable: Default::default(),
        apps: reader.clone(),
        written: Default::default(),
        config,
        client,
    });

    let sweeping = Arc::downgrade(&context);
    let reporter_leadership = leadership.clone();
    let known = reader.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(EVENT_CACHE_QUIET / 4);
        loop {
            ticks.tick().await;
            let Some(context) = sweeping.upgrade() else { return };
            context.recorder.sweep();
            if reporter_leadership.is_leading() {
                crate::undecodable::report_pending(&context).await;
            }
            // Before the first listing the store is empty, and nothing would be kept.
            if !known.state().is_empty() {
                let exists = |ns: &str, name: &str| known.get(&ObjectRef::new(name).within(ns)).is_some();
                context.sources.retain(exists);
                crate::queue_wait::retain(exists);
            }
        }
    });
    let forgetting = Arc::downgrade(&context);
    let reporting = (Arc::downgrade(&context), leadership.clone());
    let (stop_sets, sets_stopping) = futures::channel::oneshot::channel::<()>();
    let (set_refresh, set_refreshes) = futures::channel::mpsc::unbounded();
    let (sets, set_controller) = lockstep_appset::start(
        context.client.clone(),
        lockstep_appset::Wiring {
            watch_namespace: context.config.watch_namespace.clone(),
            controller_namespace: context.config.controller_namespace.clone(),
            leadership: leadership.clone(),
            shard,
            git: Arc::new(crate::set_sources::SetSources(context.clone())),
            reporter: Reporter { controller: "lockstep-applicationset".into(), instance },
            refresh: set_refreshes,
            shutdown: sets_stopping,
        },
    );
    tokio::spawn(set_controller);
    let pushes = crate::webhook::Pushed { apps: pushed, sets, set_refresh };
    crate::serve::start(context.clone(), reader.clone(), pushes, leadership.clone()).await?;
    let triggers = watcher(apps, watcher::Config::default())
        .default_backoff()
        .inspect(|event| crate::liveness::liveness().watch_result(event.is_ok()))
        .try_filter_map(move |event| {
            let (event, undecodable) = crate::undecodable::split(event);
            if let Some(context) = reporting.0.upgrade() {
                if let Some(watcher::Event::Apply(app) | watcher::Event::InitApply(app)) = &event {
                    context.undecodable.fixed(app.metadata.namespace.as_deref(), &app.name_any());
                }
                if let Some(bad) = undecodable {
                    let namespace = bad.metadata.namespace.as_deref().unwrap_or_default();
                    if shard.owns(namespace, bad.metadata.name.as_deref().unwrap_or_default()) {
                        context.undecodable.note(bad);
                    }
                    if reporting.1.is_leading() {
                        tokio::spawn(async move { crate::undecodable::report_pending(&context).await });
                    }
                }
            }
            std::future::ready(Ok(event))
        })
        .try_filter(move |event| std::future::ready(shard.keeps(event)))
        .inspect_ok(crate::serve::mark_ready)
        .inspect_ok(move |event| {
            if let watcher::Event::Delete(app) = event {
                deleted_dependency.deleted(app);
            }
            if let (watcher::Event::Delete(app), Some(context)) = (event, forgetting.upgrade()) {
                let app = ObjectRef::from_obj(app);
                tokio::spawn(async move { context.forget(app).await });
            }
        })
        .modify(slim)
        .reflect(writer)
        .applied_objects()
        .inspect_ok(move |app| dependents.changed(app))
        .predicate_filter(trigger_hash, PredicateConfig::default())
        .inspect_ok(crate::queue_wait::due_now);
    info!(
        namespace = context.config.watch_namespace.as_deref().unwrap_or("<all>"),
        shard = shard.index(),
        shards = shard.count(),
        "watching Applications"
    );
    let (stop, stopping) = futures::channel::oneshot::channel();
    tokio::spawn(async move {
        shutdown_signal().await;
        info!("shutting down: finishing in-flight reconciles");
        let _ = stop.send(());
        let _ = stop_sets.send(());
        shutdown_signal().await;
        warn!("second signal: exiting without waiting");
        std::process::exit(1);
    });
    let counted = reader.clone();
    let gained = leadership.gained().inspect(move |()| {
        info!(applications = counted.state().len(), "leading: reconciling every Application in the cache");
    });
    Controller::for_stream(triggers, reader)
        .with_config(Config::default().concurrency(workers))
        .reconcile_on(
            managed_changes
                .filter(move |app| std::future::ready(shard.owns_ref(app)))
                .inspect(crate::queue_wait::ref_due_now),
        )
        .reconcile_all_on(gained)
        .reconcile_all_on(project_changes)
        .reconcile_all_on(cluster_changes)
        .graceful_shutdown_on(stopping.map(drop))
        .run(move |app, ctx| lead_then_reconcile(app, ctx, leadership.clone()), error_policy, context)
        .for_each(|result| async move {
            if let Err(err) = result {
                warn!(%err, "controller");
            }
        })
        .await;
    if let Some(election) = election {
        election.stop().await;
    }
    info!("stopped");
    Ok(())
}

/// Drops what the controller never reads from a cached Application: its managedFields (one entry
/// per field manager, the status writer's listing every `status.resources` entry again) and
/// kubectl's last-applied annotation (a second copy of the whole spec). The cache holds every
/// Application for the controller's lifetime, so these were a large part of the memory each
/// Application costs. Status is written by server-side apply, which needs neither.
fn slim(app: &mut Application) {
    app.metadata.managed_fields = None;
    if let Some(annotations) = app.metadata.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
    }
}

/// Reconciles only while this replica leads: a follower leaves the Application to the leader (it is
/// reconciled when this replica gains leadership), and losing leadership abandons the reconcile at
/// its next await point so that nothing is written after another replica may have taken over.
/// Either way the Application stays scheduled a resync period ahead, so that a replica that leads
/// later reaches every Application within one resync period, even one its bulk reconcile on
/// gaining leadership missed.
async fn lead_then_reconcile(
    app: Arc<Application>,
    ctx: Arc<Context>,
    leadership: Leadership,
) -> Result<Action, ControllerError> {
    let later = Action::requeue(crate::trigger::jittered(ctx.config.resync_period));
    if !leadership.is_leading() {
        return Ok(later);
    }
    crate::queue_wait::started(&app);
    tokio::select! {
        result = crate::instrument::traced(&app.clone(), reconcile(app, ctx)) => result,
        () = leadership.lost() => Ok(later),
    }
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c().map(drop);
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(err) => {
            warn!(%err, "cannot listen for SIGTERM; only Ctrl-C stops the controller gracefully");
            ctrl_c.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;
    use kube::ResourceExt;
    use lockstep_api::ApplicationSpec;

    #[test]
    fn slim_drops_managed_fields_and_last_applied_only() {
        let mut app = Application::new("a", ApplicationSpec::default());
        app.metadata.managed_fields = Some(vec![ManagedFieldsEntry::default()]);
        app.annotations_mut().insert(LAST_APPLIED.into(), "{}".into());
        app.annotations_mut().insert("lockstep.dev/refresh".into(), "now".into());
        slim(&mut app);
        assert!(app.metadata.managed_fields.is_none());
        assert_eq!(app.annotations().keys().collect::<Vec<_>>(), ["lockstep.dev/refresh"]);
    }
}
