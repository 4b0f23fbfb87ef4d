//! lockstep's per-object annotations and their Argo CD aliases, read from rendered objects. Pure.

use serde_json::Value;

/// Integer wave; lower waves apply first (default 0).
pub const SYNC_WAVE: [&str; 2] = ["lockstep.dev/sync-wave", "argocd.argoproj.io/sync-wave"];
/// Marks an object as a hook: `PreSync`, `Sync`, `PostSync`, `SyncFail`, `PreDelete` or `Skip`
/// (comma-separated).
pub const HOOK: [&str; 2] = ["lockstep.dev/hook", "argocd.argoproj.io/hook"];
/// When a hook object is deleted: `HookSucceeded`, `HookFailed`, `BeforeHookCreation`.
pub const HOOK_DELETE_POLICY: [&str; 2] = ["lockstep.dev/hook-delete-policy", "argocd.argoproj.io/hook-delete-policy"];
/// Comma-separated `Key=value` sync options (`Prune=false`, `Replace=true`, …).
pub const SYNC_OPTIONS: [&str; 2] = ["lockstep.dev/sync-options", "argocd.argoproj.io/sync-options"];
/// Comma-separated compare options (`IgnoreExtraneous`).
pub const COMPARE_OPTIONS: [&str; 2] = ["lockstep.dev/compare-options", "argocd.argoproj.io/compare-options"];
/// The object's drift mode, overriding `spec.syncPolicy.drift`: `heal`, `warn` or `ignore`.
pub const DRIFT: &str = "lockstep.dev/drift";
/// Identifies the sync operation that created a hook object, so each operation runs its hooks once.
pub const HOOK_OPERATION: &str = "lockstep.dev/hook-operation";

/// The first of `names` set on the object (lockstep's own name wins over Argo's).
pub fn annotation<'a>(object: &'a Value, names: &[&str]) -> Option<&'a str> {
    let annotations = object.get("metadata")?.get("annotations")?;
    names.iter().find_map(|name| annotations.get(*name).and_then(Value::as_str)).map(str::trim)
}

/// The object's sync wave; unparsable values count as 0, as in Argo CD.
pub fn wave(object: &Value) -> i32 {
    annotation(object, &SYNC_WAVE).and_then(|w| w.parse().ok()).unwrap_or(0)
}

/// Whether a comma-separated option list on the object contains `option` (case-insensitive).
pub fn has_option(object: &Value, names: &[&str], option: &str) -> bool {
    annotation(object, names).is_some_and(|opts| opts.split(',').any(|o| o.trim().eq_ignore_ascii_case(option)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lockstep_names_win_and_argo_names_work() {
        let argo = json!({"metadata": {"annotations": {"argocd.argoproj.io/sync-wave": "-2"}}});
        assert_eq!(wave(&argo), -2);
        let both =
            json!({"metadata": {"annotations": {"argocd.argoproj.io/sync-wave": "5", "lockstep.dev/sync-wave": "1"}}});
        assert_eq!(wave(&both), 1);
        assert_eq!(wave(&json!({"metadata": {"annotations": {"lockstep.dev/sync-wave": "x"}}})), 0);
        assert_eq!(wave(&json!({})), 0);
    }

    #[test]
    fn options_are_matched_in_lists() {
        let o = json!({"metadata": {"annotations": {"argocd.argoproj.io/compare-options": "ServerSideDiff=true, IgnoreExtraneous"}}});
        assert!(has_option(&o, &COMPARE_OPTIONS, "ignoreextraneous"));
        assert!(!has_option(&o, &SYNC_OPTIONS, "IgnoreExtraneous"));
    }
}
