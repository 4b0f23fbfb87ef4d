//! Argo CD's sync-hook annotations as its health code reads them (gitops-engine `pkg/sync/hook`):
//! whether an object is a hook, and the hook finalizer that keeps a deleted hook assessable.

use serde_json::Value;

use crate::json::{go_annotation, go_annotations, go_finalizers};

const ARGO_HOOK: &str = "argocd.argoproj.io/hook";
const HELM_HOOK: &str = "helm.sh/hook";
/// Argo CD keeps hooks it still has to observe with this finalizer.
pub(crate) const HOOK_FINALIZER: &str = "argocd.argoproj.io/hook-finalizer";

/// Argo CD's hook types, in the spelling of the annotation.
const ARGO_HOOK_TYPES: &[&str] = &["PreSync", "Sync", "PostSync", "SyncFail", "Skip"];
/// Helm's hook types Argo CD maps onto its own (pre-* → PreSync, post-* → PostSync).
const HELM_HOOK_TYPES: &[(&str, &str)] = &[
    ("pre-install", "PreSync"),
    ("pre-upgrade", "PreSync"),
    ("post-upgrade", "PostSync"),
    ("post-install", "PostSync"),
];

/// `GetAnnotationCSVs`: the annotation split on commas, trimmed, empties and repeats dropped.
fn annotation_csvs<'a>(obj: &'a Value, key: &str) -> Vec<&'a str> {
    let mut values: Vec<&str> = Vec::new();
    for item in go_annotation(obj, key).unwrap_or("").split(',').map(str::trim) {
        if !item.is_empty() && !values.contains(&item) {
            values.push(item);
        }
    }
    values
}

/// `hook.Types`: the known Argo CD hook types, else the Helm ones mapped onto Argo's.
fn types(obj: &Value) -> Vec<&'static str> {
    let argo: Vec<&'static str> = annotation_csvs(obj, ARGO_HOOK)
        .into_iter()
        .filter_map(|t| ARGO_HOOK_TYPES.iter().copied().find(|known| *known == t))
        .collect();
    if !argo.is_empty() {
        return argo;
    }
    annotation_csvs(obj, HELM_HOOK)
        .into_iter()
        .filter_map(|t| HELM_HOOK_TYPES.iter().find(|(helm, _)| *helm == t).map(|(_, argo)| *argo))
        .collect()
}

/// `hook.Skip`: the only hook type is `Skip`.
fn skip(obj: &Value) -> bool {
    types(obj) == ["Skip"]
}

/// `hook.IsHook`: an Argo CD hook annotation that is not just `Skip`, or a Helm hook annotation
/// other than `crd-install`.
pub(crate) fn is_hook(obj: &Value) -> bool {
    let Some(annotations) = go_annotations(obj) else {
        return false;
    };
    if annotations.contains_key(ARGO_HOOK) {
        return !skip(obj);
    }
    annotations.get(HELM_HOOK).and_then(Value::as_str).is_some_and(|v| v != "crd-install")
}

/// `hook.HasHookFinalizer`.
pub(crate) fn has_hook_finalizer(obj: &Value) -> bool {
    go_finalizers(obj).contains(&HOOK_FINALIZER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn annotated(annotations: Value) -> Value {
        json!({"metadata": {"annotations": annotations}})
    }

    #[test]
    fn argo_hook_types() {
        assert!(is_hook(&annotated(json!({ARGO_HOOK: "PostSync"}))));
        assert!(!is_hook(&annotated(json!({ARGO_HOOK: "Skip"}))));
        assert!(!is_hook(&annotated(json!({ARGO_HOOK: " Skip , Skip,"}))));
        assert!(!is_hook(&annotated(json!({ARGO_HOOK: "Skip,Bogus"}))));
        assert!(is_hook(&annotated(json!({ARGO_HOOK: "Skip,PreSync"}))));
        // Present but with no known type: still a hook.
        assert!(is_hook(&annotated(json!({ARGO_HOOK: "Bogus"}))));
        assert!(is_hook(&annotated(json!({ARGO_HOOK: ""}))));
    }

    #[test]
    fn helm_hooks() {
        assert!(is_hook(&annotated(json!({HELM_HOOK: "pre-install"}))));
        assert!(is_hook(&annotated(json!({HELM_HOOK: "test"}))));
        assert!(!is_hook(&annotated(json!({HELM_HOOK: "crd-install"}))));
        // Argo's Skip decides before Helm's annotation is looked at.
        assert!(!is_hook(&annotated(json!({ARGO_HOOK: "Skip", HELM_HOOK: "pre-install"}))));
        // Helm types count for Skip when Argo's annotation has no known type.
        assert!(is_hook(&annotated(json!({ARGO_HOOK: "Bogus", HELM_HOOK: "post-install"}))));
    }

    #[test]
    fn malformed_annotations_are_no_annotations() {
        assert!(!is_hook(&annotated(json!({HELM_HOOK: "pre-install", "n": 1}))));
        assert!(!is_hook(&annotated(json!("x"))));
    }

    #[test]
    fn finalizer() {
        assert!(has_hook_finalizer(&json!({"metadata": {"finalizers": ["a", HOOK_FINALIZER]}})));
        assert!(!has_hook_finalizer(&json!({"metadata": {"finalizers": [HOOK_FINALIZER, 1]}})));
        assert!(!has_hook_finalizer(&json!({"metadata": {}})));
    }
}
