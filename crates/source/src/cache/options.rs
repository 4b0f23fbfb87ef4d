//! Tuning of the shared cache and the counters of its remote work (for metrics).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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
    /// Which snapshot checkouts survive garbage collection.
    pub snapshot_retention: crate::SnapshotRetention,
}

impl Default for CacheOptions {
    fn default() -> Self {
        Self {
            listing_ttl: Duration::from_secs(60),
            max_concurrent_fetches: 8,
            fetch_timeout: Duration::from_secs(120),
            default_proxy: None,
            default_no_proxy: None,
            snapshot_retention: crate::SnapshotRetention::default(),
        }
    }
}

/// Counters of remote work, for metrics: read them with [`SourceCounters::snapshot`].
#[derive(Debug, Default)]
pub struct SourceCounters {
    pub(super) ref_listings: AtomicU64,
    pub(super) fetches: AtomicU64,
    pub(super) failures: AtomicU64,
    pub(super) served_from_cache: AtomicU64,
    /// Receives every remote request with its repository, outcome and duration (metrics).
    pub(super) observer: crate::observe::ObserverSlot,
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
