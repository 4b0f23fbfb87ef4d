//! The sync operation: runs a [`SyncPlan`] step by step, gating waves on health.

use std::collections::HashSet;

use futures::{StreamExt, stream};
use kube::Client;
use kube::api::{Api, DynamicObject};
use kube::core::GroupVersionKind;
use lockstep_api::{HealthStatusCode, Inventory, SyncStatusCode};
use lockstep_render::Manifest;
use serde_json::Value;

use crate::catalog::{KindInfo, ResourceCatalog};
use crate::error::{Fault, ObjectError};
use crate::hooks::Phase;
use crate::key::ResourceKey;
use crate::plan::{HookRun, HookStatus, Observation, Progress, ResourceResult, SyncResult};
use crate::steps::{Step, SyncPlan, defined_kinds};
use crate::target::place;
use crate::tracking::{AppRef, mark};
use crate::verified::Verified;

/// How long a custom resource waits for its just-established CRD to be served by discovery.
const DISCOVERY_LAG: std::time::Duration = std::time::Duration::from_secs(10);

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
}

/// One rendered object made ready to apply: where it goes and how to address it.
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

impl Engine {
    /// An engine for the cluster `client` talks to.
    pub fn new(client: Client) -> Self {
        Self::with_home(client.clone(), client)
    }

    /// An engine writing through `client` (a remote cluster, or an impersonating client) that looks
    /// Applications up through `home`, the controller's own client.
    pub fn with_home(client: Client, home: Client) -> Self {
        Self { catalog: ResourceCatalog::new(client.clone()), client, home, verified: Verified::default() }
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

    /// Compares every manifest with live state and, with `options.apply`, runs the sync operation:
    /// PreSync hooks, resources wave by wave (each wave healthy before the next), PostSync hooks;
    /// on failure the SyncFail hooks. A rejected object fails the operation but the rest of its wave
    /// still applies. Prune runs only after a complete operation.
    pub async fn sync(&self, manifests: &[Manifest], options: &SyncOptions) -> SyncResult {
        let objects: Vec<Value> = manifests.iter().map(|m| m.object.clone()).collect();
        let plan = SyncPlan::of(&objects);
        let facts = RenderFacts {
            namespaces: objects
                .iter()
                .filter(|o| o["kind"] == "Namespace" && o["apiVersion"] == "v1")
                .filter_map(|o| o["metadata"]["name"].as_str().map(String::from))
                .collect(),
            defined_kinds: defined_kinds(&objects),
        };
        if options.apply
            && options.heal_only
            && let Some(in_sync) = self.unless_drifted(&plan, manifests, options, &facts).await
        {
            return in_sync;
        }
        if options.apply && !options.operation_recorded && plan.steps.iter().any(|s| s.hooks) {
            let mut result = self.compare_resources(&plan, manifests, options, &facts).await;
            result.progress = Progress::Waiting("recording the sync operation before its hooks run".into());
            return result;
        }
        let mut result = SyncResult { hooks: options.hooks_done.clone(), ..Default::default() };
        for step in &plan.steps {
            let active = options.apply && result.progress == Progress::Complete;
            if step.hooks {
                if active {
                    self.run_hook_step(step, manifests, options, &mut result).await;
                }
                continue;
            }
            let outcomes = self.resource_step(step, manifests, options, &facts, active).await;
            if active {
                result.progress = step_progress(step, &outcomes);
            }
            result.resources.extend(outcomes);
        }
        if let (true, Progress::Waiting(why)) = (options.timed_out, &result.progress) {
            result.progress = Progress::Failed(ObjectError::refused(format!("sync timed out: {why}")));
        }
        if options.apply && matches!(result.progress, Progress::Failed(_)) {
            for step in &plan.on_failure {
                self.run_hook_step(step, manifests, options, &mut result).await;
            }
        }
        let prune_allowed = options.apply && result.progress == Progress::Complete;
        self.prune(&mut result, plan.resources().is_empty(), prune_allowed, options).await;
        let managed = result.resources.iter().filter(|r| !r.requires_pruning).map(|r| &r.key);
        self.verified.retain(&options.app, managed);
        result
    }

    /// Compares every resource; when all are in sync, that comparison (and the prune of what left
    /// git) is the pass's whole result. `None` when something drifted or failed: a sync operation
    /// with its hooks and waves follows.
    async fn unless_drifted(
        &self,
        plan: &SyncPlan,
        manifests: &[Manifest],
        options: &SyncOptions,
        facts: &RenderFacts,
    ) -> Option<SyncResult> {
        let mut result = self.compare_resources(plan, manifests, options, facts).await;
        if result.resources.iter().any(|r| r.status != SyncStatusCode::Synced || r.error.is_some()) {
            return None;
        }
        self.prune(&mut result, plan.resources().is_empty(), true, options).await;
        let managed = result.resources.iter().filter(|r| !r.requires_pruning).map(|r| &r.key);
        self.verified.retain(&options.app, managed);
        Some(result)
    }

    /// Compares every resource with live state, writing nothing.
    async fn compare_resources(
        &self,
        plan: &SyncPlan,
        manifests: &[Manifest],
        options: &SyncOptions,
        facts: &RenderFacts,
    ) -> SyncResult {
        let mut result = SyncResult { hooks: options.hooks_done.clone(), ..Default::default() };
        for step in plan.steps.iter().filter(|s| !s.hooks) {
            result.resources.extend(self.resource_step(step, manifests, options, facts, false).await);
        }
        result
    }

    /// Forgets what this engine remembered about an Application that is gone.
    pub fn forget_application(&self, app: &AppRef) {
        self.verified.forget_app(app);
    }

    /// Syncs (or only compares) the resources of one step; with `apply`, CRDs are then awaited.
    async fn resource_step(
        &self,
        step: &Step,
        manifests: &[Manifest],
        options: &SyncOptions,
        facts: &RenderFacts,
        apply: bool,
    ) -> Vec<ResourceResult> {
        // Futures are built before streaming them: a closure over references inside the stream
        // would make the whole sync future not `Send` for every lifetime.
        let pending: Vec<_> =
            step.items.iter().map(|i| self.sync_manifest(&manifests[*i], options, facts, apply)).collect();
        let mut outcomes: Vec<ResourceResult> = stream::iter(pending).buffered(CONCURRENCY).collect().await;
        if apply {
            self.await_established(&mut outcomes).await;
        }
        outcomes
    }

    async fn sync_manifest(
        &self,
        manifest: &Manifest,
        options: &SyncOptions,
        facts: &RenderFacts,
        apply: bool,
    ) -> ResourceResult {
        let mut prepared = self.prepare(manifest, options).await;
        // A CRD established in an earlier step may take a moment to appear in discovery.
        let deadline = std::time::Instant::now() + DISCOVERY_LAG;
        while apply
            && std::time::Instant::now() < deadline
            && matches!(&prepared, Err((key, _)) if facts.defined_kinds.contains(&(key.group.clone(), key.kind.clone())))
        {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            prepared = self.prepare(manifest, options).await;
        }
        match prepared {
            Ok(target) => self.sync_one(&target, options, facts, apply).await,
            Err((key, _)) if !apply && facts.defined_kinds.contains(&(key.group.clone(), key.kind.clone())) => {
                // Its CRD is created by this same sync: the kind is not served yet.
                ResourceResult::observed(key, Observation::Drifted { live: None })
            }
            Err((key, message)) => ResourceResult::observed(key, Observation::Rejected(message)),
        }
    }

    /// Resolves the kind, places the object in its namespace and marks it as this Application's.
    pub(crate) async fn prepare(
        &self,
        manifest: &Manifest,
        options: &SyncOptions,
    ) -> Result<Target, (ResourceKey, ObjectError)> {
        let written = ResourceKey::of(&manifest.object);
        let gvk = GroupVersionKind::gvk(&written.group, &written.version, &written.kind);
        let kind = self.catalog.kind(&gvk).await.map_err(|err| (written, ObjectError::from(err)))?;
        let object = place(manifest.object.clone(), kind.namespaced, &options.default_namespace);
        let key = ResourceKey::of(&object);
        Ok(Target { object: mark(object, &options.app, &key), key, kind })
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

/// Whether the operation may go past a step: failed objects fail it; at a gate, every object must
/// be Healthy (Degraded fails, anything else waits).
fn step_progress(step: &Step, outcomes: &[ResourceResult]) -> Progress {
    let failed: Vec<(&ResourceKey, &ObjectError)> =
        outcomes.iter().filter_map(|r| r.error.as_ref().map(|e| (&r.key, e))).collect();
    if let Some(fault) = Fault::of_all(failed.iter().map(|(_, e)| e.fault)) {
        let message = failed.iter().map(|(key, e)| format!("{key}: {e}")).collect::<Vec<_>>().join("; ");
        return Progress::Failed(ObjectError { fault, message });
    }
    if !step.gate {
        return Progress::Complete;
    }
    let worst = outcomes
        .iter()
        .filter(|r| !r.live.as_ref().is_some_and(lockstep_health::ignored))
        .map(|r| {
            let health = r.live.as_ref().map(lockstep_health::assess);
            let status = health.as_ref().map_or(HealthStatusCode::Missing, |h| h.status);
            (status, r.key.to_string(), health.and_then(|h| h.message))
        })
        .max_by_key(|(status, _, _)| *status);
    match worst {
        Some((HealthStatusCode::Degraded, key, message)) => Progress::Failed(ObjectError::refused(format!(
            "wave {}: {key} is Degraded{}",
            step.wave,
            message.map(|m| format!(": {m}")).unwrap_or_default()
        ))),
        Some((status, key, _)) if status != HealthStatusCode::Healthy => {
            Progress::Waiting(format!("waiting for wave {} to be healthy: {key} is {status}", step.wave))
        }
        _ => Progress::Complete,
    }
}

/// The overall state of a set of hook runs for one step, for gating.
pub(crate) fn hooks_progress(phase: Phase, runs: &[HookRun]) -> Progress {
    if let Some(failed) = runs.iter().find(|r| r.status == HookStatus::Failed) {
        let why = failed.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
        return Progress::Failed(ObjectError::refused(format!("{phase:?} hook {} failed{why}", failed.key)));
    }
    if let Some(running) = runs.iter().find(|r| r.status == HookStatus::Running) {
        return Progress::Waiting(format!("waiting for {phase:?} hook {} to finish", running.key));
    }
    Progress::Complete
}
