//! How long an Application waits for a worker: from the moment its reconcile became due (a watch
//! event that changes what triggers a reconcile, a change of one of its objects, or the requeue time
//! its last reconcile asked for) to the start of that reconcile. Recorded as
//! `lockstep_app_reconcile_queue_seconds`. Reconciles of every Application at once (leadership
//! gained, an AppProject or cluster Secret changed) have no due time of their own and are not
//! measured.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use lockstep_api::Application;

use crate::metrics::metrics;

/// The earliest moment each Application's pending reconcile became due.
#[derive(Default)]
struct QueueWaits {
    due: Mutex<HashMap<(String, String), Instant>>,
}

impl QueueWaits {
    fn due_at(&self, key: (String, String), at: Instant) {
        let mut due = self.due.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        due.entry(key).and_modify(|earliest| *earliest = (*earliest).min(at)).or_insert(at);
    }

    /// Removes the due time of `key`; returns how long ago it was, if it has passed.
    fn take_wait(&self, key: &(String, String), now: Instant) -> Option<Duration> {
        let due = self.due.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(key)?;
        // A reconcile before its due time was started by something not recorded here.
        now.checked_duration_since(due)
    }

    fn retain(&self, exists: impl Fn(&str, &str) -> bool) {
        let mut due = self.due.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        due.retain(|(namespace, name), _| exists(namespace, name));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.due.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).len()
    }
}

static WAITS: LazyLock<QueueWaits> = LazyLock::new(QueueWaits::default);

fn key(namespace: Option<&str>, name: &str) -> (String, String) {
    (namespace.unwrap_or_default().to_string(), name.to_string())
}

/// A watch event made `app` due now.
pub(crate) fn due_now(app: &Application) {
    WAITS.due_at(key(app.metadata.namespace.as_deref(), &app.name_any()), Instant::now());
}

/// A change of one of its objects made the Application `app` names due now.
pub(crate) fn ref_due_now(app: &ObjectRef<Application>) {
    WAITS.due_at(key(app.namespace.as_deref(), &app.name), Instant::now());
}

/// The reconcile that just ended asked to look at `app` again `after` from now.
pub(crate) fn due_in(app: &Application, after: Duration) {
    WAITS.due_at(key(app.metadata.namespace.as_deref(), &app.name_any()), Instant::now() + after);
}

/// A reconcile of `app` starts: records how long it waited since it became due.
pub(crate) fn started(app: &Application) {
    if let Some(waited) = WAITS.take_wait(&key(app.metadata.namespace.as_deref(), &app.name_any()), Instant::now()) {
        metrics().queued(waited);
    }
}

/// Forgets an Application that is gone.
pub(crate) fn forget(namespace: &str, name: &str) {
    WAITS.due.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&key(Some(namespace), name));
}

/// Keeps only the Applications `exists` knows (a sweep after watch gaps).
pub(crate) fn retain(exists: impl Fn(&str, &str) -> bool) {
    WAITS.retain(exists);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_due_time_counts_and_is_taken_once() {
        let waits = QueueWaits::default();
        let now = Instant::now();
        let k = key(Some("ns"), "a");
        waits.due_at(k.clone(), now + Duration::from_secs(180));
        waits.due_at(k.clone(), now);
        waits.due_at(k.clone(), now + Duration::from_secs(5));
        assert_eq!(waits.take_wait(&k, now + Duration::from_millis(250)), Some(Duration::from_millis(250)));
        assert_eq!(waits.take_wait(&k, now + Duration::from_secs(1)), None, "taken once");
    }

    #[test]
    fn a_reconcile_before_its_due_time_is_not_a_wait() {
        let waits = QueueWaits::default();
        let now = Instant::now();
        let k = key(Some("ns"), "a");
        waits.due_at(k.clone(), now + Duration::from_secs(60));
        assert_eq!(waits.take_wait(&k, now), None);
        assert_eq!(waits.len(), 0, "the entry is gone all the same");
    }

    #[test]
    fn gone_applications_are_forgotten() {
        let waits = QueueWaits::default();
        let now = Instant::now();
        waits.due_at(key(Some("ns"), "kept"), now);
        waits.due_at(key(Some("ns"), "gone"), now);
        waits.retain(|_, name| name == "kept");
        assert_eq!(waits.len(), 1);
        WAITS.due_at(key(Some("queue-wait-test"), "deleted"), now);
        forget("queue-wait-test", "deleted");
        assert_eq!(WAITS.take_wait(&key(Some("queue-wait-test"), "deleted"), now), None);
    }
}
