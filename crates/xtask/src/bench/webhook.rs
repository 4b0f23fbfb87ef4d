//! Scenario 2, webhook to applied: an app of many ConfigMaps; each trial commits a change to one
//! of them, pushes, tells the system (lockstep: GitLab's push webhook; Flux: its reconcile
//! annotation on the GitRepository, its notification-controller Receiver not being built) and times
//! until the new value is live and the system's status shows the new revision.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kube::Api;
use kube::api::{DynamicObject, Patch, PatchParams};
use serde_json::json;

use super::fixtures::{Repo, config_map, to_yaml};
use super::floor::{APPLY_ONE, ONE};
use super::flux::{self, Flux};
use super::plan::Plan;
use super::proc::Measured;
use super::report::Measurement;
use super::{Env, http, k8s, lockstep};

/// The scenario's name in the report.
const SCENARIO: &str = "2 webhook to applied";
/// The GitLab token the controller's `lockstep-webhook` Secret holds.
const TOKEN: &str = "bench-gitlab-token";
/// How long one trial may take.
const TRIAL_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs the scenario for lockstep and, with `--peer flux`, for Flux.
pub async fn run(env: &Env, plan: &Plan, out: &mut Vec<Measurement>) -> Result<()> {
    let case = format!("{} objects", plan.webhook_objects);
    let metric = "change live, status at new revision";
    let samples = in_namespace(env, "bench-webhook", |ns| lockstep_trials(env, plan, ns)).await?;
    out.push(Measurement::new(SCENARIO, &case, metric, "s", "lockstep", samples).vs_floor(ONE, APPLY_ONE));
    if env.flux.is_some() {
        let samples = in_namespace(env, "bench-webhook-flux", |ns| flux_trials(env, plan, ns)).await?;
        out.push(Measurement::new(SCENARIO, &case, metric, "s", "flux", samples).vs_floor(ONE, APPLY_ONE));
    }
    Ok(())
}

/// Runs `trials` in a fresh namespace `ns` and deletes it after, while the trials' controllers
/// still run (Flux's finalizers need kustomize-controller), then stops them.
async fn in_namespace<'a, F: Future<Output = Result<(Vec<f64>, Box<dyn Measured>)>>>(
    env: &Env,
    ns: &'a str,
    trials: impl FnOnce(&'a str) -> F,
) -> Result<Vec<f64>> {
    k8s::create_namespace(&env.client, ns).await?;
    let result = trials(ns).await;
    let deleted = k8s::delete_namespace(&env.client, ns, Duration::from_secs(300)).await;
    let (samples, controllers) = result?;
    drop(controllers);
    deleted?;
    Ok(samples)
}

/// How a trial tells the system about the push, and how it sees the new revision arrive.
enum System<'a> {
    /// lockstep's push webhook (GitLab's event), and the Application's status.
    Lockstep { addr: SocketAddr, url: &'a str, apps: Box<Api<DynamicObject>> },
    /// Flux's documented on-demand reconcile (the `reconcile.fluxcd.io/requestedAt` annotation
    /// on the GitRepository, what `flux reconcile source git` writes), and the Kustomization's.
    Flux { sources: Box<Api<DynamicObject>>, kustomizations: Box<Api<DynamicObject>> },
}

impl System<'_> {
    async fn notify(&self, before: &str, after: &str) -> Result<()> {
        match self {
            System::Lockstep { addr, url, .. } => send_push(*addr, &gitlab_push(url, before, after)),
            System::Flux { sources, .. } => {
                let now = k8s_openapi::jiff::Timestamp::now().to_string();
                let patch = json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": now}}});
                let params = PatchParams { field_manager: Some(k8s::MANAGER.into()), ..Default::default() };
                sources
                    .patch(flux::SOURCE, &params, &Patch::Merge(&patch))
                    .await
                    .context("annotating the GitRepository")?;
                Ok(())
            }
        }
    }

    async fn at(&self, revision: &str) -> Result<bool> {
        Ok(match self {
            System::Lockstep { apps, .. } => {
                lockstep::is_ready(&apps.get("webhook").await.context("reading the Application")?, Some(revision))
            }
            System::Flux { kustomizations, .. } => {
                flux::is_ready(&kustomizations.get("webhook").await.context("reading the Kustomization")?, revision)
            }
        })
    }
}

/// The app's repository: `objects` ConfigMaps under `app/`.
struct App {
    repo: Repo,
    values: Vec<String>,
}

impl App {
    fn create(env: &Env, name: &str, objects: usize) -> Result<Self> {
        let app =
            Self { repo: Repo::create(&env.git, &env.run_dir.join("work"), name)?, values: vec!["0".into(); objects] };
        app.write()?;
        Ok(app)
    }

    fn write(&self) -> Result<()> {
        let objects: Vec<_> = self.values.iter().enumerate().map(|(i, v)| config_map(i, v)).collect();
        self.repo.write("app/objects.yaml", &to_yaml(&objects))
    }
}

/// lockstep's trials: its controller with the webhook endpoint, one Application.
async fn lockstep_trials(env: &Env, plan: &Plan, ns: &str) -> Result<(Vec<f64>, Box<dyn Measured>)> {
    create_secret(env, ns).await?;
    let mut app = App::create(env, "webhook", plan.webhook_objects)?;
    let before = app.repo.commit_and_push("initial")?;
    let addr = lockstep::free_addr()?;
    let mut controller = lockstep::start(env, ns, "webhook", lockstep::Listen { webhook: Some(addr), metrics: None })?;
    let application = lockstep::application(ns, "webhook", &app.repo.url, "app");
    k8s::apply(&env.client, ns, &application, k8s::MANAGER).await?;
    let apps = k8s::applications(&env.client, ns);
    k8s::wait_ready(&apps, 1, Duration::from_secs(120), &|a| lockstep::is_ready(a, Some(&before)))
        .await
        .with_context(|| format!("the webhook app never synced; log: {}", controller.log.display()))?;
    wait_listening(addr).await?;
    let url = app.repo.url.clone();
    let system = System::Lockstep { addr, url: &url, apps: Box::new(apps) };
    let samples = trials(env, plan, ns, (&system, &mut controller), &mut app, before).await?;
    Ok((samples, Box::new(controller)))
}

/// Flux's trials: its two controllers, one GitRepository and one Kustomization.
async fn flux_trials(env: &Env, plan: &Plan, ns: &str) -> Result<(Vec<f64>, Box<dyn Measured>)> {
    let build = env.flux.as_ref().context("the Flux peer was not built")?;
    let mut app = App::create(env, "webhook-flux", plan.webhook_objects)?;
    let before = app.repo.commit_and_push("initial")?;
    let mut peer = Flux::start(env, build, "webhook")?;
    peer.wait_ready().await?;
    let objects = [flux::git_repository(ns, &app.repo.url), flux::kustomization(ns, "webhook", "app")];
    k8s::apply_all(&env.client, ns, &objects, k8s::MANAGER, 2).await?;
    let kustomizations = k8s::api(&env.client, ns, "kustomize.toolkit.fluxcd.io/v1", "Kustomization");
    k8s::wait_ready(&kustomizations, 1, Duration::from_secs(120), &|k| flux::is_ready(k, &before))
        .await
        .with_context(|| format!("the webhook Kustomization never became ready; logs: {}", peer.logs()))?;
    let sources = k8s::api(&env.client, ns, "source.toolkit.fluxcd.io/v1", "GitRepository");
    let system = System::Flux { sources: Box::new(sources), kustomizations: Box::new(kustomizations) };
    let samples = trials(env, plan, ns, (&system, &mut peer), &mut app, before).await?;
    Ok((samples, Box::new(peer)))
}

/// Each trial commits a change to one ConfigMap, pushes, tells the system and times until the new
/// value is live and the system's status shows the new revision.
async fn trials(
    env: &Env,
    plan: &Plan,
    ns: &str,
    (system, controller): (&System<'_>, &mut dyn Measured),
    app: &mut App,
    mut before: String,
) -> Result<Vec<f64>> {
    let config_maps = k8s::api(&env.client, ns, "v1", "ConfigMap");
    let mut samples = Vec::new();
    for trial in 0..plan.latency_trials {
        controller.check_alive()?;
        let index = trial % app.values.len();
        let value = (trial + 1).to_string();
        app.values[index].clone_from(&value);
        app.write()?;
        let after = app.repo.commit_and_push(&format!("trial {trial}"))?;
        let started = Instant::now();
        system.notify(&before, &after).await?;
        let name = format!("cm-{index:02}");
        loop {
            let live = config_maps.get(&name).await.with_context(|| format!("reading ConfigMap {name}"))?;
            if live.data["data"]["value"] == value.as_str() && system.at(&after).await? {
                break;
            }
            if started.elapsed() > TRIAL_TIMEOUT {
                bail!("trial {trial}: not applied after {TRIAL_TIMEOUT:?}; logs: {}", controller.logs());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let elapsed = started.elapsed().as_secs_f64();
        if trial < 3 || trial % 20 == 0 {
            eprintln!("bench: webhook trial {trial}: {elapsed:.3}s");
        }
        samples.push(elapsed);
        before = after;
    }
    Ok(samples)
}

/// Sends a GitLab push event with the right token; fails unless it is accepted.
pub fn send_push(addr: SocketAddr, body: &[u8]) -> Result<()> {
    let headers = [("Content-Type", "application/json"), ("X-Gitlab-Event", "Push Hook"), ("X-Gitlab-Token", TOKEN)];
    let (status, answer) = http::post(addr, "/api/webhook", &headers, body)?;
    if status != 200 {
        bail!("the webhook answered {status}: {answer}");
    }
    Ok(())
}

/// The `lockstep-webhook` Secret of namespace `ns`, holding the GitLab token.
pub async fn create_secret(env: &Env, ns: &str) -> Result<()> {
    let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "lockstep-webhook"},
                        "stringData": {"gitlab": TOKEN}});
    k8s::apply(&env.client, ns, &secret, k8s::MANAGER).await
}

/// Waits until the webhook endpoint answers at all.
pub async fn wait_listening(addr: SocketAddr) -> Result<()> {
    let started = Instant::now();
    while http::post(addr, "/api/webhook", &[], b"{}").is_err() {
        if started.elapsed() > Duration::from_secs(60) {
            bail!("the controller's webhook endpoint {addr} never answered");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// A GitLab push event for `main` of `url` (shape from GitLab's "Push events" documentation).
pub fn gitlab_push(url: &str, before: &str, after: &str) -> Vec<u8> {
    let body = json!({
        "object_kind": "push", "event_name": "push", "before": before, "after": after,
        "ref": "refs/heads/main", "checkout_sha": after, "user_name": "bench", "project_id": 1,
        "project": {"id": 1, "name": "webhook", "web_url": url, "git_http_url": url,
                    "path_with_namespace": "bench/webhook", "default_branch": "main"},
        "repository": {"name": "webhook", "url": url, "homepage": url, "git_http_url": url},
        "commits": [{"id": after, "message": "bench", "added": [], "modified": ["app/objects.yaml"], "removed": []}],
        "total_commits_count": 1
    });
    body.to_string().into_bytes()
}
