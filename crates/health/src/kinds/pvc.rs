//! `v1` PersistentVolumeClaim, by phase: Bound is Healthy, Pending is Progressing, Lost is
//! Degraded, anything else (no phase yet included) Unknown.

use lockstep_api::HealthStatusCode::{Degraded, Healthy, Progressing, Unknown};
use serde_json::Value;

use super::unsupported;
use crate::Health;
use crate::json::{Res, strict_str};

pub(super) fn health(obj: &Value, version: &str) -> Res<Health> {
    if version != "v1" {
        return Err(unsupported("PersistentVolumeClaim", "", version));
    }
    let code = match strict_str(obj, &["status", "phase"])?.unwrap_or("") {
        "Lost" => Degraded,
        "Pending" => Progressing,
        "Bound" => Healthy,
        _ => Unknown,
    };
    Ok(Health::new(code, ""))
}
