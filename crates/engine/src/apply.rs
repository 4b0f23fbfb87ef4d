//! Syncing one object: dry-run apply, compare with live, apply when it differs.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use lockstep_api::{FIELD_MANAGER, SyncStatusCode};

use crate::engine::{Engine, RenderFacts, SyncOptions, Target};
use crate::plan::{Action, Observation, ResourceResult, decide};

impl Engine {
    /// Compares one object with live state and, with `apply`, writes it when it differs.
    pub(crate) async fn sync_one(
        &self,
        target: &Target,
        options: &SyncOptions,
        facts: &RenderFacts,
        apply: bool,
    ) -> ResourceResult {
        let api = self.api_for(&target.key, &target.kind);
        let compared = self.compare_one(&api, target, options, facts, apply).await;
        let action = decide(&compared.observation, apply, compared.replace_allowed);
        if action == Action::None {
            return ResourceResult::observed(target.key.clone(), compared.observation);
        }
        match self.write_one(&api, target, &compared, action).await {
            Ok(live) => {
                self.verified.record(&options.app, &target.key, compared.desired, &live);
                ResourceResult {
                    key: target.key.clone(),
                    status: SyncStatusCode::Synced,
                    action,
                    error: None,
                    live: Some(live),
                    requires_pruning: false,
                    shared_with: None,
                }
            }
            Err(err) => ResourceResult::observed(target.key.clone(), Observation::Rejected(err)),
        }
    }

    /// Server-side applies the object under lockstep's field manager, taking over conflicting fields.
    pub(crate) async fn apply(&self, api: &Api<DynamicObject>, target: &Target) -> Result<serde_json::Value, String> {
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let applied = api.patch(&target.key.name, &params, &Patch::Apply(&target.object)).await.map_err(message)?;
        serde_json::to_value(applied).map_err(|e| e.to_string())
    }
}

/// The server's own words for a failed request, without the client's wrapping.
pub(crate) fn message(err: kube::Error) -> String {
    lockstep_api::kube_error::message(&err)
}
