//! `apps/v1` StatefulSet: observed generation, ready replicas, then partitioned or rolling update
//! progress (kubectl's rollout-status logic); OnDelete sets are Healthy once ready.

use lockstep_api::HealthStatusCode::{Healthy, Progressing};
use serde_json::Value;

use super::unsupported;
use crate::Health;
use crate::json::{Res, strict_int, strict_present_object, strict_str};

pub(super) fn health(obj: &Value, version: &str) -> Res<Health> {
    if version != "v1" {
        return Err(unsupported("StatefulSet", "apps", version));
    }
    let generation = strict_int(obj, &["metadata", "generation"])?.unwrap_or(0);
    let observed = strict_int(obj, &["status", "observedGeneration"])?.unwrap_or(0);
    if observed == 0 || generation > observed {
        return Ok(Health::new(Progressing, "Waiting for statefulset spec update to be observed..."));
    }
    let spec_replicas = strict_int(obj, &["spec", "replicas"])?;
    let ready = strict_int(obj, &["status", "readyReplicas"])?.unwrap_or(0);
    if let Some(want) = spec_replicas.filter(|want| ready < *want) {
        let msg = format!("Waiting for {} pods to be ready...", want.saturating_sub(ready));
        return Ok(Health::new(Progressing, msg));
    }
    let strategy = strict_str(obj, &["spec", "updateStrategy", "type"])?.unwrap_or("");
    let updated = strict_int(obj, &["status", "updatedReplicas"])?.unwrap_or(0);
    let rolling = strict_present_object(obj, &["spec", "updateStrategy", "rollingUpdate"])?;
    if strategy == "RollingUpdate" && rolling {
        let partition = strict_int(obj, &["spec", "updateStrategy", "rollingUpdate", "partition"])?;
        if let (Some(want), Some(partition)) = (spec_replicas, partition)
            && updated < want.saturating_sub(partition)
        {
            let msg = format!(
                "Waiting for partitioned roll out to finish: {updated} out of {} new pods have been updated...",
                want.saturating_sub(partition)
            );
            return Ok(Health::new(Progressing, msg));
        }
        let msg = format!("partitioned roll out complete: {updated} new pods have been updated...");
        return Ok(Health::new(Healthy, msg));
    }
    if strategy == "OnDelete" {
        return Ok(Health::new(Healthy, format!("statefulset has {ready} ready pods")));
    }
    let update_revision = strict_str(obj, &["status", "updateRevision"])?.unwrap_or("");
    let current_revision = strict_str(obj, &["status", "currentRevision"])?.unwrap_or("");
    if update_revision != current_revision {
        let msg = format!(
            "waiting for statefulset rolling update to complete {updated} pods at revision {update_revision}..."
        );
        return Ok(Health::new(Progressing, msg));
    }
    let current = strict_int(obj, &["status", "currentReplicas"])?.unwrap_or(0);
    let msg = format!("statefulset rolling update complete {current} pods at revision {current_revision}...");
    Ok(Health::new(Healthy, msg))
}
