//! Wraps each reconcile in a tracing span naming the Application and its revision (so every log
//! line of the reconcile carries them) and records its duration.

use std::future::Future;
use std::time::Instant;

use kube::ResourceExt;
use lockstep_api::Application;
use tracing::Instrument;

use crate::liveness::liveness;
use crate::metrics::metrics;

/// Runs `work` inside the reconcile span of `app` and times it. The span's `revision` starts as
/// the last known one; the pipeline records the resolved one once fetched.
pub(crate) fn traced<T, F: Future<Output = T>>(app: &Application, work: F) -> impl Future<Output = T> + use<T, F> {
    let revision = app.status.as_ref().and_then(|s| s.sync.revision.clone()).unwrap_or_default();
    let span = tracing::info_span!(
        "reconcile",
        app = %format!("{}/{}", app.namespace().unwrap_or_default(), app.name_any()),
        revision = %revision,
    );
    async move {
        let _timer = Timer::start();
        work.instrument(span).await
    }
}

/// Counts a reconcile in flight and records its duration when dropped (also when abandoned).
struct Timer(Instant);

impl Timer {
    fn start() -> Self {
        metrics().in_flight(1);
        liveness().reconcile_started();
        Self(Instant::now())
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        metrics().in_flight(-1);
        liveness().reconcile_finished();
        metrics().reconciled(self.0.elapsed());
    }
}

/// Records the revision a reconcile resolved on its span, when it differs from the last known one
/// the span started with.
pub(crate) fn record_revision(app: &Application, revision: &str) {
    if app.status.as_ref().and_then(|s| s.sync.revision.as_deref()) != Some(revision) {
        tracing::Span::current().record("revision", revision);
    }
}
