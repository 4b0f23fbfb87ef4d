use std::collections::HashSet;

use futures::{StreamExt, stream};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::Client;
use lockstep_api::{FIELD_MANAGER, SyncStatusCode};
use lockstep_render::Manifest;
use serde_json::Value;

use crate::catalog::{KindInfo, ResourceCatalog};
use crate::compare::differs;
use crate::key::ResourceKey;
use crate::order::{kind_rank, stage};
use crate::plan::{Action, Observation, ResourceResult, SyncResult, decide};
use crate::target::place;

/// How many objects of one Application are dry-run or applied at once.
const CONCURRENCY: usize = 8;

/// Per-sync settings taken from the Application.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// Namespace for namespaced objects that name none.
    pub default_namespace: String,
    /// Write drifted objects (automated sync); without it the engine only compares.
    pub apply: bool,
}

/// Applies rendered manifests to one cluster with server-side apply.
pub struct Engine {
    client: Client,
    catalog: ResourceCatalog,
}

/// One rendered object made ready to apply: where it goes and how to address it.
struct Target {
    key: ResourceKey,
    object: Value,
    kind: KindInfo,
}

impl Engine {
    /// An engine for the cluster `client` talks to.
    pub fn new(client: Client) -> Self {
        Self { catalog: ResourceCatalog::new(client.clone()), client }
    }

    /// Compares every manifest with live state and, with `options.apply`, applies what differs.
    /// A rejected object is reported and the others still go ahead.
    pub async fn sync(&self, manifests: &[Manifest], options: &SyncOptions) -> SyncResult {
        let mut result = SyncResult::default();
        let mut targets = Vec::with_capacity(manifests.len());
        for manifest in manifests {
            match self.prepare(manifest, &options.default_namespace).await {
                Ok(target) => targets.push(target),
                Err((key, message)) => {
                    result.resources.push(ResourceResult::observed(key, Observation::Rejected(message)));
                }
            }
        }
        targets.sort_by_key(|t| (stage(&t.key.kind), kind_rank(&t.key.kind)));
        let created_namespaces: HashSet<String> =
            targets.iter().filter(|t| t.key.kind == "Namespace" && t.key.group.is_empty()).map(|t| t.key.name.clone()).collect();

        for current in [0, 1] {
            // Futures are built before streaming them: a closure over `&Target` inside the stream
            // would make the whole sync future not `Send` for every lifetime.
            let pending: Vec<_> = targets
                .iter()
                .filter(|t| stage(&t.key.kind) == current)
                .map(|target| self.sync_one(target, options.apply, &created_namespaces))
                .collect();
            let outcomes: Vec<ResourceResult> = stream::iter(pending).buffered(CONCURRENCY).collect().await;
            result.resources.extend(outcomes);
        }
        result
    }

    async fn prepare(&self, manifest: &Manifest, default_namespace: &str) -> Result<Target, (ResourceKey, String)> {
        let written = ResourceKey::of(&manifest.object);
        let gvk = GroupVersionKind::gvk(&written.group, &written.version, &written.kind);
        let kind = self.catalog.kind(&gvk).await.map_err(|message| (written, message))?;
        let object = place(manifest.object.clone(), kind.namespaced, default_namespace);
        Ok(Target { key: ResourceKey::of(&object), object, kind })
    }

    async fn sync_one(&self, target: &Target, apply: bool, created_namespaces: &HashSet<String>) -> ResourceResult {
        let api = self.api(target);
        let observation = self.observe(&api, target, created_namespaces).await;
        let action = decide(&observation, apply);
        if action == Action::None {
            return ResourceResult::observed(target.key.clone(), observation);
        }
        let params = PatchParams::apply(FIELD_MANAGER).force();
        match api.patch(&target.key.name, &params, &Patch::Apply(&target.object)).await {
            Ok(applied) => ResourceResult {
                key: target.key.clone(),
                status: SyncStatusCode::Synced,
                action,
                error: None,
                live: serde_json::to_value(applied).ok(),
            },
            Err(err) => ResourceResult::observed(target.key.clone(), Observation::Rejected(message(err))),
        }
    }

    /// Asks the server what an apply would store (dry-run) and compares that with the live object.
    async fn observe(&self, api: &Api<DynamicObject>, target: &Target, created_namespaces: &HashSet<String>) -> Observation {
        let params = PatchParams::apply(FIELD_MANAGER).force().dry_run();
        let predicted = match api.patch(&target.key.name, &params, &Patch::Apply(&target.object)).await {
            Ok(predicted) => predicted,
            Err(kube::Error::Api(status))
                if status.code == 404 && target.key.namespace.as_ref().is_some_and(|ns| created_namespaces.contains(ns)) =>
            {
                return Observation::AwaitingNamespace;
            }
            Err(err) => return Observation::Rejected(message(err)),
        };
        let live = match api.get_opt(&target.key.name).await {
            Ok(live) => live,
            Err(err) => return Observation::Rejected(message(err)),
        };
        let (Ok(predicted), Some(Ok(live))) = (serde_json::to_value(predicted), live.map(serde_json::to_value)) else {
            return Observation::Drifted { live: None };
        };
        if differs(&live, &predicted) { Observation::Drifted { live: Some(live) } } else { Observation::InSync { live } }
    }

    fn api(&self, target: &Target) -> Api<DynamicObject> {
        match (&target.key.namespace, target.kind.namespaced) {
            (Some(ns), true) => Api::namespaced_with(self.client.clone(), ns, &target.kind.resource),
            _ => Api::all_with(self.client.clone(), &target.kind.resource),
        }
    }
}

/// The server's own words for a failed request, without the client's wrapping.
fn message(err: kube::Error) -> String {
    match err {
        kube::Error::Api(status) if !status.message.is_empty() => status.message,
        other => other.to_string(),
    }
}
