//! When automated sync may write, and what a sync operation records: pure.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use lockstep_api::{ApplicationSpec, OperationPhase, OperationState, SyncOperationResult};
use lockstep_engine::Written;

/// Whether this pass may write. As in Argo CD: only with `syncPolicy.automated`, and then only for a
/// revision or source not synced yet, unless `selfHeal` also corrects drift of an already synced one.
pub fn should_apply(spec: &ApplicationSpec, last: Option<&OperationState>, revision: &str) -> bool {
    let Some(automated) = spec.sync_policy.as_ref().and_then(|p| p.automated.as_ref()) else {
        return false;
    };
    automated.self_heal || !already_synced(spec, last, revision)
}

/// Whether the last operation synced exactly this revision with this source.
fn already_synced(spec: &ApplicationSpec, last: Option<&OperationState>, revision: &str) -> bool {
    last.and_then(|op| op.sync_result.as_ref()).is_some_and(|r| r.revision == revision && r.source == spec.source)
}

/// What a sync pass ran, used to build its operation record.
pub struct SyncPass<'a> {
    /// The spec synced.
    pub spec: &'a ApplicationSpec,
    /// Full commit SHA.
    pub revision: &'a str,
    /// Writes made.
    pub written: Written,
    /// Objects that failed, with messages.
    pub failures: Vec<String>,
    /// When the pass started and finished.
    pub started_at: Time,
    /// When the pass finished.
    pub finished_at: Time,
}

/// The operation record of a pass that applied, or `None` when it is not news: the same revision and
/// source as the last operation and nothing written. So a quiet self-heal pass writes no status.
pub fn operation(pass: SyncPass<'_>, last: Option<&OperationState>) -> Option<OperationState> {
    if already_synced(pass.spec, last, pass.revision) && !pass.written.any() {
        return None;
    }
    let Written { created, updated, pruned } = pass.written;
    let (phase, message) = if pass.failures.is_empty() {
        (OperationPhase::Succeeded, format!("successfully synced ({created} created, {updated} updated, {pruned} pruned)"))
    } else {
        (OperationPhase::Failed, format!("{} objects failed: {}", pass.failures.len(), pass.failures.join("; ")))
    };
    Some(OperationState {
        phase,
        message: Some(message),
        sync_result: Some(SyncOperationResult { revision: pass.revision.to_string(), source: pass.spec.source.clone() }),
        started_at: pass.started_at,
        finished_at: Some(pass.finished_at),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;
    use lockstep_api::{SyncPolicy, SyncPolicyAutomated};

    fn spec(self_heal: Option<bool>) -> ApplicationSpec {
        ApplicationSpec {
            sync_policy: self_heal.map(|self_heal| SyncPolicy {
                automated: Some(SyncPolicyAutomated { self_heal, ..Default::default() }),
            }),
            ..Default::default()
        }
    }

    fn synced(spec: &ApplicationSpec, revision: &str) -> OperationState {
        let now = Time(Timestamp::UNIX_EPOCH);
        let pass = SyncPass { spec, revision, written: Written::default(), failures: vec![], started_at: now.clone(), finished_at: now };
        operation(pass, None).expect("first sync is recorded")
    }

    #[test]
    fn manual_never_applies() {
        assert!(!should_apply(&spec(None), None, "a"));
    }

    #[test]
    fn automated_applies_new_revisions_and_self_heal_applies_always() {
        let plain = spec(Some(false));
        let last = synced(&plain, "a");
        assert!(should_apply(&plain, None, "a"));
        assert!(!should_apply(&plain, Some(&last), "a"), "drift of a synced revision waits for selfHeal");
        assert!(should_apply(&plain, Some(&last), "b"));
        let mut moved = plain.clone();
        moved.source.path = Some("elsewhere".into());
        assert!(should_apply(&moved, Some(&last), "a"), "a source change is a new sync");
        assert!(should_apply(&spec(Some(true)), Some(&last), "a"));
    }

    #[test]
    fn only_news_is_recorded() {
        let s = spec(Some(true));
        let last = synced(&s, "a");
        assert_eq!(last.phase, OperationPhase::Succeeded);
        let now = Time(Timestamp::UNIX_EPOCH);
        let quiet = SyncPass { spec: &s, revision: "a", written: Written::default(), failures: vec![], started_at: now.clone(), finished_at: now.clone() };
        assert_eq!(operation(quiet, Some(&last)), None);
        let healed = SyncPass { spec: &s, revision: "a", written: Written { updated: 1, ..Default::default() }, failures: vec![], started_at: now.clone(), finished_at: now.clone() };
        assert!(operation(healed, Some(&last)).is_some());
        let failed = SyncPass { spec: &s, revision: "b", written: Written::default(), failures: vec!["x: no".into()], started_at: now.clone(), finished_at: now };
        assert_eq!(operation(failed, Some(&last)).map(|o| o.phase), Some(OperationPhase::Failed));
    }
}
