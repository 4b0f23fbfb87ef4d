//! Talking to remotes: each endpoint in order, one ref listing and, on the same connection, a fetch
//! when the cache lacks the commit; libgit2's process-wide timeouts. A repository's `caData` is
//! checked per connection (see `tls`), never added to libgit2's process-wide trust.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use git2::{AutotagOption, Direction, FetchOptions, ProxyOptions, RemoteUpdateFlags, Repository};
use tracing::{debug, info, warn};

use super::Shared;
use super::callbacks::{CallbackState, callbacks, classify};
use super::request::Endpoint;
use super::resolve::{Listing, find_commit, has_commit};
use crate::credentials::{redact, strip_userinfo};
use crate::error::SourceError;
use crate::revision::{RemoteRef, RevisionSpec};
use crate::transport::proxy_for;

/// libgit2's own connect and read timeouts: a dead server fails the listing instead of hanging it.
pub(super) fn set_network_timeouts(timeout: Duration) {
    let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: these set process-wide libgit2 options; they are set before any fetch of this cache
    // runs and every cache of the process sets the same kind of value.
    unsafe {
        let _ = git2::opts::set_server_connect_timeout_in_milliseconds(millis.min(30_000));
        let _ = git2::opts::set_server_timeout_in_milliseconds(millis);
    }
}

const REFSPECS: [&str; 2] = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];

/// Tries each endpoint in order: one ref listing, and on the same connection a fetch when the
/// revision's commit is missing. The first endpoint that answers serves; if all fail, the last
/// error is returned (naming the others).
pub(super) fn list_and_fetch(
    shared: &Shared,
    repo: &Repository,
    endpoints: &[Endpoint],
    spec: &RevisionSpec,
    known_hosts: &str,
    deadline: Instant,
) -> Result<(Listing, bool), SourceError> {
    let mut failures: Vec<SourceError> = Vec::new();
    for endpoint in endpoints {
        let started = Instant::now();
        shared.counters.ref_listings.fetch_add(1, Ordering::Relaxed);
        match connect_list_fetch(shared, repo, endpoint, Some(spec), known_hosts, deadline) {
            Ok((refs, fetched)) => {
                if !failures.is_empty() {
                    info!(url = %strip_userinfo(&endpoint.url), skipped = failures.len(), "served by a later URL");
                }
                debug!(url = %strip_userinfo(&endpoint.url), refs = refs.len(), fetched, "listed refs");
                return Ok((Listing { started, refs, url: endpoint.url.clone(), identity: 0 }, fetched));
            }
            Err(err) => {
                shared.counters.failures.fetch_add(1, Ordering::Relaxed);
                debug!(url = %strip_userinfo(&endpoint.url), %err, "listing failed");
                let stop = !err.is_remote() || Instant::now() >= deadline;
                failures.push(err);
                if stop {
                    break;
                }
            }
        }
    }
    let last = failures.pop().unwrap_or_else(|| SourceError::unreachable("repository", "no URL to fetch from"));
    Err(with_others(last, &failures))
}

/// Appends what the other URLs said to the last error's message.
fn with_others(last: SourceError, others: &[SourceError]) -> SourceError {
    if others.is_empty() {
        return last;
    }
    let also = others.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
    let append = |message: String| format!("{message} (mirrors also failed: {also})");
    match last {
        SourceError::Unreachable { repo, message } => SourceError::Unreachable { repo, message: append(message) },
        SourceError::AuthenticationFailed { repo, message } => {
            SourceError::AuthenticationFailed { repo, message: append(message) }
        }
        SourceError::ProxyAuthenticationFailed { repo, message } => {
            SourceError::ProxyAuthenticationFailed { repo, message: append(message) }
        }
        SourceError::HostKey { repo, host, message } => SourceError::HostKey { repo, host, message: append(message) },
        SourceError::Tls { repo, message } => SourceError::Tls { repo, message: append(message) },
        SourceError::NotARepository { repo, message } => SourceError::NotARepository { repo, message: append(message) },
        other => other,
    }
}

/// A fetch of every branch and tag from one endpoint (used when a listing was reused).
pub(super) fn fetch_from(
    shared: &Shared,
    repo: &Repository,
    endpoint: &Endpoint,
    known_hosts: &str,
    deadline: Instant,
) -> Result<(), SourceError> {
    connect_list_fetch(shared, repo, endpoint, None, known_hosts, deadline).map(drop)
}

/// Connects to one endpoint, lists its refs, and fetches when `spec` (or, with `None`, always)
/// needs a commit the cache lacks. Returns the refs and whether it fetched.
fn connect_list_fetch(
    shared: &Shared,
    repo: &Repository,
    endpoint: &Endpoint,
    spec: Option<&RevisionSpec>,
    known_hosts: &str,
    deadline: Instant,
) -> Result<(Vec<RemoteRef>, bool), SourceError> {
    let url = endpoint.url.as_str();
    let shown = strip_userinfo(url);
    let creds = &endpoint.credentials;
    let secrets = creds.secrets();
    let known_hosts = match &creds.known_hosts {
        Some(extra) => format!("{known_hosts}\n{extra}"),
        None => known_hosts.to_string(),
    };
    let observed = Rc::new(RefCell::new(CallbackState::default()));
    let proxy = proxy_for(
        url,
        creds.proxy.as_deref(),
        creds.no_proxy.as_deref(),
        shared.options.default_proxy.as_deref(),
        shared.options.default_no_proxy.as_deref(),
    );
    let fail = |err: git2::Error| classify(&shown, &err, &observed.borrow(), &secrets, shared.options.fetch_timeout);

    let mut listing_probe = shared.counters.observer.probe(&shown, crate::observe::GitRequestType::LsRemote);
    let mut remote = repo
        .remote_anonymous(url)
        .map_err(|e| SourceError::NotARepository { repo: shown.clone(), message: redact(e.message(), &secrets) })?;
    let mut connection = remote
        .connect_auth(
            Direction::Fetch,
            Some(callbacks(endpoint, &known_hosts, deadline, observed.clone())),
            Some(proxy_options(proxy.as_deref())),
        )
        .map_err(fail)?;
    let refs = advertised_refs(connection.list().map_err(fail)?);
    listing_probe.succeeded();
    drop(listing_probe);
    let needs_fetch = match spec {
        None => true,
        Some(spec) => match spec.resolve_in(&refs) {
            Some(oid) => !has_commit(repo, &oid),
            None => matches!(spec, RevisionSpec::Commit(sha) if find_commit(repo, sha).is_none()),
        },
    };
    if needs_fetch {
        shared.counters.fetches.fetch_add(1, Ordering::Relaxed);
        let mut fetch_probe = shared.counters.observer.probe(&shown, crate::observe::GitRequestType::Fetch);
        let mut options = FetchOptions::new();
        options
            .remote_callbacks(callbacks(endpoint, &known_hosts, deadline, observed.clone()))
            .proxy_options(proxy_options(proxy.as_deref()))
            .download_tags(AutotagOption::None);
        let remote = connection.remote();
        remote.download(&REFSPECS, Some(&mut options)).map_err(fail)?;
        remote
            .update_tips(None, RemoteUpdateFlags::UPDATE_FETCHHEAD, AutotagOption::None, Some("lockstep fetch"))
            .map_err(fail)?;
        fetch_probe.succeeded();
        info!(url = %shown, "fetched");
        // Each fetch adds a pack; merging the small ones keeps every later open of the repository
        // cheap. The cache stays correct without it, so a failure is only logged.
        match super::packs::consolidate(repo) {
            Ok(0) => {}
            Ok(merged) => debug!(url = %shown, merged, "merged packs"),
            Err(err) => warn!(url = %shown, %err, "merging packs failed"),
        }
    }
    Ok((refs, needs_fetch))
}

fn proxy_options(proxy: Option<&str>) -> ProxyOptions<'static> {
    let mut options = ProxyOptions::new();
    if let Some(proxy) = proxy {
        options.url(proxy);
    }
    options
}

/// The remote's refs; annotated tags carry the commit they point at.
fn advertised_refs(heads: &[git2::RemoteHead<'_>]) -> Vec<RemoteRef> {
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
    refs
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{repo_with_commits, request};
    use crate::{CacheOptions, Endpoint, GitCache, SourceError};
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    #[tokio::test]
    async fn mirrors_are_tried_in_order_and_the_server_is_reported() {
        let (repo, _, second) = repo_with_commits();
        let cache_dir = tempfile::tempdir().unwrap();
        let cache = GitCache::new(cache_dir.path()).unwrap();
        let url = format!("file://{}", repo.path().display());
        let mut req = request("https://canonical.invalid/app", None);
        req.endpoints = vec![
            Endpoint { url: "file:///nonexistent/mirror".into(), ..Default::default() },
            Endpoint { url: url.clone(), ..Default::default() },
            Endpoint { url: "https://canonical.invalid/app".into(), ..Default::default() },
        ];
        let snapshot = cache.snapshot(&req).await.unwrap();
        assert_eq!(snapshot.revision, second);
        assert_eq!(snapshot.fetched_from.as_deref(), Some(url.as_str()));
    }

    #[tokio::test]
    async fn a_silent_server_times_out_without_holding_up_other_repos() {
        // Accepts connections and never answers.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let _held = std::thread::spawn(move || {
            // Hold every connection for a few seconds, then close them all.
            listener.set_nonblocking(true).unwrap();
            let until = Instant::now() + Duration::from_secs(4);
            let mut held = Vec::new();
            while Instant::now() < until {
                if let Ok((connection, _)) = listener.accept() {
                    held.push(connection);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let (repo, _, second) = repo_with_commits();
        let cache_dir = tempfile::tempdir().unwrap();
        let options =
            CacheOptions { fetch_timeout: Duration::from_secs(2), max_concurrent_fetches: 2, ..Default::default() };
        let cache = Arc::new(GitCache::with_options(cache_dir.path(), options).unwrap());
        let slow = {
            let cache = cache.clone();
            tokio::spawn(
                async move { cache.snapshot(&request(&format!("http://127.0.0.1:{port}/slow.git"), None)).await },
            )
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let fast = cache.snapshot(&request(&format!("file://{}", repo.path().display()), None)).await.unwrap();
        assert_eq!(fast.revision, second);
        assert!(started.elapsed() < Duration::from_secs(1), "the fast repo waited {:?}", started.elapsed());
        let err = slow.await.unwrap().unwrap_err();
        assert!(matches!(err, SourceError::Timeout { .. }), "{err}");
    }
}
