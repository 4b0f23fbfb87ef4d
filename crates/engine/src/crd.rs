//! Waiting for CustomResourceDefinitions applied in a sync to be served.

use std::time::{Duration, Instant};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;

use crate::engine::Engine;
use crate::plan::ResourceResult;

/// How long a CRD may take to become Established before the sync reports it.
const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(30);

impl Engine {
    /// Waits until every CRD among `outcomes` is Established, so custom resources of it can be applied
    /// in the next step; one that is not in time gets an error naming it.
    pub(crate) async fn await_established(&self, outcomes: &mut [ResourceResult]) {
        let api: Api<CustomResourceDefinition> = Api::all(self.client.clone());
        for outcome in outcomes.iter_mut().filter(|o| o.key.kind == "CustomResourceDefinition" && o.error.is_none()) {
            let deadline = Instant::now() + ESTABLISH_TIMEOUT;
            loop {
                let live = api.get_opt(&outcome.key.name).await.ok().flatten();
                let established = live.as_ref().is_some_and(|crd| {
                    crd.status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|c| c.iter().any(|c| c.type_ == "Established" && c.status == "True"))
                });
                if established {
                    // Health is judged on the established object, not the apply response before it.
                    if let Some(established) = live.and_then(|crd| serde_json::to_value(crd).ok()) {
                        *outcome = outcome.clone().with_live(established);
                    }
                    break;
                }
                if Instant::now() > deadline {
                    let why = format!("not Established after {}s", ESTABLISH_TIMEOUT.as_secs());
                    outcome.error = Some(crate::error::ObjectError::refused(why));
                    outcome.status = lockstep_api::SyncStatusCode::OutOfSync;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}
