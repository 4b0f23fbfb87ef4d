use kube::Client;
use kube::runtime::events::Recorder;
use lockstep_engine::Engine;
use lockstep_source::GitCache;

use crate::config::ControllerConfig;
use crate::watches::ManagedWatches;

/// What every reconcile shares: clients, the git cache, the engine and the event recorder.
pub(crate) struct Context {
    pub client: Client,
    pub config: ControllerConfig,
    pub source: GitCache,
    pub engine: Engine,
    pub recorder: Recorder,
    /// Renders sources through the render cache.
    pub renderer: lockstep_render::Renderer,
    /// The cluster's version and API versions, for Helm's `.Capabilities`.
    pub capabilities: crate::rendering::Capabilities,
    pub watches: ManagedWatches,
    /// Credentials, known hosts and mirrors per fetch, and what each fetch reported.
    pub sources: crate::sources::Sources,
}
