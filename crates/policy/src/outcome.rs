//! What one sync's result means for the Application: whether the API server denied it, and every
//! object with its sync state and health for the status.

use lockstep_api::HealthStatusCode;
use lockstep_engine::{Action, Fault, Progress, SyncResult};
use lockstep_health::Health;

use crate::status::AssessedResource;

/// The first authorization denial of a sync, naming the object and (in the server's words) the verb
/// and resource.
pub fn denial(result: &SyncResult) -> Option<String> {
    let by_object = result
        .resources
        .iter()
        .find_map(|r| r.error.as_ref().filter(|e| e.fault == Fault::Forbidden).map(|e| format!("{}: {e}", r.key)));
    by_object.or_else(|| match &result.progress {
        Progress::Failed(why) if why.fault == Fault::Forbidden => Some(why.message.clone()),
        _ => None,
    })
}

/// Every object after the sync with its health (assessed once, by the engine, when the object was
/// last read or written); one that does not exist is Missing, and what this pass pruned is left out.
pub fn assessed(result: SyncResult) -> Vec<AssessedResource> {
    result
        .resources
        .into_iter()
        // What this pass pruned is gone: counted in the operation, no longer a resource of the app.
        .filter(|r| r.action != Action::Prune)
        .map(|r| AssessedResource {
            health: r.health.unwrap_or(Health { status: HealthStatusCode::Missing, message: None }),
            ignore_health: r.live.as_ref().is_some_and(lockstep_health::ignored),
            key: r.key,
            sync: r.status,
            error: r.error,
            requires_pruning: r.requires_pruning,
            shared_with: r.shared_with,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_api::SyncStatusCode;
    use lockstep_engine::{ObjectError, ResourceKey, ResourceResult};
    use serde_json::json;

    fn key(name: &str) -> ResourceKey {
        ResourceKey { version: "v1".into(), kind: "ConfigMap".into(), name: name.into(), ..Default::default() }
    }

    #[test]
    fn a_denial_is_found_on_data_and_names_the_object() {
        let forbidden = ObjectError { fault: Fault::Forbidden, message: "configmaps is forbidden".into() };
        let mut result = SyncResult::default();
        assert_eq!(denial(&result), None);
        result.progress = Progress::Failed(forbidden.clone());
        assert_eq!(denial(&result).as_deref(), Some("configmaps is forbidden"));
        let mut refused = ResourceResult::pruned(key("a"));
        refused.error = Some(ObjectError::refused("is forbidden: but refused, not denied"));
        let mut denied = ResourceResult::pruned(key("b"));
        denied.error = Some(forbidden);
        result.resources = vec![refused, denied];
        assert_eq!(denial(&result).as_deref(), Some("ConfigMap b: configmaps is forbidden"));
    }

    #[test]
    fn pruned_objects_leave_and_absent_ones_are_missing() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
        let result = SyncResult {
            resources: vec![
                ResourceResult::written(key("a"), Action::Create, live),
                ResourceResult::pruned(key("gone")),
                ResourceResult::prune_unconfirmed(key("unknown"), ObjectError::refused("reset")),
            ],
            ..Default::default()
        };
        let assessed = assessed(result);
        let summary: Vec<_> = assessed.iter().map(|r| (r.key.name.as_str(), r.sync, r.health.status)).collect();
        assert_eq!(
            summary,
            vec![
                ("a", SyncStatusCode::Synced, HealthStatusCode::Healthy),
                ("unknown", SyncStatusCode::OutOfSync, HealthStatusCode::Missing)
            ]
        );
    }
}
