//! The election's pure state machine: client-go's protocol as functions over the last read Lease.
//!
//! The holder renews the Lease every retry period; a candidate takes it over when it has seen no
//! change to it for a whole lease duration (measured on the candidate's own clock from when it first
//! saw the current record, so clock skew between replicas does not matter), or at once when the
//! holder released it. [`crate::Election`] does the I/O.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::LeaseSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;

/// The Lease as this replica last read it, and since when (on this replica's clock) it has been unchanged.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub spec: LeaseSpec,
    pub resource_version: Option<String>,
    /// When this exact record was first seen; a holder that renews changes the record.
    pub since: Instant,
}

/// Records a fresh read of the Lease: an unchanged record keeps the time it was first seen, any
/// change (a renewal, a new holder) restarts the clock.
pub fn observe(
    previous: Option<Observed>,
    spec: LeaseSpec,
    resource_version: Option<String>,
    now: Instant,
) -> Observed {
    let since = match previous {
        Some(previous) if previous.spec == spec => previous.since,
        _ => now,
    };
    Observed { spec, resource_version, since }
}

/// What to do with the Lease on this attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// There is no Lease: create it, holding it.
    Create,
    /// Nobody holds it, or its holder stopped renewing: take it over.
    Take,
    /// We hold it: renew it.
    Renew,
    /// Someone else holds it and renews it: wait.
    Follow { holder: String },
}

/// Decides the next step from the last read of the Lease. `default_duration` applies when the Lease
/// does not say how long it lasts.
pub fn decide(observed: Option<&Observed>, identity: &str, now: Instant, default_duration: Duration) -> Step {
    let Some(observed) = observed else {
        return Step::Create;
    };
    match holder(&observed.spec) {
        None => Step::Take,
        Some(holder) if holder == identity => Step::Renew,
        Some(holder) => {
            let duration = observed
                .spec
                .lease_duration_seconds
                .and_then(|s| u64::try_from(s).ok())
                .map(Duration::from_secs)
                .unwrap_or(default_duration);
            if now.saturating_duration_since(observed.since) >= duration {
                Step::Take
            } else {
                Step::Follow { holder: holder.to_string() }
            }
        }
    }
}

/// The holder, if any: an empty `holderIdentity` is a released Lease.
pub fn holder(spec: &LeaseSpec) -> Option<&str> {
    spec.holder_identity.as_deref().filter(|h| !h.is_empty())
}

/// The Lease spec to write for `step` (not [`Step::Follow`], which writes nothing).
pub fn next_spec(
    current: Option<&LeaseSpec>,
    step: &Step,
    identity: &str,
    now: Timestamp,
    duration: Duration,
) -> LeaseSpec {
    let seconds = i32::try_from(duration.as_secs()).unwrap_or(i32::MAX);
    match (step, current) {
        (Step::Renew, Some(current)) => LeaseSpec {
            holder_identity: Some(identity.to_string()),
            renew_time: Some(MicroTime(now)),
            lease_duration_seconds: Some(seconds),
            ..current.clone()
        },
        _ => LeaseSpec {
            holder_identity: Some(identity.to_string()),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            lease_duration_seconds: Some(seconds),
            lease_transitions: Some(match current {
                Some(current) => current.lease_transitions.unwrap_or(0).saturating_add(1),
                None => 0,
            }),
            ..Default::default()
        },
    }
}

/// The Lease spec that hands the Lease back: no holder, so candidates take it on their next try
/// instead of waiting out the lease duration.
pub fn released(current: &LeaseSpec, now: Timestamp) -> LeaseSpec {
    LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        renew_time: Some(MicroTime(now)),
        ..current.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DURATION: Duration = Duration::from_secs(15);

    fn held_by(holder: &str) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            lease_transitions: Some(3),
            renew_time: Some(MicroTime(Timestamp::from_second(100).unwrap())),
            ..Default::default()
        }
    }

    fn seen(spec: LeaseSpec, since: Instant) -> Observed {
        Observed { spec, resource_version: Some("1".into()), since }
    }

    #[test]
    fn no_lease_is_created_and_a_released_one_is_taken_at_once() {
        let now = Instant::now();
        assert_eq!(decide(None, "me", now, DURATION), Step::Create);
        let released = released(&held_by("other"), Timestamp::from_second(200).unwrap());
        assert_eq!(released.holder_identity, None);
        assert_eq!(decide(Some(&seen(released, now)), "me", now, DURATION), Step::Take);
        let empty = LeaseSpec { holder_identity: Some(String::new()), ..held_by("x") };
        assert_eq!(decide(Some(&seen(empty, now)), "me", now, DURATION), Step::Take);
    }

    #[test]
    fn the_holder_renews_and_others_follow_until_the_lease_runs_out() {
        let start = Instant::now();
        let observed = seen(held_by("other"), start);
        assert_eq!(decide(Some(&seen(held_by("me"), start)), "me", start, DURATION), Step::Renew);
        assert_eq!(
            decide(Some(&observed), "me", start + Duration::from_secs(14), DURATION),
            Step::Follow { holder: "other".into() }
        );
        assert_eq!(decide(Some(&observed), "me", start + DURATION, DURATION), Step::Take);
        let no_duration = LeaseSpec { lease_duration_seconds: None, ..held_by("other") };
        assert_eq!(
            decide(Some(&seen(no_duration, start)), "me", start + Duration::from_secs(5), Duration::from_secs(4)),
            Step::Take
        );
    }

    #[test]
    fn expiry_counts_from_when_the_record_last_changed_on_our_clock() {
        let start = Instant::now();
        let first = observe(None, held_by("other"), Some("1".into()), start);
        let unchanged =
            observe(Some(first.clone()), held_by("other"), Some("1".into()), start + Duration::from_secs(10));
        assert_eq!(unchanged.since, start);
        let renewed_spec =
            LeaseSpec { renew_time: Some(MicroTime(Timestamp::from_second(110).unwrap())), ..held_by("other") };
        let renewed = observe(Some(unchanged), renewed_spec, Some("2".into()), start + Duration::from_secs(12));
        assert_eq!(renewed.since, start + Duration::from_secs(12));
        assert_eq!(
            decide(Some(&renewed), "me", start + Duration::from_secs(20), DURATION),
            Step::Follow { holder: "other".into() }
        );
        assert_eq!(decide(Some(&renewed), "me", start + Duration::from_secs(27), DURATION), Step::Take);
    }

    #[test]
    fn taking_over_counts_a_transition_and_renewing_keeps_the_acquire_time() {
        let now = Timestamp::from_second(500).unwrap();
        let created = next_spec(None, &Step::Create, "me", now, DURATION);
        assert_eq!(created.holder_identity.as_deref(), Some("me"));
        assert_eq!(created.lease_transitions, Some(0));
        assert_eq!(created.lease_duration_seconds, Some(15));
        let taken = next_spec(Some(&held_by("other")), &Step::Take, "me", now, DURATION);
        assert_eq!(taken.lease_transitions, Some(4));
        assert_eq!(taken.acquire_time, Some(MicroTime(now)));
        let mine = LeaseSpec { acquire_time: Some(MicroTime(Timestamp::from_second(50).unwrap())), ..held_by("me") };
        let renewed = next_spec(Some(&mine), &Step::Renew, "me", now, DURATION);
        assert_eq!(renewed.acquire_time, mine.acquire_time);
        assert_eq!(renewed.renew_time, Some(MicroTime(now)));
        assert_eq!(renewed.lease_transitions, Some(3));
    }
}
