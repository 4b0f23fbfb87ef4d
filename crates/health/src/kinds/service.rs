//! `v1` Service: a LoadBalancer is Progressing until it has an ingress point; others are Healthy.

use lockstep_api::HealthStatusCode::Progressing;
use serde_json::Value;

use super::unsupported;
use crate::Health;
use crate::json::{Res, strict_array, strict_str};

pub(super) fn health(obj: &Value, version: &str) -> Res<Health> {
    if version != "v1" {
        return Err(unsupported("Service", "", version));
    }
    let lb_ingress = strict_array(obj, &["status", "loadBalancer", "ingress"])?;
    if strict_str(obj, &["spec", "type"])? == Some("LoadBalancer") && lb_ingress.is_empty() {
        return Ok(Health::new(Progressing, ""));
    }
    Ok(Health::healthy())
}
