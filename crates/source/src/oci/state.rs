//! The last good artifact of each request and since when its registry fails, kept in
//! `<cache>/oci/state.json` so a controller restarted during an outage still serves it.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// What one request last resolved to.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LastGood {
    /// `tag@sha256:…` or the digest.
    pub revision: String,
    /// The manifest digest, naming the cached artifact.
    pub digest: String,
    /// Seconds since the epoch when the registry started failing; absent while it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<u64>,
}

/// Every request's [`LastGood`], by request key (artifact, pin and credential Secret).
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct OciState {
    entries: BTreeMap<String, LastGood>,
}

impl OciState {
    /// Reads the file; a missing or unreadable one is an empty state (the registry is asked again).
    pub(crate) fn load(path: &Path) -> Self {
        std::fs::read(path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default()
    }

    /// Writes the file through a temporary one renamed into place; a failure is logged only (the
    /// state is a fallback, not a source of truth).
    pub(crate) fn save(&self, path: &Path) {
        let staging = path.with_extension("json.tmp");
        let written = serde_json::to_vec(self)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&staging, bytes))
            .and_then(|()| std::fs::rename(&staging, path));
        if let Err(e) = written {
            tracing::warn!(path = %path.display(), error = %e, "could not record the last good OCI artifacts");
        }
    }

    /// Records a success; true when something changed (so the file is written only then).
    pub(crate) fn succeeded(&mut self, key: &str, revision: &str, digest: &str) -> bool {
        let next = LastGood { revision: revision.to_string(), digest: digest.to_string(), failing_since: None };
        self.entries.insert(key.to_string(), next.clone()) != Some(next)
    }

    /// Records a failed look: the last good artifact and since when the registry fails (the first
    /// failure's time, kept across failures), or `None` when the request never succeeded.
    pub(crate) fn failed(&mut self, key: &str, now: SystemTime) -> Option<(LastGood, SystemTime)> {
        let entry = self.entries.get_mut(key)?;
        let seconds = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        let since = *entry.failing_since.get_or_insert(seconds);
        Some((entry.clone(), UNIX_EPOCH + Duration::from_secs(since)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_keep_the_first_outage_time_and_survive_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let mut state = OciState::load(&path);
        assert_eq!(state.failed("k", SystemTime::now()), None, "never succeeded: nothing to serve");
        assert!(state.succeeded("k", "1.0.0@sha256:aa", "sha256:aa"));
        assert!(!state.succeeded("k", "1.0.0@sha256:aa", "sha256:aa"), "unchanged: no write");
        let t1 = UNIX_EPOCH + Duration::from_secs(1000);
        let (last, since) = state.failed("k", t1).unwrap();
        assert_eq!((last.digest.as_str(), since), ("sha256:aa", t1));
        let (_, since) = state.failed("k", t1 + Duration::from_secs(60)).unwrap();
        assert_eq!(since, t1, "the outage started at the first failure");
        state.save(&path);
        let mut reloaded = OciState::load(&path);
        assert_eq!(reloaded, state);
        assert!(reloaded.succeeded("k", "1.0.0@sha256:aa", "sha256:aa"), "a success clears the outage");
    }
}
