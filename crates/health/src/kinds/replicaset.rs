//! `apps/v1` ReplicaSet: a true ReplicaFailure condition is Degraded; otherwise every desired
//! replica must be available once the latest generation is observed.

use lockstep_api::HealthStatusCode::{Degraded, Progressing};
use serde_json::Value;

use super::unsupported;
use crate::Health;
use crate::conditions::status_conditions;
use crate::json::{Res, strict_int};

pub(super) fn health(obj: &Value, version: &str) -> Res<Health> {
    if version != "v1" {
        return Err(unsupported("ReplicaSet", "apps", version));
    }
    let generation = strict_int(obj, &["metadata", "generation"])?.unwrap_or(0);
    let observed = strict_int(obj, &["status", "observedGeneration"])?.unwrap_or(0);
    if generation > observed {
        return Ok(Health::new(
            Progressing,
            "Waiting for rollout to finish: observed replica set generation less than desired generation",
        ));
    }
    let conditions = status_conditions(obj)?;
    if let Some(failure) = conditions.iter().find(|c| c.type_ == "ReplicaFailure")
        && failure.status == "True"
    {
        return Ok(Health::new(Degraded, failure.message));
    }
    let spec_replicas = strict_int(obj, &["spec", "replicas"])?;
    let available = strict_int(obj, &["status", "availableReplicas"])?.unwrap_or(0);
    if let Some(want) = spec_replicas.filter(|want| available < *want) {
        let msg = format!("Waiting for rollout to finish: {available} out of {want} new replicas are available...");
        return Ok(Health::new(Progressing, msg));
    }
    Ok(Health::healthy())
}
