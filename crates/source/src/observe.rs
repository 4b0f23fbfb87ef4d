//! A hook for metrics: every remote request (ref listing or fetch) is reported, with its repository,
//! outcome and duration, to an observer the controller installs. Keeps this crate free of any
//! metrics library.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The kind of a remote git request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GitRequestType {
    /// Listing the remote's refs (`git ls-remote`).
    LsRemote,
    /// Downloading a pack (`git fetch`).
    Fetch,
}

impl GitRequestType {
    /// `ls-remote` or `fetch`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LsRemote => "ls-remote",
            Self::Fetch => "fetch",
        }
    }
}

/// One finished remote request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitRequest {
    /// The URL asked, without credentials.
    pub repo: String,
    /// Listing or fetch.
    pub request_type: GitRequestType,
    /// Whether it succeeded.
    pub ok: bool,
    /// How long it took.
    pub duration: Duration,
}

/// The function that receives each [`GitRequest`].
pub type GitRequestObserver = Box<dyn Fn(&GitRequest) + Send + Sync>;

/// Holds the observer, set at most once.
#[derive(Default)]
pub(crate) struct ObserverSlot(OnceLock<GitRequestObserver>);

impl std::fmt::Debug for ObserverSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() { "ObserverSlot(set)" } else { "ObserverSlot(unset)" })
    }
}

impl ObserverSlot {
    /// Installs the observer; a second call is ignored (returns false).
    pub(crate) fn set(&self, observer: GitRequestObserver) -> bool {
        self.0.set(observer).is_ok()
    }

    /// Starts timing a request; it is reported when the probe drops, as failed unless
    /// [`Probe::succeeded`] was called.
    pub(crate) fn probe(&self, repo: &str, request_type: GitRequestType) -> Probe<'_> {
        Probe { slot: self, repo: repo.to_string(), request_type, started: Instant::now(), ok: false }
    }
}

/// A request being timed.
pub(crate) struct Probe<'a> {
    slot: &'a ObserverSlot,
    repo: String,
    request_type: GitRequestType,
    started: Instant,
    ok: bool,
}

impl Probe<'_> {
    /// Marks the request as succeeded.
    pub(crate) fn succeeded(&mut self) {
        self.ok = true;
    }
}

impl Drop for Probe<'_> {
    fn drop(&mut self) {
        if let Some(observer) = self.slot.0.get() {
            observer(&GitRequest {
                repo: std::mem::take(&mut self.repo),
                request_type: self.request_type,
                ok: self.ok,
                duration: self.started.elapsed(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn probes_report_outcome_once_on_drop() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let slot = ObserverSlot::default();
        let sink = seen.clone();
        assert!(slot.set(Box::new(move |r: &GitRequest| sink.lock().unwrap().push((r.request_type, r.ok)))));
        assert!(!slot.set(Box::new(|_: &GitRequest| {})));
        drop(slot.probe("https://h/r", GitRequestType::LsRemote));
        let mut probe = slot.probe("https://h/r", GitRequestType::Fetch);
        probe.succeeded();
        drop(probe);
        assert_eq!(*seen.lock().unwrap(), [(GitRequestType::LsRemote, false), (GitRequestType::Fetch, true)]);
    }
}
