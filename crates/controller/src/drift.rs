//! What drift mode `warn` needs from the I/O side: the objects of the revision last deployed, so a
//! new revision applies only the fields git changed and drift elsewhere survives
//! ([`lockstep_engine::drift::preserve_drift`] decides).

use std::collections::BTreeMap;

use lockstep_api::{Application, DriftMode};
use lockstep_clusters::ClusterTarget;
use lockstep_engine::{ResourceKey, annotations};
use lockstep_render::Manifest;
use serde_json::Value;
use tracing::warn;

use crate::context::Context;

/// The last deployed revision's objects by key, rendered again (from the git and render caches),
/// when some object of this render is under drift mode `warn` and git moved since. Empty otherwise,
/// or when that render fails: the engine then keeps every drifted field, never overwriting drift it
/// cannot prove git changed.
pub(crate) async fn previous_objects(
    app: &Application,
    ctx: &Context,
    target: &ClusterTarget,
    manifests: &[Manifest],
    revision: &str,
) -> BTreeMap<ResourceKey, Value> {
    let app_mode = app.spec.sync_policy.as_ref().and_then(|p| p.drift).unwrap_or_default();
    if !warns(app_mode, manifests) {
        return BTreeMap::new();
    }
    let deployed = app.status.as_ref().and_then(|s| s.history.last());
    let Some(deployed) = deployed.filter(|d| d.revision != revision) else {
        return BTreeMap::new();
    };
    let mut then = app.clone();
    let recorded: Vec<_> = deployed.source.iter().chain(&deployed.sources).collect();
    then.spec = lockstep_policy::multi_source::pinned(&app.spec, &recorded, &deployed.revision);
    let rendered = match crate::fetch::fetch_all(&then, ctx, None).await {
        Ok(fetched) => crate::fetch::render_all(ctx, target, &then, &fetched).await.map_err(|e| e.to_string()),
        Err(err) => Err(err.to_string()),
    };
    match rendered {
        Ok(rendered) => rendered.manifests.iter().map(|m| (ResourceKey::of(&m.object), m.object.clone())).collect(),
        Err(why) => {
            let revision = lockstep_policy::status::short(&deployed.revision);
            warn!(app = %app.metadata.name.as_deref().unwrap_or_default(), %revision, %why,
                  "the deployed revision could not be rendered again; drift mode warn keeps every drifted field");
            BTreeMap::new()
        }
    }
}

/// Whether the Application or one of its objects asks for drift mode `warn`.
fn warns(app_mode: DriftMode, manifests: &[Manifest]) -> bool {
    app_mode == DriftMode::Warn
        || manifests.iter().any(|m| {
            m.object["metadata"]["annotations"][annotations::DRIFT].as_str().is_some_and(|v| v.trim() == "warn")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manifest(annotations: Value) -> Manifest {
        Manifest {
            object: json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a", "annotations": annotations}}),
            file: "a.yaml".into(),
            document: 0,
        }
    }

    #[test]
    fn warn_on_the_application_or_one_object_asks_for_the_previous_render() {
        let plain = [manifest(json!({}))];
        assert!(!warns(DriftMode::Heal, &plain));
        assert!(warns(DriftMode::Warn, &plain));
        assert!(!warns(DriftMode::Ignore, &plain));
        assert!(warns(DriftMode::Heal, &[manifest(json!({"lockstep.dev/drift": "warn"}))]));
        assert!(!warns(DriftMode::Heal, &[manifest(json!({"lockstep.dev/drift": "ignore"}))]));
    }
}
