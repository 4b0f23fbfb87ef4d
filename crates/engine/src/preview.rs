//! Compare-only runs for people (`lockstep diff`, `lockstep explain`): per object, the live object
//! and what the server's dry-run of lockstep's apply would store, both normalised and with ignored
//! fields removed exactly as the controller compares them. Nothing is written.

use std::collections::HashSet;

use futures::StreamExt as _;
use serde_json::Value;

use crate::compare::normalize;
use crate::engine::{Engine, RenderFacts, SyncOptions};
use crate::ignore;
use crate::key::ResourceKey;
use crate::plan::{Observation, ResourceResult, SyncResult};
use crate::steps::{SyncPlan, defined_kinds};
use lockstep_render::Manifest;

/// What applying git would do to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// The object does not exist and would be created.
    Create,
    /// The object exists and would change.
    Update,
    /// An immutable field would change: the object would be deleted and created again
    /// (`Replace=true`).
    Replace,
    /// The object matches git.
    Unchanged,
    /// The object left git and would be deleted by a sync with prune.
    Prune,
    /// The object cannot be compared or applied (see `error`).
    Failed,
}

/// The comparison of one object, ready to show.
#[derive(Clone, Debug, PartialEq)]
pub struct ObjectPreview {
    /// Which object.
    pub key: ResourceKey,
    /// What a sync would do to it.
    pub change: Change,
    /// The live object as compared (normalised, ignored fields removed); `None` when absent.
    pub live: Option<Value>,
    /// What the object would look like after the apply, as compared; `None` when the server did
    /// not answer (a failure, a prune, or an object whose namespace or CRD this render creates).
    pub predicted: Option<Value>,
    /// Why it failed: the server's message, or the Application that already manages it.
    pub error: Option<String>,
}

impl Engine {
    /// Compares every manifest with live state the way a sync would, without writing, and lists
    /// the objects the previous inventory holds that git no longer renders (as [`Change::Prune`],
    /// whatever the prune setting: the caller decides whether to show them).
    pub async fn preview(&self, manifests: &[Manifest], options: &SyncOptions) -> Vec<ObjectPreview> {
        let options = SyncOptions { apply: false, ..options.clone() };
        let objects: Vec<Value> = manifests.iter().map(|m| m.object.clone()).collect();
        let facts = RenderFacts {
            namespaces: objects
                .iter()
                .filter(|o| o["kind"] == "Namespace" && o["apiVersion"] == "v1")
                .filter_map(|o| o["metadata"]["name"].as_str().map(String::from))
                .collect::<HashSet<_>>(),
            defined_kinds: defined_kinds(&objects),
        };
        // Ordinary resources in apply order; hooks run per operation and are never compared.
        let plan = SyncPlan::of(&objects);
        let order = plan.steps.iter().filter(|s| !s.hooks).flat_map(|s| s.items.iter().copied());
        let pending: Vec<_> = order.map(|i| self.preview_one(&manifests[i], &options, &facts)).collect();
        let mut previews: Vec<ObjectPreview> =
            futures::stream::iter(pending).buffered(crate::engine::CONCURRENCY).collect().await;
        let rendered = previews
            .iter()
            .map(|p| ResourceResult::observed(p.key.clone(), Observation::Drifted { live: None }))
            .collect();
        let mut result = SyncResult { resources: rendered, ..Default::default() };
        self.prune(&mut result, plan.resources().is_empty(), false, &options).await;
        previews.extend(result.resources.into_iter().filter(|r| r.requires_pruning).map(|r| ObjectPreview {
            key: r.key,
            change: Change::Prune,
            live: r.live.as_ref().map(normalize),
            predicted: None,
            error: r.error.map(|e| e.message),
        }));
        previews
    }

    async fn preview_one(&self, manifest: &Manifest, options: &SyncOptions, facts: &RenderFacts) -> ObjectPreview {
        let target = match self.prepare(manifest, options).await {
            Ok(target) => target,
            Err((key, _)) if facts.defined_kinds.contains(&(key.group.clone(), key.kind.clone())) => {
                return ObjectPreview { key, change: Change::Create, live: None, predicted: None, error: None };
            }
            Err((key, message)) => {
                return ObjectPreview {
                    key,
                    change: Change::Failed,
                    live: None,
                    predicted: None,
                    error: Some(message.message),
                };
            }
        };
        let api = self.api_for(&target.key, &target.kind);
        let compared = self.compare_one(&api, &target, options, facts, false).await;
        let live = match &compared.observation {
            Observation::InSync { live } | Observation::Shared { live, .. } | Observation::Immutable { live, .. } => {
                Some(live.clone())
            }
            Observation::Drifted { live } => live.clone(),
            Observation::AwaitingNamespace | Observation::Rejected(_) => None,
        };
        let ignored = ignore::ignored_paths(&options.ignore_differences, &target.key, live.as_ref());
        let shown = |object: &Value| normalize(&ignore::strip(object, &ignored));
        let (change, error) = match &compared.observation {
            Observation::InSync { .. } => (Change::Unchanged, None),
            Observation::Drifted { live: None } | Observation::AwaitingNamespace => (Change::Create, None),
            Observation::Drifted { live: Some(_) } => (Change::Update, None),
            Observation::Shared { owner, .. } => {
                (Change::Failed, Some(format!("already managed by Application {owner}")))
            }
            Observation::Immutable { .. } if compared.replace_allowed => (Change::Replace, None),
            Observation::Immutable { error, .. } | Observation::Rejected(error) => {
                (Change::Failed, Some(error.message.clone()))
            }
        };
        let predicted = match (&compared.predicted, change) {
            (Some(predicted), _) => Some(shown(predicted)),
            // No dry-run answer (its namespace is created by this render): show git's object.
            (None, Change::Create | Change::Replace) => Some(shown(&target.object)),
            (None, _) => None,
        };
        ObjectPreview { key: target.key, change, live: live.as_ref().map(shown), predicted, error }
    }
}
