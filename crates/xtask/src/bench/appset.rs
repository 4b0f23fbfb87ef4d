//! Scenario 8, ApplicationSet: one set with a git directory generator over the largest N
//! directories of the fleet repository. Measures the time until all N Applications exist and until
//! all are Synced and Healthy, the API requests per generated Application, and the controller's
//! memory before and after; then one directory is removed and pushed (with the webhook), and the
//! run checks that exactly one Application goes and that the set rewrites none of the others
//! (their `metadata.generation` is unchanged).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kube::api::ListParams;
use serde_json::json;

use super::fixtures::{app_name, app_path, fleet_repo};
use super::idle::Baseline;
use super::ingress::IngressAddresser;
use super::plan::Plan;
use super::proc::Controller;
use super::report::Measurement;
use super::{Env, apimetrics, idle, k8s, lockstep, webhook};

/// The scenario's name in the report.
const SCENARIO: &str = "8 ApplicationSet";
/// The label the set puts on what it generates.
const SET_LABEL: &str = "lockstep.dev/application-set=fleet";

/// Runs the scenario at the largest size.
pub async fn run(env: &Env, plan: &Plan, out: &mut Vec<Measurement>) -> Result<()> {
    let n = plan.largest();
    let ns = "bench-appset";
    let baseline = idle::baseline(env, plan).await?;
    k8s::create_namespace(&env.client, ns).await?;
    let addresser = IngressAddresser::start(&env.client, ns);
    webhook::create_secret(env, ns).await?;
    let addr = lockstep::free_addr()?;
    let mut controller = lockstep::start(env, ns, "appset", lockstep::Listen { webhook: Some(addr), metrics: None })?;
    let result = measure(env, ns, n, (&mut controller, addr), &baseline, out).await;
    // The controller still runs while the namespace goes, so the Applications' finalizers are honoured.
    let deleted = k8s::delete_namespace(&env.client, ns, Duration::from_secs(900)).await;
    drop(controller);
    drop(addresser);
    result?;
    deleted
}

async fn measure(
    env: &Env,
    ns: &str,
    n: usize,
    (controller, addr): (&mut Controller, std::net::SocketAddr),
    baseline: &Baseline,
    out: &mut Vec<Measurement>,
) -> Result<()> {
    let (repo, first) = fleet_repo(&env.git, &env.run_dir.join("work"), &format!("appset-{n}"), n)?;
    webhook::wait_listening(addr).await?;
    let before_rss = controller.usage()?.rss_mib;
    let case = format!("N={n}");
    let m = |metric: &str, unit: &str, samples: Vec<f64>| {
        Measurement::new(SCENARIO, &case, metric, unit, "lockstep", samples)
    };
    let before = apimetrics::read(&env.cluster)?;
    let set = json!({
        "apiVersion": "lockstep.dev/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "fleet", "namespace": ns},
        "spec": {
            "generators": [{"git": {"repoURL": repo.url, "revision": "main", "directories": [{"path": "apps/*"}]}}],
            "template": {
                "metadata": {"name": "{{path.basename}}"},
                "spec": {
                    "source": {"repoURL": repo.url, "targetRevision": "main", "path": "{{path}}"},
                    "destination": {"namespace": ns},
                    "syncPolicy": {"automated": {"prune": true, "selfHeal": true}}
                }
            }
        }
    });
    let started = Instant::now();
    k8s::apply(&env.client, ns, &set, k8s::MANAGER).await?;
    let apps = k8s::applications(&env.client, ns);
    let timeout = Duration::from_secs(120 + n as u64);
    k8s::wait_ready(&apps, n, timeout, &|_| true)
        .await
        .with_context(|| format!("log: {}", controller.log.display()))?;
    let exist = started.elapsed().as_secs_f64();
    k8s::wait_ready(&apps, n, timeout, &|a| lockstep::is_ready(a, Some(&first)))
        .await
        .with_context(|| format!("log: {}", controller.log.display()))?;
    let synced = started.elapsed().as_secs_f64();
    let after = apimetrics::read(&env.cluster)?;
    let requests = idle::beyond_baseline(&apimetrics::delta(&before, &after), synced / 60.0, Some(baseline)) / n as f64;
    let usage = controller.usage()?;
    eprintln!(
        "bench: appset N={n}: all exist {exist:.2}s, all Synced {synced:.2}s, {requests:.1} requests/app, RSS {before_rss:.1} → {:.1} MiB (peak {:.1})",
        usage.rss_mib, usage.peak_rss_mib
    );
    out.push(m("all Applications exist", "s", vec![exist]));
    out.push(m("all Applications Synced and Healthy", "s", vec![synced]));
    out.push(m("API requests per generated Application", "req", vec![requests]));
    out.push(m("controller RSS before the set", "MiB", vec![before_rss]));
    out.push(m("controller RSS with the set converged", "MiB", vec![usage.rss_mib]));
    out.push(m("controller peak RSS", "MiB", vec![usage.peak_rss_mib]));

    // One directory goes: one Application goes, and the set rewrites none of the others.
    let generations = generations_of(&apps).await?;
    let gone = app_name(n - 1);
    repo.remove(&app_path(n - 1))?;
    let second = repo.commit_and_push("remove one app")?;
    let started = Instant::now();
    webhook::send_push(addr, &webhook::gitlab_push(&repo.url, &first, &second))?;
    loop {
        controller.check_alive()?;
        let left = apps.list(&ListParams::default().labels(SET_LABEL)).await?;
        if left.items.iter().all(|a| a.metadata.name.as_deref() != Some(gone.as_str())) {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            bail!("{gone} still exists 120 s after its directory left git; log: {}", controller.log.display());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    out.push(m("one directory removed: its Application deleted", "s", vec![started.elapsed().as_secs_f64()]));
    tokio::time::sleep(Duration::from_secs(5)).await;
    let now = generations_of(&apps).await?;
    let rewritten =
        now.iter().filter(|(name, generation)| generations.get(*name).is_some_and(|g| g != *generation)).count();
    if now.len() != n - 1 {
        bail!("{} Applications remain, expected {}", now.len(), n - 1);
    }
    eprintln!("bench: appset: {gone} deleted; {rewritten} of the other {} Applications rewritten", n - 1);
    out.push(m("other Applications whose spec the set rewrote", "apps", vec![rewritten as f64]));
    Ok(())
}

/// Each generated Application's `metadata.generation`, which only a spec write changes.
async fn generations_of(apps: &kube::Api<kube::api::DynamicObject>) -> Result<BTreeMap<String, i64>> {
    let list =
        apps.list(&ListParams::default().labels(SET_LABEL)).await.context("listing the generated Applications")?;
    Ok(list
        .items
        .iter()
        .filter_map(|a| Some((a.metadata.name.clone()?, a.metadata.generation.unwrap_or_default())))
        .collect())
}
