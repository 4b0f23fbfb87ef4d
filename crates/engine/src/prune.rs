//! Deleting what left git, safely.

use kube::api::{DeleteParams, Preconditions, PropagationPolicy};
use kube::core::GroupVersionKind;

use crate::engine::{Engine, SyncOptions};
use crate::error::{Fault, KindError, ObjectError};
use crate::inventory;
use crate::key::ResourceKey;
use crate::plan::{ResourceResult, SyncResult};
use crate::tracking::{AppRef, prune_disabled, tracking_id_of};

impl Engine {
    /// Deletes (or, when not `allowed`, reports) what the previous inventory holds and git no longer
    /// renders, in reverse apply order, and only objects that still carry this Application's tracking id.
    pub(crate) async fn prune(
        &self,
        result: &mut SyncResult,
        render_empty: bool,
        allowed: bool,
        options: &SyncOptions,
    ) {
        let rendered: Vec<ResourceKey> = result.resources.iter().map(|r| r.key.clone()).collect();
        let stale = inventory::stale(options.previous.as_ref(), &rendered);
        if stale.is_empty() {
            return;
        }
        let mut allowed = allowed && options.prune;
        if allowed && render_empty && !options.allow_empty {
            allowed = false;
            result.prune_blocked = Some(format!(
                "git renders no objects; not pruning {} without syncPolicy.automated.allowEmpty",
                stale.len()
            ));
        }
        for key in stale {
            if let Some(outcome) = self.prune_one(key, allowed, &options.app).await {
                result.resources.push(outcome);
            }
        }
    }

    /// `None` when the object is gone or no longer ours: it simply leaves the inventory.
    async fn prune_one(&self, key: ResourceKey, allowed: bool, app: &AppRef) -> Option<ResourceResult> {
        let gvk = GroupVersionKind::gvk(&key.group, &key.version, &key.kind);
        let kind = match self.catalog.kind(&gvk).await {
            Ok(kind) => kind,
            // No such kind is served, so no such object exists.
            Err(KindError::NotServed { .. }) => return None,
            Err(err) => return Some(ResourceResult::prune_unconfirmed(key, err.into())),
        };
        let api = self.api_for(&key, &kind);
        let (live, uid) = match api.get_opt(&key.name).await {
            Ok(Some(live)) => {
                let uid = live.metadata.uid.clone();
                match serde_json::to_value(live) {
                    Ok(value) => (value, uid),
                    Err(err) => {
                        return Some(ResourceResult::prune_unconfirmed(key, ObjectError::refused(err.to_string())));
                    }
                }
            }
            Ok(None) => return None,
            Err(err) => return Some(ResourceResult::prune_unconfirmed(key, ObjectError::of(&err))),
        };
        if tracking_id_of(&live) != Some(app.tracking_id(&key).as_str()) {
            return None;
        }
        if !allowed || prune_disabled(&live) {
            return Some(ResourceResult::awaiting_prune(key, live, None));
        }
        // Pinned to the uid just read: an object recreated since then is not the one that left git.
        let params = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            preconditions: Some(Preconditions { uid, resource_version: None }),
            ..Default::default()
        };
        match api.delete(&key.name, &params).await {
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
