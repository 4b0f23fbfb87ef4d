//! The blocking half of a request: reuse a fresh ref listing of the repository (or list, once per
//! window even while it is down), fetch only when the commit is missing, export the snapshot and
//! record it as the last good revision.

use std::path::Path;
use std::time::{Duration, Instant};

use git2::{Oid, Repository};

use super::Shared;
use super::fetch::{fetch_from, list_and_fetch};
use super::last_good::update_state;
use super::request::SourceRequest;
use super::verify::verify_revision;
use crate::credentials::strip_userinfo;
use crate::error::SourceError;
use crate::revision::{RemoteRef, RevisionSpec, version_tags};
use crate::snapshot::{Snapshot, export_commit};
use crate::url::normalize_repo_url;
use lockstep_verify::ResolvedThrough;

/// One ref listing of a repository, shared by every request within its TTL.
#[derive(Clone, Debug)]
pub(super) struct Listing {
    pub(super) started: Instant,
    pub(super) refs: Vec<RemoteRef>,
    /// The URL (as given, credentials never embedded) that answered.
    pub(super) url: String,
    /// [`SourceRequest::access_identity`] of the request that listed.
    pub(super) identity: u64,
}

/// In-memory state of one repository, behind its lock.
#[derive(Default)]
pub(super) struct RepoState {
    listing: Option<Listing>,
    /// The latest failed listing: during an outage it stands in for a listing within the same
    /// window, so a down repository costs one attempt per window, not one per Application.
    failure: Option<FailedListing>,
}

/// A listing attempt that failed on every URL.
struct FailedListing {
    started: Instant,
    /// [`SourceRequest::attempt_fingerprint`]: a changed Secret or known hosts retries at once.
    fingerprint: u64,
    error: SourceError,
}

impl RepoState {
    /// The listing a request with this access identity may reuse: one that started at most
    /// `max_age` before `requested_at`.
    pub(super) fn fresh_listing(&self, identity: u64, max_age: Duration, requested_at: Instant) -> Option<&Listing> {
        self.listing.as_ref().filter(|l| l.identity == identity && l.started + max_age >= requested_at)
    }
}

/// The blocking half of a request, run with the repository's lock held.
pub(super) fn resolve_blocking(
    shared: &Shared,
    key: &str,
    request: &SourceRequest,
    state: &mut RepoState,
    requested_at: Instant,
    max_age: Duration,
    deadline: Instant,
) -> Result<Snapshot, SourceError> {
    let canonical = strip_userinfo(&request.repo_url);
    let repo = open_or_init(&shared.root.join("repos").join(key))?;
    let spec = RevisionSpec::parse(request.target_revision.as_deref());
    let endpoints = request.effective_endpoints();
    let identity = request.access_identity();
    let same_access = |l: &&Listing| l.identity == identity;

    // A full SHA already in the cache needs no network at all (commits never change), once these
    // credentials have listed the repository.
    if let RevisionSpec::Commit(sha) = &spec
        && sha.len() == 40
        && state.listing.as_ref().filter(same_access).is_some()
        && let Some(found) = find_commit(&repo, sha)
    {
        return finish(shared, key, request, &repo, &spec, (&found, &ResolvedThrough::NotATag), None);
    }

    let fresh = state.fresh_listing(identity, max_age, requested_at).cloned();
    let (listing, fetched) = match fresh {
        Some(listing) => (listing, false),
        None => {
            let fingerprint = request.attempt_fingerprint();
            if let Some(failed) = &state.failure
                && failed.fingerprint == fingerprint
                && failed.started + max_age >= requested_at
            {
                return Err(failed.error.clone());
            }
            let started = Instant::now();
            match list_and_fetch(shared, &repo, &endpoints, &spec, &request.known_hosts, deadline) {
                Ok((mut listing, fetched)) => {
                    listing.identity = identity;
                    state.listing = Some(listing.clone());
                    state.failure = None;
                    (listing, fetched)
                }
                Err(error) => {
                    state.failure = Some(FailedListing { started, fingerprint, error: error.clone() });
                    return Err(error);
                }
            }
        }
    };
    let served_by = endpoints.iter().find(|e| e.url == listing.url).cloned().unwrap_or_else(|| endpoints[0].clone());
    let fetch_again = |repo: &Repository| -> Result<(), SourceError> {
        if fetched {
            return Ok(());
        }
        fetch_from(shared, repo, &served_by, &request.known_hosts, deadline)
    };
    let through = resolved_through(spec.resolve_ref_in(&listing.refs));
    let commit = match spec.resolve_in(&listing.refs) {
        Some(oid) => {
            if !has_commit(&repo, &oid) || (request.verification.is_some() && tag_missing(&repo, &through)) {
                fetch_again(&repo)?;
            }
            oid
        }
        None => match &spec {
            RevisionSpec::Commit(sha) => match find_commit(&repo, sha) {
                Some(oid) => oid,
                None => {
                    fetch_again(&repo)?;
                    find_commit(&repo, sha).ok_or_else(|| not_found(&canonical, &spec))?
                }
            },
            RevisionSpec::Range(range) => {
                let tags = version_tags(&listing.refs);
                let tags = if tags.is_empty() { "none".to_string() } else { tags.join(", ") };
                return Err(SourceError::NoMatchingTag { repo: canonical, range: range.clone(), tags });
            }
            _ => return Err(not_found(&canonical, &spec)),
        },
    };
    finish(shared, key, request, &repo, &spec, (&commit, &through), Some(strip_userinfo(&listing.url)))
}

/// Whether the ref a revision resolved through is an annotated tag (its signature can be checked),
/// a lightweight one, or no tag.
fn resolved_through(found: Option<&RemoteRef>) -> ResolvedThrough {
    let Some(found) = found else { return ResolvedThrough::NotATag };
    let Some(name) = found.name.strip_prefix("refs/tags/") else { return ResolvedThrough::NotATag };
    match &found.peeled {
        Some(_) => ResolvedThrough::AnnotatedTag { name: name.to_string(), oid: found.oid.clone() },
        None => ResolvedThrough::LightweightTag(name.to_string()),
    }
}

/// Exports the commit and records it as the last good resolution of this spec.
fn finish(
    shared: &Shared,
    key: &str,
    request: &SourceRequest,
    repo: &Repository,
    spec: &RevisionSpec,
    (sha, through): (&str, &ResolvedThrough),
    fetched_from: Option<String>,
) -> Result<Snapshot, SourceError> {
    let canonical = strip_userinfo(&request.repo_url);
    let oid = Oid::from_str(sha).map_err(|e| SourceError::unreachable(&canonical, e))?;
    let commit = repo.find_commit(oid).map_err(|_| not_found(&canonical, spec))?;
    let verified = match &request.verification {
        Some(verification) => Some(verify_revision(repo, &canonical, oid, through, verification)?),
        None => None,
    };
    let root = export_commit(repo, &commit, &shared.root.join("snapshots"))?;
    shared.collect_snapshots_now_and_then();
    let revision = commit.id().to_string();
    update_state(shared, key, |s| {
        let url = strip_userinfo(&normalize_repo_url(&request.repo_url));
        let key = request.last_good_key(spec);
        let changed = s.resolved.get(&key) != Some(&revision) || s.url != url;
        s.url = url;
        s.resolved.insert(key, revision.clone());
        changed
    });
    Ok(Snapshot { repo_url: request.repo_url.clone(), revision, root, fetched_from, unavailable: None, verified })
}

fn not_found(repo: &str, spec: &RevisionSpec) -> SourceError {
    SourceError::RevisionNotFound { repo: repo.to_string(), revision: spec.key() }
}

fn open_or_init(path: &Path) -> Result<Repository, SourceError> {
    match Repository::open_bare(path) {
        Ok(repo) => Ok(repo),
        Err(_) => Repository::init_bare(path).map_err(|e| SourceError::cache(path, e)),
    }
}

/// Whether the annotated tag a revision resolved through is missing from the cache (a tag pushed
/// for a commit the cache already has): its signature needs the tag object.
fn tag_missing(repo: &Repository, through: &ResolvedThrough) -> bool {
    match through {
        ResolvedThrough::AnnotatedTag { oid, .. } => Oid::from_str(oid).map_or(true, |oid| repo.find_tag(oid).is_err()),
        _ => false,
    }
}

pub(super) fn has_commit(repo: &Repository, oid: &str) -> bool {
    Oid::from_str(oid).ok().and_then(|oid| repo.find_commit(oid).ok()).is_some()
}

/// Looks a full or abbreviated SHA up in the local cache.
pub(super) fn find_commit(repo: &Repository, sha: &str) -> Option<String> {
    let object = repo.revparse_single(sha).ok()?;
    let commit = object.peel_to_commit().ok()?;
    Some(commit.id().to_string())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{repo_with_commits, request};
    use crate::{CacheOptions, GitCache, SourceError};
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn resolves_branch_tag_range_and_commits() {
        let (repo, first, second) = repo_with_commits();
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = GitCache::new(cache_dir.path()).unwrap();
        let url = format!("file://{}", repo.path().display());
        let at = |rev: Option<&str>| request(&url, rev);

        let head = cache.snapshot(&at(None)).await.unwrap();
        assert_eq!(head.revision, second);
        assert_eq!(head.fetched_from.as_deref(), Some(url.as_str()));
        assert_eq!(std::fs::read_to_string(head.root.join("a.yaml")).unwrap(), "two");
        assert_eq!(cache.snapshot(&at(Some("main"))).await.unwrap().revision, second);
        let tag = cache.snapshot(&at(Some("v1"))).await.unwrap();
        assert_eq!(tag.revision, first);
        assert_eq!(std::fs::read_to_string(tag.root.join("a.yaml")).unwrap(), "one");
        assert_eq!(cache.snapshot(&at(Some(&first[..8]))).await.unwrap().revision, first);
        assert_eq!(cache.snapshot(&at(Some(&first))).await.unwrap().revision, first);
        assert_eq!(cache.snapshot(&at(Some(">=1.0.0 <1.3.0"))).await.unwrap().revision, first);
        assert_eq!(cache.snapshot(&at(Some("1.x"))).await.unwrap().revision, second);
        let err = cache.snapshot(&at(Some(">=3.0.0"))).await.unwrap_err();
        assert!(matches!(err, SourceError::NoMatchingTag { .. }), "{err}");
        assert!(err.to_string().contains("v2.0.0"), "{err}");
    }

    #[tokio::test]
    async fn missing_revision_and_repo_are_distinct_errors() {
        let (repo, _, _) = repo_with_commits();
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = GitCache::new(cache_dir.path()).unwrap();
        let url = format!("file://{}", repo.path().display());
        let err = cache.snapshot(&request(&url, Some("no-such-branch"))).await.unwrap_err();
        assert!(matches!(err, SourceError::RevisionNotFound { .. }), "{err}");
        let err = cache.snapshot(&request("file:///nonexistent/repo", None)).await.unwrap_err();
        assert!(matches!(err, SourceError::NotARepository { .. }), "{err}");
    }

    #[tokio::test]
    async fn concurrent_requests_share_one_listing_and_one_fetch() {
        let (repo, _, second) = repo_with_commits();
        let cache_dir = tempfile::tempdir().unwrap();
        let options = CacheOptions { listing_ttl: Duration::from_secs(600), ..Default::default() };
        let cache = Arc::new(GitCache::with_options(cache_dir.path(), options).unwrap());
        let url = format!("file://{}", repo.path().display());
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let cache = cache.clone();
                let req = request(&url, Some(if i % 2 == 0 { "main" } else { "HEAD" }));
                tokio::spawn(async move { cache.snapshot(&req).await })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap().unwrap().revision, second);
        }
        let counted = cache.counters().snapshot();
        assert_eq!((counted.ref_listings, counted.fetches), (1, 1), "{counted:?}");

        // A request that insists on fresh refs lists again; nothing moved, so nothing is fetched.
        let mut fresh = request(&url, Some("main"));
        fresh.max_listing_age = Some(Duration::ZERO);
        cache.snapshot(&fresh).await.unwrap();
        let counted = cache.counters().snapshot();
        assert_eq!((counted.ref_listings, counted.fetches), (2, 1), "{counted:?}");
    }
}
