use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use git2::{
    AutotagOption, CertificateCheckStatus, Cred, CredentialType, Direction, ErrorClass, ErrorCode, FetchOptions, Oid,
    ProxyOptions, RemoteCallbacks, RemoteUpdateFlags, Repository,
};
use tracing::{debug, info, warn};

use crate::credentials::{Credentials, redact, strip_userinfo};
use crate::error::SourceError;
use crate::revision::{RemoteRef, RevisionSpec, version_tags};
use crate::snapshot::{Snapshot, Unavailable, export_commit};
use crate::state::{self, RepoStateFile};
use crate::transport::{HostKeyVerdict, check_host_key, host_and_port, proxy_for};
use crate::url::{cache_key, normalize_repo_url};

/// Which repository and revision an Application reads, and how to reach it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceRequest {
    /// The repository URL as the Application spells it (the canonical URL).
    pub repo_url: String,
    /// Branch, tag, commit or semver range; `None`, empty or `HEAD` for the default branch.
    pub target_revision: Option<String>,
    /// URLs to try in order (mirrors, then the canonical URL) with their credentials; empty means
    /// the canonical URL without credentials.
    pub endpoints: Vec<Endpoint>,
    /// `known_hosts` lines shared by every repository (the controller's ConfigMap).
    pub known_hosts: String,
    /// Reuse a ref listing that started at most this long before the request; `None` for the
    /// cache's listing TTL. `Some(ZERO)` asks for a listing that starts after the request.
    pub max_listing_age: Option<Duration>,
}

/// One URL a repository can be fetched from, with the credentials that apply to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Endpoint {
    /// The URL to fetch from.
    pub url: String,
    /// Credentials for this URL (empty for anonymous access).
    pub credentials: Credentials,
    /// Which Secret the credentials came from (`namespace/name`), if any. Requests share ref
    /// listings and last good revisions only with requests using the same URLs and Secrets, so an
    /// Application never reads through another namespace's credentials.
    pub credential_source: Option<String>,
}

impl SourceRequest {
    /// The endpoints to try: the given ones, else the canonical URL anonymously.
    fn effective_endpoints(&self) -> Vec<Endpoint> {
        if self.endpoints.is_empty() {
            vec![Endpoint { url: self.repo_url.clone(), ..Default::default() }]
        } else {
            self.endpoints.clone()
        }
    }

    /// Who is asking, as far as access goes: the URLs tried and the Secrets used (never their values).
    fn access_identity(&self) -> u64 {
        let text: Vec<String> = self
            .effective_endpoints()
            .iter()
            .map(|e| format!("{} {}", e.url, e.credential_source.as_deref().unwrap_or("-")))
            .collect();
        crate::url::fnv1a(text.join("\n").as_bytes())
    }

    /// Everything that can change the outcome of a listing attempt, credential values included.
    /// In memory only: never persisted or logged.
    fn attempt_fingerprint(&self) -> u64 {
        let mut text = format!("{}\n", self.known_hosts);
        for e in self.effective_endpoints() {
            let c = &e.credentials;
            let fields = [
                &c.username,
                &c.password,
                &c.ssh_private_key,
                &c.ca_data,
                &c.proxy,
                &c.no_proxy,
                &c.known_hosts,
                &c.tls_client_cert_data,
                &c.tls_client_cert_key,
            ];
            text.push_str(&e.url);
            for field in fields {
                text.push('\0');
                text.push_str(field.as_deref().unwrap_or_default());
            }
            text.push('\n');
        }
        crate::url::fnv1a(text.as_bytes())
    }

    /// Key of this request's last good revision in the state file.
    fn last_good_key(&self, spec: &RevisionSpec) -> String {
        format!("{}#{:016x}", spec.key(), self.access_identity())
    }
}

/// Tuning of the shared cache; the defaults suit tests and small installations.
#[derive(Clone, Debug)]
pub struct CacheOptions {
    /// How long one ref listing of a repo serves every Application of it.
    pub listing_ttl: Duration,
    /// How many repositories are listed or fetched at once.
    pub max_concurrent_fetches: usize,
    /// How long one listing plus fetch may take before it is abandoned.
    pub fetch_timeout: Duration,
    /// Proxy for http(s) URLs whose credentials name none (`HTTPS_PROXY`).
    pub default_proxy: Option<String>,
    /// Hosts reached without the default proxy (`NO_PROXY`).
    pub default_no_proxy: Option<String>,
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            listing_ttl: Duration::from_secs(60),
            max_concurrent_fetches: 8,
            fetch_timeout: Duration::from_secs(120),
            default_proxy: None,
            default_no_proxy: None,
        }
    }
}

/// Counters of remote work, for metrics: read them with [`SourceCounters::snapshot`].
#[derive(Debug, Default)]
pub struct SourceCounters {
    ref_listings: AtomicU64,
    fetches: AtomicU64,
    failures: AtomicU64,
    served_from_cache: AtomicU64,
    /// Receives every remote request with its repository, outcome and duration (metrics).
    observer: crate::observe::ObserverSlot,
}

/// The counters at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CounterValues {
    /// Remote ref listings (`ls-remote`) attempted, one per URL tried.
    pub ref_listings: u64,
    /// Fetches (pack downloads) attempted.
    pub fetches: u64,
    /// Listings or fetches that failed.
    pub failures: u64,
    /// Requests answered with the last good revision because the remote was unavailable.
    pub served_from_cache: u64,
}

impl SourceCounters {
    /// Installs the function told about every ref listing and fetch (once; later calls are ignored).
    pub fn observe(&self, observer: crate::observe::GitRequestObserver) -> bool {
        self.observer.set(observer)
    }

    /// The current values.
    pub fn snapshot(&self) -> CounterValues {
        CounterValues {
            ref_listings: self.ref_listings.load(Ordering::Relaxed),
            fetches: self.fetches.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
            served_from_cache: self.served_from_cache.load(Ordering::Relaxed),
        }
    }
}

/// One ref listing of a repository, shared by every request within its TTL.
#[derive(Clone, Debug)]
struct Listing {
    started: Instant,
    refs: Vec<RemoteRef>,
    /// The URL (as given, credentials never embedded) that answered.
    url: String,
    /// [`SourceRequest::access_identity`] of the request that listed.
    identity: u64,
}

/// In-memory state of one repository, behind its lock.
#[derive(Default)]
struct RepoState {
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

/// What every request shares.
struct Shared {
    root: PathBuf,
    options: CacheOptions,
    counters: Arc<SourceCounters>,
    fetch_slots: Arc<tokio::sync::Semaphore>,
    /// Serialises read-modify-write of the small state files.
    state_io: Mutex<()>,
}

/// The shared on-disk git cache: one bare repository per normalised URL and one snapshot per commit.
/// Requests for one repository are serialised and share ref listings; different repositories run in
/// parallel, bounded by `max_concurrent_fetches`.
pub struct GitCache {
    shared: Arc<Shared>,
    repos: Mutex<HashMap<String, Arc<tokio::sync::Mutex<RepoState>>>>,
}

impl GitCache {
    /// Opens (creating if needed) a cache rooted at `root` with default options.
    pub fn new(root: impl Into<PathBuf>) -> Result<Self, SourceError> {
        Self::with_options(root, CacheOptions::default())
    }

    /// Opens (creating if needed) a cache rooted at `root`.
    pub fn with_options(root: impl Into<PathBuf>, options: CacheOptions) -> Result<Self, SourceError> {
        let root = root.into();
        for dir in [root.join("repos"), root.join("snapshots")] {
            std::fs::create_dir_all(&dir).map_err(|e| SourceError::cache(&dir, e))?;
        }
        set_network_timeouts(options.fetch_timeout);
        let shared = Shared {
            root,
            fetch_slots: Arc::new(tokio::sync::Semaphore::new(options.max_concurrent_fetches.max(1))),
            options,
            counters: Arc::default(),
            state_io: Mutex::new(()),
        };
        Ok(Self { shared: Arc::new(shared), repos: Mutex::new(HashMap::new()) })
    }

    /// Counters of listings and fetches since start.
    pub fn counters(&self) -> Arc<SourceCounters> {
        self.shared.counters.clone()
    }

    /// Resolves the request against the remote (reusing a recent listing), fetches only when the
    /// needed commit is missing, and returns a read-only snapshot of it. When every URL fails and
    /// this revision resolved before, the last good commit is served with `unavailable` set.
    pub async fn snapshot(&self, request: &SourceRequest) -> Result<Snapshot, SourceError> {
        let key = cache_key(&normalize_repo_url(&request.repo_url));
        let requested_at = Instant::now();
        let timeout = self.shared.options.fetch_timeout;
        let work = {
            let state = self.repo_state(&key);
            let shared = self.shared.clone();
            let request = request.clone();
            let key = key.clone();
            async move {
                let mut guard = state.lock_owned().await;
                let max_age = request.max_listing_age.unwrap_or(shared.options.listing_ttl);
                let identity = request.access_identity();
                let fresh = guard
                    .listing
                    .as_ref()
                    .is_some_and(|l| l.identity == identity && l.started + max_age >= requested_at);
                let permit = if fresh {
                    None
                } else {
                    Some(
                        shared
                            .fetch_slots
                            .clone()
                            .acquire_owned()
                            .await
                            .map_err(|e| SourceError::unreachable(&request.repo_url, e))?,
                    )
                };
                let deadline = requested_at + shared.options.fetch_timeout;
                tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    resolve_blocking(&shared, &key, &request, &mut guard, requested_at, max_age, deadline)
                })
                .await
                .map_err(|e| SourceError::Cache { path: "blocking git task".into(), message: e.to_string() })?
            }
        };
        let result = match tokio::time::timeout(timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(SourceError::Timeout { repo: strip_userinfo(&request.repo_url), seconds: timeout.as_secs() }),
        };
        match result {
            Ok(snapshot) => {
                self.mark_available(&key).await;
                Ok(snapshot)
            }
            Err(err) if err.is_outage() => self.serve_last_good(&key, request, err).await,
            Err(err) => Err(err),
        }
    }

    fn repo_state(&self, key: &str) -> Arc<tokio::sync::Mutex<RepoState>> {
        let mut repos = self.repos.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        repos.entry(key.to_string()).or_default().clone()
    }

    /// Clears a recorded outage once the repository answers again.
    async fn mark_available(&self, key: &str) {
        let shared = self.shared.clone();
        let key = key.to_string();
        let _ = tokio::task::spawn_blocking(move || {
            update_state(&shared, &key, |s| {
                if s.unavailable_since.take().is_some() {
                    info!(repo = %s.url, "repository reachable again");
                    true
                } else {
                    false
                }
            })
        })
        .await;
    }

    /// Every URL failed: record since when, and serve the last good commit of this revision if the
    /// cache has it; otherwise the error stands.
    async fn serve_last_good(
        &self,
        key: &str,
        request: &SourceRequest,
        error: SourceError,
    ) -> Result<Snapshot, SourceError> {
        let shared = self.shared.clone();
        let key = key.to_string();
        let request = request.clone();
        tokio::task::spawn_blocking(move || {
            let mut since = SystemTime::now();
            let url = normalize_repo_url(&request.repo_url);
            update_state(&shared, &key, |s| {
                s.url = strip_userinfo(&url);
                match s.unavailable_since {
                    Some(at) => {
                        since = state::from_epoch(at);
                        false
                    }
                    None => {
                        s.unavailable_since = Some(state::to_epoch(since));
                        true
                    }
                }
            });
            let spec = RevisionSpec::parse(request.target_revision.as_deref());
            let recorded = state::load(&state::state_path(&shared.root, &key));
            let Some(sha) = recorded.resolved.get(&request.last_good_key(&spec)) else { return Err(error) };
            let Ok(repo) = Repository::open_bare(shared.root.join("repos").join(&key)) else { return Err(error) };
            let Some(commit) = Oid::from_str(sha).ok().and_then(|oid| repo.find_commit(oid).ok()) else { return Err(error) };
            let root = export_commit(&repo, &commit, &shared.root.join("snapshots"))?;
            shared.counters.served_from_cache.fetch_add(1, Ordering::Relaxed);
            warn!(repo = %strip_userinfo(&request.repo_url), revision = %sha, %error, "repository unavailable; serving the last good revision");
            Ok(Snapshot {
                repo_url: request.repo_url.clone(),
                revision: commit.id().to_string(),
                root,
                fetched_from: None,
                unavailable: Some(Unavailable { since, error }),
            })
        })
        .await
        .map_err(|e| SourceError::Cache { path: "blocking git task".into(), message: e.to_string() })?
    }
}

/// Read-modify-write of a repo's state file; `change` returns whether anything changed.
fn update_state(shared: &Shared, key: &str, change: impl FnOnce(&mut RepoStateFile) -> bool) {
    let _io = shared.state_io.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let path = state::state_path(&shared.root, key);
    let mut current = state::load(&path);
    if change(&mut current)
        && let Err(err) = state::store(&path, &current)
    {
        warn!(%err, "writing the repository state file failed");
    }
}

/// libgit2's own connect and read timeouts: a dead server fails the listing instead of hanging it.
fn set_network_timeouts(timeout: Duration) {
    let millis = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: these set process-wide libgit2 options; they are set before any fetch of this cache
    // runs and every cache of the process sets the same kind of value.
    unsafe {
        let _ = git2::opts::set_server_connect_timeout_in_milliseconds(millis.min(30_000));
        let _ = git2::opts::set_server_timeout_in_milliseconds(millis);
    }
}

/// The blocking half of a request, run with the repository's lock held.
fn resolve_blocking(
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
        return finish(shared, key, request, &repo, &spec, &found, None);
    }

    let fresh = state.listing.as_ref().filter(same_access).filter(|l| l.started + max_age >= requested_at).cloned();
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
    let commit = match spec.resolve_in(&listing.refs) {
        Some(oid) => {
            if !has_commit(&repo, &oid) {
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
    finish(shared, key, request, &repo, &spec, &commit, Some(strip_userinfo(&listing.url)))
}

/// Exports the commit and records it as the last good resolution of this spec.
fn finish(
    shared: &Shared,
    key: &str,
    request: &SourceRequest,
    repo: &Repository,
    spec: &RevisionSpec,
    sha: &str,
    fetched_from: Option<String>,
) -> Result<Snapshot, SourceError> {
    let canonical = strip_userinfo(&request.repo_url);
    let oid = Oid::from_str(sha).map_err(|e| SourceError::unreachable(&canonical, e))?;
    let commit = repo.find_commit(oid).map_err(|_| not_found(&canonical, spec))?;
    let root = export_commit(repo, &commit, &shared.root.join("snapshots"))?;
    let revision = commit.id().to_string();
    update_state(shared, key, |s| {
        let url = strip_userinfo(&normalize_repo_url(&request.repo_url));
        let key = request.last_good_key(spec);
        let changed = s.resolved.get(&key) != Some(&revision) || s.url != url;
        s.url = url;
        s.resolved.insert(key, revision.clone());
        changed
    });
    Ok(Snapshot { repo_url: request.repo_url.clone(), revision, root, fetched_from, unavailable: None })
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

const REFSPECS: [&str; 2] = ["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"];

/// Tries each endpoint in order: one ref listing, and on the same connection a fetch when the
/// revision's commit is missing. The first endpoint that answers serves; if all fail, the last
/// error is returned (naming the others).
fn list_and_fetch(
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
fn fetch_from(
    shared: &Shared,
    repo: &Repository,
    endpoint: &Endpoint,
    known_hosts: &str,
    deadline: Instant,
) -> Result<(), SourceError> {
    connect_list_fetch(shared, repo, endpoint, None, known_hosts, deadline).map(drop)
}

/// What the callbacks saw, so a libgit2 error can be explained precisely.
#[derive(Default)]
struct CallbackState {
    auth_attempts: u32,
    auth_problem: Option<String>,
    host_key: Option<(String, HostKeyVerdict)>,
    timed_out: bool,
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
    if let Some(ca) = &creds.ca_data {
        trust_ca(&shared.root, ca).map_err(|e| SourceError::Tls { repo: shown.clone(), message: e })?;
    }
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

/// Credentials, host key checking and the deadline, for one connection to `endpoint`.
fn callbacks<'a>(
    endpoint: &'a Endpoint,
    known_hosts: &'a str,
    deadline: Instant,
    observed: Rc<RefCell<CallbackState>>,
) -> RemoteCallbacks<'a> {
    let mut callbacks = RemoteCallbacks::new();
    let creds = &endpoint.credentials;
    let port = host_and_port(&endpoint.url).and_then(|(_, port)| port);
    let seen = observed.clone();
    callbacks.credentials(move |_url, user_from_url, allowed| {
        let user = user_from_url.or(creds.username.as_deref()).unwrap_or("git");
        if allowed.contains(CredentialType::USERNAME)
            && !allowed.intersects(CredentialType::SSH_KEY | CredentialType::USER_PASS_PLAINTEXT)
        {
            return Cred::username(user);
        }
        let mut seen = seen.borrow_mut();
        seen.auth_attempts += 1;
        if seen.auth_attempts > 1 {
            seen.auth_problem = Some("the server rejected the credentials".into());
            return Err(git2::Error::from_str("the server rejected the credentials"));
        }
        if allowed.contains(CredentialType::SSH_KEY)
            && let Some(key) = &creds.ssh_private_key
        {
            return Cred::ssh_key_from_memory(user, None, key, None).map_err(|e| {
                seen.auth_problem = Some(format!("the sshPrivateKey could not be used: {}", e.message()));
                git2::Error::from_str("unusable sshPrivateKey")
            });
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT)
            && let Some(password) = &creds.password
        {
            return Cred::userpass_plaintext(creds.username.as_deref().or(user_from_url).unwrap_or("git"), password);
        }
        seen.auth_problem = Some("the server wants credentials and no credential Secret matches this URL".into());
        Err(git2::Error::from_str("no credentials"))
    });
    let seen = observed.clone();
    callbacks.certificate_check(move |cert, host| {
        let Some(hostkey) = cert.as_hostkey() else { return Ok(CertificateCheckStatus::CertificatePassthrough) };
        let verdict = match hostkey.hostkey() {
            Some(raw) => check_host_key(known_hosts, host, port, raw),
            None => HostKeyVerdict::Unknown,
        };
        if verdict == HostKeyVerdict::Known {
            return Ok(CertificateCheckStatus::CertificateOk);
        }
        seen.borrow_mut().host_key = Some((host.to_string(), verdict));
        Err(git2::Error::from_str("host key not trusted"))
    });
    let seen = observed.clone();
    callbacks.transfer_progress(move |_| {
        let in_time = Instant::now() < deadline;
        if !in_time {
            seen.borrow_mut().timed_out = true;
        }
        in_time
    });
    callbacks.sideband_progress(move |_| {
        let in_time = Instant::now() < deadline;
        if !in_time {
            observed.borrow_mut().timed_out = true;
        }
        in_time
    });
    callbacks
}

/// Turns a libgit2 error into the precise kind, using what the callbacks observed first.
fn classify(repo: &str, err: &git2::Error, seen: &CallbackState, secrets: &[String], timeout: Duration) -> SourceError {
    let repo = repo.to_string();
    let message = redact(err.message(), secrets);
    if seen.timed_out {
        return SourceError::Timeout { repo, seconds: timeout.as_secs() };
    }
    if let Some((host, verdict)) = &seen.host_key {
        let message = match verdict {
            HostKeyVerdict::Changed => "the host key differs from the one in known hosts (possible attack); \
                                        update ConfigMap lockstep-ssh-known-hosts if the key really changed"
                .to_string(),
            _ => "the host key is not in known hosts; add it to ConfigMap lockstep-ssh-known-hosts \
                  or the credential's knownHosts"
                .to_string(),
        };
        return SourceError::HostKey { repo, host: host.clone(), message };
    }
    if let Some(problem) = &seen.auth_problem {
        return SourceError::AuthenticationFailed { repo, message: problem.clone() };
    }
    let lower = message.to_ascii_lowercase();
    if lower.contains("407") || (lower.contains("proxy") && lower.contains("auth")) {
        return SourceError::ProxyAuthenticationFailed { repo, message };
    }
    if err.code() == ErrorCode::Auth || lower.contains("401") || lower.contains("authentication") {
        return SourceError::AuthenticationFailed { repo, message };
    }
    if err.code() == ErrorCode::Certificate
        || err.class() == ErrorClass::Ssl
        || lower.contains("certificate")
        || lower.contains("tls")
        || lower.contains("ssl")
    {
        return SourceError::Tls { repo, message };
    }
    if lower.contains("404")
        || lower.contains("could not find repository")
        || lower.contains("failed to resolve path")
        || lower.contains("not a git repository")
        || lower.contains("does not appear to be a git repository")
        || lower.contains("content-type")
        || lower.contains("not valid: is this a git repository")
    {
        return SourceError::NotARepository { repo, message };
    }
    SourceError::Unreachable { repo, message }
}

/// Adds a credential's `caData` to libgit2's trusted certificates (process-wide, once per CA).
fn trust_ca(root: &Path, pem: &str) -> Result<(), String> {
    static TRUSTED: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    let hash = crate::url::fnv1a(pem.as_bytes());
    let mut trusted = TRUSTED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if trusted.contains(&hash) {
        return Ok(());
    }
    let dir = root.join("ca");
    std::fs::create_dir_all(&dir).map_err(|e| format!("storing caData: {e}"))?;
    let file = dir.join(format!("{hash:016x}.pem"));
    std::fs::write(&file, pem).map_err(|e| format!("storing caData: {e}"))?;
    // SAFETY: adds a location to libgit2's global TLS store; libgit2 guards it internally and the
    // call is serialised by TRUSTED.
    unsafe { git2::opts::set_ssl_cert_file(&file) }
        .map_err(|e| format!("caData is not a usable PEM certificate: {}", e.message()))?;
    trusted.push(hash);
    Ok(())
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
        git(dir.path(), &["tag", "-a", "v1.2.0", "-m", "v1.2.0"]);
        std::fs::write(dir.path().join("a.yaml"), "two").unwrap();
        git(dir.path(), &["commit", "-qam", "two"]);
        git(dir.path(), &["tag", "v1.3.0"]);
        git(dir.path(), &["tag", "v2.0.0"]);
        let second = git(dir.path(), &["rev-parse", "HEAD"]);
        (dir, first, second)
    }

    fn request(url: &str, rev: Option<&str>) -> SourceRequest {
        SourceRequest { repo_url: url.into(), target_revision: rev.map(String::from), ..Default::default() }
    }

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

    #[tokio::test]
    async fn an_outage_serves_the_last_good_revision_across_restarts() {
        let (repo, _, second) = repo_with_commits();
        let cache_dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", repo.path().display());
        // The repository, then a "canonical" URL on a closed port: with both gone, it is an outage.
        let closed = format!(
            "http://127.0.0.1:{}/app.git",
            std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
        );
        let mut req = request(&closed, Some("main"));
        req.endpoints = vec![
            Endpoint { url: url.clone(), ..Default::default() },
            Endpoint { url: closed.clone(), ..Default::default() },
        ];
        req.max_listing_age = Some(Duration::ZERO);
        GitCache::new(cache_dir.path()).unwrap().snapshot(&req).await.unwrap();

        let moved = repo.path().with_extension("gone");
        std::fs::rename(repo.path(), &moved).unwrap();
        let restarted = GitCache::new(cache_dir.path()).unwrap();
        let served = restarted.snapshot(&req).await.unwrap();
        assert_eq!(served.revision, second);
        let unavailable = served.unavailable.expect("marked unavailable");
        assert!(unavailable.error.is_outage(), "{}", unavailable.error);
        // A revision never resolved before has nothing to fall back to, nor has another identity.
        let mut other_revision = req.clone();
        other_revision.target_revision = Some("v1".into());
        assert!(restarted.snapshot(&other_revision).await.is_err());
        let mut other_secret = req.clone();
        other_secret.endpoints[1].credential_source = Some("other-namespace/creds".into());
        assert!(restarted.snapshot(&other_secret).await.is_err());

        // Within one listing window a down repository is tried once, however many ask.
        let mut periodic = req.clone();
        periodic.max_listing_age = None;
        let attempts = restarted.counters().snapshot().ref_listings;
        for _ in 0..5 {
            assert!(restarted.snapshot(&periodic).await.unwrap().unavailable.is_some());
        }
        assert_eq!(restarted.counters().snapshot().ref_listings, attempts);

        std::fs::rename(&moved, repo.path()).unwrap();
        let back = restarted.snapshot(&req).await.unwrap();
        assert!(back.unavailable.is_none());
        let recorded = state::load(&state::state_path(cache_dir.path(), &cache_key(&normalize_repo_url(&closed))));
        assert_eq!(recorded.unavailable_since, None);
        assert_eq!(recorded.resolved.get(&req.last_good_key(&RevisionSpec::parse(Some("main")))), Some(&second));
    }
}
