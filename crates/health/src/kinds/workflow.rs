//! `argoproj.io` Workflow (Argo Workflows, any version): by `.status.phase`.

use lockstep_api::HealthStatusCode::{Degraded, Healthy, Progressing, Unknown};
use serde_json::Value;

use crate::Health;
use crate::json::{Res, strict_str};

pub(super) fn health(obj: &Value, _version: &str) -> Res<Health> {
    let message = strict_str(obj, &["status", "message"])?.unwrap_or("");
    let code = match strict_str(obj, &["status", "phase"])?.unwrap_or("") {
        "" | "Pending" | "Running" => Progressing,
        "Succeeded" => Healthy,
        "Failed" | "Error" => Degraded,
        _ => Unknown,
    };
    Ok(Health::new(code, message))
}
