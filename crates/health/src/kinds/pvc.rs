//! `v1` PersistentVolumeClaim: Bound is Healthy, Lost is Degraded; Pending is Progressing while a
//! provisioner is working on it and Healthy (waiting for a consumer) otherwise.

use lockstep_api::HealthStatusCode::{Degraded, Healthy, Progressing, Unknown};
use serde_json::Value;

use super::unsupported;
use crate::Health;
use crate::json::{Res, annotation, strict_str};

const PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";

pub(super) fn health(obj: &Value, version: &str) -> Res<Health> {
    if version != "v1" {
        return Err(unsupported("PersistentVolumeClaim", "", version));
    }
    Ok(match strict_str(obj, &["status", "phase"])?.unwrap_or("") {
        "Lost" => Health::new(Degraded, ""),
        "Pending" if annotation(obj, PROVISIONER)?.is_some() => Health::new(Progressing, "Provisioning volume"),
        "Pending" => Health::new(Healthy, "Waiting for consumer"),
        "Bound" => Health::healthy(),
        _ => Health::new(Unknown, ""),
    })
}
