//! `lockstep.dev` Application (app of apps): the child's own reported health, once its status
//! describes the current generation. Argo CD's `argoproj.io` Application has no built-in rule
//! (it needs a resource customization upstream), so it falls through to kstatus.

use lockstep_api::HealthStatusCode::{self, Degraded, Healthy, Missing, Progressing, Suspended, Unknown};
use serde_json::Value;

use crate::Health;
use crate::json::{Res, strict_int, strict_str};

pub(super) fn health(obj: &Value, _version: &str) -> Res<Health> {
    let generation = strict_int(obj, &["metadata", "generation"])?;
    let observed = strict_int(obj, &["status", "observedGeneration"])?;
    if let (Some(generation), Some(observed)) = (generation, observed)
        && observed < generation
    {
        return Ok(Health::new(Progressing, "Waiting for the Application to be reconciled"));
    }
    let Some(code) = strict_str(obj, &["status", "health", "status"])? else {
        return Ok(Health::new(Progressing, "Waiting for the Application's health to be assessed"));
    };
    let message = strict_str(obj, &["status", "health", "message"])?.unwrap_or("");
    Ok(Health::new(parse_code(code), message))
}

fn parse_code(code: &str) -> HealthStatusCode {
    match code {
        "Healthy" => Healthy,
        "Suspended" => Suspended,
        "Progressing" => Progressing,
        "Missing" => Missing,
        "Degraded" => Degraded,
        _ => Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mirrors_child_health() {
        let obj = json!({"metadata": {"generation": 2},
            "status": {"observedGeneration": 2, "health": {"status": "Degraded", "message": "x"}}});
        assert_eq!(health(&obj, "v1alpha1"), Ok(Health::new(Degraded, "x")));
        let stale = json!({"metadata": {"generation": 3},
            "status": {"observedGeneration": 2, "health": {"status": "Healthy"}}});
        assert_eq!(health(&stale, "v1alpha1").map(|h| h.status), Ok(Progressing));
        assert_eq!(health(&json!({}), "v1alpha1").map(|h| h.status), Ok(Progressing));
    }
}
