//! Deleting what left git, as the plan decided ([`crate::prune_plan`] decides).

use kube::api::{DeleteParams, Preconditions, PropagationPolicy};
use kube::core::GroupVersionKind;

use crate::engine::Engine;
use crate::error::{Fault, ObjectError};
use crate::key::ResourceKey;
use crate::plan::ResourceResult;

impl Engine {
    /// Deletes one object, pinned to the uid read: an object recreated since then is not the one
    /// that left git. `None` when it turned out to be gone already.
    pub(crate) async fn delete(
        &self,
        key: ResourceKey,
        live: serde_json::Value,
        uid: Option<String>,
    ) -> Option<ResourceResult> {
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
