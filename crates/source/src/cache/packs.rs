//! Pack consolidation. libgit2 keeps every fetched pack as its own packfile and never repacks, so a
//! repository fetched after every push gathers one pack per commit. Every open of the repository
//! then lists, indexes and maps all of them: the memory and time of each request grew with the
//! number of fetches ever made (the git soak's RSS rose by ≈ 8 KiB per commit). After a fetch the
//! small packs are merged into one, geometrically like `git repack --geometric=2`, so the count
//! stays small and a merge only ever rewrites recent, small packs, never the big initial clone.
//! Objects are never dropped: every object of a merged pack is written to the new one.

use std::cmp::Reverse;
use std::path::{Path, PathBuf};

use git2::{Oid, Repository};

use crate::error::SourceError;

/// Packs a repository may have before the small ones are merged.
pub(super) const MAX_PACKS: usize = 8;

/// Packs kept as they are when merging: the largest ones that each hold at least twice as much as
/// all smaller packs together (at most half of [`MAX_PACKS`], so a merge always makes room).
const MAX_KEPT: usize = MAX_PACKS / 2;

/// Pure: given the sizes of a repository's packs, the indices of those to merge into one (sorted;
/// empty when there are at most [`MAX_PACKS`]). The largest packs are kept while each is at least
/// twice the size of everything smaller, so merges rewrite little and the kept packs stay few.
pub(super) fn packs_to_merge(sizes: &[u64]) -> Vec<usize> {
    if sizes.len() <= MAX_PACKS {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by_key(|&i| Reverse(sizes[i]));
    let mut smaller: u64 = sizes.iter().sum();
    let mut kept = 0;
    for &i in &order {
        smaller -= sizes[i];
        if kept < MAX_KEPT && sizes[i] >= smaller.saturating_mul(2) {
            kept += 1;
        } else {
            break;
        }
    }
    let mut merge = order.split_off(kept);
    merge.sort_unstable();
    merge
}

/// One packfile on disk.
struct Pack {
    pack: PathBuf,
    index: PathBuf,
    size: u64,
}

/// Merges the repository's small packs when it has more than [`MAX_PACKS`]; returns how many packs
/// were merged (0: nothing to do). The new pack is complete before any old one is removed, so a
/// reader never misses an object (libgit2 rescans the pack directory when a lookup fails).
pub(super) fn consolidate(repo: &Repository) -> Result<usize, SourceError> {
    let dir = repo.path().join("objects").join("pack");
    let packs = list_packs(&dir)?;
    let merge = packs_to_merge(&packs.iter().map(|p| p.size).collect::<Vec<_>>());
    if merge.is_empty() {
        return Ok(0);
    }
    let mut builder = repo.packbuilder().map_err(|e| SourceError::cache(&dir, e))?;
    for &i in &merge {
        for oid in index_object_ids(&packs[i].index)? {
            builder.insert_object(oid, None).map_err(|e| SourceError::cache(&packs[i].pack, e))?;
        }
    }
    builder.write(&dir, 0).map_err(|e| SourceError::cache(&dir, e))?;
    let written = builder.name().ok().flatten().map(|name| format!("pack-{name}")).unwrap_or_default();
    for &i in &merge {
        let pack = &packs[i];
        if pack.pack.file_stem().is_some_and(|stem| stem == written.as_str()) {
            continue;
        }
        // The index first: libgit2 finds packs by their index, so no reader sees an index whose
        // pack is gone. A failed removal only leaves a duplicate pack behind.
        let _ = std::fs::remove_file(&pack.index);
        for extension in ["pack", "rev", "keep", "mtimes", "promisor"] {
            let _ = std::fs::remove_file(pack.pack.with_extension(extension));
        }
    }
    Ok(merge.len())
}

/// The repository's packs that have an index and no `.keep` file.
fn list_packs(dir: &Path) -> Result<Vec<Pack>, SourceError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(SourceError::cache(dir, e)),
    };
    let mut packs = Vec::new();
    for entry in entries.flatten() {
        let pack = entry.path();
        if pack.extension().is_none_or(|x| x != "pack") {
            continue;
        }
        let index = pack.with_extension("idx");
        if !index.is_file() || pack.with_extension("keep").exists() {
            continue;
        }
        let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
        packs.push(Pack { pack, index, size });
    }
    Ok(packs)
}

/// The object ids listed in a version 2 pack index (what libgit2 and git write).
fn index_object_ids(path: &Path) -> Result<Vec<Oid>, SourceError> {
    let bytes = std::fs::read(path).map_err(|e| SourceError::cache(path, e))?;
    parse_index(&bytes).ok_or_else(|| SourceError::cache(path, "not a version 2 pack index"))
}

/// Pure: the object ids of a version 2 pack index: magic, version, 256 fan-out counts (the last is
/// the number of objects), then the sorted 20-byte ids.
fn parse_index(bytes: &[u8]) -> Option<Vec<Oid>> {
    const MAGIC: [u8; 4] = [0xff, b't', b'O', b'c'];
    const HEADER: usize = 8 + 256 * 4;
    const OID: usize = 20;
    if bytes.get(..4)? != MAGIC || bytes.get(4..8)? != [0, 0, 0, 2] {
        return None;
    }
    let count = u32::from_be_bytes(bytes.get(HEADER - 4..HEADER)?.try_into().ok()?);
    let count = usize::try_from(count).ok()?;
    let ids = bytes.get(HEADER..HEADER.checked_add(count.checked_mul(OID)?)?)?;
    ids.chunks_exact(OID).map(|id| Oid::from_bytes(id).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{git, request};
    use super::*;
    use crate::GitCache;
    use std::time::Duration;

    #[test]
    fn few_packs_are_left_alone() {
        assert!(packs_to_merge(&[]).is_empty());
        assert!(packs_to_merge(&[1; MAX_PACKS]).is_empty());
    }

    #[test]
    fn the_big_clone_is_kept_and_the_small_fetches_merged() {
        let mut sizes = vec![1_000_000];
        sizes.extend([300; MAX_PACKS]);
        assert_eq!(packs_to_merge(&sizes), (1..=MAX_PACKS).collect::<Vec<_>>());
        // A geometric series is kept up to MAX_KEPT packs; the rest is merged.
        let sizes: Vec<u64> = (0..12).map(|i| 1 << (2 * (12 - i))).collect();
        assert_eq!(packs_to_merge(&sizes), (MAX_KEPT..12).collect::<Vec<_>>());
        // Equal packs: all merged, in index order whatever the sizes' order.
        assert_eq!(packs_to_merge(&[5, 7, 5, 7, 5, 7, 5, 7, 5]), (0..9).collect::<Vec<_>>());
    }

    #[test]
    fn every_merge_makes_room_and_repeated_merges_stay_bounded() {
        // Simulates a fetch per commit: each adds a small pack; a merge replaces its packs by one
        // of their total size (an upper bound: deltas only shrink it).
        let mut sizes: Vec<u64> = vec![50_000];
        for fetch in 0..5_000u64 {
            sizes.push(200 + fetch % 7);
            let merge = packs_to_merge(&sizes);
            if !merge.is_empty() {
                assert!(merge.len() >= 2, "{sizes:?}");
                let total = merge.iter().map(|&i| sizes[i]).sum();
                sizes = sizes.iter().enumerate().filter(|(i, _)| !merge.contains(i)).map(|(_, s)| *s).collect();
                sizes.push(total);
            }
            assert!(sizes.len() <= MAX_PACKS, "{sizes:?}");
        }
    }

    #[test]
    fn index_parsing_rejects_garbage() {
        assert!(parse_index(b"").is_none());
        assert!(parse_index(&[0xff, b't', b'O', b'c', 0, 0, 0, 1]).is_none());
        let mut truncated = vec![0xff, b't', b'O', b'c', 0, 0, 0, 2];
        truncated.extend(std::iter::repeat_n(0, 255 * 4));
        truncated.extend(5u32.to_be_bytes());
        assert!(parse_index(&truncated).is_none());
    }

    #[tokio::test]
    async fn a_fetch_per_commit_keeps_few_packs_and_every_commit() {
        let remote = tempfile::tempdir().unwrap();
        git(remote.path(), &["init", "-q"]);
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = GitCache::new(cache_dir.path()).unwrap();
        let mut req = request(&format!("file://{}", remote.path().display()), Some("main"));
        req.max_listing_age = Some(Duration::ZERO);
        let mut commits = Vec::new();
        for i in 0..3 * MAX_PACKS {
            std::fs::write(remote.path().join("a.yaml"), format!("value: {i}")).unwrap();
            git(remote.path(), &["add", "."]);
            git(remote.path(), &["commit", "-qm", &format!("commit {i}")]);
            let snapshot = cache.snapshot(&req).await.unwrap();
            assert_eq!(std::fs::read_to_string(snapshot.root.join("a.yaml")).unwrap(), format!("value: {i}"));
            commits.push(snapshot.revision);
        }
        assert_eq!(cache.counters().snapshot().fetches, 3 * MAX_PACKS as u64);
        let bare = std::fs::read_dir(cache_dir.path().join("repos")).unwrap().flatten().find(|e| e.path().is_dir());
        let repo = Repository::open_bare(bare.unwrap().path()).unwrap();
        let packs = list_packs(&repo.path().join("objects").join("pack")).unwrap();
        assert!(packs.len() <= MAX_PACKS, "{} packs", packs.len());
        for sha in &commits {
            let commit = repo.find_commit(Oid::from_str(sha).unwrap()).unwrap();
            assert!(commit.tree().unwrap().get_name("a.yaml").is_some());
        }
    }
}
