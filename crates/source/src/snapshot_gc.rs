//! Garbage collection of snapshot checkouts: each new commit adds `<cache>/snapshots/<sha>`, so
//! old ones are removed once nothing can read them. A snapshot is kept while it is the last good
//! resolution of any revision spec (the offline fallback), while it is among the most recently
//! used, and for a grace period after its last use (longer than a render may take, so an in-flight
//! render never loses its files).

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::error::SourceError;
use crate::state;

/// How many snapshots are kept and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SnapshotRetention {
    /// Snapshots kept beyond those in use, most recently used first.
    pub keep_recent: usize,
    /// No snapshot used more recently than this is removed.
    pub grace: Duration,
}

impl Default for SnapshotRetention {
    fn default() -> Self {
        Self { keep_recent: 16, grace: Duration::from_secs(3600) }
    }
}

/// One directory under `snapshots/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct OnDisk {
    /// The directory name: a commit SHA, or a `.tmp-…` staging directory a crash left behind.
    pub name: String,
    /// When it was last used (its modification time; reuse touches it).
    pub used: SystemTime,
}

/// The directories to remove. Pure.
pub(crate) fn doomed(
    on_disk: &[OnDisk],
    in_use: &HashSet<String>,
    now: SystemTime,
    retention: SnapshotRetention,
) -> Vec<String> {
    let old = |d: &OnDisk| now.duration_since(d.used).is_ok_and(|age| age > retention.grace);
    let mut idle: Vec<&OnDisk> = on_disk.iter().filter(|d| !in_use.contains(&d.name)).collect();
    idle.sort_by(|a, b| b.used.cmp(&a.used).then_with(|| a.name.cmp(&b.name)));
    let (staging, snapshots): (Vec<&OnDisk>, Vec<&OnDisk>) = idle.into_iter().partition(|d| d.name.starts_with('.'));
    let stale_snapshots = snapshots.into_iter().skip(retention.keep_recent).filter(|d| old(d));
    let stale_staging = staging.into_iter().filter(|d| old(d));
    stale_snapshots.chain(stale_staging).map(|d| d.name.clone()).collect()
}

/// Every SHA some revision spec of some cached repository last resolved to.
fn last_good(root: &Path) -> HashSet<String> {
    let Ok(entries) = std::fs::read_dir(root.join("repos")) else { return HashSet::new() };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".state.json"))
        .flat_map(|e| state::load(&e.path()).resolved.into_values())
        .collect()
}

/// Removes the snapshots [`doomed`] picks under `root`; returns how many were removed.
pub(crate) fn collect(root: &Path, retention: SnapshotRetention) -> Result<usize, SourceError> {
    let dir = root.join("snapshots");
    let entries = std::fs::read_dir(&dir).map_err(|e| SourceError::cache(&dir, e))?;
    let on_disk: Vec<OnDisk> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let used = e.metadata().ok()?.modified().ok()?;
            Some(OnDisk { name: e.file_name().to_string_lossy().into_owned(), used })
        })
        .collect();
    let doomed = doomed(&on_disk, &last_good(root), SystemTime::now(), retention);
    for name in &doomed {
        let path = dir.join(name);
        std::fs::remove_dir_all(&path).map_err(|e| SourceError::cache(&path, e))?;
    }
    Ok(doomed.len())
}

/// Marks a snapshot as used now, so that collection keeps it for the grace period. Best effort.
pub(crate) fn touch(snapshot: &Path) {
    if let Ok(dir) = std::fs::File::open(snapshot) {
        let _ = dir.set_modified(SystemTime::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    fn at(hours_ago: u64, now: SystemTime, name: &str) -> OnDisk {
        OnDisk { name: name.into(), used: now - HOUR * u32::try_from(hours_ago).unwrap() }
    }

    #[test]
    fn keeps_the_last_good_the_recent_and_the_young() {
        let now = SystemTime::UNIX_EPOCH + HOUR * 1000;
        let retention = SnapshotRetention { keep_recent: 2, grace: HOUR };
        let on_disk = vec![
            at(100, now, "last-good-old"),
            at(0, now, "young-1"),
            at(0, now, "young-2"),
            at(0, now, "young-3"),
            at(5, now, "old-1"),
            at(6, now, "old-2"),
            at(7, now, ".tmp-1-2"),
            at(0, now, ".tmp-3-4"),
        ];
        let in_use: HashSet<String> = ["last-good-old".to_string()].into();
        let mut gone = doomed(&on_disk, &in_use, now, retention);
        gone.sort();
        // young-3 is beyond keep_recent but inside the grace period; the crashed staging dir goes.
        assert_eq!(gone, [".tmp-1-2", "old-1", "old-2"]);
    }

    #[test]
    fn nothing_goes_while_under_the_bound() {
        let now = SystemTime::UNIX_EPOCH + HOUR * 1000;
        let on_disk = vec![at(50, now, "a"), at(60, now, "b")];
        assert!(doomed(&on_disk, &HashSet::new(), now, SnapshotRetention::default()).is_empty());
    }

    #[test]
    fn collect_removes_from_disk_and_spares_the_last_good() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("repos")).unwrap();
        for name in ["kept", "gone"] {
            std::fs::create_dir_all(root.join("snapshots").join(name)).unwrap();
            std::fs::write(root.join("snapshots").join(name).join("f.yaml"), "x").unwrap();
        }
        let mut state = state::RepoStateFile::default();
        state.resolved.insert("main".into(), "kept".into());
        state::store(&state::state_path(root, "r"), &state).unwrap();
        let retention = SnapshotRetention { keep_recent: 0, grace: Duration::ZERO };
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(collect(root, retention).unwrap(), 1);
        assert!(root.join("snapshots/kept/f.yaml").exists());
        assert!(!root.join("snapshots/gone").exists());
        touch(&root.join("snapshots/kept"));
    }
}
