//! What makes an Application worth reconciling, and when to look again: pure.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use kube::ResourceExt;
use lockstep_api::{
    ARGO_SKIP_RECONCILE_ANNOTATION, Application, PAUSED_ANNOTATION, REFRESH_ANNOTATION, ROLLBACK_ANNOTATION,
    SYNC_REQUEST_ANNOTATION,
};

/// A hash of what should trigger a reconcile: the spec's generation, the refresh, sync-request,
/// rollback and pause annotations, and deletion. Status writes (ours included) do not change it, so they do not loop back.
pub(crate) fn trigger_hash(app: &Application) -> Option<u64> {
    let mut hasher = DefaultHasher::new();
    app.metadata.generation.hash(&mut hasher);
    app.annotations().get(REFRESH_ANNOTATION).hash(&mut hasher);
    for key in [SYNC_REQUEST_ANNOTATION, ROLLBACK_ANNOTATION, PAUSED_ANNOTATION, ARGO_SKIP_RECONCILE_ANNOTATION] {
        app.annotations().get(key).hash(&mut hasher);
    }
    app.metadata.deletion_timestamp.is_some().hash(&mut hasher);
    Some(hasher.finish())
}

/// `period` spread by ±10% so Applications created together do not resync together.
pub(crate) fn jittered(period: Duration) -> Duration {
    let factor = 0.9 + rand::random::<f64>() * 0.2;
    period.mul_f64(factor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_api::ApplicationSpec;

    #[test]
    fn status_does_not_trigger_but_refresh_and_spec_do() {
        let mut app = Application::new("a", ApplicationSpec::default());
        app.metadata.generation = Some(1);
        let base = trigger_hash(&app);
        app.status = Some(Default::default());
        assert_eq!(trigger_hash(&app), base);
        app.annotations_mut().insert(REFRESH_ANNOTATION.into(), "now".into());
        let refreshed = trigger_hash(&app);
        assert_ne!(refreshed, base);
        app.metadata.generation = Some(2);
        assert_ne!(trigger_hash(&app), refreshed);
        let before = trigger_hash(&app);
        app.annotations_mut().insert(ROLLBACK_ANNOTATION.into(), "3".into());
        let rolled_back = trigger_hash(&app);
        assert_ne!(rolled_back, before);
        app.annotations_mut().insert(PAUSED_ANNOTATION.into(), "true".into());
        assert_ne!(trigger_hash(&app), rolled_back);
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..100 {
            let d = jittered(Duration::from_secs(100));
            assert!(d >= Duration::from_secs(90) && d <= Duration::from_secs(110), "{d:?}");
        }
    }
}
