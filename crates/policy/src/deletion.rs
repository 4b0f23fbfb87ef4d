//! Deleting an Application's objects (its resources finalizer): which finalizer asks for it, and
//! in which order the objects go.

use lockstep_api::RESOURCES_FINALIZER;
use lockstep_engine::{ResourceKey, order};

/// Argo CD's name for the same finalizer; `/background` and `/foreground` variants are accepted too.
pub const ARGO_RESOURCES_FINALIZER: &str = "resources-finalizer.argocd.argoproj.io";
/// The resources finalizer on the Application, if it has one.
pub fn finalizer_of(finalizers: &[String]) -> Option<&str> {
    finalizers.iter().map(String::as_str).find(|f| {
        *f == RESOURCES_FINALIZER
            || *f == ARGO_RESOURCES_FINALIZER
            || f.starts_with(&format!("{ARGO_RESOURCES_FINALIZER}/"))
    })
}

/// Objects to delete, grouped by stage and kind in reverse apply order: each group must be gone
/// before the next is deleted.
pub fn batches(keys: Vec<ResourceKey>) -> Vec<Vec<ResourceKey>> {
    let mut out: Vec<Vec<ResourceKey>> = Vec::new();
    let rank = |k: &ResourceKey| (order::stage(&k.kind), order::kind_rank(&k.kind));
    for key in keys {
        match out.last_mut() {
            Some(batch) if batch.first().map(rank) == Some(rank(&key)) => batch.push(key),
            _ => out.push(vec![key]),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_engine::inventory;

    fn key(kind: &str, name: &str) -> ResourceKey {
        ResourceKey { version: "v1".into(), kind: kind.into(), name: name.into(), ..Default::default() }
    }

    #[test]
    fn either_finalizer_name_counts() {
        assert_eq!(finalizer_of(&["other".into(), RESOURCES_FINALIZER.into()]), Some(RESOURCES_FINALIZER));
        assert_eq!(finalizer_of(&[ARGO_RESOURCES_FINALIZER.into()]), Some(ARGO_RESOURCES_FINALIZER));
        let background = format!("{ARGO_RESOURCES_FINALIZER}/background");
        assert_eq!(finalizer_of(std::slice::from_ref(&background)), Some(background.as_str()));
        assert_eq!(finalizer_of(&["kubernetes".into()]), None);
    }

    #[test]
    fn deletion_goes_kind_by_kind_in_reverse_apply_order() {
        let listed =
            inventory::of([key("Namespace", "ns"), key("ConfigMap", "a"), key("Service", "s"), key("ConfigMap", "b")]);
        let order: Vec<Vec<String>> = batches(inventory::stale(Some(&listed), &[]))
            .into_iter()
            .map(|b| b.into_iter().map(|k| format!("{}/{}", k.kind, k.name)).collect())
            .collect();
        assert_eq!(
            order,
            vec![
                vec!["Service/s".to_string()],
                vec!["ConfigMap/a".into(), "ConfigMap/b".into()],
                vec!["Namespace/ns".into()]
            ]
        );
    }
}
