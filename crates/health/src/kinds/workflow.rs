//! `argoproj.io` Workflow (Argo Workflows, any version): by `.status.phase`. Upstream reads the
//! phase and message without decoding the object, so a field of the wrong type reads as empty.

use lockstep_api::HealthStatusCode::{Degraded, Healthy, Progressing, Unknown};
use serde_json::Value;

use crate::Health;
use crate::json::{Res, lenient_str};

pub(super) fn health(obj: &Value, _version: &str) -> Res<Health> {
    let message = lenient_str(obj, &["status", "message"], "");
    let code = match lenient_str(obj, &["status", "phase"], "") {
        "" | "Pending" | "Running" => Progressing,
        "Succeeded" => Healthy,
        "Failed" | "Error" => Degraded,
        _ => Unknown,
    };
    Ok(Health::new(code, message))
}
