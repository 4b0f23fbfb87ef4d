//! `autoscaling` HorizontalPodAutoscaler: Degraded when any condition reports a failure to scale
//! or to read metrics, else Healthy when AbleToScale or ScalingLimited is true, else Progressing.
//! `v1` keeps its conditions in the `autoscaling.alpha.kubernetes.io/conditions` annotation;
//! `v2` (and the legacy `v2beta1`/`v2beta2`) in `.status.conditions`.

use lockstep_api::HealthStatusCode::{Degraded, Healthy, Progressing};
use serde_json::Value;

use super::unsupported;
use crate::Health;
use crate::conditions::{Condition, status_conditions};
use crate::json::{Res, annotation};

const CONDITIONS_ANNOTATION: &str = "autoscaling.alpha.kubernetes.io/conditions";

/// (condition type, reason) pairs that mean the autoscaler cannot do its job.
const DEGRADED: &[(&str, &str)] = &[
    ("AbleToScale", "FailedGetScale"),
    ("AbleToScale", "FailedUpdateScale"),
    ("ScalingActive", "FailedGetResourceMetric"),
    ("ScalingActive", "FailedGetObjectMetric"),
    ("ScalingActive", "FailedGetPodsMetric"),
    ("ScalingActive", "FailedGetExternalMetric"),
    ("ScalingActive", "FailedComputeMetricsReplicas"),
    ("ScalingActive", "InvalidSelector"),
];

fn waiting() -> Health {
    Health::new(Progressing, "Waiting to Autoscale")
}

pub(super) fn health(obj: &Value, version: &str) -> Res<Health> {
    match version {
        "v1" => {
            let Some(text) = annotation(obj, CONDITIONS_ANNOTATION)? else {
                return Ok(waiting());
            };
            let parsed: Value = serde_json::from_str(text)
                .map_err(|e| format!("failed to convert conditions annotation to typed: {e}"))?;
            let items = match &parsed {
                Value::Null => return Ok(waiting()),
                Value::Array(items) => items,
                _ => {
                    return Err("failed to convert conditions annotation to typed: not a list".into());
                }
            };
            let conditions = items.iter().map(annotation_condition).collect::<Res<Vec<_>>>()?;
            Ok(check(&conditions))
        }
        "v2" | "v2beta1" | "v2beta2" => Ok(check(&status_conditions(obj)?)),
        _ => Err(unsupported("HPA", "autoscaling", version)),
    }
}

fn check(conditions: &[Condition<'_>]) -> Health {
    if let Some(c) = conditions.iter().find(|c| DEGRADED.contains(&(c.type_, c.reason))) {
        return Health::new(Degraded, c.message);
    }
    let healthy = |c: &&Condition<'_>| c.status == "True" && (c.type_ == "AbleToScale" || c.type_ == "ScalingLimited");
    match conditions.iter().find(healthy) {
        Some(c) => Health::new(Healthy, c.message),
        None => waiting(),
    }
}

/// One condition from the annotation's JSON; keys match case-insensitively, like Go's decoder.
fn annotation_condition(item: &Value) -> Res<Condition<'_>> {
    let map = match item {
        Value::Null => return Ok(Condition::default()),
        Value::Object(map) => map,
        _ => return Err("failed to convert conditions annotation to typed: bad entry".into()),
    };
    let field = |name: &str| -> Res<&str> {
        match map.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v) {
            None | Some(Value::Null) => Ok(""),
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(format!("failed to convert conditions annotation to typed: {name}")),
        }
    };
    Ok(Condition {
        type_: field("type")?,
        status: field("status")?,
        reason: field("reason")?,
        message: field("message")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn degraded_anywhere_beats_healthy_first() {
        let obj = json!({"status": {"conditions": [
            {"type": "AbleToScale", "status": "True", "reason": "SucceededGetScale"},
            {"type": "ScalingActive", "status": "False", "reason": "FailedGetResourceMetric",
             "message": "no metrics"}]}});
        let h = health(&obj, "v2").expect("ok");
        assert_eq!(h.status, Degraded);
        assert_eq!(h.message.as_deref(), Some("no metrics"));
    }

    #[test]
    fn bad_annotation_is_an_error() {
        let obj = json!({"metadata": {"annotations": {CONDITIONS_ANNOTATION: "{"}}});
        assert!(health(&obj, "v1").is_err());
        let obj = json!({"metadata": {"annotations": {CONDITIONS_ANNOTATION: "[]"}}});
        assert_eq!(health(&obj, "v1").expect("ok").status, Progressing);
    }
}
