use std::sync::Mutex;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::runtime::events::{Event, Recorder, Reporter};
use lockstep_source::GitCache;

use crate::config::ControllerConfig;
use lockstep_clusters::Clusters;

/// What every reconcile shares: clients, the git cache, the destination clusters and the event recorder.
pub(crate) struct Context {
    pub client: Client,
    pub config: ControllerConfig,
    pub source: GitCache,
    /// Helm repository indexes and unpacked charts, shared by every Application.
    pub helm_repos: lockstep_source::HelmRepoCache,
    /// OCI artifacts (Helm charts and manifest artifacts), one download per digest.
    pub oci: lockstep_source::OciCache,
    pub recorder: EventRecorder,
    /// Renders sources through the render cache.
    pub renderer: lockstep_render::Renderer,
    /// Destination clusters (the controller's own and those of cluster Secrets): for each, its
    /// client, engine, Helm capabilities and managed-object watches.
    pub clusters: Clusters,
    /// Refresh tokens per Application, to tell an explicit refresh from a periodic look.
    pub sources: crate::sources::Sources,
    /// AppProjects, credential Secrets and the controller's ConfigMaps, from reflector stores.
    pub lookups: crate::lookups::Lookups,
    /// Applications already reported as undecodable.
    pub undecodable: crate::undecodable::Reported,
    /// The watch's cache of Applications (this shard's), where dependencies are looked up.
    pub apps: kube::runtime::reflector::Store<lockstep_api::Application>,
    /// The status last written per Application, for passes that start on a cached copy one write behind.
    pub written: crate::written_status::WrittenStatuses,
}

impl Context {
    /// Frees everything kept for an Application that is gone: its source tokens and reports, its
    /// watched kinds and the engines' caches.
    pub(crate) async fn forget(&self, app: kube::runtime::reflector::ObjectRef<lockstep_api::Application>) {
        self.sources.forget(app.namespace.as_deref().unwrap_or_default(), &app.name);
        crate::queue_wait::forget(app.namespace.as_deref().unwrap_or_default(), &app.name);
        self.written.forget(&(app.namespace.clone().unwrap_or_default(), app.name.clone()));
        self.clusters.forget(app).await;
    }
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

/// Events published through one [`Recorder`] before it is replaced by a fresh one. Its cache keys
/// an Event by the Application's reference including its resourceVersion, so under a steady
/// stream of syncs (each writes the status) every Event is a new entry, kept for 6 minutes: its
/// size followed the Event rate without bound. Only repeats without a status write in between (a
/// failing sync retried) become series, and those come in quick succession, so a fresh cache every
/// 256 Events loses at most one series count per 256 Events.
pub(crate) const EVENTS_PER_RECORDER: usize = 256;

/// Publishes Events through a kube-runtime [`Recorder`] whose series cache is dropped once the
/// controller has been quiet for [`EVENT_CACHE_QUIET`].
pub(crate) struct EventRecorder {
    client: Client,
    reporter: Reporter,
    current: Mutex<Current>,
}

/// The recorder in use, when it last published, and how many Events it published.
struct Current {
    recorder: Recorder,
    last: Instant,
    published: usize,
}

impl EventRecorder {
    pub(crate) fn new(client: Client, reporter: Reporter) -> Self {
        let recorder = Recorder::new(client.clone(), reporter.clone());
        let current = Current { recorder, last: Instant::now(), published: 0 };
        Self { client, reporter, current: Mutex::new(current) }
    }

    /// Publishes `ev` about `reference`, as [`Recorder::publish`] does.
    pub(crate) async fn publish(&self, ev: &Event, reference: &ObjectReference) -> Result<(), kube::Error> {
        let recorder = {
            let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            if is_quiet(current.last, now) || current.published >= EVENTS_PER_RECORDER {
                self.renew(&mut current);
            }
            current.last = now;
            current.published += 1;
            current.recorder.clone()
        };
        recorder.publish(ev, reference).await
    }

    /// Drops the series cache when nothing was published for [`EVENT_CACHE_QUIET`]; called
    /// periodically so that an idle controller does not keep its last burst of Events.
    pub(crate) fn sweep(&self) {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if is_quiet(current.last, Instant::now()) && current.published > 0 {
            self.renew(&mut current);
        }
    }

    fn renew(&self, current: &mut Current) {
        current.recorder = self.fresh();
        current.published = 0;
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
