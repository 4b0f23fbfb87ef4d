//! `apps/v1` Deployment: paused is Suspended; otherwise the rollout must be observed and finished
//! (kubectl's rollout-status logic), and an exceeded progress deadline is Degraded.

use lockstep_api::HealthStatusCode::{Degraded, Progressing, Suspended};
use serde_json::Value;

use super::unsupported;
use crate::Health;
use crate::conditions::status_conditions;
use crate::json::{Res, name, strict_bool, strict_int};

pub(super) fn health(obj: &Value, version: &str) -> Res<Health> {
    if version != "v1" {
        return Err(unsupported("Deployment", "apps", version));
    }
    if strict_bool(obj, &["spec", "paused"])?.unwrap_or(false) {
        return Ok(Health::new(Suspended, "Deployment is paused"));
    }
    let generation = strict_int(obj, &["metadata", "generation"])?.unwrap_or(0);
    let observed = strict_int(obj, &["status", "observedGeneration"])?.unwrap_or(0);
    if generation > observed {
        return Ok(Health::new(
            Progressing,
            "Waiting for rollout to finish: observed deployment generation less than desired generation",
        ));
    }
    let conditions = status_conditions(obj)?;
    let progressing = conditions.iter().find(|c| c.type_ == "Progressing");
    if progressing.is_some_and(|c| c.reason == "ProgressDeadlineExceeded") {
        let msg = format!("Deployment {:?} exceeded its progress deadline", name(obj));
        return Ok(Health::new(Degraded, msg));
    }
    let spec_replicas = strict_int(obj, &["spec", "replicas"])?;
    let replicas = strict_int(obj, &["status", "replicas"])?.unwrap_or(0);
    let updated = strict_int(obj, &["status", "updatedReplicas"])?.unwrap_or(0);
    let available = strict_int(obj, &["status", "availableReplicas"])?.unwrap_or(0);
    if let Some(want) = spec_replicas.filter(|want| updated < *want) {
        let msg = format!("Waiting for rollout to finish: {updated} out of {want} new replicas have been updated...");
        return Ok(Health::new(Progressing, msg));
    }
    if replicas > updated {
        let msg = format!(
            "Waiting for rollout to finish: {} old replicas are pending termination...",
            replicas.saturating_sub(updated)
        );
        return Ok(Health::new(Progressing, msg));
    }
    if available < updated {
        let msg = format!("Waiting for rollout to finish: {available} of {updated} updated replicas are available...");
        return Ok(Health::new(Progressing, msg));
    }
    Ok(Health::healthy())
}
