use kube::Client;
use kube::runtime::events::Recorder;
use lockstep_engine::Engine;
use lockstep_source::GitCache;

use crate::config::ControllerConfig;

/// What every reconcile shares: clients, the git cache, the engine and the event recorder.
pub(crate) struct Context {
    pub client: Client,
    pub config: ControllerConfig,
    pub source: GitCache,
    pub engine: Engine,
    pub recorder: Recorder,
}
