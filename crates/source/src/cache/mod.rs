//! The shared on-disk git cache and its public API. Requests for one repository are serialised
//! behind that repository's lock and share its ref listing; the work is split into request
//! identity ([`request`]), listing reuse and resolution ([`resolve`]), talking to remotes
//! ([`fetch`], [`callbacks`]) and outage state ([`last_good`]).

mod callbacks;
mod fetch;
mod last_good;
mod options;
mod packs;
mod request;
mod resolve;
#[cfg(test)]
mod test_support;
mod tls;
mod verify;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::credentials::strip_userinfo;
use crate::error::SourceError;
use crate::snapshot::Snapshot;
use crate::url::{cache_key, normalize_repo_url};

pub use options::{CacheOptions, CounterValues, SourceCounters};
pub use request::{Endpoint, SourceRequest};
use resolve::{RepoState, resolve_blocking};

/// What every request shares.
struct Shared {
    root: PathBuf,
    options: CacheOptions,
    counters: Arc<SourceCounters>,
    fetch_slots: Arc<tokio::sync::Semaphore>,
    /// Serialises read-modify-write of the small state files.
    state_io: Mutex<()>,
    /// When snapshots were last garbage-collected (seconds since the epoch).
    last_collection: std::sync::atomic::AtomicU64,
}

/// How often, at most, snapshot checkouts are garbage-collected.
const COLLECTION_INTERVAL: std::time::Duration = std::time::Duration::from_secs(300);

impl Shared {
    /// Garbage-collects snapshot checkouts unless that was done within [`COLLECTION_INTERVAL`].
    /// Runs on a blocking thread; a failure is logged and retried next interval.
    fn collect_snapshots_now_and_then(&self) {
        use std::sync::atomic::Ordering;
        let now = crate::state::to_epoch(std::time::SystemTime::now());
        let last = self.last_collection.load(Ordering::Relaxed);
        if now.saturating_sub(last) < COLLECTION_INTERVAL.as_secs()
            || self.last_collection.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err()
        {
            return;
        }
        match crate::snapshot_gc::collect(&self.root, self.options.snapshot_retention) {
            Ok(0) => {}
            Ok(removed) => tracing::info!(removed, "removed snapshot checkouts no Application reads"),
            Err(err) => tracing::warn!(%err, "garbage-collecting snapshot checkouts failed"),
        }
    }
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
        fetch::set_network_timeouts(options.fetch_timeout);
        let shared = Shared {
            root,
            fetch_slots: Arc::new(tokio::sync::Semaphore::new(options.max_concurrent_fetches.max(1))),
            options,
            counters: Arc::default(),
            state_io: Mutex::new(()),
            last_collection: std::sync::atomic::AtomicU64::new(0),
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
                let fresh = guard.fresh_listing(identity, max_age, requested_at).is_some();
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
}
