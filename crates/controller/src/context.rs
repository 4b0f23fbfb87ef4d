use kube::Client;
use kube::runtime::events::Recorder;
use lockstep_source::GitCache;

use crate::clusters::Clusters;
use crate::config::ControllerConfig;

/// What every reconcile shares: clients, the git cache, the destination clusters and the event recorder.
pub(crate) struct Context {
    pub client: Client,
    pub config: ControllerConfig,
    pub source: GitCache,
    pub recorder: Recorder,
    /// Renders sources through the render cache.
    pub renderer: lockstep_render::Renderer,
    /// Destination clusters (the controller's own and those of cluster Secrets): for each, its
    /// client, engine, Helm capabilities and managed-object watches.
    pub clusters: Clusters,
    /// Credentials, known hosts and mirrors per fetch, and what each fetch reported.
    pub sources: crate::sources::Sources,
}
