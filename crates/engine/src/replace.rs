//! Sync options `Replace=true` / `Force=true` and immutable fields.
//!
//! Options come from the Application (`spec.syncPolicy.syncOptions`) and from each object's
//! annotations `lockstep.dev/sync-options` or Argo CD's `argocd.argoproj.io/sync-options`
//! (comma-separated `Key=value`); the object's own word wins. When the server refuses a change
//! because a field is immutable, an object allowed to be replaced is deleted, waited for and created
//! again; otherwise the server's message (which names the field) gets a hint. The decisions are pure;
//! [`recreate`] does the kube calls.

use std::time::{Duration, Instant};

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, Preconditions, PropagationPolicy};
use kube::core::Status;
use lockstep_api::FIELD_MANAGER;
use serde_json::Value;

use crate::error::{Fault, ObjectError};
use crate::tracking::ARGO_SYNC_OPTIONS;

/// lockstep's own per-object sync-options annotation.
pub const SYNC_OPTIONS_ANNOTATION: &str = "lockstep.dev/sync-options";
/// How long a replaced object may take to go away before the sync gives up on it.
const DELETE_TIMEOUT: Duration = Duration::from_secs(120);

/// The value of sync option `name` for `object`: its annotations first, then the Application's list.
pub fn option(app_wide: &[String], object: &Value, name: &str) -> Option<bool> {
    let annotations = &object["metadata"]["annotations"];
    let from_object = [SYNC_OPTIONS_ANNOTATION, ARGO_SYNC_OPTIONS]
        .iter()
        .filter_map(|a| annotations[*a].as_str())
        .flat_map(|list| list.split(','))
        .filter_map(|item| lookup(item, name))
        .next_back();
    from_object.or_else(|| app_wide.iter().filter_map(|item| lookup(item, name)).next_back())
}

fn lookup(item: &str, name: &str) -> Option<bool> {
    let (key, value) = item.trim().split_once('=')?;
    key.trim().eq_ignore_ascii_case(name).then(|| value.trim().eq_ignore_ascii_case("true"))
}

/// Whether an object may be deleted and recreated when a change to it is refused (`Replace=true` or
/// `Force=true`).
pub fn replace_allowed(app_wide: &[String], object: &Value) -> bool {
    option(app_wide, object, "Replace") == Some(true) || option(app_wide, object, "Force") == Some(true)
}

/// Whether the server refused a write because it would change an immutable field.
pub fn is_immutable(status: &Status) -> bool {
    status.code == 422 && status.message.to_ascii_lowercase().contains("immutable")
}

/// The server's refusal of a write, with a hint when an immutable field was the reason.
pub fn refusal(status: &Status) -> ObjectError {
    ObjectError { fault: Fault::of_code(status.code), message: explain(status) }
}

/// The server's message for a refused write, with a hint when an immutable field was the reason.
pub fn explain(status: &Status) -> String {
    if is_immutable(status) {
        format!(
            "{} (an immutable field changed; add sync option Replace=true to the Application's \
             spec.syncPolicy.syncOptions or the object's lockstep.dev/sync-options annotation to delete and recreate it)",
            status.message
        )
    } else {
        status.message.clone()
    }
}

/// Deletes the live object (its dependents first), waits until it is gone, then applies `object`.
/// `uid` is the live object's as compared: the delete is pinned to it, so a replacement made by
/// someone else in between is not deleted.
pub async fn recreate(
    api: &Api<DynamicObject>,
    name: &str,
    uid: Option<String>,
    object: &Value,
) -> Result<DynamicObject, ObjectError> {
    let params = DeleteParams {
        propagation_policy: Some(PropagationPolicy::Foreground),
        preconditions: uid.map(|uid| Preconditions { uid: Some(uid), resource_version: None }),
        ..Default::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        Err(err) => return Err(ObjectError::of(&err).map_message(|m| format!("deleting to replace: {m}"))),
    }
    let deadline = Instant::now() + DELETE_TIMEOUT;
    loop {
        match api.get_opt(name).await {
            Ok(None) => break,
            Ok(Some(_)) if Instant::now() > deadline => {
                let why = format!("deleted to replace, but still present after {}s", DELETE_TIMEOUT.as_secs());
                return Err(ObjectError::refused(why));
            }
            Ok(Some(_)) => tokio::time::sleep(Duration::from_millis(250)).await,
            Err(err) => {
                return Err(ObjectError::of(&err).map_message(|m| format!("waiting for deletion to replace: {m}")));
            }
        }
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch(name, &params, &Patch::Apply(object))
        .await
        .map_err(|err| ObjectError::of(&err).map_message(|m| format!("recreating: {m}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with(annotation: &str, value: &str) -> Value {
        json!({"metadata": {"annotations": {annotation: value}}})
    }

    #[test]
    fn options_come_from_the_object_then_the_application() {
        let plain = json!({"metadata": {}});
        assert!(!replace_allowed(&[], &plain));
        assert!(replace_allowed(&["Replace=true".into()], &plain));
        assert!(replace_allowed(&["CreateNamespace=true".into(), "Force=true".into()], &plain));
        assert!(replace_allowed(&[], &with(SYNC_OPTIONS_ANNOTATION, "Replace=true")));
        assert!(replace_allowed(&[], &with(ARGO_SYNC_OPTIONS, "Prune=false, Force=true")));
        assert!(
            !replace_allowed(&["Replace=true".into()], &with(ARGO_SYNC_OPTIONS, "Replace=false")),
            "the object wins"
        );
        assert_eq!(option(&[], &plain, "Replace"), None);
    }

    #[test]
    fn immutable_refusals_are_recognised_and_explained() {
        let status = Status {
            code: 422,
            message: "Job.batch \"migrate\" is invalid: spec.template: Invalid value: \"…\": field is immutable".into(),
            ..Default::default()
        };
        assert!(is_immutable(&status));
        let message = explain(&status);
        assert!(message.starts_with("Job.batch \"migrate\" is invalid: spec.template"), "{message}");
        assert!(message.contains("Replace=true"), "{message}");
        let other = Status { code: 422, message: "spec.replicas: Invalid value: -1".into(), ..Default::default() };
        assert!(!is_immutable(&other));
        assert_eq!(explain(&other), other.message);
    }
}
