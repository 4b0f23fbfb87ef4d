//! Scenario 2, webhook to applied: an app of many ConfigMaps; each trial commits a change to one
//! of them, pushes, sends GitLab's push webhook and times until the new value is live and the
//! Application's status shows the new revision.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::json;

use super::fixtures::{Repo, config_map, to_yaml};
use super::floor::{APPLY_ONE, ONE};
use super::plan::Plan;
use super::report::Measurement;
use super::{Env, http, k8s, lockstep};

/// The scenario's name in the report.
const SCENARIO: &str = "2 webhook to applied";
/// The GitLab token the controller's `lockstep-webhook` Secret holds.
const TOKEN: &str = "bench-gitlab-token";
/// How long one trial may take.
const TRIAL_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs the scenario.
pub async fn run(env: &Env, plan: &Plan, out: &mut Vec<Measurement>) -> Result<()> {
    let ns = "bench-webhook";
    k8s::create_namespace(&env.client, ns).await?;
    let result = trials(env, plan, ns).await;
    k8s::delete_namespace(&env.client, ns, Duration::from_secs(300)).await?;
    let samples = result?;
    let case = format!("{} objects", plan.webhook_objects);
    out.push(
        Measurement::new(SCENARIO, &case, "change live, status at new revision", "s", "lockstep", samples)
            .vs_floor(ONE, APPLY_ONE),
    );
    Ok(())
}

/// Sets up the app and controller and returns one sample per trial.
async fn trials(env: &Env, plan: &Plan, ns: &str) -> Result<Vec<f64>> {
    create_secret(env, ns).await?;
    let repo = Repo::create(&env.git, &env.run_dir.join("work"), "webhook")?;
    let mut values: Vec<String> = vec!["0".into(); plan.webhook_objects];
    let write = |values: &[String]| {
        let objects: Vec<_> = values.iter().enumerate().map(|(i, v)| config_map(i, v)).collect();
        repo.write("app/objects.yaml", &to_yaml(&objects))
    };
    write(&values)?;
    let mut before = repo.commit_and_push("initial")?;
    let addr = lockstep::free_addr()?;
    let mut controller = lockstep::start(env, ns, "webhook", lockstep::Listen { webhook: Some(addr), metrics: None })?;
    let app = lockstep::application(ns, "webhook", &repo.url, "app");
    k8s::apply(&env.client, ns, &app, k8s::MANAGER).await?;
    let apps = k8s::applications(&env.client, ns);
    k8s::wait_ready(&apps, 1, Duration::from_secs(120), &|a| lockstep::is_ready(a, Some(&before)))
        .await
        .with_context(|| format!("the webhook app never synced; log: {}", controller.log.display()))?;
    wait_listening(addr).await?;
    let config_maps = k8s::api(&env.client, ns, "v1", "ConfigMap");
    let mut samples = Vec::new();
    for trial in 0..plan.latency_trials {
        controller.check_alive()?;
        let index = trial % values.len();
        let value = (trial + 1).to_string();
        values[index].clone_from(&value);
        write(&values)?;
        let after = repo.commit_and_push(&format!("trial {trial}"))?;
        let body = gitlab_push(&repo.url, &before, &after);
        let started = Instant::now();
        send_push(addr, &body)?;
        let name = format!("cm-{index:02}");
        loop {
            let live = config_maps.get(&name).await.with_context(|| format!("reading ConfigMap {name}"))?;
            if live.data["data"]["value"] == value.as_str() {
                let app = apps.get("webhook").await.context("reading the Application")?;
                if lockstep::is_ready(&app, Some(&after)) {
                    break;
                }
            }
            if started.elapsed() > TRIAL_TIMEOUT {
                bail!("trial {trial}: not applied after {TRIAL_TIMEOUT:?}; log: {}", controller.log.display());
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
