//! The engine of one cluster and identity: plans a sync ([`crate::observe`], then the pure
//! [`crate::sync_plan`]) and carries the plan out ([`crate::execute`]).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use kube::Client;
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;
use lockstep_api::{DriftMode, Inventory};
use lockstep_render::Manifest;
use serde_json::Value;

use crate::catalog::{KindInfo, ResourceCatalog};
use crate::error::ObjectError;
use crate::key::ResourceKey;
use crate::plan::{HookRun, SyncResult};
use crate::steps::{SyncOrder, defined_kinds};
use crate::sync_plan::{PlanRules, SyncPlan};
use crate::target::place;
use crate::tracking::{AppRef, mark};
use crate::verified::{LiveVersions, Verified};

/// How many objects of one Application are dry-run or applied at once.
pub(crate) const CONCURRENCY: usize = 8;

/// Per-sync settings taken from the Application.
#[derive(Clone, Debug)]
pub struct SyncOptions {
    /// The Application synced; objects are marked with its tracking id.
    pub app: AppRef,
    /// Namespace for namespaced objects that name none.
    pub default_namespace: String,
    /// Write drifted objects (a sync operation); without it the engine only compares.
    pub apply: bool,
    /// The pass only heals drift of a revision that already synced (`selfHeal`): when nothing has
    /// drifted it is no sync operation, so it runs no hooks and waits on no wave.
    pub heal_only: bool,
    /// The operation is already recorded in the Application's status (a continued one). A new
    /// operation with hooks is recorded before its first hook runs, so that a restart resumes it
    /// (and finds its hooks) rather than starting another that runs them again.
    pub operation_recorded: bool,
    /// Delete objects that left git (only together with `apply`).
    pub prune: bool,
    /// Prune even when the render is empty; otherwise an empty render prunes nothing.
    pub allow_empty: bool,
    /// What the previous sync left managed: the objects that may be pruned.
    pub previous: Option<Inventory>,
    /// Identifies the sync operation, so each of its hooks runs once however many passes it takes.
    pub operation_id: String,
    /// Hook runs this operation already made in earlier passes.
    pub hooks_done: Vec<HookRun>,
    /// The operation ran past its deadline: a step still waiting fails it.
    pub timed_out: bool,
    /// `spec.ignoreDifferences`: fields that neither count as drift nor are overwritten.
    pub ignore_differences: Vec<lockstep_api::ResourceIgnoreDifferences>,
    /// `spec.syncPolicy.syncOptions`: Argo CD's `Key=value` options for every object.
    pub sync_options: Vec<String>,
    /// `spec.syncPolicy.drift`: what a sync does with drift, unless an object's annotation says.
    pub drift: DriftMode,
    /// The previous revision's rendered objects, keyed as the engine addresses them (placed in their
    /// namespace; a namespaced one may be keyed without it): under drift mode `warn` a new revision
    /// applies only the fields git changed since. Empty when unknown: then no drift is overwritten.
    pub previous_objects: BTreeMap<ResourceKey, Value>,
}

/// Applies rendered manifests to one cluster with server-side apply.
pub struct Engine {
    pub(crate) client: Client,
    pub(crate) catalog: ResourceCatalog,
    /// Where Applications live (to tell orphaned objects from shared ones): the controller's own
    /// cluster, read with the controller's identity.
    home: Client,
    /// Objects found in sync, so that unchanged ones skip the dry-run.
    pub(crate) verified: Verified,
    /// What the managed-object watches saw, so that unchanged objects in sync are not read.
    pub(crate) versions: Option<Arc<dyn LiveVersions>>,
}

/// One rendered object made ready to apply: where it goes and how to address it.
#[derive(Clone)]
pub(crate) struct Target {
    pub key: ResourceKey,
    pub object: Value,
    pub kind: KindInfo,
}

/// What the objects of one render tell about each other.
pub(crate) struct RenderFacts {
    /// Namespaces this render creates.
    pub namespaces: HashSet<String>,
    /// `(group, kind)` of custom resources whose CRDs this render creates.
    pub defined_kinds: HashSet<(String, String)>,
}

impl RenderFacts {
    /// What `objects`, one render, create for each other.
    pub fn of(objects: &[Value]) -> Self {
        RenderFacts {
            namespaces: objects
                .iter()
                .filter(|o| o["kind"] == "Namespace" && o["apiVersion"] == "v1")
                .filter_map(|o| o["metadata"]["name"].as_str().map(String::from))
                .collect(),
            defined_kinds: defined_kinds(objects),
        }
    }
}

impl Engine {
    /// An engine for the cluster `client` talks to.
    pub fn new(client: Client) -> Self {
        Self::with_home(client.clone(), client)
    }

    /// An engine writing through `client` (a remote cluster, or an impersonating client) that looks
    /// Applications up through `home`, the controller's own client.
    pub fn with_home(client: Client, home: Client) -> Self {
        Self {
            catalog: ResourceCatalog::new(client.clone()),
            client,
            home,
            verified: Verified::default(),
            versions: None,
        }
    }

    /// This engine, trusting `versions` (the cluster's managed-object watches) to say which objects
    /// changed since they were last found in sync: the others are not read again.
    pub fn with_live_versions(mut self, versions: Arc<dyn LiveVersions>) -> Self {
        self.versions = Some(versions);
        self
    }

    /// How to address a kind, from the discovery cache (asking the server on a miss).
    pub async fn resource_of(&self, key: &ResourceKey) -> Option<kube::discovery::ApiResource> {
        let gvk = GroupVersionKind::gvk(&key.group, &key.version, &key.kind);
        self.catalog.kind(&gvk).await.ok().map(|kind| kind.resource)
    }

    /// Whether objects of a kind are namespaced, from the discovery cache; `None` when the cluster
    /// does not serve the kind (yet).
    pub async fn is_namespaced(&self, api_version: &str, kind: &str) -> Option<bool> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        self.catalog.kind(&gvk).await.ok().map(|info| info.namespaced)
    }

    /// Observes every rendered object and what left git, and decides what a sync does to each:
    /// the plan, before anything is written. `options.apply` says whether a sync follows (it then
    /// skips the dry-run of objects that do not exist yet; the apply answers for them).
    pub async fn plan(&self, manifests: &[Manifest], options: &SyncOptions) -> SyncPlan {
        let objects: Vec<Value> = manifests.iter().map(|m| m.object.clone()).collect();
        let order = SyncOrder::of(&objects);
        let facts = RenderFacts::of(&objects);
        let observations = self.observe(&order, manifests, options, &facts).await;
        let rules = PlanRules {
            app: &options.app,
            prune: options.prune,
            allow_empty: options.allow_empty,
            hooks_done: &options.hooks_done,
        };
        SyncPlan::decide(&order, observations, facts, &rules)
    }

    /// Plans and, with `options.apply`, runs the sync operation: PreSync hooks, resources wave by
    /// wave (each wave healthy before the next), PostSync hooks; on failure the SyncFail hooks. A
    /// rejected object fails the operation but the rest of its wave still applies. Prune runs only
    /// after a complete operation.
    pub async fn sync(&self, manifests: &[Manifest], options: &SyncOptions) -> SyncResult {
        let plan = self.plan(manifests, options).await;
        self.execute(&plan, manifests, options).await
    }

    /// Forgets what this engine remembered about an Application that is gone.
    pub fn forget_application(&self, app: &AppRef) {
        self.verified.forget_app(app);
    }

    /// Resolves the kind, places the object in its namespace and marks it as this Application's.
    pub(crate) async fn prepare(
        &self,
        manifest: &Manifest,
        options: &SyncOptions,
    ) -> Result<Target, (ResourceKey, ObjectError)> {
        self.prepare_for(manifest, &options.app, &options.default_namespace).await
    }

    /// [`Engine::prepare`] for `app`, placing namespaced objects that name none in `default_namespace`.
    pub(crate) async fn prepare_for(
        &self,
        manifest: &Manifest,
        app: &AppRef,
        default_namespace: &str,
    ) -> Result<Target, (ResourceKey, ObjectError)> {
        let written = ResourceKey::of(&manifest.object);
        let gvk = GroupVersionKind::gvk(&written.group, &written.version, &written.kind);
        let kind = self.catalog.kind(&gvk).await.map_err(|err| (written, ObjectError::from(err)))?;
        let object = place(manifest.object.clone(), kind.namespaced, default_namespace);
        let key = ResourceKey::of(&object);
        Ok(Target { object: mark(object, app, &key), key, kind })
    }

    /// Whether the Application `app` exists; on any error it is assumed to, so nothing is taken over.
    pub(crate) async fn application_exists(&self, app: &AppRef) -> bool {
        let api: Api<lockstep_api::Application> = Api::namespaced(self.home.clone(), &app.namespace);
        !matches!(api.get_opt(&app.name).await, Ok(None))
    }

    pub(crate) fn api_for(&self, key: &ResourceKey, kind: &KindInfo) -> Api<DynamicObject> {
        match (&key.namespace, kind.namespaced) {
            (Some(ns), true) => Api::namespaced_with(self.client.clone(), ns, &kind.resource),
            _ => Api::all_with(self.client.clone(), &kind.resource),
        }
    }
}
