use std::collections::HashSet;

use futures::{StreamExt, stream};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::Client;
use kube::api::DeleteParams;
use lockstep_api::{FIELD_MANAGER, Inventory, SyncStatusCode};
use lockstep_render::Manifest;
use serde_json::Value;

use crate::catalog::{KindInfo, ResourceCatalog};
use crate::compare::differs;
use crate::key::ResourceKey;
use crate::order::{kind_rank, stage};
use crate::plan::{Action, Observation, ResourceResult, SyncResult, decide};
use crate::target::place;
use crate::tracking::{AppRef, mark, owner_of, prune_disabled, tracking_id_of};
use crate::inventory;

/// How many objects of one Application are dry-run or applied at once.
const CONCURRENCY: usize = 8;

/// Per-sync settings taken from the Application.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// The Application synced; objects are marked with its tracking id.
    pub app: AppRef,
    /// Namespace for namespaced objects that name none.
    pub default_namespace: String,
    /// Write drifted objects (automated sync); without it the engine only compares.
    pub apply: bool,
    /// Delete objects that left git (only together with `apply`).
    pub prune: bool,
    /// Prune even when the render is empty; otherwise an empty render prunes nothing.
    pub allow_empty: bool,
    /// What the previous sync left managed: the objects that may be pruned.
    pub previous: Option<Inventory>,
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

    /// How to address a kind, from the discovery cache (asking the server on a miss).
    pub async fn resource_of(&self, key: &ResourceKey) -> Option<kube::discovery::ApiResource> {
        let gvk = GroupVersionKind::gvk(&key.group, &key.version, &key.kind);
        self.catalog.kind(&gvk).await.ok().map(|kind| kind.resource)
    }

    /// Compares every manifest with live state and, with `options.apply`, applies what differs.
    /// A rejected object is reported and the others still go ahead.
    pub async fn sync(&self, manifests: &[Manifest], options: &SyncOptions) -> SyncResult {
        let mut result = SyncResult::default();
        let mut targets = Vec::with_capacity(manifests.len());
        for manifest in manifests {
            match self.prepare(manifest, options).await {
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
                .map(|target| self.sync_one(target, options, &created_namespaces))
                .collect();
            let outcomes: Vec<ResourceResult> = stream::iter(pending).buffered(CONCURRENCY).collect().await;
            result.resources.extend(outcomes);
        }
        self.prune(&mut result, manifests.is_empty(), options).await;
        result
    }

    async fn prepare(&self, manifest: &Manifest, options: &SyncOptions) -> Result<Target, (ResourceKey, String)> {
        let written = ResourceKey::of(&manifest.object);
        let gvk = GroupVersionKind::gvk(&written.group, &written.version, &written.kind);
        let kind = self.catalog.kind(&gvk).await.map_err(|message| (written, message))?;
        let object = place(manifest.object.clone(), kind.namespaced, &options.default_namespace);
        let key = ResourceKey::of(&object);
        Ok(Target { object: mark(object, &options.app, &key), key, kind })
    }

    /// Deletes (or, with prune off, reports) what the previous inventory holds and git no longer
    /// renders, in reverse apply order, and only objects that still carry this Application's tracking id.
    async fn prune(&self, result: &mut SyncResult, render_empty: bool, options: &SyncOptions) {
        let rendered: Vec<ResourceKey> = result.resources.iter().map(|r| r.key.clone()).collect();
        let stale = inventory::stale(options.previous.as_ref(), &rendered);
        if stale.is_empty() {
            return;
        }
        let mut allowed = options.apply && options.prune;
        if allowed && render_empty && !options.allow_empty {
            allowed = false;
            result.prune_blocked = Some(format!(
                "git renders no objects; not pruning {} without syncPolicy.automated.allowEmpty",
                stale.len()
            ));
        }
        for key in stale {
            if let Some(outcome) = self.prune_one(key, allowed, &options.app).await {
                result.resources.push(outcome);
            }
        }
    }

    /// `None` when the object is gone or no longer ours: it simply leaves the inventory.
    async fn prune_one(&self, key: ResourceKey, allowed: bool, app: &AppRef) -> Option<ResourceResult> {
        let gvk = GroupVersionKind::gvk(&key.group, &key.version, &key.kind);
        let kind = match self.catalog.kind(&gvk).await {
            Ok(kind) => kind,
            Err(_) => return None,
        };
        let api = self.api_for(&key, &kind);
        let live = match api.get_opt(&key.name).await {
            Ok(Some(live)) => serde_json::to_value(live).ok()?,
            Ok(None) => return None,
            Err(err) => return Some(ResourceResult::observed(key, Observation::Rejected(message(err)))),
        };
        if tracking_id_of(&live) != Some(app.tracking_id(&key).as_str()) {
            return None;
        }
        if !allowed || prune_disabled(&live) {
            return Some(ResourceResult::awaiting_prune(key, live, None));
        }
        let params = DeleteParams { propagation_policy: Some(kube::api::PropagationPolicy::Background), ..Default::default() };
        match api.delete(&key.name, &params).await {
            Ok(_) => Some(ResourceResult::pruned(key)),
            Err(kube::Error::Api(status)) if status.code == 404 => None,
            Err(err) => Some(ResourceResult::awaiting_prune(key, live, Some(message(err)))),
        }
    }

    async fn sync_one(&self, target: &Target, options: &SyncOptions, created_namespaces: &HashSet<String>) -> ResourceResult {
        let api = self.api(target);
        let observation = self.observe(&api, target, &options.app, created_namespaces).await;
        let action = decide(&observation, options.apply);
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
                requires_pruning: false,
                shared_with: None,
            },
            Err(err) => ResourceResult::observed(target.key.clone(), Observation::Rejected(message(err))),
        }
    }

    /// Asks the server what an apply would store (dry-run) and compares that with the live object.
    async fn observe(
        &self,
        api: &Api<DynamicObject>,
        target: &Target,
        app: &AppRef,
        created_namespaces: &HashSet<String>,
    ) -> Observation {
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
        if let Some(owner) = tracking_id_of(&live).and_then(owner_of).filter(|owner| owner != app) {
            return Observation::Shared { owner: format!("{}/{}", owner.namespace, owner.name), live };
        }
        if differs(&live, &predicted) { Observation::Drifted { live: Some(live) } } else { Observation::InSync { live } }
    }

    fn api(&self, target: &Target) -> Api<DynamicObject> {
        self.api_for(&target.key, &target.kind)
    }

    fn api_for(&self, key: &ResourceKey, kind: &KindInfo) -> Api<DynamicObject> {
        match (&key.namespace, kind.namespaced) {
            (Some(ns), true) => Api::namespaced_with(self.client.clone(), ns, &kind.resource),
            _ => Api::all_with(self.client.clone(), &kind.resource),
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
