use std::path::{Path, PathBuf};

use git2::{Commit, Repository, build::CheckoutBuilder};

use crate::error::SourceError;

/// Exactly one commit of one repository, checked out on disk for rendering and never modified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The repository URL as requested.
    pub repo_url: String,
    /// The full commit SHA.
    pub revision: String,
    /// The directory holding the commit's files.
    pub root: PathBuf,
    /// The URL (mirror or canonical, without credentials) whose refs resolved the revision;
    /// `None` when the commit was already cached or the remote was unavailable.
    pub fetched_from: Option<String>,
    /// Set when every URL failed and this is the last good revision from the cache.
    pub unavailable: Option<Unavailable>,
    /// The signature that vouched for the revision, when the request asked for verification and
    /// the revision was resolved now (a last good revision served during an outage was verified
    /// when it was recorded, and carries `None`).
    pub verified: Option<crate::verification::Verified>,
}

/// Why a snapshot came from the cache instead of the remote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unavailable {
    /// When the repository started failing (survives restarts).
    pub since: std::time::SystemTime,
    /// The error of the latest attempt.
    pub error: SourceError,
}

/// Checks a commit out under `dir/<sha>` once; later calls reuse it. The checkout is written to a
/// temporary directory and renamed into place, so a reader never sees a half-written snapshot.
pub(crate) fn export_commit(repo: &Repository, commit: &Commit<'_>, dir: &Path) -> Result<PathBuf, SourceError> {
    let target = dir.join(commit.id().to_string());
    if target.is_dir() {
        crate::snapshot_gc::touch(&target);
        return Ok(target);
    }
    let staging = tempdir_in(dir)?;
    let tree = commit.tree().map_err(|e| SourceError::cache(&target, e))?;
    let mut checkout = CheckoutBuilder::new();
    checkout.force().target_dir(&staging);
    repo.checkout_tree(tree.as_object(), Some(&mut checkout)).map_err(|e| SourceError::cache(&staging, e))?;
    match std::fs::rename(&staging, &target) {
        Ok(()) => Ok(target),
        // Another process exported the same commit first: theirs is identical.
        Err(_) if target.is_dir() => {
            let _ = std::fs::remove_dir_all(&staging);
            Ok(target)
        }
        Err(e) => Err(SourceError::cache(&target, e)),
    }
}

fn tempdir_in(dir: &Path) -> Result<PathBuf, SourceError> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let path = dir.join(format!(".tmp-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&path).map_err(|e| SourceError::cache(&path, e))?;
    Ok(path)
}
