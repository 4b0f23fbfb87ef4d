//! The last chart each request resolved to, and since when each repository has been unavailable:
//! what an outage serves. Kept in memory and in `<cache>/helm/last-good.json`, so a controller
//! restarted during an outage still serves the charts.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// A chart a request last resolved to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LastGood {
    pub version: String,
    pub root: PathBuf,
    pub fetched_from: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct State {
    /// `repository#identity|chart|target` → the chart it resolved to.
    #[serde(default)]
    resolved: BTreeMap<String, LastGood>,
    /// `repository#identity` → seconds since the epoch when it started failing.
    #[serde(default)]
    unavailable_since: BTreeMap<String, u64>,
}

/// The state file and its in-memory copy; written only when something changed.
pub(crate) struct LastGoodStore {
    path: PathBuf,
    state: Mutex<State>,
}

impl LastGoodStore {
    /// Loads the file; a missing or unreadable one is an empty state.
    pub(crate) fn open(path: PathBuf) -> Self {
        let state = std::fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default();
        Self { path, state: Mutex::new(state) }
    }

    /// Records a success: the request's chart, and the repository answering again.
    pub(crate) fn succeeded(&self, repo_key: &str, spec_key: &str, good: LastGood) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let changed_spec = state.resolved.get(spec_key) != Some(&good);
        if changed_spec {
            state.resolved.insert(spec_key.to_string(), good);
        }
        let recovered = state.unavailable_since.remove(repo_key).is_some();
        if changed_spec || recovered {
            self.store(&state);
        }
    }

    /// Records a failure; returns since when the repository has been unavailable.
    pub(crate) fn failed(&self, repo_key: &str) -> SystemTime {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let since = match state.unavailable_since.get(repo_key) {
            Some(since) => *since,
            None => {
                state.unavailable_since.insert(repo_key.to_string(), now);
                self.store(&state);
                now
            }
        };
        UNIX_EPOCH + std::time::Duration::from_secs(since)
    }

    /// The chart a request last resolved to.
    pub(crate) fn get(&self, spec_key: &str) -> Option<LastGood> {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).resolved.get(spec_key).cloned()
    }

    fn store(&self, state: &State) {
        let write = || -> std::io::Result<()> {
            let tmp = self.path.with_extension(format!("tmp-{}", std::process::id()));
            std::fs::write(&tmp, serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?)?;
            std::fs::rename(&tmp, &self.path)
        };
        if let Err(err) = write() {
            tracing::warn!(path = %self.path.display(), %err, "writing the Helm repository state");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_good_chart_and_the_outage_start_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("last-good.json");
        let store = LastGoodStore::open(path.clone());
        assert_eq!(store.get("repo#1|web|~1.2"), None);
        let good = LastGood { version: "1.2.4".into(), root: "/cache/charts/abc/web".into(), fetched_from: None };
        store.succeeded("repo#1", "repo#1|web|~1.2", good.clone());
        let since = store.failed("repo#1");
        assert_eq!(store.failed("repo#1"), since, "the outage keeps its start");

        let reopened = LastGoodStore::open(path.clone());
        assert_eq!(reopened.get("repo#1|web|~1.2"), Some(good.clone()));
        assert_eq!(reopened.failed("repo#1"), since);
        reopened.succeeded("repo#1", "repo#1|web|~1.2", good);
        assert!(LastGoodStore::open(path.clone()).state.lock().unwrap().unavailable_since.is_empty());

        std::fs::write(&path, "{not json").unwrap();
        assert_eq!(LastGoodStore::open(path).get("repo#1|web|~1.2"), None, "a broken file is an empty state");
    }
}
