//! What to do with each object, and what came of it: pure data and decisions.

use lockstep_api::SyncStatusCode;
use lockstep_health::Health;
use serde_json::Value;

use crate::compare::differs_ignoring;
use crate::drift::Kept;
use crate::error::ObjectError;
use crate::ignore::Path;
use crate::key::ResourceKey;

/// What the server said when asked what applying one object would do.
#[derive(Clone, Debug, PartialEq)]
pub enum Observation {
    /// The live object already matches git.
    InSync { live: Value },
    /// Applying would create (`live` is `None`) or change the object.
    Drifted { live: Option<Value> },
    /// The object cannot be dry-run yet: its namespace is created by this same sync.
    AwaitingNamespace,
    /// The live object is managed by another Application; it is left alone.
    Shared { owner: String, live: Value },
    /// The server refused the dry-run because an immutable field would change.
    Immutable { live: Value, error: ObjectError },
    /// The object cannot be read or applied; in the server's or discovery's words.
    Rejected(ObjectError),
}

impl Observation {
    /// What a dry-run answer means: in sync when the server would store what is live, outside the
    /// `ignored` fields (`spec.ignoreDifferences`), and nothing of kubectl's client-side apply
    /// remains to be taken over; otherwise drifted (`live` is `None`: to be created).
    pub fn of_dry_run(live: Option<Value>, predicted: Option<&Value>, ignored: &[Path], take_over: bool) -> Self {
        match (live, predicted) {
            (Some(live), Some(predicted)) if !take_over && !differs_ignoring(&live, predicted, ignored) => {
                Observation::InSync { live }
            }
            (live, _) => Observation::Drifted { live },
        }
    }

    /// The live object observed, if one was read.
    pub fn live(&self) -> Option<&Value> {
        match self {
            Observation::InSync { live } | Observation::Shared { live, .. } | Observation::Immutable { live, .. } => {
                Some(live)
            }
            Observation::Drifted { live } => live.as_ref(),
            Observation::AwaitingNamespace | Observation::Rejected(_) => None,
        }
    }
}

/// What the engine does, or did, to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Nothing: it matches, it was rejected, or automated sync is off.
    None,
    /// Apply an object that does not exist yet.
    Create,
    /// Apply over a live object that differs.
    Update,
    /// Delete the live object and create git's (an immutable field changed and `Replace=true`).
    Replace,
    /// Delete an object that left git.
    Prune,
}

/// The outcome for one object of a sync.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceResult {
    /// Which object.
    pub key: ResourceKey,
    /// Whether the live object now matches git.
    pub status: SyncStatusCode,
    /// What was written.
    pub action: Action,
    /// Why it failed, if it did.
    pub error: Option<ObjectError>,
    /// The live object after the sync, if it exists.
    pub live: Option<Value>,
    /// The object left git and awaits pruning.
    pub requires_pruning: bool,
    /// The Application that already manages this object, when it is not ours.
    pub shared_with: Option<String>,
    /// Health of the live object after the sync, assessed once; `None` when there is none.
    pub health: Option<Health>,
    /// The live object differs from git and drift mode `warn` left it so.
    pub drifted: bool,
}

impl ResourceResult {
    /// The result of an observation on which nothing was written.
    pub fn observed(key: ResourceKey, observation: Observation) -> Self {
        let mut shared_with = None;
        let (status, error, live) = match observation {
            Observation::InSync { live } => (SyncStatusCode::Synced, None, Some(live)),
            Observation::Drifted { live } => (SyncStatusCode::OutOfSync, None, live),
            Observation::AwaitingNamespace => (SyncStatusCode::OutOfSync, None, None),
            Observation::Shared { owner, live } => {
                let message = format!("already managed by Application {owner}");
                shared_with = Some(owner);
                (SyncStatusCode::OutOfSync, Some(ObjectError::refused(message)), Some(live))
            }
            Observation::Immutable { live, error } => (SyncStatusCode::OutOfSync, Some(error), Some(live)),
            Observation::Rejected(message) => (SyncStatusCode::OutOfSync, Some(message), None),
        };
        let health = live.as_ref().map(lockstep_health::assess);
        let drifted = false;
        Self { key, status, action: Action::None, error, live, requires_pruning: false, shared_with, health, drifted }
    }

    /// An object this sync wrote (`action`); `live` is what the server stored.
    pub fn written(key: ResourceKey, action: Action, live: Value) -> Self {
        let health = Some(lockstep_health::assess(&live));
        let status = SyncStatusCode::Synced;
        Self {
            key,
            status,
            action,
            error: None,
            live: Some(live),
            requires_pruning: false,
            shared_with: None,
            health,
            drifted: false,
        }
    }

    /// As its drift mode leaves it: under `warn` OutOfSync and drifted, under `ignore` Synced.
    pub fn kept_by(mut self, kept: Kept) -> Self {
        match kept {
            Kept::Reported => {
                self.status = SyncStatusCode::OutOfSync;
                self.drifted = true;
            }
            Kept::LeftAlone => {
                self.status = SyncStatusCode::Synced;
                self.error = None;
            }
        }
        self
    }

    /// Replaces the live object (one read again after the write) and assesses it anew.
    pub fn with_live(mut self, live: Value) -> Self {
        self.health = Some(lockstep_health::assess(&live));
        self.live = Some(live);
        self
    }

    /// An object that left git and was not pruned (prune off, disabled, or failed).
    pub fn awaiting_prune(key: ResourceKey, live: Value, error: Option<ObjectError>) -> Self {
        let status = SyncStatusCode::OutOfSync;
        let health = Some(lockstep_health::assess(&live));
        Self {
            key,
            status,
            action: Action::None,
            error,
            live: Some(live),
            requires_pruning: true,
            shared_with: None,
            health,
            drifted: false,
        }
    }

    /// An object that left git whose state could not be read (discovery or the read failed): it
    /// stays in the inventory until a later pass confirms it gone.
    pub fn prune_unconfirmed(key: ResourceKey, error: ObjectError) -> Self {
        let status = SyncStatusCode::OutOfSync;
        Self {
            key,
            status,
            action: Action::None,
            error: Some(error),
            live: None,
            requires_pruning: true,
            shared_with: None,
            health: None,
            drifted: false,
        }
    }

    /// An object deleted because it left git.
    pub fn pruned(key: ResourceKey) -> Self {
        let status = SyncStatusCode::Synced;
        Self {
            key,
            status,
            action: Action::Prune,
            error: None,
            live: None,
            requires_pruning: false,
            shared_with: None,
            health: None,
            drifted: false,
        }
    }
}

/// How far a sync operation got in this pass.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Progress {
    /// Every step ran (or nothing was to be applied).
    #[default]
    Complete,
    /// A gate is not passed yet (a wave not healthy, a hook running); the message says which.
    Waiting(String),
    /// A step failed; later steps did not run and SyncFail hooks did.
    Failed(ObjectError),
}

/// One hook run of a sync operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HookRun {
    /// The hook object.
    pub key: ResourceKey,
    /// The phase it ran in.
    pub phase: crate::hooks::Phase,
    /// Where it stands.
    pub status: HookStatus,
    /// Why, when it failed or is still running.
    pub message: Option<String>,
}

/// State of one hook run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookStatus {
    /// Created; not finished.
    Running,
    /// Finished and healthy.
    Succeeded,
    /// Failed (Degraded), or could not be created.
    Failed,
}

/// Outcome of one sync of one revision: one entry per rendered resource in apply order, then the
/// objects that left git.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SyncResult {
    /// Per-object outcomes.
    pub resources: Vec<ResourceResult>,
    /// Why objects that left git were kept although prune is on, if they were.
    pub prune_blocked: Option<String>,
    /// How far the operation got.
    pub progress: Progress,
    /// Hook runs of this operation so far.
    pub hooks: Vec<HookRun>,
}

impl SyncResult {
    /// `Synced` when every object matches git, else `OutOfSync`.
    pub fn sync_status(&self) -> SyncStatusCode {
        if self.resources.iter().all(|r| r.status == SyncStatusCode::Synced) {
            SyncStatusCode::Synced
        } else {
            SyncStatusCode::OutOfSync
        }
    }

    /// The objects that failed, with why.
    pub fn failures(&self) -> impl Iterator<Item = (&ResourceKey, &ObjectError)> {
        self.resources.iter().filter_map(|r| r.error.as_ref().map(|e| (&r.key, e)))
    }

    /// The objects that differ from git and were not overwritten because of drift mode `warn`.
    pub fn drifted(&self) -> Vec<ResourceKey> {
        self.resources.iter().filter(|r| r.drifted).map(|r| r.key.clone()).collect()
    }

    /// How many objects were created, updated and pruned.
    pub fn written(&self) -> Written {
        let count = |action| self.resources.iter().filter(|r| r.action == action).count();
        let updated = count(Action::Update) + count(Action::Replace);
        Written { created: count(Action::Create), updated, pruned: count(Action::Prune) }
    }
}

/// Counts of the writes one sync made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Objects created.
    pub created: usize,
    /// Objects changed (replaced ones included).
    pub updated: usize,
    /// Objects deleted because they left git.
    pub pruned: usize,
}

impl Written {
    /// Whether anything at all was written.
    pub fn any(&self) -> bool {
        self.created + self.updated + self.pruned > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_immutable_refusal_keeps_the_live_object_assessed() {
        let immutable = Observation::Immutable { live: json!({}), error: ObjectError::refused("field is immutable") };
        let key = ResourceKey { version: "v1".into(), kind: "Service".into(), name: "s".into(), ..Default::default() };
        let refused = ResourceResult::observed(key, immutable);
        assert_eq!(
            (refused.status, refused.error.map(|e| e.message)),
            (SyncStatusCode::OutOfSync, Some("field is immutable".into()))
        );
        assert!(refused.live.is_some() && refused.health.is_some(), "the live object is still there and assessed");
    }

    #[test]
    fn one_drifted_or_rejected_object_makes_the_revision_out_of_sync() {
        let key = |n: &str| ResourceKey {
            version: "v1".into(),
            kind: "ConfigMap".into(),
            name: n.into(),
            ..Default::default()
        };
        let mut result = SyncResult {
            resources: vec![ResourceResult::observed(key("a"), Observation::InSync { live: json!({}) })],
            ..Default::default()
        };
        assert_eq!(result.sync_status(), SyncStatusCode::Synced);
        result.resources.push(ResourceResult::observed(key("b"), Observation::Rejected(ObjectError::refused("bad"))));
        assert_eq!(result.sync_status(), SyncStatusCode::OutOfSync);
        let failures: Vec<_> = result.failures().map(|(k, e)| (k.name.as_str(), e.message.as_str())).collect();
        assert_eq!(failures, vec![("b", "bad")]);
    }

    #[test]
    fn objects_kept_by_warn_are_drifted_and_those_left_alone_are_synced() {
        let key = |n: &str| ResourceKey {
            version: "v1".into(),
            kind: "ConfigMap".into(),
            name: n.into(),
            ..Default::default()
        };
        let drifted = || Observation::Drifted { live: Some(json!({})) };
        let warned = ResourceResult::written(key("w"), Action::Update, json!({})).kept_by(Kept::Reported);
        let immutable = Observation::Immutable { live: json!({}), error: ObjectError::refused("immutable") };
        let ignored = ResourceResult::observed(key("i"), immutable).kept_by(Kept::LeftAlone);
        assert_eq!((ignored.status, ignored.error.is_none(), ignored.drifted), (SyncStatusCode::Synced, true, false));
        let result = SyncResult {
            resources: vec![warned, ignored, ResourceResult::observed(key("d"), drifted())],
            ..Default::default()
        };
        assert_eq!(result.drifted(), vec![key("w")], "only drift warn kept, not drift about to be healed");
        assert_eq!(result.sync_status(), SyncStatusCode::OutOfSync);
    }
}
