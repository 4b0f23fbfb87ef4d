//! What survives a restart for one repository: the last commit each revision spec resolved to, and
//! since when the remote has been unavailable. A small JSON file next to the bare repository.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::error::SourceError;

/// The persisted state of one cached repository.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RepoStateFile {
    /// The normalised URL, for people reading the cache directory.
    pub url: String,
    /// Revision spec (see `RevisionSpec::key`) → last full SHA it resolved to.
    #[serde(default)]
    pub resolved: BTreeMap<String, String>,
    /// Seconds since the epoch when every URL of the repo started failing; absent while it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable_since: Option<u64>,
}

/// `repos/<key>.state.json`.
pub(crate) fn state_path(root: &Path, key: &str) -> PathBuf {
    root.join("repos").join(format!("{key}.state.json"))
}

/// Reads the state; a missing or unreadable file is an empty state (the cache is only an optimisation).
pub(crate) fn load(path: &Path) -> RepoStateFile {
    std::fs::read(path).ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default()
}

/// Writes the state atomically (temporary file, then rename).
pub(crate) fn store(path: &Path, state: &RepoStateFile) -> Result<(), SourceError> {
    let json = serde_json::to_vec_pretty(state).map_err(|e| SourceError::cache(path, e))?;
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, json).map_err(|e| SourceError::cache(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| SourceError::cache(path, e))
}

pub(crate) fn to_epoch(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

pub(crate) fn from_epoch(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_tolerates_garbage() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("repos")).unwrap();
        let path = state_path(dir.path(), "app-1");
        assert_eq!(load(&path), RepoStateFile::default());
        let mut state = RepoStateFile { url: "https://h/app".into(), ..Default::default() };
        state.resolved.insert("main".into(), "abc".into());
        state.unavailable_since = Some(42);
        store(&path, &state).unwrap();
        assert_eq!(load(&path), state);
        std::fs::write(&path, "{not json").unwrap();
        assert_eq!(load(&path), RepoStateFile::default());
    }
}
