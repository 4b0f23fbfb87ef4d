//! Deleting what left git: reads each object, then carries out what [`crate::prune_plan`] decides.

use kube::api::{DeleteParams, Preconditions, PropagationPolicy};
use kube::core::GroupVersionKind;

use crate::engine::{Engine, SyncOptions};
use crate::error::{Fault, KindError, ObjectError};
use crate::inventory;
use crate::key::ResourceKey;
use crate::plan::{ResourceResult, SyncResult};
use crate::prune_plan::{Found, PruneGuard, PruneStep, decide, unwritten};

impl Engine {
    /// Deletes (or, when not `operation_complete`, reports) what the previous inventory holds and
    /// git no longer renders, in reverse apply order.
    pub(crate) async fn prune(
        &self,
        result: &mut SyncResult,
        render_empty: bool,
        operation_complete: bool,
        options: &SyncOptions,
    ) {
        let rendered: Vec<ResourceKey> = result.resources.iter().map(|r| r.key.clone()).collect();
        let stale = inventory::stale(options.previous.as_ref(), &rendered);
        if stale.is_empty() {
            return;
        }
        let guard =
            PruneGuard { operation_complete, prune: options.prune, render_empty, allow_empty: options.allow_empty };
        result.prune_blocked = guard.blocked(stale.len());
        for key in stale {
            let found = self.find(&key).await;
            let outcome = match decide(&key, found, &options.app, &guard) {
                PruneStep::Delete { live, uid } => self.delete(key, live, uid).await,
                step => unwritten(key, step),
            };
            result.resources.extend(outcome);
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

    /// Deletes one object, pinned to the uid read: an object recreated since then is not the one
    /// that left git. `None` when it turned out to be gone already.
    async fn delete(&self, key: ResourceKey, live: serde_json::Value, uid: Option<String>) -> Option<ResourceResult> {
        let gvk = GroupVersionKind::gvk(&key.group, &key.version, &key.kind);
        let kind = match self.catalog.kind(&gvk).await {
            Ok(kind) => kind,
            Err(err) => return Some(ResourceResult::awaiting_prune(key, live, Some(err.into()))),
        };
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: Some(Preconditions { uid, resource_version: None }),
            ..Default::default()
        };
        match self.api_for(&key, &kind).delete(&key.name, &params).await {
            Ok(_) => Some(ResourceResult::pruned(key)),
            Err(kube::Error::Api(status)) if status.code == 404 => None,
            Err(kube::Error::Api(status)) if status.code == 409 => {
                let why = format!("replaced since it was read; checked again next pass ({})", status.message);
                Some(ResourceResult::awaiting_prune(
                    key,
                    live,
                    Some(ObjectError { fault: Fault::Conflict, message: why }),
                ))
            }
            Err(err) => Some(ResourceResult::awaiting_prune(key, live, Some(ObjectError::of(&err)))),
        }
    }
}
