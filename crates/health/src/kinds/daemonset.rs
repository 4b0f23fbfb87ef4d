//! `apps/v1` DaemonSet: observed generation, then every desired pod updated and available;
//! OnDelete sets are Healthy once observed.

use lockstep_api::HealthStatusCode::{Healthy, Progressing};
use serde_json::Value;

use super::unsupported;
use crate::Health;
use crate::json::{Res, name, strict_int, strict_str};

pub(super) fn health(obj: &Value, version: &str) -> Res<Health> {
    if version != "v1" {
        return Err(unsupported("DaemonSet", "apps", version));
    }
    let generation = strict_int(obj, &["metadata", "generation"])?.unwrap_or(0);
    let observed = strict_int(obj, &["status", "observedGeneration"])?.unwrap_or(0);
    if generation > observed {
        return Ok(Health::new(
            Progressing,
            "Waiting for rollout to finish: observed daemon set generation less than desired generation",
        ));
    }
    let desired = strict_int(obj, &["status", "desiredNumberScheduled"])?.unwrap_or(0);
    let updated = strict_int(obj, &["status", "updatedNumberScheduled"])?.unwrap_or(0);
    let available = strict_int(obj, &["status", "numberAvailable"])?.unwrap_or(0);
    if strict_str(obj, &["spec", "updateStrategy", "type"])? == Some("OnDelete") {
        let msg = format!("daemon set {updated} out of {desired} new pods have been updated");
        return Ok(Health::new(Healthy, msg));
    }
    if updated < desired {
        let msg = format!(
            "Waiting for daemon set {:?} rollout to finish: {updated} out of {desired} new pods have been updated...",
            name(obj)
        );
        return Ok(Health::new(Progressing, msg));
    }
    if available < desired {
        let msg = format!(
            "Waiting for daemon set {:?} rollout to finish: {available} of {desired} updated pods are available...",
            name(obj)
        );
        return Ok(Health::new(Progressing, msg));
    }
    Ok(Health::healthy())
}
