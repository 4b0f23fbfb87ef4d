//! The source part of an Application's status after a fetch: `status.source` and the
//! `SourceAvailable` condition. Pure.

use std::time::SystemTime;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use lockstep_api::conditions::{SOURCE_AVAILABLE, reason};
use lockstep_api::{ApplicationStatus, SourceStatus};

/// What one fetch said about the source.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceReport {
    /// The URL the revision came from (a mirror or the canonical one), when one answered.
    pub fetched_from: Option<String>,
    /// Every URL failed and the last good revision was served from the cache.
    pub unavailable: Option<SourceOutage>,
    /// The signature that vouched for the revision, when verification is on and it was resolved now.
    pub verified: Option<lockstep_api::SourceVerificationStatus>,
}

/// An outage of every URL of a repository.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceOutage {
    /// When the repository started failing (survives restarts).
    pub since: SystemTime,
    /// The error of the latest attempt, as the user reads it.
    pub error: String,
}

/// Sets `status.source` and the `SourceAvailable` condition from this pass's fetch; with no report
/// (the pass stopped before fetching) the previous source status stands.
pub fn apply(
    previous: Option<&ApplicationStatus>,
    report: Option<&SourceReport>,
    status: &mut ApplicationStatus,
    now: &Time,
) {
    let Some(report) = report else {
        status.source = previous.and_then(|p| p.source.clone());
        status.source_verification = previous.and_then(|p| p.source_verification.clone());
        status
            .conditions
            .extend(previous.iter().flat_map(|p| p.conditions.iter()).filter(|c| c.type_ == SOURCE_AVAILABLE).cloned());
        return;
    };
    let previous_source = previous.and_then(|p| p.source.as_ref());
    let fetched_from = report.fetched_from.clone().or_else(|| previous_source.and_then(|s| s.fetched_from.clone()));
    status.source = fetched_from.map(|url| SourceStatus { fetched_from: Some(url) });
    // A last good revision served during an outage was verified when it was recorded: the
    // previous record stands.
    status.source_verification = match (&report.verified, &report.unavailable) {
        (Some(verified), _) => Some(verified.clone()),
        (None, Some(_)) => previous.and_then(|p| p.source_verification.clone()),
        (None, None) => None,
    };
    let Some(outage) = &report.unavailable else { return };
    let since = Timestamp::try_from(outage.since).map(Time).unwrap_or_else(|_| now.clone());
    let revision = status.sync.revision.as_deref().map(|r| r.get(..12).unwrap_or(r)).unwrap_or("?").to_string();
    let message = format!(
        "every URL of the repository fails since {}; serving the last good revision {revision} from the cache: {}",
        since.0, outage.error
    );
    let last_transition_time = previous
        .and_then(|p| p.conditions.iter().find(|c| c.type_ == SOURCE_AVAILABLE && c.status == "False"))
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(since);
    status.conditions.push(Condition {
        type_: SOURCE_AVAILABLE.into(),
        status: "False".into(),
        reason: reason::SOURCE_UNAVAILABLE.into(),
        message,
        last_transition_time,
        observed_generation: status.observed_generation,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).unwrap())
    }

    #[test]
    fn an_outage_adds_a_condition_and_recovery_removes_it() {
        let mut status = ApplicationStatus::default();
        status.sync.revision = Some("0123456789abcdef".into());
        let outage = SourceReport {
            fetched_from: None,
            unavailable: Some(SourceOutage {
                since: UNIX_EPOCH + Duration::from_secs(1000),
                error: "https://h/r: connection refused".into(),
            }),
            verified: None,
        };
        apply(None, Some(&outage), &mut status, &at(2000));
        let condition = status.conditions.iter().find(|c| c.type_ == SOURCE_AVAILABLE).expect("condition");
        assert_eq!((condition.status.as_str(), condition.reason.as_str()), ("False", "SourceUnavailable"));
        assert_eq!(condition.last_transition_time, at(1000));
        assert!(
            condition.message.contains("0123456789ab") && condition.message.contains("connection refused"),
            "{}",
            condition.message
        );

        let previous = status.clone();
        let mut next = ApplicationStatus::default();
        let back = SourceReport { fetched_from: Some("https://mirror/r".into()), unavailable: None, verified: None };
        apply(Some(&previous), Some(&back), &mut next, &at(3000));
        assert!(next.conditions.iter().all(|c| c.type_ != SOURCE_AVAILABLE));
        assert_eq!(next.source.and_then(|s| s.fetched_from).as_deref(), Some("https://mirror/r"));
    }

    #[test]
    fn a_pass_that_did_not_fetch_keeps_the_source_status() {
        let mut previous = ApplicationStatus {
            source: Some(SourceStatus { fetched_from: Some("https://h/r".into()) }),
            ..Default::default()
        };
        previous.conditions.push(Condition {
            type_: SOURCE_AVAILABLE.into(),
            status: "False".into(),
            reason: "SourceUnavailable".into(),
            message: "down".into(),
            last_transition_time: at(5),
            observed_generation: None,
        });
        let mut next = ApplicationStatus::default();
        apply(Some(&previous), None, &mut next, &at(9));
        assert_eq!(next.source, previous.source);
        assert_eq!(next.conditions, previous.conditions);
    }

    #[test]
    fn the_verified_signer_is_recorded_and_kept_through_a_failed_fetch_and_an_outage() {
        let signed = lockstep_api::SourceVerificationStatus {
            revision: "c1".into(),
            fingerprint: "SHA256:abc".into(),
            ..Default::default()
        };
        let report = |verified, down: bool| SourceReport {
            fetched_from: None,
            unavailable: down.then(|| SourceOutage { since: std::time::UNIX_EPOCH, error: "down".into() }),
            verified,
        };
        let mut first = ApplicationStatus::default();
        apply(None, Some(&report(Some(signed.clone()), false)), &mut first, &at(1));
        assert_eq!(first.source_verification.as_ref(), Some(&signed));
        for kept in [None, Some(report(None, true))] {
            let mut next = ApplicationStatus::default();
            apply(Some(&first), kept.as_ref(), &mut next, &at(2));
            assert_eq!(next.source_verification.as_ref(), Some(&signed), "{kept:?}");
        }
        let mut off = ApplicationStatus::default();
        apply(Some(&first), Some(&report(None, false)), &mut off, &at(3));
        assert_eq!(off.source_verification, None, "verification turned off clears the record");
    }
}
