//! kube-runtime wiring: the Application watch, the trigger filter and the worker pool.

use std::sync::Arc;

use futures::StreamExt;
use kube::runtime::controller::{Config, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::utils::PredicateConfig;
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, Client};
use lockstep_api::Application;
use lockstep_engine::Engine;
use lockstep_source::GitCache;
use tracing::{info, warn};

use crate::config::ControllerConfig;
use crate::context::Context;
use crate::error::ControllerError;
use crate::reconcile::{error_policy, reconcile};
use crate::trigger::trigger_hash;
use crate::watches::ManagedWatches;

/// Runs the controller until SIGTERM or Ctrl-C.
pub async fn run(client: Client, config: ControllerConfig) -> Result<(), ControllerError> {
    let apps: Api<Application> = match &config.watch_namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let source = GitCache::with_options(&config.cache_dir, config.source.clone())?;
    let instance = std::env::var("POD_NAME").or_else(|_| std::env::var("HOSTNAME")).ok();
    let reporter = Reporter { controller: "lockstep".into(), instance };
    let workers = config.workers;
    let (trigger, managed_changes) = futures::channel::mpsc::unbounded();
    let context = Arc::new(Context {
        watches: ManagedWatches::new(client.clone(), config.watch_namespace.clone(), trigger),
        recorder: Recorder::new(client.clone(), reporter),
        renderer: lockstep_render::Renderer::new(config.render.clone()),
        capabilities: Default::default(),
        engine: Engine::new(client.clone()),
        source,
        sources: Default::default(),
        config,
        client,
    });

    let (reader, writer) = reflector::store();
    let triggers = watcher(apps, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(trigger_hash, PredicateConfig::default());
    info!(namespace = context.config.watch_namespace.as_deref().unwrap_or("<all>"), "watching Applications");
    Controller::for_stream(triggers, reader)
        .with_config(Config::default().concurrency(workers))
        .reconcile_on(managed_changes)
        .shutdown_on_signal()
        .run(reconcile, error_policy, context)
        .for_each(|result| async move {
            if let Err(err) = result {
                warn!(%err, "controller");
            }
        })
        .await;
    info!("stopped");
    Ok(())
}
