//! Everything a plan is decided from, read before anything is written: each rendered object's
//! kind, live state and dry-run answer, each hook's address, and the live state of what left git.

use std::collections::HashMap;

use futures::{StreamExt, stream};
use kube::core::GroupVersionKind;
use lockstep_render::Manifest;

use crate::engine::{CONCURRENCY, Engine, RenderFacts, SyncOptions, Target};
use crate::error::{KindError, ObjectError};
use crate::inventory;
use crate::key::ResourceKey;
use crate::plan::Observation;
use crate::prune_plan::Found;
use crate::steps::SyncOrder;
use crate::sync_object::Compared;

/// How long a custom resource waits for its just-established CRD to be served by discovery.
const DISCOVERY_LAG: std::time::Duration = std::time::Duration::from_secs(10);

/// One rendered object as observed.
pub(crate) struct Observed {
    /// Which object (placed in its namespace when its kind is known).
    pub key: ResourceKey,
    /// How to address and write it; `None` when its kind is not served (yet).
    pub target: Option<Target>,
    /// What the comparison found.
    pub compared: Compared,
}

/// What one pass observed, by index into the rendered objects.
#[derive(Default)]
pub(crate) struct Observations {
    /// Ordinary resources.
    pub resources: HashMap<usize, Observed>,
    /// Hooks: how to address each, or why that is not known.
    pub hooks: HashMap<usize, Result<Target, (ResourceKey, ObjectError)>>,
    /// Objects of the previous inventory that git no longer renders, in reverse apply order.
    pub left_git: Vec<(ResourceKey, Found)>,
}

impl Engine {
    /// Observes every object of `order`, then reads what left git. `options.apply` says whether a
    /// sync follows: it then skips the dry-run of objects that do not exist (the apply answers).
    pub(crate) async fn observe(
        &self,
        order: &SyncOrder,
        manifests: &[Manifest],
        options: &SyncOptions,
        facts: &RenderFacts,
    ) -> Observations {
        let mut observations = Observations::default();
        let resources: Vec<usize> = order.steps.iter().filter(|s| !s.hooks).flat_map(|s| s.items.clone()).collect();
        // Futures are built before streaming them: a closure over references inside the stream
        // would make the whole sync future not `Send` for every lifetime.
        let pending: Vec<_> =
            resources.iter().map(|i| self.observe_resource(&manifests[*i], options, facts, false)).collect();
        let observed: Vec<Observed> = stream::iter(pending).buffered(CONCURRENCY).collect().await;
        observations.resources = resources.into_iter().zip(observed).collect();
        for index in order.steps.iter().chain(&order.on_failure).filter(|s| s.hooks).flat_map(|s| &s.items) {
            if !observations.hooks.contains_key(index) {
                observations.hooks.insert(*index, self.prepare(&manifests[*index], options).await);
            }
        }
        let mut rendered: Vec<ResourceKey> = observations.resources.values().map(|o| o.key.clone()).collect();
        rendered.sort();
        for key in inventory::stale(options.previous.as_ref(), &rendered) {
            let found = self.find(&key).await;
            observations.left_git.push((key, found));
        }
        observations
    }

    /// Observes one rendered object. With `await_kind`, a custom resource whose CRD this render
    /// defines waits a moment for discovery to serve its kind (the CRD was just established).
    pub(crate) async fn observe_resource(
        &self,
        manifest: &Manifest,
        options: &SyncOptions,
        facts: &RenderFacts,
        await_kind: bool,
    ) -> Observed {
        let defined = |key: &ResourceKey| facts.defined_kinds.contains(&(key.group.clone(), key.kind.clone()));
        let mut prepared = self.prepare(manifest, options).await;
        let deadline = std::time::Instant::now() + DISCOVERY_LAG;
        while await_kind && std::time::Instant::now() < deadline && matches!(&prepared, Err((key, _)) if defined(key)) {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            prepared = self.prepare(manifest, options).await;
        }
        let unprepared = |observation| Compared::unprepared(manifest.object.clone(), observation);
        match prepared {
            Ok(target) => {
                let api = self.api_for(&target.key, &target.kind);
                let compared = self.compare_one(&api, &target, options, facts, options.apply).await;
                Observed { key: target.key.clone(), target: Some(target), compared }
            }
            // Its CRD is created by this same sync: the kind is not served yet.
            Err((key, _)) if defined(&key) => {
                Observed { key, target: None, compared: unprepared(Observation::Drifted { live: None }) }
            }
            Err((key, error)) => Observed { key, target: None, compared: unprepared(Observation::Rejected(error)) },
        }
    }

    /// Reads one object that left git.
    async fn find(&self, key: &ResourceKey) -> Found {
        let gvk = GroupVersionKind::gvk(&key.group, &key.version, &key.kind);
        let kind = match self.catalog.kind(&gvk).await {
            Ok(kind) => kind,
            // No such kind is served, so no such object exists.
            Err(KindError::NotServed { .. }) => return Found::Gone,
            Err(err) => return Found::Unreadable(err.into()),
        };
        match self.api_for(key, &kind).get_opt(&key.name).await {
            Ok(Some(live)) => match serde_json::to_value(live) {
                Ok(value) => Found::Live(value),
                Err(err) => Found::Unreadable(ObjectError::refused(err.to_string())),
            },
            Ok(None) => Found::Gone,
            Err(err) => Found::Unreadable(ObjectError::of(&err)),
        }
    }
}
