//! `apiregistration.k8s.io` APIService (`v1`, `v1beta1`): the Available condition decides,
//! Healthy when true and Progressing otherwise or while it is missing.

use lockstep_api::HealthStatusCode::{Healthy, Progressing};
use serde_json::Value;

use super::unsupported;
use crate::Health;
use crate::conditions::status_conditions;
use crate::json::Res;

pub(super) fn health(obj: &Value, version: &str) -> Res<Health> {
    if version != "v1" && version != "v1beta1" {
        return Err(unsupported("APIService", "apiregistration.k8s.io", version));
    }
    let conditions = status_conditions(obj)?;
    Ok(match conditions.iter().find(|c| c.type_ == "Available") {
        Some(c) => {
            let code = if c.status == "True" { Healthy } else { Progressing };
            Health::new(code, format!("{}: {}", c.reason, c.message))
        }
        None => Health::new(Progressing, "Waiting to be processed"),
    })
}
