//! The render cache: rendered manifests by key, bounded in memory (least recently used out, and at
//! most [`REVISIONS_PER_SOURCE`] revisions of one source) and on disk (oldest files out), so a
//! resync of an unchanged commit renders nothing and a restarted controller still has its last
//! renders.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tracing::warn;

use crate::manifest::Manifest;

/// Rendered manifests, shared between every Application that asked for the same render.
pub type Manifests = Arc<Vec<Manifest>>;

/// Revisions of one source (same path, type, options and tool) kept in memory. A source that moves
/// to a new commit rarely needs its old renders again, yet by count alone they stayed until 256
/// other renders pushed them out: the git soak's RSS grew with every commit (≈ 2.5 KiB of live
/// heap per render of one ConfigMap, far more for big apps) until then. Two keep the previous
/// revision for a quick rollback or a second Application one commit behind; older ones are still
/// on disk.
pub const REVISIONS_PER_SOURCE: usize = 2;

/// The cache key of anything serializable: SHA-256 of its JSON, in hex.
pub fn cache_key(parts: &impl Serialize) -> String {
    let json = serde_json::to_vec(parts).unwrap_or_default();
    let digest = ring::digest::digest(&ring::digest::SHA256, &json);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Memory and disk cache of renders.
pub struct RenderCache {
    memory: Mutex<Memory>,
    dir: Option<PathBuf>,
    max_memory: usize,
    max_disk: usize,
}

#[derive(Default)]
struct Memory {
    entries: HashMap<String, Entry>,
    tick: u64,
}

/// One render in memory.
struct Entry {
    manifests: Manifests,
    /// The key of the render without its revision (see [`RenderCache::put`]).
    source: String,
    /// Tick of the last use.
    used: u64,
}

impl RenderCache {
    /// A cache keeping `max_memory` renders in memory and `max_disk` files under `dir` (if any).
    pub fn new(dir: Option<PathBuf>, max_memory: usize, max_disk: usize) -> Self {
        let dir = dir.filter(|dir| match std::fs::create_dir_all(dir) {
            Ok(()) => true,
            Err(err) => {
                warn!(dir = %dir.display(), %err, "render cache directory unusable; caching in memory only");
                false
            }
        });
        Self { memory: Mutex::default(), dir, max_memory: max_memory.max(1), max_disk: max_disk.max(1) }
    }

    /// The render under `key` (of the source `source`), from memory or else from disk.
    pub fn get(&self, key: &str, source: &str) -> Option<Manifests> {
        {
            let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
            memory.tick += 1;
            let tick = memory.tick;
            if let Some(entry) = memory.entries.get_mut(key) {
                entry.used = tick;
                return Some(entry.manifests.clone());
            }
        }
        let file = self.file(key)?;
        let bytes = std::fs::read(&file).ok()?;
        let manifests: Manifests = Arc::new(serde_json::from_slice(&bytes).ok()?);
        if let Ok(f) = std::fs::File::options().write(true).open(&file) {
            let _ = f.set_modified(std::time::SystemTime::now());
        }
        self.remember(key, source, manifests.clone());
        Some(manifests)
    }

    /// Stores a render in memory and on disk; a disk failure is logged, not fatal. `source` is the
    /// key of the same render at any revision: renders of one source share it.
    pub fn put(&self, key: &str, source: &str, manifests: Manifests) {
        self.remember(key, source, manifests.clone());
        if let (Some(dir), Some(file)) = (&self.dir, self.file(key)) {
            if let Err(err) = write_atomically(&file, &manifests) {
                warn!(file = %file.display(), %err, "writing the render cache failed");
            }
            evict_oldest_files(dir, self.max_disk);
        }
    }

    fn remember(&self, key: &str, source: &str, manifests: Manifests) {
        let mut memory = self.memory.lock().unwrap_or_else(|e| e.into_inner());
        memory.tick += 1;
        let used = memory.tick;
        memory.entries.insert(key.to_string(), Entry { manifests, source: source.to_string(), used });
        let same_source = memory.entries.iter().filter(|(_, e)| e.source == source).map(|(k, e)| (k.as_str(), e.used));
        for k in superseded(same_source, REVISIONS_PER_SOURCE) {
            memory.entries.remove(&k);
        }
        while memory.entries.len() > self.max_memory {
            let oldest = memory.entries.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone());
            match oldest {
                Some(k) => memory.entries.remove(&k),
                None => break,
            };
        }
    }

    fn file(&self, key: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{key}.json")))
    }
}

/// Pure: of the renders of one source (key, last use), the keys beyond the `keep` most recently used.
fn superseded<'a>(renders: impl Iterator<Item = (&'a str, u64)>, keep: usize) -> Vec<String> {
    let mut renders: Vec<(&str, u64)> = renders.collect();
    if renders.len() <= keep {
        return Vec::new();
    }
    renders.sort_by_key(|&(_, used)| std::cmp::Reverse(used));
    renders.into_iter().skip(keep).map(|(key, _)| key.to_string()).collect()
}

fn write_atomically(file: &Path, manifests: &[Manifest]) -> std::io::Result<()> {
    let tmp = file.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, serde_json::to_vec(manifests)?)?;
    std::fs::rename(&tmp, file)
}

fn evict_oldest_files(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut files: Vec<_> = entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if files.len() <= keep {
        return;
    }
    files.sort();
    for (_, path) in files.iter().take(files.len() - keep) {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manifests(name: &str) -> Manifests {
        Arc::new(vec![Manifest {
            object: json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}),
            file: "x.yaml".into(),
            document: 0,
        }])
    }

    #[test]
    fn keys_differ_by_any_part() {
        assert_eq!(cache_key(&("sha", "path")), cache_key(&("sha", "path")));
        assert_ne!(cache_key(&("sha", "path")), cache_key(&("sha", "path2")));
        assert_eq!(cache_key(&1).len(), 64);
    }

    #[test]
    fn memory_is_bounded_least_recently_used_out() {
        let cache = RenderCache::new(None, 2, 2);
        cache.put("a", "a", manifests("a"));
        cache.put("b", "b", manifests("b"));
        assert!(cache.get("a", "a").is_some());
        cache.put("c", "c", manifests("c"));
        assert!(cache.get("b", "b").is_none());
        assert!(cache.get("a", "a").is_some() && cache.get("c", "c").is_some());
    }

    #[test]
    fn disk_survives_a_restart_and_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let cache = RenderCache::new(Some(dir.path().to_path_buf()), 10, 2);
        cache.put("a", "a", manifests("a"));
        let restarted = RenderCache::new(Some(dir.path().to_path_buf()), 10, 2);
        assert_eq!(restarted.get("a", "a").unwrap()[0].name(), "a");
        std::thread::sleep(std::time::Duration::from_millis(20));
        restarted.put("b", "b", manifests("b"));
        std::thread::sleep(std::time::Duration::from_millis(20));
        restarted.put("c", "c", manifests("c"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
        assert!(RenderCache::new(Some(dir.path().to_path_buf()), 10, 2).get("a", "a").is_none());
    }

    #[test]
    fn superseded_keeps_the_most_recently_used() {
        let renders = [("r1", 1), ("r3", 3), ("r2", 2), ("r4", 4)];
        assert_eq!(superseded(renders.into_iter(), 2), vec!["r2", "r1"]);
        assert!(superseded(renders.into_iter(), 4).is_empty());
        assert!(superseded(std::iter::empty(), 2).is_empty());
    }

    #[test]
    fn a_source_keeps_few_revisions_in_memory_and_the_rest_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let cache = RenderCache::new(Some(dir.path().to_path_buf()), 256, 1024);
        for revision in 0..100 {
            cache.put(&format!("app@{revision}"), "app", manifests(&revision.to_string()));
            cache.put(&format!("other@{revision}"), "other", manifests("other"));
        }
        let in_memory = cache.memory.lock().unwrap().entries.len();
        assert_eq!(in_memory, 2 * REVISIONS_PER_SOURCE);
        // An old revision is read back from disk (and is in memory again).
        assert_eq!(cache.get("app@3", "app").unwrap()[0].name(), "3");
        assert!(cache.memory.lock().unwrap().entries.contains_key("app@3"));
        assert_eq!(cache.memory.lock().unwrap().entries.len(), in_memory);
    }
}
