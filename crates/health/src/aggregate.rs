//! Folding many objects' health into one (an Application's), and opting objects out of it.

use lockstep_api::HealthStatusCode;
use serde_json::Value;

use crate::Health;
use crate::json::go_annotation;

/// Annotation that, set to `"true"`, leaves an object out of its Application's health.
pub const IGNORE_HEALTHCHECK_ANNOTATION: &str = "lockstep.dev/ignore-healthcheck";

/// Argo CD's spelling of the same opt-out, honoured so Argo manifests move over unchanged.
const ARGO_IGNORE_HEALTHCHECK_ANNOTATION: &str = "argocd.argoproj.io/ignore-healthcheck";

/// Whether `object` opts out of health aggregation (either annotation set to exactly `"true"`).
///
/// Annotations are read as Argo CD reads them from a live object: a non-string value anywhere in
/// `metadata.annotations` makes the object have no annotations at all.
pub fn ignored(object: &Value) -> bool {
    [IGNORE_HEALTHCHECK_ANNOTATION, ARGO_IGNORE_HEALTHCHECK_ANNOTATION]
        .iter()
        .any(|key| go_annotation(object, key) == Some("true"))
}

/// The worst health among `items` (Argo's order: Healthy < Suspended < Progressing < Missing <
/// Degraded < Unknown), with a message naming the first resource that has it.
///
/// Each item is a display name (e.g. `"Deployment ns/name"`) and that object's health; filter
/// out [`ignored`] objects first. No items, or all Healthy, is Healthy with no message.
pub fn aggregate<'a>(items: impl IntoIterator<Item = (&'a str, &'a Health)>) -> Health {
    let mut worst: Option<(&str, &Health)> = None;
    for (name, health) in items {
        if worst.is_none_or(|(_, w)| health.status > w.status) {
            worst = Some((name, health));
        }
    }
    match worst {
        None => Health::healthy(),
        Some((_, h)) if h.status == HealthStatusCode::Healthy => Health::healthy(),
        Some((name, h)) => {
            let message = match h.message.as_deref() {
                Some(msg) if !msg.is_empty() => format!("{name}: {msg}"),
                _ => format!("{name} is {}", h.status),
            };
            Health { status: h.status, message: Some(message) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use HealthStatusCode::*;
    use serde_json::json;

    fn h(status: HealthStatusCode, msg: &str) -> Health {
        Health::new(status, msg)
    }

    #[test]
    fn empty_is_healthy() {
        assert_eq!(aggregate([]), Health::healthy());
    }

    #[test]
    fn all_healthy_has_no_message() {
        let a = h(Healthy, "fine");
        assert_eq!(aggregate([("Pod a", &a), ("Pod b", &a)]), Health::healthy());
    }

    #[test]
    fn worst_wins_in_argo_order() {
        let order = [Healthy, Suspended, Progressing, Missing, Degraded, Unknown];
        for (i, worse) in order.iter().enumerate().skip(1) {
            for better in &order[..i] {
                let b = h(*better, "");
                let w = h(*worse, "");
                assert_eq!(aggregate([("B", &b), ("W", &w)]).status, *worse);
                assert_eq!(aggregate([("W", &w), ("B", &b)]).status, *worse);
            }
        }
    }

    #[test]
    fn message_names_first_worst_resource() {
        let ok = h(Healthy, "");
        let bad1 = h(Degraded, "crash looping");
        let bad2 = h(Degraded, "other");
        let prog = h(Progressing, "");
        let got = aggregate([("Deployment ns/a", &ok), ("Pod ns/b", &bad1), ("Pod ns/c", &bad2), ("Job ns/d", &prog)]);
        assert_eq!(got, h(Degraded, "Pod ns/b: crash looping"));
        let got = aggregate([("Job ns/d", &prog)]);
        assert_eq!(got, h(Progressing, "Job ns/d is Progressing"));
    }

    #[test]
    fn ignore_annotations() {
        let with = |key: &str, value: Value| json!({"metadata": {"annotations": {key: value}}});
        assert!(ignored(&with(IGNORE_HEALTHCHECK_ANNOTATION, json!("true"))));
        assert!(ignored(&with(ARGO_IGNORE_HEALTHCHECK_ANNOTATION, json!("true"))));
        assert!(!ignored(&with(IGNORE_HEALTHCHECK_ANNOTATION, json!("false"))));
        assert!(!ignored(&with(IGNORE_HEALTHCHECK_ANNOTATION, json!(true))));
        assert!(!ignored(&json!({"metadata": {"annotations": "x"}})));
        let mixed = json!({"metadata": {"annotations": {ARGO_IGNORE_HEALTHCHECK_ANNOTATION: "true", "n": 1}}});
        assert!(!ignored(&mixed));
        assert!(!ignored(&json!(null)));
    }
}
