//! The status this controller last wrote for each Application, so a pass that starts before the
//! Application watch delivers that write (its cached copy is one write behind) does not write the
//! same status again, nor publish its Events twice.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use lockstep_api::ApplicationStatus;

/// Per Application (namespace, name): the `resourceVersion` the status was written over and a hash
/// of what was written.
#[derive(Default)]
pub(crate) struct WrittenStatuses {
    last: Mutex<HashMap<(String, String), Written>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Written {
    over: Option<String>,
    status: u64,
}

impl WrittenStatuses {
    /// Records that `status` was written over the Application at `over` (its `resourceVersion`).
    pub(crate) fn record(&self, app: (String, String), over: Option<String>, status: &ApplicationStatus) {
        let written = Written { over, status: fingerprint(status) };
        self.last.lock().unwrap_or_else(|p| p.into_inner()).insert(app, written);
    }

    /// Whether `status` is what was last written for `app`, and the Application as cached (at
    /// `cached`) does not show that write yet: writing it again would change nothing.
    pub(crate) fn already_written(
        &self,
        app: &(String, String),
        cached: Option<&str>,
        status: &ApplicationStatus,
    ) -> bool {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        last.get(app).is_some_and(|written| stale_copy_of(written, cached, fingerprint(status)))
    }

    /// Forgets an Application that is gone.
    pub(crate) fn forget(&self, app: &(String, String)) {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).remove(app);
    }
}

/// Pure: the cached Application is still the one the last write was made over, and the status to
/// write is the one written then. Any other version (a later write, ours or anyone's) is compared
/// as usual.
fn stale_copy_of(written: &Written, cached: Option<&str>, status: u64) -> bool {
    written.over.is_some() && written.over.as_deref() == cached && written.status == status
}

/// A hash of `status` outside `reconciledAt` (set on every write).
fn fingerprint(status: &ApplicationStatus) -> u64 {
    let mut status = status.clone();
    status.reconciled_at = None;
    let mut hasher = DefaultHasher::new();
    serde_json::to_string(&status).unwrap_or_default().hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_api::HealthStatusCode;

    fn healthy() -> ApplicationStatus {
        let mut status = ApplicationStatus::default();
        status.health.status = HealthStatusCode::Healthy;
        status
    }

    #[test]
    fn a_status_is_not_written_twice_over_the_same_cached_copy() {
        let written = WrittenStatuses::default();
        let app = ("team".to_string(), "web".to_string());
        assert!(!written.already_written(&app, Some("10"), &healthy()), "nothing written yet");
        written.record(app.clone(), Some("10".into()), &healthy());
        assert!(written.already_written(&app, Some("10"), &healthy()), "the cache is one write behind");
        let mut later = healthy();
        later.reconciled_at =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        assert!(written.already_written(&app, Some("10"), &later), "reconciledAt alone is no change");
        assert!(!written.already_written(&app, Some("11"), &healthy()), "the cache moved on: compare as usual");
        assert!(!written.already_written(&app, Some("10"), &ApplicationStatus::default()), "another status");
        written.forget(&app);
        assert!(!written.already_written(&app, Some("10"), &healthy()));
        written.record(app.clone(), None, &healthy());
        assert!(!written.already_written(&app, None, &healthy()), "no version: never assumed");
    }
}
