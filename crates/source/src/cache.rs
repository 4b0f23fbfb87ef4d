use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use git2::{Direction, FetchOptions, Oid, Repository};

use crate::error::SourceError;
use crate::revision::{RemoteRef, RevisionSpec};
use crate::snapshot::{Snapshot, export_commit};
use crate::url::{cache_key, normalize_repo_url};

/// Which repository and revision an Application reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceRequest {
    /// The repository URL as the Application spells it.
    pub repo_url: String,
    /// Branch, tag or commit; `None`, empty or `HEAD` for the default branch.
    pub target_revision: Option<String>,
}

/// The shared on-disk git cache: one bare repository per normalised URL and one snapshot per commit.
pub struct GitCache {
    root: PathBuf,
    /// One lock per repository, so fetches of one repo are serialised and different repos run in parallel.
    repo_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl GitCache {
    /// Opens (creating if needed) a cache rooted at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, SourceError> {
        let root = root.into();
        for dir in [root.join("repos"), root.join("snapshots")] {
            std::fs::create_dir_all(&dir).map_err(|e| SourceError::cache(&dir, e))?;
        }
        Ok(Self { root, repo_locks: Mutex::new(HashMap::new()) })
    }

    /// Resolves the request against the remote, fetches what is missing, and returns a read-only
    /// snapshot of the resolved commit.
    pub async fn snapshot(&self, request: &SourceRequest) -> Result<Snapshot, SourceError> {
        let normalized = normalize_repo_url(&request.repo_url);
        let key = cache_key(&normalized);
        let lock = self.repo_lock(&key);
        let _serialised = lock.lock().await;
        let root = self.root.clone();
        let request = request.clone();
        tokio::task::spawn_blocking(move || snapshot_blocking(&root, &key, &request))
            .await
            .map_err(|e| SourceError::Cache { path: "blocking git task".into(), message: e.to_string() })?
    }

    fn repo_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.repo_locks.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(key.to_string()).or_default().clone()
    }
}

fn snapshot_blocking(root: &Path, key: &str, request: &SourceRequest) -> Result<Snapshot, SourceError> {
    let url = request.repo_url.as_str();
    let repo = open_or_init(&root.join("repos").join(key))?;
    let spec = RevisionSpec::parse(request.target_revision.as_deref());
    let refs = list_remote_refs(&repo, url)?;
    let commit = match spec.resolve_in(&refs) {
        Some(oid) => {
            if !has_commit(&repo, &oid) {
                fetch_all(&repo, url)?;
            }
            oid
        }
        None => match &spec {
            RevisionSpec::Commit(sha) => match find_commit(&repo, sha) {
                Some(oid) => oid,
                None => {
                    fetch_all(&repo, url)?;
                    find_commit(&repo, sha).ok_or_else(|| not_found(request))?
                }
            },
            _ => return Err(not_found(request)),
        },
    };
    let oid = Oid::from_str(&commit).map_err(|e| SourceError::unreachable(url, e))?;
    let commit = repo.find_commit(oid).map_err(|_| not_found(request))?;
    let dir = export_commit(&repo, &commit, &root.join("snapshots"))?;
    Ok(Snapshot { repo_url: url.to_string(), revision: commit.id().to_string(), root: dir })
}

fn not_found(request: &SourceRequest) -> SourceError {
    SourceError::RevisionNotFound {
        repo: request.repo_url.clone(),
        revision: request.target_revision.clone().unwrap_or_else(|| "HEAD".into()),
    }
}

fn open_or_init(path: &Path) -> Result<Repository, SourceError> {
    match Repository::open_bare(path) {
        Ok(repo) => Ok(repo),
        Err(_) => Repository::init_bare(path).map_err(|e| SourceError::cache(path, e)),
    }
}

/// One ref listing of the remote: the only request made when nothing moved.
fn list_remote_refs(repo: &Repository, url: &str) -> Result<Vec<RemoteRef>, SourceError> {
    let mut remote = repo.remote_anonymous(url).map_err(|e| SourceError::unreachable(url, e))?;
    remote.connect(Direction::Fetch).map_err(|e| SourceError::unreachable(url, e))?;
    let heads = remote.list().map_err(|e| SourceError::unreachable(url, e))?;
    let mut refs: Vec<RemoteRef> = Vec::with_capacity(heads.len());
    for head in heads {
        let name = head.name();
        let oid = head.oid().to_string();
        if let Some(tag) = name.strip_suffix("^{}") {
            if let Some(existing) = refs.iter_mut().find(|r| r.name == tag) {
                existing.peeled = Some(oid);
            }
        } else {
            refs.push(RemoteRef { name: name.to_string(), oid, peeled: None });
        }
    }
    Ok(refs)
}

fn fetch_all(repo: &Repository, url: &str) -> Result<(), SourceError> {
    let mut remote = repo.remote_anonymous(url).map_err(|e| SourceError::unreachable(url, e))?;
    let mut options = FetchOptions::new();
    options.download_tags(git2::AutotagOption::None);
    remote
        .fetch(&["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"], Some(&mut options), None)
        .map_err(|e| SourceError::unreachable(url, e))
}

fn has_commit(repo: &Repository, oid: &str) -> bool {
    Oid::from_str(oid).ok().and_then(|oid| repo.find_commit(oid).ok()).is_some()
}

/// Looks a full or abbreviated SHA up in the local cache.
fn find_commit(repo: &Repository, sha: &str) -> Option<String> {
    let object = repo.revparse_single(sha).ok()?;
    let commit = object.peel_to_commit().ok()?;
    Some(commit.id().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn git(dir: &Path, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    fn repo_with_commits() -> (tempfile::TempDir, String, String) {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q"]);
        std::fs::write(dir.path().join("a.yaml"), "one").unwrap();
        git(dir.path(), &["add", "."]);
        git(dir.path(), &["commit", "-qm", "one"]);
        let first = git(dir.path(), &["rev-parse", "HEAD"]);
        git(dir.path(), &["tag", "-a", "v1", "-m", "v1"]);
        std::fs::write(dir.path().join("a.yaml"), "two").unwrap();
        git(dir.path(), &["commit", "-qam", "two"]);
        let second = git(dir.path(), &["rev-parse", "HEAD"]);
        (dir, first, second)
    }

    #[tokio::test]
    async fn resolves_branch_tag_and_commits() {
        let (repo, first, second) = repo_with_commits();
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = GitCache::new(cache_dir.path()).unwrap();
        let url = format!("file://{}", repo.path().display());
        let at = |rev: Option<&str>| SourceRequest { repo_url: url.clone(), target_revision: rev.map(String::from) };

        let head = cache.snapshot(&at(None)).await.unwrap();
        assert_eq!(head.revision, second);
        assert_eq!(std::fs::read_to_string(head.root.join("a.yaml")).unwrap(), "two");
        assert_eq!(cache.snapshot(&at(Some("main"))).await.unwrap().revision, second);
        let tag = cache.snapshot(&at(Some("v1"))).await.unwrap();
        assert_eq!(tag.revision, first);
        assert_eq!(std::fs::read_to_string(tag.root.join("a.yaml")).unwrap(), "one");
        assert_eq!(cache.snapshot(&at(Some(&first[..8]))).await.unwrap().revision, first);
        assert_eq!(cache.snapshot(&at(Some(&first))).await.unwrap().revision, first);
    }

    #[tokio::test]
    async fn missing_revision_and_repo_are_distinct_errors() {
        let (repo, _, _) = repo_with_commits();
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = GitCache::new(cache_dir.path()).unwrap();
        let url = format!("file://{}", repo.path().display());
        let err = cache
            .snapshot(&SourceRequest { repo_url: url, target_revision: Some("no-such-branch".into()) })
            .await
            .unwrap_err();
        assert!(matches!(err, SourceError::RevisionNotFound { .. }), "{err}");
        let err = cache
            .snapshot(&SourceRequest { repo_url: "file:///nonexistent/repo".into(), target_revision: None })
            .await
            .unwrap_err();
        assert!(matches!(err, SourceError::Unreachable { .. }), "{err}");
    }
}
