use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, Recorder, Reporter};
use lockstep_source::GitCache;

use crate::clusters::Clusters;
use crate::config::ControllerConfig;

/// What every reconcile shares: clients, the git cache, the destination clusters and the event recorder.
pub(crate) struct Context {
    pub client: Client,
    pub config: ControllerConfig,
    pub source: GitCache,
    pub recorder: EventRecorder,
    /// Renders sources through the render cache.
    pub renderer: lockstep_render::Renderer,
    /// Destination clusters (the controller's own and those of cluster Secrets): for each, its
    /// client, engine, Helm capabilities and managed-object watches.
    pub clusters: Clusters,
    /// Credentials, known hosts and mirrors per fetch, and what each fetch reported.
    pub sources: crate::sources::Sources,
}

/// How long the controller publishes no Event before the recorder's series cache is dropped.
///
/// kube-runtime's [`Recorder`] keeps every Event it published (the whole object, keyed by
/// Application, reason and action) so that a repeat within 6 minutes becomes a series. It forgets
/// old entries only when it publishes again, and its map never gives back capacity, so after a
/// burst (cold start of 1,000 Applications: several Events each) some 20 KiB per Application
/// stayed resident through the idle time that follows, the largest per-Application cost measured.
/// lockstep publishes only on writes and transitions, so a repeat of the same Event after 20 s in
/// which nothing at all was published is rare, and starting a new Event for it (rather than
/// counting it in the old one's series) is harmless: Events are informational and expire anyway.
pub(crate) const EVENT_CACHE_QUIET: Duration = Duration::from_secs(20);

/// Publishes Events through a kube-runtime [`Recorder`] whose series cache is dropped once the
/// controller has been quiet for [`EVENT_CACHE_QUIET`].
pub(crate) struct EventRecorder {
    client: Client,
    reporter: Reporter,
    current: Mutex<(Recorder, Instant)>,
}

impl EventRecorder {
    pub(crate) fn new(client: Client, reporter: Reporter) -> Self {
        let recorder = Recorder::new(client.clone(), reporter.clone());
        Self { client, reporter, current: Mutex::new((recorder, Instant::now())) }
    }

    /// Publishes `ev` about `reference`, as [`Recorder::publish`] does.
    pub(crate) async fn publish(&self, ev: &Event, reference: &ObjectReference) -> Result<(), kube::Error> {
        let recorder = {
            let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            if is_quiet(current.1, now) {
                current.0 = self.fresh();
            }
            current.1 = now;
            current.0.clone()
        };
        recorder.publish(ev, reference).await
    }

    /// Drops the series cache when nothing was published for [`EVENT_CACHE_QUIET`]; called
    /// periodically so that an idle controller does not keep its last burst of Events.
    pub(crate) fn sweep(&self) {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if is_quiet(current.1, Instant::now()) {
            current.0 = self.fresh();
        }
    }

    fn fresh(&self) -> Recorder {
        Recorder::new(self.client.clone(), self.reporter.clone())
    }
}

/// Whether the last Event, published at `last`, is long enough ago at `now` to forget the series.
fn is_quiet(last: Instant, now: Instant) -> bool {
    now.saturating_duration_since(last) >= EVENT_CACHE_QUIET
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_cache_is_kept_while_events_flow() {
        let last = Instant::now();
        assert!(!is_quiet(last, last));
        assert!(!is_quiet(last, last + EVENT_CACHE_QUIET - Duration::from_millis(1)));
        assert!(is_quiet(last, last + EVENT_CACHE_QUIET));
        // A clock read before `last` (another task updated it meanwhile) is not quiet.
        assert!(!is_quiet(last + Duration::from_secs(5), last));
    }
}
