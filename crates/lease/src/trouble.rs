//! What leader election does when the Lease can't be read or written: which failures it can mend
//! itself (a missing namespace, created when RBAC allows), what it tells the operator (one readable
//! line, repeated at most every [`LOG_EVERY`], and on `/readyz`), and how it backs off.
//!
//! Everything here is pure; [`crate::Election`] does the I/O.

use std::time::{Duration, Instant};

/// How often an unchanged lease failure is logged again.
pub(crate) const LOG_EVERY: Duration = Duration::from_secs(300);
/// The longest wait between attempts while failing and not leading.
pub(crate) const MAX_RETRY: Duration = Duration::from_secs(30);

/// A failed Lease request, as the election reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LeaseFailure {
    /// The Lease's namespace does not exist: creating the Lease was refused with NotFound on it.
    NamespaceMissing,
    /// Anything else, as one readable line.
    Other(String),
}

impl LeaseFailure {
    /// Classifies a failed Lease request.
    pub fn of(err: &kube::Error, namespace: &str) -> Self {
        if let kube::Error::Api(status) = err {
            let about_namespace =
                status.details.as_ref().is_some_and(|d| d.kind == "namespaces" && d.name == namespace)
                    || status.message == format!("namespaces \"{namespace}\" not found");
            if status.code == 404 && about_namespace {
                return Self::NamespaceMissing;
            }
        }
        Self::Other(one_line(err))
    }
}

pub(crate) use lockstep_api::kube_error::one_line;

/// What the operator is told when the lease namespace is missing and could not be created.
pub fn namespace_not_creatable(namespace: &str, why: &str) -> String {
    format!(
        "the lease namespace {namespace:?} does not exist and the controller could not create it ({why}); \
         create it (`kubectl create namespace {namespace}`), grant the controller `create` on namespaces, \
         or point --controller-namespace (or --leader-elect-resource-namespace) at an existing namespace"
    )
}

/// What the operator is told about any other lease failure.
pub fn lease_unusable(namespace: &str, name: &str, why: &str) -> String {
    format!("cannot read or write the lease {namespace}/{name}: {why}")
}

/// How long to wait before the next attempt: the retry period while leading or after a success, then
/// doubling per consecutive failure up to [`MAX_RETRY`] (never past the retry period while leading,
/// where the renew deadline rules).
pub fn retry_delay(retry_period: Duration, consecutive_failures: u32, leading: bool) -> Duration {
    if leading || consecutive_failures <= 1 {
        return retry_period;
    }
    let factor = 1u32 << (consecutive_failures - 1).min(16);
    retry_period.saturating_mul(factor).min(MAX_RETRY.max(retry_period))
}

/// Rate-limits repeated failure lines: a new message is logged at once, the same one again only after
/// [`LOG_EVERY`], with how many were held back.
#[derive(Debug, Default)]
pub(crate) struct LogLimiter {
    last: Option<(String, Instant)>,
    held_back: u64,
}

impl LogLimiter {
    /// Whether to log `message` now; `Some(n)` says so, with `n` identical lines held back since the
    /// last one logged.
    pub fn admit(&mut self, message: &str, now: Instant) -> Option<u64> {
        match &self.last {
            Some((last, at)) if last == message && now.saturating_duration_since(*at) < LOG_EVERY => {
                self.held_back += 1;
                None
            }
            _ => {
                self.last = Some((message.to_owned(), now));
                Some(std::mem::take(&mut self.held_back))
            }
        }
    }

    /// Forgets the last message, so the next failure is logged at once.
    pub fn reset(&mut self) {
        self.last = None;
        self.held_back = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16, reason: &str, message: &str, kind: Option<(&str, &str)>) -> kube::Error {
        let mut status = kube::core::Status::failure(message, reason).with_code(code);
        if let Some((kind, name)) = kind {
            status.details = Some(serde_json::from_value(serde_json::json!({"name": name, "kind": kind})).unwrap());
        }
        kube::Error::Api(Box::new(status))
    }

    #[test]
    fn a_not_found_namespace_is_recognised_by_details_or_message() {
        let by_details = api_error(404, "NotFound", "namespaces \"ls\" not found", Some(("namespaces", "ls")));
        assert_eq!(LeaseFailure::of(&by_details, "ls"), LeaseFailure::NamespaceMissing);
        let by_message = api_error(404, "NotFound", "namespaces \"ls\" not found", None);
        assert_eq!(LeaseFailure::of(&by_message, "ls"), LeaseFailure::NamespaceMissing);
        // Another namespace, or a missing Lease, is not ours to create.
        let other = api_error(404, "NotFound", "namespaces \"x\" not found", Some(("namespaces", "x")));
        assert!(matches!(LeaseFailure::of(&other, "ls"), LeaseFailure::Other(_)));
        let lease = api_error(404, "NotFound", "leases.coordination.k8s.io \"l\" not found", Some(("leases", "l")));
        assert!(matches!(LeaseFailure::of(&lease, "ls"), LeaseFailure::Other(_)));
    }

    #[test]
    fn errors_read_as_reason_and_message() {
        let forbidden = api_error(403, "Forbidden", "namespaces is forbidden: User \"u\" cannot create", None);
        assert_eq!(one_line(&forbidden), "Forbidden: namespaces is forbidden: User \"u\" cannot create");
        assert_eq!(one_line(&api_error(500, "", "", None)), "HTTP 500");
        let line = one_line(&forbidden);
        assert!(!line.contains("Status {") && !line.contains("ErrorResponse"), "{line}");
    }

    #[test]
    fn the_operator_is_told_the_namespace_the_flags_and_the_fix() {
        let message = namespace_not_creatable("lockstep-system", "Forbidden: no");
        for needle in [
            "\"lockstep-system\"",
            "kubectl create namespace lockstep-system",
            "--controller-namespace",
            "Forbidden: no",
        ] {
            assert!(message.contains(needle), "{needle} missing from {message}");
        }
    }

    #[test]
    fn failures_back_off_while_not_leading() {
        let period = Duration::from_secs(2);
        assert_eq!(retry_delay(period, 0, false), period);
        assert_eq!(retry_delay(period, 1, false), period);
        assert_eq!(retry_delay(period, 2, false), Duration::from_secs(4));
        assert_eq!(retry_delay(period, 3, false), Duration::from_secs(8));
        assert_eq!(retry_delay(period, 10, false), MAX_RETRY);
        assert_eq!(retry_delay(period, u32::MAX, false), MAX_RETRY);
        // The leader keeps renewing at the retry period until its deadline.
        assert_eq!(retry_delay(period, 5, true), period);
        // A retry period above the cap is never shortened.
        assert_eq!(retry_delay(Duration::from_secs(60), 3, false), Duration::from_secs(60));
    }

    #[test]
    fn the_same_line_is_logged_once_per_interval_with_a_count() {
        let mut limiter = LogLimiter::default();
        let t0 = Instant::now();
        assert_eq!(limiter.admit("a", t0), Some(0));
        assert_eq!(limiter.admit("a", t0 + Duration::from_secs(2)), None);
        assert_eq!(limiter.admit("a", t0 + Duration::from_secs(4)), None);
        assert_eq!(limiter.admit("a", t0 + LOG_EVERY), Some(2));
        // A different message is news.
        assert_eq!(limiter.admit("b", t0 + LOG_EVERY), Some(0));
        limiter.reset();
        assert_eq!(limiter.admit("b", t0 + LOG_EVERY), Some(0));
    }
}
