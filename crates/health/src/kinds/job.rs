//! `batch/v1` Job: Progressing until a Complete, Failed or Suspended condition appears; then
//! Failed is Degraded, a true Suspended is Suspended, anything else Healthy.

use lockstep_api::HealthStatusCode::{Degraded, Healthy, Progressing, Suspended};
use serde_json::Value;

use super::unsupported;
use crate::Health;
use crate::conditions::status_conditions;
use crate::json::Res;

pub(super) fn health(obj: &Value, version: &str) -> Res<Health> {
    if version != "v1" {
        return Err(unsupported("Job", "batch", version));
    }
    let mut finished = false;
    let mut failed: Option<&str> = None;
    let mut suspended = false;
    let mut message = "";
    // Upstream looks at the condition types only (a Complete/Failed condition is never False).
    for c in status_conditions(obj)? {
        match c.type_ {
            "Failed" => {
                finished = true;
                failed = Some(c.message);
            }
            "Complete" => {
                finished = true;
                message = c.message;
            }
            "Suspended" => {
                finished = true;
                message = c.message;
                suspended |= c.status == "True";
            }
            _ => {}
        }
    }
    Ok(match (finished, failed) {
        (false, _) => Health::new(Progressing, message),
        (true, Some(fail)) => Health::new(Degraded, fail),
        (true, None) if suspended => Health::new(Suspended, message),
        (true, None) => Health::new(Healthy, message),
    })
}
