//! kstatus's status computation (sigs.k8s.io/cli-utils `pkg/kstatus/status`), for any object.
//!
//! Generic properties come first (deletion, `metadata.generation` vs
//! `status.observedGeneration`, the standard `Reconciling`/`Stalled` conditions); then kstatus's
//! own rules for the core kinds; any other kind follows its `Ready` condition, else is Current.

mod rules;

use std::fmt;

use jiff::Timestamp;
use lockstep_api::HealthStatusCode;
use serde_json::Value;

use crate::Health;
use crate::conditions::status_conditions;
use crate::json::{Res, gvk, lenient_str, nested_int64, nested_string};

/// kstatus's status values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KStatus {
    /// Still converging towards its desired state.
    InProgress,
    /// Failed, or stalled: will not converge without a change.
    Failed,
    /// Reconciled: the actual state matches the desired state.
    Current,
    /// Being deleted.
    Terminating,
    /// Not in the cluster (never produced by [`kstatus()`], which is given an object).
    NotFound,
    /// Could not be computed, e.g. a field of the wrong type.
    Unknown,
}

impl KStatus {
    /// The Argo CD health code this status stands for in [`crate::assess`].
    pub fn health_code(self) -> HealthStatusCode {
        match self {
            Self::Current => HealthStatusCode::Healthy,
            Self::InProgress | Self::Terminating => HealthStatusCode::Progressing,
            Self::Failed => HealthStatusCode::Degraded,
            Self::NotFound => HealthStatusCode::Missing,
            Self::Unknown => HealthStatusCode::Unknown,
        }
    }
}

impl fmt::Display for KStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InProgress => "InProgress",
            Self::Failed => "Failed",
            Self::Current => "Current",
            Self::Terminating => "Terminating",
            Self::NotFound => "NotFound",
            Self::Unknown => "Unknown",
        })
    }
}

/// kstatus's standard condition types ("abnormal-true": absent means all is well).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KConditionType {
    /// The controller is still working on the object.
    Reconciling,
    /// The controller cannot make progress.
    Stalled,
}

impl fmt::Display for KConditionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Reconciling => "Reconciling",
            Self::Stalled => "Stalled",
        })
    }
}

/// A standard condition kstatus would add to the object (what its `Augment` writes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KCondition {
    /// Reconciling or Stalled.
    pub condition: KConditionType,
    /// "True", "False" or "Unknown" (kstatus only ever reports "True").
    pub status: String,
    /// One CamelCase word saying why.
    pub reason: String,
    /// Human-readable detail.
    pub message: String,
}

/// Result of [`kstatus()`]: the status, why, and the standard conditions that go with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KStatusResult {
    /// The computed status.
    pub status: KStatus,
    /// Why; the error text when the status is Unknown.
    pub message: String,
    /// Reconciling/Stalled conditions backing the status (empty when Current).
    pub conditions: Vec<KCondition>,
}

impl KStatusResult {
    fn new(status: KStatus, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), conditions: Vec::new() }
    }

    fn current(message: impl Into<String>) -> Self {
        Self::new(KStatus::Current, message)
    }

    fn with(status: KStatus, condition: KConditionType, reason: &str, message: String) -> Self {
        let cond = KCondition { condition, status: "True".into(), reason: reason.into(), message: message.clone() };
        Self { status, message, conditions: vec![cond] }
    }

    fn in_progress(reason: &str, message: impl Into<String>) -> Self {
        Self::with(KStatus::InProgress, KConditionType::Reconciling, reason, message.into())
    }

    fn failed(reason: &str, message: impl Into<String>) -> Self {
        Self::with(KStatus::Failed, KConditionType::Stalled, reason, message.into())
    }
}

impl From<KStatusResult> for Health {
    fn from(r: KStatusResult) -> Self {
        Health::new(r.status.health_code(), r.message)
    }
}

/// Computes kstatus's status of `object` now.
pub fn kstatus(object: &Value) -> KStatusResult {
    kstatus_at(object, Timestamp::now())
}

/// Computes kstatus's status of `object` as of `now` (only a Pending pod's scheduling grace
/// period depends on the time). Errors upstream would return become [`KStatus::Unknown`].
pub fn kstatus_at(object: &Value, now: Timestamp) -> KStatusResult {
    compute(object, now).unwrap_or_else(|err| KStatusResult::new(KStatus::Unknown, err))
}

fn compute(obj: &Value, now: Timestamp) -> Res<KStatusResult> {
    if let Some(result) = generic(obj)? {
        return Ok(result);
    }
    let (group, _, kind) = gvk(obj);
    if let Some(rule) = rules::for_kind(group, kind) {
        return rule(obj, now);
    }
    Ok(ready_condition(obj)?.unwrap_or_else(|| KStatusResult::current("Resource is current")))
}

/// A kind without its own rule follows its first `Ready` condition whose status is True, False or
/// Unknown: True is Current, False and Unknown are InProgress with the condition's reason.
fn ready_condition(obj: &Value) -> Res<Option<KStatusResult>> {
    for c in status_conditions(obj)? {
        if c.type_ != "Ready" {
            continue;
        }
        match c.status {
            "True" => return Ok(Some(KStatusResult::current("Resource is Ready"))),
            "False" | "Unknown" => return Ok(Some(KStatusResult::in_progress(c.reason, c.message))),
            _ => {}
        }
    }
    Ok(None)
}

/// The checks that apply to every kind; `None` when they cannot decide.
fn generic(obj: &Value) -> Res<Option<KStatusResult>> {
    let deletion = nested_string(obj, &["metadata", "deletionTimestamp"])?;
    if deletion.is_some_and(|ts| !ts.is_empty()) {
        let result = KStatusResult::new(KStatus::Terminating, "Resource scheduled for deletion");
        return Ok(Some(result));
    }
    if let Some(result) = check_generation(obj)? {
        return Ok(Some(result));
    }
    for c in status_conditions(obj)? {
        let found = match (c.type_, c.status) {
            ("Reconciling", "True") => (KStatus::InProgress, KConditionType::Reconciling),
            ("Stalled", "True") => (KStatus::Failed, KConditionType::Stalled),
            _ => continue,
        };
        let (status, condition) = found;
        return Ok(Some(KStatusResult::with(status, condition, c.reason, c.message.into())));
    }
    Ok(None)
}

/// InProgress when the controller has not yet observed the latest generation.
fn check_generation(obj: &Value) -> Res<Option<KStatusResult>> {
    let Some(generation) = nested_int64(obj, &["metadata", "generation"])? else {
        return Ok(None);
    };
    match nested_int64(obj, &["status", "observedGeneration"])? {
        Some(observed) if observed != generation => {
            let msg = format!(
                "{} generation is {generation}, but latest observed generation is {observed}",
                lenient_str(obj, &["kind"], "")
            );
            Ok(Some(KStatusResult::in_progress("LatestGenerationNotObserved", msg)))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn generic_conditions_decide() {
        let obj = json!({"kind": "X", "status": {"conditions": [
            {"type": "Stalled", "status": "True", "reason": "Boom", "message": "bad"}]}});
        let r = kstatus(&obj);
        assert_eq!(r.status, KStatus::Failed);
        assert_eq!(r.conditions[0].condition, KConditionType::Stalled);
        assert_eq!(r.conditions[0].reason, "Boom");
    }

    #[test]
    fn deletion_is_terminating() {
        let obj = json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}});
        assert_eq!(kstatus(&obj).status, KStatus::Terminating);
    }

    #[test]
    fn wrong_types_are_unknown() {
        assert_eq!(kstatus(&json!({"metadata": {"generation": "1"}})).status, KStatus::Unknown);
        assert_eq!(kstatus(&json!({"metadata": []})).status, KStatus::Unknown);
        assert_eq!(kstatus(&json!({"status": 3})).status, KStatus::Unknown);
        assert_eq!(kstatus(&json!(null)).status, KStatus::Current);
    }
}
