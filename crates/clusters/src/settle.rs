//! Changes of managed objects come in bursts: lockstep's own apply creates an object (its watch
//! then reports the creation), and a new Deployment's status is written by its controller two or
//! three times within a fraction of a second (observed generation, then the ReplicaSet's
//! availability). Each change would trigger a pass that reads the changed object for its health,
//! and possibly a status write for a passing state. So a creation or a status-only change (the
//! object's `generation` did not move) triggers its Application once that Application's objects
//! of the kind have been quiet for [`SETTLE`]; spec changes of a kind with a generation, any
//! change of a kind without one, and deletions (drift) trigger at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use kube::runtime::reflector::ObjectRef;
use lockstep_api::Application;
use tokio::time::Instant;

/// How long a burst of status changes may last before its Application is triggered.
pub(crate) const SETTLE: Duration = Duration::from_millis(300);

/// Pure: whether a change may wait for its burst to settle: the object was not seen before
/// (`before` is `None`: a creation, usually lockstep's own) or it was seen at the same
/// `generation` (`before` is `Some(generation)`; a status change). Kinds without a generation
/// count every change of a seen object as drift.
pub(crate) fn settles(before: Option<Option<i64>>, now: Option<i64>) -> bool {
    match before {
        None => true,
        Some(before) => before.is_some() && before == now,
    }
}

/// Triggers held back until their Application's objects settle, per Application.
#[derive(Clone, Default)]
pub(crate) struct Settling {
    due: Arc<Mutex<HashMap<ObjectRef<Application>, Instant>>>,
}

impl Settling {
    /// Sends `app` once no further status change for it came within [`SETTLE`].
    pub(crate) fn later(&self, app: ObjectRef<Application>, send: UnboundedSender<ObjectRef<Application>>) {
        let deadline = Instant::now() + SETTLE;
        let waiting = {
            let mut due = self.due.lock().unwrap_or_else(|p| p.into_inner());
            due.insert(app.clone(), deadline).is_some()
        };
        if waiting {
            return;
        }
        let due = self.due.clone();
        tokio::spawn(async move {
            let mut until = deadline;
            loop {
                tokio::time::sleep_until(until).await;
                let mut pending = due.lock().unwrap_or_else(|p| p.into_inner());
                match pending.get(&app) {
                    Some(later) if *later > until => until = *later,
                    _ => {
                        pending.remove(&app);
                        break;
                    }
                }
            }
            let _ = send.unbounded_send(app);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[test]
    fn creations_and_changes_at_the_same_generation_settle_drift_does_not() {
        assert!(settles(Some(Some(1)), Some(1)), "status change");
        assert!(settles(None, Some(1)), "created");
        assert!(settles(None, None), "created, a kind without generation");
        assert!(!settles(Some(Some(1)), Some(2)), "spec changed");
        assert!(!settles(Some(None), None), "a kind without generation changed");
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_status_changes_triggers_once_after_it_settles() {
        let (send, mut sent) = futures::channel::mpsc::unbounded();
        let settling = Settling::default();
        let web = ObjectRef::<Application>::new("web").within("team");
        let api = ObjectRef::<Application>::new("api").within("team");
        settling.later(web.clone(), send.clone());
        tokio::time::sleep(SETTLE / 2).await;
        settling.later(web.clone(), send.clone());
        settling.later(api.clone(), send.clone());
        tokio::time::sleep(SETTLE * 3 / 4).await;
        assert!(sent.try_recv().is_err(), "nothing before the burst settles");
        tokio::time::sleep(SETTLE).await;
        let mut got = vec![sent.next().await, sent.next().await];
        got.sort_by_key(|app| app.as_ref().map(|a| a.name.clone()));
        assert_eq!(got, [Some(api), Some(web)]);
        assert!(sent.try_recv().is_err(), "each once");
    }
}
