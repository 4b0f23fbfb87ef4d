//! `batch` CronJob (any version), after Argo CD's bundled `batch/CronJob` health script: suspended
//! is Suspended, active jobs are Progressing, never scheduled is Healthy, and the last schedule
//! must be followed by a success to be Healthy (else Degraded).

use chrono::{DateTime, FixedOffset};
use lockstep_api::HealthStatusCode::{Degraded, Healthy, Progressing, Suspended};
use serde_json::Value;

use crate::Health;
use crate::json::{Res, strict_array, strict_bool, strict_str};

pub(super) fn health(obj: &Value, _version: &str) -> Res<Health> {
    if strict_bool(obj, &["spec", "suspend"])?.unwrap_or(false) {
        return Ok(Health::new(Suspended, "CronJob is Suspended"));
    }
    if !strict_array(obj, &["status", "active"])?.is_empty() {
        return Ok(Health::new(Progressing, "CronJob has active jobs"));
    }
    let Some(scheduled) = time(obj, "lastScheduleTime")? else {
        return Ok(Health::new(Healthy, "CronJob has never run"));
    };
    match time(obj, "lastSuccessfulTime")? {
        Some(succeeded) if succeeded >= scheduled => Ok(Health::new(Healthy, "CronJob has run successfully")),
        _ => Ok(Health::new(Degraded, "CronJob has not run successfully")),
    }
}

fn time(obj: &Value, field: &str) -> Res<Option<DateTime<FixedOffset>>> {
    strict_str(obj, &["status", field])?
        .map(|s| DateTime::parse_from_rfc3339(s).map_err(|e| format!(".status.{field}: {e}")))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cronjob(status: Value) -> Value {
        json!({"apiVersion": "batch/v1", "kind": "CronJob", "spec": {}, "status": status})
    }

    #[test]
    fn rules() {
        let check = |status: Value| health(&cronjob(status), "v1").expect("ok").status;
        assert_eq!(check(json!({})), Healthy);
        assert_eq!(check(json!({"active": [{"name": "j"}]})), Progressing);
        assert_eq!(
            check(json!({"lastScheduleTime": "2024-01-01T00:00:00Z",
                "lastSuccessfulTime": "2024-01-01T00:00:09Z"})),
            Healthy
        );
        assert_eq!(check(json!({"lastScheduleTime": "2024-01-01T00:00:00Z"})), Degraded);
        assert_eq!(
            check(json!({"lastScheduleTime": "2024-01-02T00:00:00Z",
                "lastSuccessfulTime": "2024-01-01T00:00:09Z"})),
            Degraded
        );
        assert!(health(&cronjob(json!({"lastScheduleTime": "yesterday"})), "v1").is_err());
        let suspended = json!({"spec": {"suspend": true}});
        assert_eq!(health(&suspended, "v1").expect("ok").status, Suspended);
    }
}
