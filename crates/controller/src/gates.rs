//! Gathers what may hold a pass's writes: a pause of the Application or of its destination
//! cluster, the readiness of its dependencies, and its project's sync windows. Each is read from a
//! cache (the Application, the cluster Secret store, the Application store, the AppProject store);
//! what they mean together is decided in [`lockstep_policy::hold`].

use std::collections::HashMap;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use lockstep_api::Application;
use lockstep_api::kube_error::one_line;
use lockstep_clusters::ClusterTarget;
use lockstep_engine::AppRef;
use lockstep_policy::dependencies::{DependencyVerdict, DependencyView, assess};
use lockstep_policy::hold::{Blocked, DependencyGate, Gates};
use lockstep_policy::project::Project;
use lockstep_policy::sync_window::{Gate, WindowTarget, verdict};

use crate::context::Context;

/// The gates of one pass, or a message saying why they cannot be evaluated (an invalid sync window).
pub(crate) async fn gates(
    app: &Application,
    ctx: &Context,
    target: &ClusterTarget,
    project: &Project,
    namespace: &str,
    now: Timestamp,
) -> Result<Gates, String> {
    let paused = paused(app, ctx).map(|message| Blocked { message, until: None });
    let (window_automated, window_manual) = match project {
        Project::Rules { name, spec } if !spec.sync_windows.is_empty() => {
            let target = WindowTarget {
                app: &app.name_any(),
                namespace,
                cluster_name: &target.identity.name,
                cluster_server: &target.identity.server,
            };
            let verdict =
                verdict(&spec.sync_windows, &target, now).map_err(|err| format!("project {name:?}: {err}"))?;
            (blocked(verdict.automated), blocked(verdict.manual))
        }
        _ => (None, None),
    };
    let dependencies = dependencies(app, ctx).await;
    Ok(Gates { paused, dependencies, window_automated, window_manual })
}

fn blocked(gate: Gate) -> Option<Blocked> {
    match gate {
        Gate::Open => None,
        Gate::Blocked(block) => Some(Blocked { message: block.message(), until: block.until }),
    }
}

/// Why nothing may be written: the Application's own pause annotation, else its cluster Secret's.
pub(crate) fn paused(app: &Application, ctx: &Context) -> Option<String> {
    match lockstep_policy::hold::pause_annotation(app.metadata.annotations.as_ref()) {
        Some(key) => Some(format!("paused: the Application {:?} has {key}=true", app.name_any())),
        None => ctx.clusters.paused(&app.spec.destination),
    }
}

/// The readiness of `spec.dependsOn`, from the watch's cache of Applications. A dependency the
/// cache lacks (another shard's, or one created a moment ago) is read once from the API server
/// before it is called missing.
async fn dependencies(app: &Application, ctx: &Context) -> DependencyGate {
    if app.spec.depends_on.is_empty() {
        return DependencyGate::Ready;
    }
    let key = AppRef { namespace: app.namespace().unwrap_or_default(), name: app.name_any() };
    let cached =
        |k: &AppRef| ctx.apps.get(&ObjectRef::new(&k.name).within(&k.namespace)).map(|a| DependencyView::of(&a));
    let mut verdict = assess(&key, cached);
    if let DependencyVerdict::Missing(missing) = &verdict {
        let mut read = HashMap::new();
        for wanted in missing {
            let api: Api<Application> = Api::namespaced(ctx.client.clone(), &wanted.namespace);
            match api.get_opt(&wanted.name).await {
                Ok(Some(found)) => {
                    read.insert(wanted.clone(), DependencyView::of(&found));
                }
                Ok(None) => {}
                Err(err) => {
                    let message = format!("reading dependency {wanted}: {}", one_line(&err));
                    return DependencyGate::Waiting(message);
                }
            }
        }
        if !read.is_empty() {
            verdict = assess(&key, |k: &AppRef| read.get(k).cloned().or_else(|| cached(k)));
        }
    }
    let message = verdict.message().unwrap_or_default();
    match verdict {
        DependencyVerdict::Ready => DependencyGate::Ready,
        DependencyVerdict::Waiting(_) => DependencyGate::Waiting(message),
        DependencyVerdict::Missing(_) | DependencyVerdict::Cycle(_) => DependencyGate::Broken(message),
    }
}
