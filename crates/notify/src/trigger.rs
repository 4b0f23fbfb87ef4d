//! Triggers: which conditions hold for an Application now, and — against what was already sent
//! (the [`Record`], kept in the cluster) — which notices to send. Pure.

use std::collections::BTreeMap;
use std::time::Duration;

use lockstep_api::conditions::DRIFTED;
use lockstep_api::{ApplicationStatus, HealthStatusCode, OperationPhase, SyncStatusCode};
use serde::{Deserialize, Serialize};

/// A condition worth telling people about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Trigger {
    /// The last sync operation succeeded.
    SyncSucceeded,
    /// The last sync operation failed.
    SyncFailed,
    /// Synced and Healthy after a successful sync: once per revision.
    Deployed,
    /// Health is Degraded.
    HealthDegraded,
    /// Health has been Progressing for longer than the configured delay.
    HealthProgressing,
    /// The sync status is Unknown (fetch or render failed).
    SyncStatusUnknown,
    /// Drift mode `warn` keeps objects that differ from git (the `Drifted` condition).
    DriftDetected,
}

impl Trigger {
    /// Every trigger.
    pub const ALL: [Trigger; 7] = [
        Self::SyncSucceeded,
        Self::SyncFailed,
        Self::Deployed,
        Self::HealthDegraded,
        Self::HealthProgressing,
        Self::SyncStatusUnknown,
        Self::DriftDetected,
    ];

    /// The name used in annotations, the ConfigMap and templates (`on-sync-failed`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::SyncSucceeded => "on-sync-succeeded",
            Self::SyncFailed => "on-sync-failed",
            Self::Deployed => "on-deployed",
            Self::HealthDegraded => "on-health-degraded",
            Self::HealthProgressing => "on-health-progressing",
            Self::SyncStatusUnknown => "on-sync-status-unknown",
            Self::DriftDetected => "on-drift-detected",
        }
    }

    /// The trigger named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// A title for people (`App Degraded`).
    pub fn title(self) -> &'static str {
        match self {
            Self::SyncSucceeded => "Sync Succeeded",
            Self::SyncFailed => "Sync Failed",
            Self::Deployed => "App Deployed",
            Self::HealthDegraded => "App Degraded",
            Self::HealthProgressing => "App Progressing Too Long",
            Self::SyncStatusUnknown => "Sync Status Unknown",
            Self::DriftDetected => "Drift Detected",
        }
    }

    /// Whether its end is announced by default: yes for problems, no for good news.
    pub fn resolves_by_default(self) -> bool {
        !matches!(self, Self::SyncSucceeded | Self::Deployed)
    }
}

/// Firing or resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NoticeState {
    /// The condition holds.
    Firing,
    /// The condition ended.
    Resolved,
}

/// What was last sent for one trigger of one Application.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sent {
    /// The revision the notice was about.
    pub revision: String,
    /// Whether it announced the condition or its end.
    pub state: NoticeState,
}

/// Trigger name → what was last sent: the once-only bookkeeping, stored as JSON in the
/// `notifications.lockstep.dev/state` annotation of the Application.
pub type Record = BTreeMap<String, Sent>;

/// One notice to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// Which trigger.
    pub trigger: Trigger,
    /// Firing or resolved.
    pub state: NoticeState,
    /// The revision it is about.
    pub revision: String,
    /// Whether a message goes out (a resolution of a trigger that does not announce its end is
    /// only recorded).
    pub send: bool,
}

/// Whether `trigger` holds for `status`, and for which revision. `progressing_for` is how long the
/// Application has been seen Progressing.
pub fn active(
    trigger: Trigger,
    status: &ApplicationStatus,
    progressing_for: Duration,
    delay: Duration,
) -> Option<String> {
    let revision = status.sync.revision.clone().unwrap_or_default();
    let op = status.operation_state.as_ref();
    let op_revision =
        op.and_then(|o| o.sync_result.as_ref()).map(|r| r.revision.clone()).unwrap_or_else(|| revision.clone());
    let phase = op.map(|o| o.phase);
    let holds = match trigger {
        Trigger::SyncSucceeded => return (phase == Some(OperationPhase::Succeeded)).then_some(op_revision),
        Trigger::SyncFailed => {
            return matches!(phase, Some(OperationPhase::Failed | OperationPhase::Error)).then_some(op_revision);
        }
        Trigger::Deployed => {
            status.sync.status == SyncStatusCode::Synced
                && status.health.status == HealthStatusCode::Healthy
                && !revision.is_empty()
                && op.is_none_or(|o| o.phase == OperationPhase::Succeeded && op_revision == revision)
        }
        Trigger::HealthDegraded => status.health.status == HealthStatusCode::Degraded,
        Trigger::HealthProgressing => status.health.status == HealthStatusCode::Progressing && progressing_for >= delay,
        Trigger::SyncStatusUnknown => status.sync.status == SyncStatusCode::Unknown && !status.conditions.is_empty(),
        Trigger::DriftDetected => status.conditions.iter().any(|c| c.type_ == DRIFTED && c.status == "True"),
    };
    holds.then_some(revision)
}

/// The notices due for `triggers` given what holds now and what was sent; updates `record` to
/// what will have been sent. Each (trigger, revision, state) is sent once: a trigger that holds
/// fires unless its last notice already fired for this revision; one that no longer holds resolves
/// the last firing notice.
pub fn plan(
    triggers: &[(Trigger, bool)],
    status: &ApplicationStatus,
    progressing_for: Duration,
    delay: Duration,
    record: &mut Record,
) -> Vec<Notice> {
    let mut notices = Vec::new();
    for &(trigger, send_resolved) in triggers {
        let last = record.get(trigger.name()).cloned();
        match active(trigger, status, progressing_for, delay) {
            Some(revision) => {
                let already = last.as_ref().is_some_and(|s| s.state == NoticeState::Firing && s.revision == revision);
                if !already {
                    record
                        .insert(trigger.name().into(), Sent { revision: revision.clone(), state: NoticeState::Firing });
                    notices.push(Notice { trigger, state: NoticeState::Firing, revision, send: true });
                }
            }
            None => {
                if let Some(Sent { revision, state: NoticeState::Firing }) = last {
                    record.insert(
                        trigger.name().into(),
                        Sent { revision: revision.clone(), state: NoticeState::Resolved },
                    );
                    notices.push(Notice { trigger, state: NoticeState::Resolved, revision, send: send_resolved });
                }
            }
        }
    }
    notices
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
    use k8s_openapi::jiff::Timestamp;
    use lockstep_api::{ApplicationSource, OperationState, SyncOperationResult};

    fn status(sync: SyncStatusCode, health: HealthStatusCode, phase: Option<OperationPhase>) -> ApplicationStatus {
        let mut s = ApplicationStatus::default();
        s.sync.status = sync;
        s.sync.revision = Some("abc".into());
        s.health.status = health;
        s.conditions.push(Condition {
            type_: "Ready".into(),
            status: "False".into(),
            reason: "x".into(),
            message: "m".into(),
            last_transition_time: Time(Timestamp::UNIX_EPOCH),
            observed_generation: None,
        });
        s.operation_state = phase.map(|phase| OperationState {
            phase,
            message: None,
            sync_result: Some(SyncOperationResult {
                revision: "abc".into(),
                source: ApplicationSource::default(),
                sources: vec![],
                revisions: vec![],
                hooks: vec![],
            }),
            started_at: Time(Timestamp::UNIX_EPOCH),
            finished_at: None,
            retry_count: 0,
            sync_request: None,
        });
        s
    }

    const NO_DELAY: Duration = Duration::ZERO;

    #[test]
    fn degraded_fires_once_then_resolves_once() {
        let triggers = [(Trigger::HealthDegraded, true)];
        let mut record = Record::new();
        let degraded = status(SyncStatusCode::Synced, HealthStatusCode::Degraded, Some(OperationPhase::Succeeded));
        let fired = plan(&triggers, &degraded, NO_DELAY, NO_DELAY, &mut record);
        assert_eq!(
            fired,
            [Notice {
                trigger: Trigger::HealthDegraded,
                state: NoticeState::Firing,
                revision: "abc".into(),
                send: true
            }]
        );
        assert!(plan(&triggers, &degraded, NO_DELAY, NO_DELAY, &mut record).is_empty());
        let healthy = status(SyncStatusCode::Synced, HealthStatusCode::Healthy, Some(OperationPhase::Succeeded));
        let resolved = plan(&triggers, &healthy, NO_DELAY, NO_DELAY, &mut record);
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].state, NoticeState::Resolved);
        assert!(plan(&triggers, &healthy, NO_DELAY, NO_DELAY, &mut record).is_empty());
    }

    #[test]
    fn drift_detected_fires_while_the_drifted_condition_is_true() {
        let triggers = [(Trigger::DriftDetected, true)];
        let mut record = Record::new();
        let mut drifted = status(SyncStatusCode::OutOfSync, HealthStatusCode::Healthy, None);
        drifted.conditions.push(k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
            type_: DRIFTED.into(),
            status: "True".into(),
            reason: "DriftDetected".into(),
            message: "1 objects differ from git".into(),
            last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ),
            observed_generation: None,
        });
        let fired = plan(&triggers, &drifted, Duration::ZERO, Duration::ZERO, &mut record);
        assert_eq!(
            fired.iter().map(|n| (n.trigger, n.state)).collect::<Vec<_>>(),
            [(Trigger::DriftDetected, NoticeState::Firing)]
        );
        assert!(plan(&triggers, &drifted, Duration::ZERO, Duration::ZERO, &mut record).is_empty(), "once");
        let clean = status(SyncStatusCode::Synced, HealthStatusCode::Healthy, None);
        let resolved = plan(&triggers, &clean, Duration::ZERO, Duration::ZERO, &mut record);
        assert_eq!(resolved.iter().map(|n| n.state).collect::<Vec<_>>(), [NoticeState::Resolved]);
        assert_eq!(Trigger::from_name("on-drift-detected"), Some(Trigger::DriftDetected));
    }

    #[test]
    fn deployed_once_per_revision_and_quiet_resolution() {
        let triggers = [(Trigger::Deployed, false)];
        let mut record = Record::new();
        let ok = status(SyncStatusCode::Synced, HealthStatusCode::Healthy, Some(OperationPhase::Succeeded));
        assert_eq!(plan(&triggers, &ok, NO_DELAY, NO_DELAY, &mut record).len(), 1);
        assert!(plan(&triggers, &ok, NO_DELAY, NO_DELAY, &mut record).is_empty());
        let progressing =
            status(SyncStatusCode::Synced, HealthStatusCode::Progressing, Some(OperationPhase::Succeeded));
        let quiet = plan(&triggers, &progressing, NO_DELAY, NO_DELAY, &mut record);
        assert!(!quiet[0].send);
        let mut next = ok.clone();
        next.sync.revision = Some("def".into());
        if let Some(op) = next.operation_state.as_mut() {
            op.sync_result.as_mut().unwrap().revision = "def".into();
        }
        assert_eq!(plan(&triggers, &next, NO_DELAY, NO_DELAY, &mut record)[0].revision, "def");
    }

    #[test]
    fn progressing_waits_for_the_delay_and_failures_are_seen() {
        let p = status(SyncStatusCode::Synced, HealthStatusCode::Progressing, None);
        let delay = Duration::from_secs(60);
        assert_eq!(active(Trigger::HealthProgressing, &p, Duration::from_secs(10), delay), None);
        assert!(active(Trigger::HealthProgressing, &p, Duration::from_secs(61), delay).is_some());
        let failed = status(SyncStatusCode::OutOfSync, HealthStatusCode::Missing, Some(OperationPhase::Failed));
        assert!(active(Trigger::SyncFailed, &failed, NO_DELAY, NO_DELAY).is_some());
        assert!(active(Trigger::SyncSucceeded, &failed, NO_DELAY, NO_DELAY).is_none());
        let unknown = status(SyncStatusCode::Unknown, HealthStatusCode::Healthy, None);
        assert!(active(Trigger::SyncStatusUnknown, &unknown, NO_DELAY, NO_DELAY).is_some());
        assert_eq!(Trigger::from_name("on-deployed"), Some(Trigger::Deployed));
    }
}
