//! Whether something outside the sync policy holds this pass's writes: a pause, the dependencies
//! in `spec.dependsOn`, or a sync window of the project. Pure.
//!
//! A held pass still fetches, renders and compares, so drift and health are reported; it writes
//! nothing to the managed objects (no apply, prune or hook). Which gate applies depends on who asked:
//! a pause stops everything, an operation already under way is finished through windows and
//! dependencies (as Argo CD lets a running sync finish when a window opens), dependencies hold new
//! revisions but not the healing of one that synced, and a window's `manualSync` lets a person's
//! request through.

use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;

use lockstep_api::conditions::reason;
use lockstep_api::{ARGO_SKIP_RECONCILE_ANNOTATION, PAUSED_ANNOTATION};

use crate::sync_policy::{Initiator, SyncDecision};

/// Something that blocks writes, as the caller found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocked {
    /// A sentence for the condition: what blocks, naming it.
    pub message: String,
    /// When the block ends by itself, if it does (the end of a sync window).
    pub until: Option<Timestamp>,
}

/// What the dependencies in `spec.dependsOn` allow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum DependencyGate {
    /// None listed, or every one ready.
    #[default]
    Ready,
    /// Some are not Synced and Healthy yet: new revisions wait; the message names them.
    Waiting(String),
    /// One is missing or the dependencies form a cycle: reported on every pass, new revisions wait.
    Broken(String),
}

/// Every gate that may hold a pass, evaluated by the caller from the cluster's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gates {
    /// The Application or its destination cluster is paused.
    pub paused: Option<Blocked>,
    /// The dependencies' readiness.
    pub dependencies: DependencyGate,
    /// A sync window blocks automated sync and self-heal.
    pub window_automated: Option<Blocked>,
    /// A sync window blocks a person's sync request (`manualSync: false`).
    pub window_manual: Option<Blocked>,
}

/// Why this pass writes nothing although the sync policy wanted it to, or a broken dependency to
/// report: the `Ready` condition's reason and message, and when to look again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    /// One of [`reason::PAUSED`], [`reason::DEPENDENCY_NOT_READY`], [`reason::SYNC_WINDOW_BLOCKED`].
    pub reason: &'static str,
    /// What holds it, naming the window, dependency or pause.
    pub message: String,
    /// When the hold ends by itself, if it does.
    pub until: Option<Timestamp>,
    /// Reported on `Ready` even when nothing drifted (a missing dependency, a cycle).
    pub always_reported: bool,
}

/// The annotation that pauses an Application or a cluster Secret, if one is set to `true`:
/// `lockstep.dev/paused`, or Argo CD's `argocd.argoproj.io/skip-reconcile` for migrated objects.
pub fn pause_annotation(annotations: Option<&BTreeMap<String, String>>) -> Option<&'static str> {
    let annotations = annotations?;
    [PAUSED_ANNOTATION, ARGO_SKIP_RECONCILE_ANNOTATION]
        .into_iter()
        .find(|key| annotations.get(*key).is_some_and(|v| v.trim().eq_ignore_ascii_case("true")))
}

/// Applies the gates to `decision`: a held decision applies and prunes nothing. Returns the hold,
/// if any, for the status.
pub fn hold(decision: &mut SyncDecision, gates: &Gates) -> Option<Hold> {
    let held = held_by(decision.initiator, gates)?;
    if held.blocks_writes {
        decision.apply = false;
        decision.prune = false;
        decision.heal_only = false;
        decision.retry_in = None;
    }
    Some(held.hold)
}

struct Held {
    hold: Hold,
    blocks_writes: bool,
}

fn held_by(initiator: Initiator, gates: &Gates) -> Option<Held> {
    let wants_to_write = initiator != Initiator::None;
    let by = |reason: &'static str, blocked: &Blocked| Held {
        hold: Hold { reason, message: blocked.message.clone(), until: blocked.until, always_reported: false },
        blocks_writes: true,
    };
    if let Some(paused) = gates.paused.as_ref().filter(|_| wants_to_write) {
        return Some(by(reason::PAUSED, paused));
    }
    if initiator == Initiator::Continuing {
        return None;
    }
    let new_revision = matches!(initiator, Initiator::Request | Initiator::Automated);
    match &gates.dependencies {
        DependencyGate::Broken(message) => {
            let blocked = Blocked { message: message.clone(), until: None };
            let mut held = by(reason::DEPENDENCY_NOT_READY, &blocked);
            held.blocks_writes = new_revision;
            held.hold.always_reported = true;
            return Some(held);
        }
        DependencyGate::Waiting(message) if new_revision => {
            return Some(by(reason::DEPENDENCY_NOT_READY, &Blocked { message: message.clone(), until: None }));
        }
        DependencyGate::Waiting(_) | DependencyGate::Ready => {}
    }
    let window = match initiator {
        Initiator::Request => gates.window_manual.as_ref(),
        Initiator::Automated | Initiator::SelfHeal => gates.window_automated.as_ref(),
        Initiator::None | Initiator::Continuing => None,
    };
    window.map(|blocked| by(reason::SYNC_WINDOW_BLOCKED, blocked))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn decision(initiator: Initiator) -> SyncDecision {
        SyncDecision {
            initiator,
            apply: initiator != Initiator::None,
            heal_only: initiator == Initiator::SelfHeal,
            prune: true,
            continuing: initiator == Initiator::Continuing,
            request: None,
            started_at: Time(Timestamp::UNIX_EPOCH),
            retry_count: 0,
            hooks_done: Vec::new(),
            retry_in: None,
        }
    }

    fn blocked(message: &str) -> Option<Blocked> {
        Some(Blocked { message: message.into(), until: Some(Timestamp::from_second(3600).unwrap()) })
    }

    fn held(initiator: Initiator, gates: &Gates) -> (SyncDecision, Option<Hold>) {
        let mut d = decision(initiator);
        let hold = hold(&mut d, gates);
        (d, hold)
    }

    #[test]
    fn either_pause_annotation_set_to_true_pauses() {
        let of = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        assert_eq!(pause_annotation(None), None);
        assert_eq!(pause_annotation(Some(&of(&[(PAUSED_ANNOTATION, "True")]))), Some(PAUSED_ANNOTATION));
        let argo = of(&[(ARGO_SKIP_RECONCILE_ANNOTATION, "true")]);
        assert_eq!(pause_annotation(Some(&argo)), Some(ARGO_SKIP_RECONCILE_ANNOTATION));
        assert_eq!(pause_annotation(Some(&of(&[(PAUSED_ANNOTATION, "false")]))), None);
    }

    #[test]
    fn no_gate_changes_nothing() {
        for initiator in [Initiator::Automated, Initiator::Request, Initiator::SelfHeal, Initiator::Continuing] {
            let (d, hold) = held(initiator, &Gates::default());
            assert_eq!((d, hold), (decision(initiator), None));
        }
    }

    #[test]
    fn a_pause_holds_every_write_even_a_running_operation() {
        let gates = Gates { paused: blocked("paused by lockstep.dev/paused"), ..Default::default() };
        for initiator in [Initiator::Automated, Initiator::Request, Initiator::SelfHeal, Initiator::Continuing] {
            let (d, hold) = held(initiator, &gates);
            assert!(!d.apply && !d.prune && !d.heal_only, "{initiator:?}");
            assert_eq!(hold.map(|h| h.reason), Some(reason::PAUSED));
        }
        let (d, hold) = held(Initiator::None, &gates);
        assert!(!d.apply && hold.is_none(), "nothing to hold when nothing is written");
    }

    #[test]
    fn waiting_dependencies_hold_new_revisions_but_not_healing() {
        let gates = Gates { dependencies: DependencyGate::Waiting("waiting for ns/a".into()), ..Default::default() };
        for initiator in [Initiator::Automated, Initiator::Request] {
            let (d, hold) = held(initiator, &gates);
            assert!(!d.apply && !d.prune);
            let hold = hold.expect("held");
            assert_eq!(
                (hold.reason, hold.message.as_str(), hold.until, hold.always_reported),
                (reason::DEPENDENCY_NOT_READY, "waiting for ns/a", None, false)
            );
        }
        for initiator in [Initiator::SelfHeal, Initiator::Continuing, Initiator::None] {
            let (d, hold) = held(initiator, &gates);
            assert_eq!((d, hold), (decision(initiator), None), "{initiator:?}");
        }
    }

    #[test]
    fn a_broken_dependency_is_reported_on_every_pass() {
        let gates = Gates {
            dependencies: DependencyGate::Broken("dependency cycle: a → b → a".into()),
            ..Default::default()
        };
        let (d, hold) = held(Initiator::None, &gates);
        let hold = hold.expect("reported");
        assert_eq!((hold.reason, hold.always_reported), (reason::DEPENDENCY_NOT_READY, true));
        assert!(!d.apply);
        let (d, hold) = held(Initiator::SelfHeal, &gates);
        assert!(d.apply && d.heal_only && hold.is_some(), "healing the synced revision goes on");
        let (d, _) = held(Initiator::Automated, &gates);
        assert!(!d.apply, "a new revision waits");
    }

    #[test]
    fn windows_hold_automation_and_requests_by_their_own_gate() {
        let gates = Gates { window_automated: blocked("deny window"), ..Default::default() };
        for initiator in [Initiator::Automated, Initiator::SelfHeal] {
            let (d, hold) = held(initiator, &gates);
            assert!(!d.apply && !d.prune && !d.heal_only);
            let hold = hold.expect("held");
            assert_eq!(hold.reason, reason::SYNC_WINDOW_BLOCKED);
            assert_eq!(hold.until, Timestamp::from_second(3600).ok());
        }
        let (d, hold) = held(Initiator::Request, &gates);
        assert!(d.apply && hold.is_none(), "manualSync lets a request through");
        let (d, hold) = held(Initiator::Continuing, &gates);
        assert!(d.apply && hold.is_none(), "a running operation finishes");
        let both = Gates { window_manual: blocked("deny window"), ..gates };
        let (d, hold) = held(Initiator::Request, &both);
        assert!(!d.apply && hold.is_some());
    }

    #[test]
    fn dependencies_are_named_before_windows() {
        let gates = Gates {
            dependencies: DependencyGate::Waiting("waiting".into()),
            window_automated: blocked("deny"),
            ..Default::default()
        };
        assert_eq!(held(Initiator::Automated, &gates).1.map(|h| h.reason), Some(reason::DEPENDENCY_NOT_READY));
    }
}
