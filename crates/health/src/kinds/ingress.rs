//! Ingress (`extensions` or `networking.k8s.io`, any version): Healthy once the controller has
//! published at least one load-balancer ingress entry, else Progressing.

use lockstep_api::HealthStatusCode::Progressing;
use serde_json::Value;

use crate::Health;
use crate::json::{Res, nested};

pub(super) fn health(obj: &Value, _version: &str) -> Res<Health> {
    // Upstream ignores lookup errors here: anything but a non-empty list is "no ingress yet".
    match nested(obj, &["status", "loadBalancer", "ingress"]) {
        Ok(Some(Value::Array(items))) if !items.is_empty() => Ok(Health::healthy()),
        _ => Ok(Health::new(Progressing, "")),
    }
}
