//! Dependencies between Applications (`spec.dependsOn`): whether an Application may sync now, and
//! which Applications to look at again when one's status changes. Pure: the controller looks the
//! Applications up in its watch cache.
//!
//! Only direct dependencies are assessed. A dependency that itself waits on something reports
//! `Ready` False (reason `DependencyNotReady`), so it is not ready as a dependency either, and the
//! wait carries down the chain without walking it.

use std::collections::BTreeSet;

use lockstep_api::conditions::READY;
use lockstep_api::{Application, HealthStatusCode, OperationPhase, SyncStatusCode};
use lockstep_engine::AppRef;

/// How many Applications the cycle search visits at most, so a pathological graph costs a bounded walk.
const MAX_VISITED: usize = 10_000;

/// What the dependency decision needs to know of one Application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DependencyView {
    /// The Application.
    pub key: AppRef,
    /// Its `spec.dependsOn`, with an absent namespace defaulted to its own, in spec order.
    pub depends_on: Vec<AppRef>,
    /// Why it is not ready as a dependency (`OutOfSync`, `Progressing`, `sync running`, …), or `None` when it is.
    pub not_ready: Option<String>,
}

impl DependencyView {
    /// The view of an Application as the API server returned it.
    pub fn of(app: &Application) -> Self {
        let namespace = app.metadata.namespace.clone().unwrap_or_default();
        let depends_on = app
            .spec
            .depends_on
            .iter()
            .map(|dep| AppRef {
                namespace: dep.namespace.clone().filter(|ns| !ns.is_empty()).unwrap_or_else(|| namespace.clone()),
                name: dep.name.clone(),
            })
            .collect();
        let key = AppRef { namespace, name: app.metadata.name.clone().unwrap_or_default() };
        DependencyView { key, depends_on, not_ready: not_ready(app) }
    }

    /// Whether Applications depending on this one may sync.
    pub fn is_ready(&self) -> bool {
        self.not_ready.is_none()
    }
}

/// Why an Application is not ready as a dependency, or `None` when it is: not being deleted, its
/// status describes its current spec (`observedGeneration`), no sync operation is `Running`, it is
/// `Synced` and `Healthy`, and its `Ready` condition is True for this generation. `Ready` True alone
/// implies Synced and Healthy; the separate checks give the short reason. `Suspended` is not ready.
fn not_ready(app: &Application) -> Option<String> {
    if app.metadata.deletion_timestamp.is_some() {
        return Some("being deleted".into());
    }
    let Some(status) = app.status.as_ref() else {
        return Some("not reconciled yet".into());
    };
    let generation = app.metadata.generation;
    if status.observed_generation != generation {
        return Some("not reconciled since its last change".into());
    }
    if status.operation_state.as_ref().is_some_and(|op| op.phase == OperationPhase::Running) {
        return Some("sync running".into());
    }
    if status.sync.status != SyncStatusCode::Synced {
        return Some(status.sync.status.to_string());
    }
    if status.health.status != HealthStatusCode::Healthy {
        return Some(status.health.status.to_string());
    }
    match status.conditions.iter().find(|c| c.type_ == READY) {
        None => Some("no Ready condition".into()),
        Some(ready) if ready.observed_generation.is_some() && ready.observed_generation != generation => {
            Some("not reconciled since its last change".into())
        }
        Some(ready) if ready.status != "True" => Some(format!("Ready is {} ({})", ready.status, ready.reason)),
        Some(_) => None,
    }
}

/// Whether an Application may sync as far as its dependencies go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DependencyVerdict {
    /// Every dependency is ready (or there are none).
    Ready,
    /// These dependencies exist but are not ready, each with why.
    Waiting(Vec<(AppRef, String)>),
    /// These dependencies do not exist.
    Missing(Vec<AppRef>),
    /// The Application depends on itself through this path, which starts and ends with it.
    Cycle(Vec<AppRef>),
}

impl DependencyVerdict {
    /// Whether nothing holds the Application back.
    pub fn is_ready(&self) -> bool {
        matches!(self, DependencyVerdict::Ready)
    }

    /// The sentence for the `Ready` condition (reason `DependencyNotReady`), or `None` when ready.
    pub fn message(&self) -> Option<String> {
        let names = |keys: &mut dyn Iterator<Item = String>| keys.collect::<Vec<_>>().join(", ");
        match self {
            DependencyVerdict::Ready => None,
            DependencyVerdict::Waiting(waiting) => {
                let list = names(&mut waiting.iter().map(|(key, why)| format!("{key} ({why})")));
                let noun = if waiting.len() == 1 { "dependency" } else { "dependencies" };
                Some(format!("waiting for {noun}: {list}"))
            }
            DependencyVerdict::Missing(missing) => {
                let list = names(&mut missing.iter().map(AppRef::to_string));
                Some(if missing.len() == 1 {
                    format!("dependency {list} not found")
                } else {
                    format!("dependencies {list} not found")
                })
            }
            DependencyVerdict::Cycle(path) => {
                let path = path.iter().map(AppRef::to_string).collect::<Vec<_>>().join(" → ");
                Some(format!("dependency cycle: {path}"))
            }
        }
    }
}

/// Whether `app` may sync, judged from its direct dependencies as `lookup` finds them. A cycle
/// through `app` is reported first, then missing dependencies, then those not ready. A cycle that
/// `app` only leads into is not its own: the dependency in it reports the cycle and is not ready, so
/// `app` waits on it. An Application `lookup` does not know has nothing to wait for.
pub fn assess(app: &AppRef, lookup: impl Fn(&AppRef) -> Option<DependencyView>) -> DependencyVerdict {
    let Some(view) = lookup(app) else {
        return DependencyVerdict::Ready;
    };
    if let Some(path) = cycle_through(&view, &lookup) {
        return DependencyVerdict::Cycle(path);
    }
    let mut missing = Vec::new();
    let mut waiting = Vec::new();
    for dep in unique(&view.depends_on) {
        match lookup(dep) {
            None => missing.push(dep.clone()),
            Some(found) => {
                if let Some(why) = found.not_ready {
                    waiting.push((dep.clone(), why));
                }
            }
        }
    }
    if !missing.is_empty() {
        DependencyVerdict::Missing(missing)
    } else if !waiting.is_empty() {
        DependencyVerdict::Waiting(waiting)
    } else {
        DependencyVerdict::Ready
    }
}

/// The first path (depth first, in spec order) from `start` back to it, as `[start, …, start]`.
fn cycle_through(start: &DependencyView, lookup: &impl Fn(&AppRef) -> Option<DependencyView>) -> Option<Vec<AppRef>> {
    let mut visited = BTreeSet::from([start.key.clone()]);
    // Each frame: an Application on the current path and the dependencies still to follow from it.
    let mut stack = vec![(start.key.clone(), start.depends_on.clone().into_iter())];
    while let Some((_, next)) = stack.last_mut() {
        let Some(dep) = next.next() else {
            stack.pop();
            continue;
        };
        if dep == start.key {
            let mut path: Vec<AppRef> = stack.iter().map(|(key, _)| key.clone()).collect();
            path.push(dep);
            return Some(path);
        }
        if visited.len() >= MAX_VISITED || !visited.insert(dep.clone()) {
            continue;
        }
        if let Some(found) = lookup(&dep) {
            stack.push((dep, found.depends_on.into_iter()));
        }
    }
    None
}

/// Each key once, in first-seen order.
fn unique(keys: &[AppRef]) -> impl Iterator<Item = &AppRef> {
    let mut seen = BTreeSet::new();
    keys.iter().filter(move |key| seen.insert(*key))
}

/// The Applications whose `spec.dependsOn` names `changed` directly, sorted: those to reconcile at
/// once when `changed`'s status (or existence) changes.
pub fn dependents(changed: &AppRef, apps: impl IntoIterator<Item = DependencyView>) -> Vec<AppRef> {
    let found: BTreeSet<AppRef> =
        apps.into_iter().filter(|view| view.depends_on.contains(changed)).map(|view| view.key).collect();
    found.into_iter().collect()
}

#[cfg(test)]
#[path = "dependencies_tests.rs"]
mod tests;
