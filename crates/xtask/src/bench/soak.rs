//! Scenario 6, git soak: one Application whose repository changes every cycle; each cycle
//! commits, pushes and sends the push webhook, then waits for the new revision to be Synced. The
//! controller's memory is sampled from start to end.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::fixtures::{Repo, config_map, to_yaml};
use super::plan::Plan;
use super::proc::Usage;
use super::report::Measurement;
use super::{Env, k8s, lockstep, webhook};

/// The scenario's name in the report.
const SCENARIO: &str = "6 git soak";

/// Runs the soak.
pub async fn run(env: &Env, plan: &Plan, out: &mut Vec<Measurement>) -> Result<()> {
    let ns = "bench-soak";
    k8s::create_namespace(&env.client, ns).await?;
    let result = cycles(env, plan, ns).await;
    k8s::delete_namespace(&env.client, ns, Duration::from_secs(300)).await?;
    let (samples, cycle_times) = result?;
    let rss: Vec<f64> = samples.iter().map(|u| u.rss_mib).collect();
    let anon: Vec<f64> = samples.iter().map(|u| u.anon_rss_mib).collect();
    let case = format!("{} cycles", plan.soak_cycles);
    let m = |metric: &str, unit: &str, samples: Vec<f64>| {
        Measurement::new(SCENARIO, &case, metric, unit, "lockstep", samples)
    };
    out.push(m("controller RSS at start", "MiB", rss.first().copied().into_iter().collect()));
    out.push(m("controller RSS at end", "MiB", rss.last().copied().into_iter().collect()));
    out.push(m("controller RSS sampled", "MiB", rss));
    out.push(m("controller anonymous RSS at start", "MiB", anon.first().copied().into_iter().collect()));
    out.push(m("controller anonymous RSS at end", "MiB", anon.last().copied().into_iter().collect()));
    out.push(m("fetch cycle (push to Synced)", "s", cycle_times));
    Ok(())
}

/// Sets up and runs the cycles; returns the memory samples and the cycle times.
async fn cycles(env: &Env, plan: &Plan, ns: &str) -> Result<(Vec<Usage>, Vec<f64>)> {
    webhook::create_secret(env, ns).await?;
    let repo = Repo::create(&env.git, &env.run_dir.join("work"), "soak")?;
    repo.write("app/objects.yaml", &to_yaml(&[config_map(0, "0")]))?;
    let mut before = repo.commit_and_push("initial")?;
    let addr = lockstep::free_addr()?;
    let mut controller = lockstep::start(env, ns, "soak", lockstep::Listen { webhook: Some(addr), metrics: None })?;
    k8s::apply(&env.client, ns, &lockstep::application(ns, "soak", &repo.url, "app"), k8s::MANAGER).await?;
    let apps = k8s::applications(&env.client, ns);
    k8s::wait_ready(&apps, 1, Duration::from_secs(120), &|a| lockstep::is_ready(a, Some(&before)))
        .await
        .with_context(|| format!("the soak app never synced; log: {}", controller.log.display()))?;
    webhook::wait_listening(addr).await?;
    let mut samples = vec![controller.usage()?];
    let every = (plan.soak_cycles / 20).max(1);
    let mut times = Vec::new();
    for cycle in 0..plan.soak_cycles {
        controller.check_alive()?;
        repo.write("app/objects.yaml", &to_yaml(&[config_map(0, &(cycle + 1).to_string())]))?;
        let after = repo.commit_and_push(&format!("cycle {cycle}"))?;
        let started = Instant::now();
        webhook::send_push(addr, &webhook::gitlab_push(&repo.url, &before, &after))?;
        loop {
            let app = apps.get("soak").await.context("reading the Application")?;
            if lockstep::is_ready(&app, Some(&after)) {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!("cycle {cycle}: revision {after} not synced after 60s; log: {}", controller.log.display());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        times.push(started.elapsed().as_secs_f64());
        if (cycle + 1) % every == 0 {
            samples.push(controller.usage()?);
        }
        before = after;
    }
    let (first, last) = (samples[0], samples[samples.len() - 1]);
    eprintln!(
        "bench: soak RSS {:.1} → {:.1} MiB (anonymous {:.1} → {:.1} MiB)",
        first.rss_mib, last.rss_mib, first.anon_rss_mib, last.anon_rss_mib
    );
    Ok((samples, times))
}
