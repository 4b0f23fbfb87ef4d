//! `batch` CronJob (any version), after Argo CD's bundled `batch/CronJob` health script (a
//! resource customization, not `pkg/health`). It is Healthy unless the last run is known to have
//! failed: suspended, never scheduled, running, or never succeeded all count as Healthy (Argo CD
//! issues 24428 and 24429); no status yet is Progressing.

use lockstep_api::HealthStatusCode::{Degraded, Healthy, Progressing};
use serde_json::Value;

use crate::Health;
use crate::json::{Res, strict, strict_array, strict_bool, strict_str};

pub(super) fn health(obj: &Value, _version: &str) -> Res<Health> {
    if strict_bool(obj, &["spec", "suspend"])? == Some(true) {
        return Ok(Health::new(Healthy, "CronJob is Suspended"));
    }
    if strict(obj, &["status"])?.is_none() {
        return Ok(Health::new(Progressing, "Waiting for CronJob"));
    }
    let Some(scheduled) = strict_str(obj, &["status", "lastScheduleTime"])? else {
        return Ok(Health::new(Healthy, "CronJob has not been scheduled yet"));
    };
    let Some(succeeded) = strict_str(obj, &["status", "lastSuccessfulTime"])? else {
        return Ok(Health::new(Healthy, "The CronJob never completed successfully. It may not be healthy"));
    };
    if !strict_array(obj, &["status", "active"])?.is_empty() {
        return Ok(Health::new(Healthy, "The job is running. Its last execution may not have been successful"));
    }
    // The script compares the timestamps as strings; the API server writes them all in UTC.
    if succeeded < scheduled {
        return Ok(Health::new(Degraded, "CronJob has not completed its last execution successfully"));
    }
    Ok(Health::new(Healthy, "CronJob has completed its last execution successfully"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(spec: Value, status: Value) -> Health {
        let obj = json!({"apiVersion": "batch/v1", "kind": "CronJob", "spec": spec, "status": status});
        health(&obj, "v1").expect("ok")
    }

    #[test]
    fn rules() {
        const T0: &str = "2024-01-01T00:00:00Z";
        const T1: &str = "2024-01-01T00:00:09Z";
        assert_eq!(check(json!({"suspend": true}), json!(null)), Health::new(Healthy, "CronJob is Suspended"));
        assert_eq!(check(json!({}), json!(null)).status, Progressing);
        assert_eq!(check(json!({}), json!({})).message.as_deref(), Some("CronJob has not been scheduled yet"));
        let never = check(json!({}), json!({"lastScheduleTime": T0, "active": [{"name": "j"}]}));
        assert_eq!(never.status, Healthy);
        assert!(never.message.is_some_and(|m| m.contains("never completed")));
        let running = check(json!({}), json!({"lastScheduleTime": T1, "lastSuccessfulTime": T0, "active": [{}]}));
        assert!(running.message.is_some_and(|m| m.contains("is running")));
        assert_eq!(check(json!({}), json!({"lastScheduleTime": T1, "lastSuccessfulTime": T0})).status, Degraded);
        assert_eq!(check(json!({}), json!({"lastScheduleTime": T0, "lastSuccessfulTime": T1})).status, Healthy);
        assert_eq!(check(json!({}), json!({"lastScheduleTime": T0, "lastSuccessfulTime": T0})).status, Healthy);
    }
}
