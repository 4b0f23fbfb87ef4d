//! When a pass may write, and what its sync operation records: pure.
//!
//! As in Argo CD, automated sync applies a revision (or source) once; `selfHeal` also corrects drift
//! of an already synced revision; a `lockstep.dev/sync-request` asks for one sync; a failed sync is
//! retried with backoff under `syncPolicy.retry`; an operation still waiting on a wave or hook is
//! continued until it completes, fails or times out.

use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use lockstep_api::{
    ApplicationSpec, HookResult, HookType, OperationPhase, OperationState, RetryStrategy, SyncOperationResult,
};
use lockstep_engine::{HookRun, HookStatus, Phase, Progress, ResourceKey, Written};

use crate::status::short;

/// Who or what asked for the sync a decision applies: gates (windows, pause, dependencies) treat a
/// person's request differently from automation, and never stop an operation already under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Initiator {
    /// Nothing is applied.
    None,
    /// An operation recorded by an earlier pass goes on.
    Continuing,
    /// A `lockstep.dev/sync-request` (a person, the CLI, a rollback or a RollingSync step).
    Request,
    /// Automated sync of a new revision or spec, or a retry of a failed one.
    Automated,
    /// `selfHeal` of a revision that already synced.
    SelfHeal,
}

/// What this pass does about syncing.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncDecision {
    /// Why it applies.
    pub initiator: Initiator,
    /// Run the sync operation (apply drift); otherwise only compare.
    pub apply: bool,
    /// `selfHeal` of a revision that synced: a sync operation (hooks, waves) only if something drifted.
    pub heal_only: bool,
    /// Prune what left git.
    pub prune: bool,
    /// The operation continued from an earlier pass, if any.
    pub continuing: bool,
    /// The sync request this operation answers.
    pub request: Option<String>,
    /// When the operation started.
    pub started_at: Time,
    /// How many retries of this revision came before.
    pub retry_count: i64,
    /// Hooks finished in earlier passes of this operation.
    pub hooks_done: Vec<HookResult>,
    /// When nothing is applied because a retry is due later: how long until then.
    pub retry_in: Option<Duration>,
}

impl SyncDecision {
    /// Identifies the operation across passes (revision and start time).
    pub fn operation_id(&self, revision: &str) -> String {
        format!("{}-{}", short(revision), self.started_at.0.as_second())
    }
}

/// Decides what this pass does, from the spec, the sync-request annotation, the last operation and
/// the revision git resolved to. `spec_changed` is true when the spec changed since the last pass
/// (its generation is not the observed one): that supersedes a failed sync, as a new commit does.
pub fn decide(
    spec: &ApplicationSpec,
    sync_request: Option<&str>,
    last: Option<&OperationState>,
    revision: &str,
    spec_changed: bool,
    now: &Time,
) -> SyncDecision {
    let automated = spec.sync_policy.as_ref().and_then(|p| p.automated.as_ref());
    let mut decision = SyncDecision {
        initiator: Initiator::None,
        apply: false,
        heal_only: false,
        prune: automated.is_some_and(|a| a.prune),
        continuing: false,
        request: None,
        started_at: now.clone(),
        retry_count: 0,
        hooks_done: Vec::new(),
        retry_in: None,
    };
    if let Some(last) = last.filter(|l| l.phase == OperationPhase::Running && same_target(spec, l, revision)) {
        decision.apply = true;
        decision.initiator = Initiator::Continuing;
        decision.continuing = true;
        decision.request = last.sync_request.clone();
        decision.started_at = last.started_at.clone();
        decision.retry_count = last.retry_count;
        decision.hooks_done = last.sync_result.as_ref().map(|r| r.hooks.clone()).unwrap_or_default();
        if let Some(request) = &decision.request {
            decision.prune |= request_prunes(request);
        }
        return decision;
    }
    let pending = sync_request
        .map(str::trim)
        .filter(|r| !r.is_empty() && last.and_then(|l| l.sync_request.as_deref()) != Some(*r));
    if let Some(request) = pending {
        decision.apply = true;
        decision.initiator = Initiator::Request;
        decision.prune |= request_prunes(request);
        decision.request = Some(request.to_string());
        return decision;
    }
    let Some(automated) = automated else {
        return decision;
    };
    let synced_before = last.is_some_and(|l| same_target(spec, l, revision));
    // Self-heal repairs drift of a revision that synced; a revision that failed is retried only as
    // `syncPolicy.retry` allows, self-heal or not (Argo CD: "failed previous sync attempt").
    let failed_before = synced_before && last.is_some_and(|l| l.phase == OperationPhase::Failed);
    if !synced_before || (failed_before && spec_changed) {
        decision.apply = true;
        decision.initiator = Initiator::Automated;
        return decision;
    }
    if automated.self_heal && !failed_before {
        decision.apply = true;
        decision.initiator = Initiator::SelfHeal;
        decision.heal_only = true;
        return decision;
    }
    if let Some((last, delay)) = last.and_then(|l| Some((l, retry_delay(spec, l)?))) {
        let finished = last.finished_at.as_ref().map_or(0, |f| f.0.as_second());
        let wait = finished + i64::try_from(delay.as_secs()).unwrap_or(i64::MAX) - now.0.as_second();
        if wait <= 0 {
            decision.apply = true;
            decision.initiator = Initiator::Automated;
            decision.retry_count = last.retry_count + 1;
        } else {
            decision.retry_in = Some(Duration::from_secs(wait.unsigned_abs()));
        }
    }
    decision
}

/// After a failed operation: how long until its retry is due, when `syncPolicy.retry` allows one.
pub fn retry_delay(spec: &ApplicationSpec, operation: &OperationState) -> Option<Duration> {
    let retry = spec.sync_policy.as_ref()?.retry.as_ref()?;
    let allowed = operation.phase == OperationPhase::Failed && (retry.limit < 0 || operation.retry_count < retry.limit);
    allowed.then(|| backoff(retry, operation.retry_count))
}

/// Whether the last operation was about exactly this revision and source.
fn same_target(spec: &ApplicationSpec, last: &OperationState, revision: &str) -> bool {
    last.sync_result.as_ref().is_some_and(|r| r.revision == revision && r.synced_sources() == spec.all_sources())
}

/// A sync request value `<token>,prune` also prunes.
fn request_prunes(request: &str) -> bool {
    request.split(',').skip(1).any(|o| o.trim().eq_ignore_ascii_case("prune"))
}

/// The delay before retry number `count + 1`: `duration × factor^count`, at most `maxDuration`.
pub fn backoff(retry: &RetryStrategy, count: i64) -> Duration {
    let backoff = retry.backoff.clone().unwrap_or_default();
    let base = backoff.duration.as_deref().and_then(parse_seconds).unwrap_or(5);
    let max = backoff.max_duration.as_deref().and_then(parse_seconds).unwrap_or(180);
    let factor = backoff.factor.unwrap_or(2).max(1) as u64;
    let exponent = u32::try_from(count.clamp(0, 30)).unwrap_or(30);
    Duration::from_secs(base.saturating_mul(factor.saturating_pow(exponent)).min(max))
}

/// `30`, `30s`, `5m`, `1h` → seconds.
fn parse_seconds(text: &str) -> Option<u64> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let number: u64 = number.parse().ok()?;
    match unit {
        "" | "s" => Some(number),
        "m" => Some(number * 60),
        "h" => Some(number * 3600),
        _ => None,
    }
}

/// What one pass of an applying operation did.
pub struct SyncPass<'a> {
    /// The spec synced.
    pub spec: &'a ApplicationSpec,
    /// Full commit SHA.
    pub revision: &'a str,
    /// Writes made in this pass.
    pub written: Written,
    /// How far the operation got.
    pub progress: &'a Progress,
    /// Hook runs of the operation so far.
    pub hooks: &'a [HookRun],
    /// When this pass finished.
    pub now: Time,
}

/// The operation record after a pass, or `None` when there is no news: a quiet self-heal pass over
/// an already synced revision writes no status.
pub fn record(decision: &SyncDecision, pass: SyncPass<'_>, last: Option<&OperationState>) -> Option<OperationState> {
    if !decision.apply {
        return None;
    }
    let quiet = !decision.continuing
        && decision.request.is_none()
        && decision.retry_count == 0
        && last.is_some_and(|l| l.phase == OperationPhase::Succeeded && same_target(pass.spec, l, pass.revision))
        && !pass.written.any()
        && *pass.progress == Progress::Complete;
    if quiet {
        return None;
    }
    let Written { created, updated, pruned } = pass.written;
    let (phase, message) = match pass.progress {
        Progress::Complete => (
            OperationPhase::Succeeded,
            format!("successfully synced ({created} created, {updated} updated, {pruned} pruned)"),
        ),
        Progress::Waiting(why) => (OperationPhase::Running, why.clone()),
        // The API server's unavailability says nothing about the revision: the operation goes on.
        Progress::Failed(why) if why.is_transient() => {
            (OperationPhase::Running, format!("retrying after the API server failed: {why}"))
        }
        Progress::Failed(why) => (OperationPhase::Failed, why.message.clone()),
    };
    Some(OperationState {
        finished_at: (phase != OperationPhase::Running).then(|| pass.now.clone()),
        phase,
        message: Some(message),
        sync_result: Some(SyncOperationResult {
            revision: pass.revision.to_string(),
            source: pass.spec.source.clone().unwrap_or_default(),
            sources: pass.spec.sources.clone(),
            revisions: crate::multi_source::recorded_revisions(pass.spec, pass.revision),
            hooks: pass.hooks.iter().map(hook_result).collect(),
        }),
        started_at: decision.started_at.clone(),
        retry_count: decision.retry_count,
        sync_request: decision.request.clone(),
    })
}

/// The engine's hook run as recorded in the status (the operation state's, or a deletion's).
pub fn hook_result(run: &HookRun) -> HookResult {
    HookResult {
        group: run.key.group.clone(),
        version: run.key.version.clone(),
        kind: run.key.kind.clone(),
        namespace: run.key.namespace.clone(),
        name: run.key.name.clone(),
        hook_type: match run.phase {
            Phase::PreSync => HookType::PreSync,
            Phase::Sync => HookType::Sync,
            Phase::PostSync => HookType::PostSync,
            Phase::SyncFail => HookType::SyncFail,
            Phase::PreDelete => HookType::PreDelete,
        },
        hook_phase: match run.status {
            HookStatus::Running => OperationPhase::Running,
            HookStatus::Succeeded => OperationPhase::Succeeded,
            HookStatus::Failed => OperationPhase::Failed,
        },
        message: run.message.clone(),
    }
}

/// A recorded hook result as the engine's hook run, so a continued operation skips finished hooks.
pub fn hook_run(result: &HookResult) -> HookRun {
    HookRun {
        key: ResourceKey {
            group: result.group.clone(),
            version: result.version.clone(),
            kind: result.kind.clone(),
            namespace: result.namespace.clone(),
            name: result.name.clone(),
        },
        phase: match result.hook_type {
            HookType::PreSync => Phase::PreSync,
            HookType::Sync => Phase::Sync,
            HookType::PostSync => Phase::PostSync,
            HookType::SyncFail => Phase::SyncFail,
            HookType::PreDelete => Phase::PreDelete,
        },
        status: match result.hook_phase {
            OperationPhase::Running => HookStatus::Running,
            OperationPhase::Succeeded => HookStatus::Succeeded,
            OperationPhase::Failed | OperationPhase::Error => HookStatus::Failed,
        },
        message: result.message.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;
    use lockstep_api::{Backoff, SyncPolicy, SyncPolicyAutomated};

    fn at(seconds: i64) -> Time {
        Time(Timestamp::from_second(seconds).unwrap())
    }

    fn spec(self_heal: Option<bool>) -> ApplicationSpec {
        ApplicationSpec {
            source: Some(lockstep_api::ApplicationSource { repo_url: "https://git/r".into(), ..Default::default() }),
            sync_policy: self_heal.map(|self_heal| SyncPolicy {
                automated: Some(SyncPolicyAutomated { self_heal, ..Default::default() }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn op(spec: &ApplicationSpec, revision: &str, phase: OperationPhase, finished: i64) -> OperationState {
        OperationState {
            phase,
            message: None,
            sync_result: Some(SyncOperationResult {
                revision: revision.into(),
                source: spec.source.clone().unwrap_or_default(),
                sources: spec.sources.clone(),
                revisions: vec![],
                hooks: vec![],
            }),
            started_at: at(finished - 1),
            finished_at: (phase != OperationPhase::Running).then(|| at(finished)),
            retry_count: 0,
            sync_request: None,
        }
    }

    #[test]
    fn manual_applies_only_on_request() {
        let s = spec(None);
        assert!(!decide(&s, None, None, "a", false, &at(10)).apply);
        let d = decide(&s, Some("t1,prune"), None, "a", false, &at(10));
        assert!(d.apply && d.prune && d.request.as_deref() == Some("t1,prune"));
        let mut answered = op(&s, "a", OperationPhase::Succeeded, 5);
        answered.sync_request = Some("t1,prune".into());
        assert!(
            !decide(&s, Some("t1,prune"), Some(&answered), "a", false, &at(10)).apply,
            "a request is answered once"
        );
        assert!(decide(&s, Some("t2"), Some(&answered), "a", false, &at(10)).apply);
    }

    #[test]
    fn automated_applies_new_revisions_and_self_heal_applies_always() {
        let plain = spec(Some(false));
        let last = op(&plain, "a", OperationPhase::Succeeded, 5);
        assert!(decide(&plain, None, None, "a", false, &at(10)).apply);
        assert!(
            !decide(&plain, None, Some(&last), "a", false, &at(10)).apply,
            "drift of a synced revision waits for selfHeal"
        );
        assert!(decide(&plain, None, Some(&last), "b", false, &at(10)).apply);
        let mut moved = plain.clone();
        moved.source.as_mut().unwrap().path = Some("elsewhere".into());
        assert!(decide(&moved, None, Some(&last), "a", false, &at(10)).apply, "a source change is a new sync");
        let source = |repo: &str| lockstep_api::ApplicationSource { repo_url: repo.into(), ..Default::default() };
        let multi = ApplicationSpec {
            source: None,
            sources: vec![source("https://git/c"), source("https://git/v")],
            ..plain.clone()
        };
        let synced = op(&multi, "a,b", OperationPhase::Succeeded, 5);
        assert!(!decide(&multi, None, Some(&synced), "a,b", false, &at(10)).apply, "the same revisions and sources");
        assert!(decide(&multi, None, Some(&synced), "a,c", false, &at(10)).apply, "one source's new revision");
        let mut edited = multi.clone();
        edited.sources[1].path = Some("prod".into());
        assert!(decide(&edited, None, Some(&synced), "a,b", false, &at(10)).apply, "one source's change");
        let heal = decide(&spec(Some(true)), None, Some(&last), "a", false, &at(10));
        assert!(heal.apply && heal.heal_only, "self-heal of a synced revision runs hooks only on drift");
        for fresh in [
            decide(&plain, None, None, "a", false, &at(10)),
            decide(&spec(Some(true)), None, Some(&last), "b", false, &at(10)),
        ] {
            assert!(fresh.apply && !fresh.heal_only, "a new revision is a sync operation");
        }
    }

    #[test]
    fn a_running_operation_continues_with_its_start_and_hooks() {
        let plain = spec(Some(false));
        let mut last = op(&plain, "a", OperationPhase::Running, 5);
        last.sync_result.as_mut().unwrap().hooks.push(hook_result(&HookRun {
            key: ResourceKey { version: "v1".into(), kind: "Pod".into(), name: "p".into(), ..Default::default() },
            phase: Phase::PreSync,
            status: HookStatus::Succeeded,
            message: None,
        }));
        let d = decide(&plain, None, Some(&last), "a", false, &at(10));
        assert!(d.apply && d.continuing);
        assert_eq!(d.started_at, at(4));
        assert_eq!(d.hooks_done.len(), 1);
        assert_eq!(hook_run(&d.hooks_done[0]).status, HookStatus::Succeeded);
        assert!(!decide(&plain, None, Some(&last), "b", false, &at(10)).continuing, "a new commit supersedes it");
    }

    #[test]
    fn failed_syncs_retry_with_backoff_up_to_the_limit() {
        let mut s = spec(Some(false));
        let retry = RetryStrategy {
            limit: 2,
            backoff: Some(Backoff { duration: Some("10s".into()), factor: Some(3), max_duration: Some("20s".into()) }),
        };
        s.sync_policy.as_mut().unwrap().retry = Some(retry.clone());
        let failed = op(&s, "a", OperationPhase::Failed, 100);
        let early = decide(&s, None, Some(&failed), "a", false, &at(105));
        assert!(!early.apply);
        assert_eq!(early.retry_in, Some(Duration::from_secs(5)));
        let due = decide(&s, None, Some(&failed), "a", false, &at(110));
        assert!(due.apply && due.retry_count == 1);
        let mut exhausted = failed.clone();
        exhausted.retry_count = 2;
        assert!(!decide(&s, None, Some(&exhausted), "a", false, &at(1000)).apply);
        assert_eq!(backoff(&retry, 0), Duration::from_secs(10));
        assert_eq!(backoff(&retry, 1), Duration::from_secs(20), "capped by maxDuration");
        assert!(decide(&s, None, Some(&failed), "b", false, &at(101)).apply, "a new commit supersedes a failing retry");
    }

    #[test]
    fn self_heal_of_a_failed_revision_obeys_the_retry_policy() {
        let mut s = spec(Some(true));
        let failed = op(&s, "a", OperationPhase::Failed, 100);
        assert!(
            !decide(&s, None, Some(&failed), "a", false, &at(1000)).apply,
            "no retry policy: wait for a new commit"
        );
        s.sync_policy.as_mut().unwrap().retry = Some(RetryStrategy {
            limit: 2,
            backoff: Some(Backoff { duration: Some("10s".into()), factor: Some(1), max_duration: None }),
        });
        assert!(!decide(&s, None, Some(&failed), "a", false, &at(105)).apply, "backoff holds self-heal too");
        assert!(decide(&s, None, Some(&failed), "a", false, &at(110)).apply);
        let mut exhausted = failed.clone();
        exhausted.retry_count = 2;
        assert!(!decide(&s, None, Some(&exhausted), "a", false, &at(1000)).apply, "the limit holds self-heal too");
        assert!(decide(&s, None, Some(&exhausted), "a", true, &at(1000)).apply, "a spec change supersedes it");
        let healthy = op(&s, "a", OperationPhase::Succeeded, 100);
        assert!(
            decide(&s, None, Some(&healthy), "a", false, &at(101)).apply,
            "drift of a synced revision heals at once"
        );
    }

    #[test]
    fn only_news_is_recorded() {
        let s = spec(Some(true));
        let last = op(&s, "a", OperationPhase::Succeeded, 5);
        let decision = decide(&s, None, Some(&last), "a", false, &at(10));
        let pass = |written, progress| SyncPass { spec: &s, revision: "a", written, progress, hooks: &[], now: at(10) };
        assert_eq!(record(&decision, pass(Written::default(), &Progress::Complete), Some(&last)), None);
        let healed =
            record(&decision, pass(Written { updated: 1, ..Default::default() }, &Progress::Complete), Some(&last));
        assert_eq!(healed.map(|o| o.phase), Some(OperationPhase::Succeeded));
        let waiting = Progress::Waiting("wave 1".into());
        let running = record(&decision, pass(Written::default(), &waiting), Some(&last)).expect("recorded");
        assert_eq!((running.phase, running.finished_at), (OperationPhase::Running, None));
    }

    #[test]
    fn the_api_server_failing_keeps_the_operation_running_and_a_refusal_fails_it() {
        use lockstep_engine::{Fault, ObjectError};
        let s = spec(Some(false));
        let decision = decide(&s, None, None, "a", false, &at(10));
        let pass = |progress| SyncPass {
            spec: &s,
            revision: "a",
            written: Written::default(),
            progress,
            hooks: &[],
            now: at(11),
        };
        let outage = Progress::Failed(ObjectError { fault: Fault::Unavailable, message: "connection refused".into() });
        let interrupted = record(&decision, pass(&outage), None).expect("recorded");
        assert_eq!((interrupted.phase, interrupted.finished_at.as_ref()), (OperationPhase::Running, None));
        assert!(interrupted.message.as_deref().is_some_and(|m| m.contains("connection refused")));
        let next = decide(&s, None, Some(&interrupted), "a", false, &at(20));
        assert!(next.apply && next.continuing, "the next pass carries the operation on, retry policy or not");
        assert_eq!((next.started_at.clone(), next.retry_count), (at(10), 0));
        let refused = Progress::Failed(ObjectError::refused("field is immutable"));
        let failed = record(&next, pass(&refused), Some(&interrupted)).expect("recorded");
        assert_eq!((failed.phase, failed.finished_at.as_ref()), (OperationPhase::Failed, Some(&at(11))));
        let denied = Progress::Failed(ObjectError { fault: Fault::Forbidden, message: "forbidden".into() });
        assert_eq!(record(&next, pass(&denied), Some(&interrupted)).map(|o| o.phase), Some(OperationPhase::Failed));
    }
}
