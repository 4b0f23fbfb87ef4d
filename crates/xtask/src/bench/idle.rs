//! Scenario 4, idle cost: with N converged Applications, the controller's memory and CPU over the
//! idle window, the API requests it causes per minute by verb (the API server's own
//! `apiserver_request_total`, less the rate measured before the controller started), and the git
//! requests per minute (the git server's access log).

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use super::Env;
use super::apimetrics::{self, Counts};
use super::fixtures::app_name;
use super::floor::case;
use super::gitserver::GitRequests;
use super::plan::Plan;
use super::proc::Measured;
use super::report::Measurement;

/// The scenario's name in the report.
const SCENARIO: &str = "4 idle cost";

/// Request rates of the cluster without the controller, per minute by verb.
pub struct Baseline {
    per_minute: Counts,
}

/// Measures the API request rate before the controller starts (a fifth of the idle window,
/// between 3 and 60 seconds).
pub async fn baseline(env: &Env, plan: &Plan) -> Result<Baseline> {
    let window = (plan.idle / 5).clamp(Duration::from_secs(3), Duration::from_secs(60));
    let before = apimetrics::read(&env.cluster)?;
    let started = Instant::now();
    tokio::time::sleep(window).await;
    let after = apimetrics::read(&env.cluster)?;
    let minutes = started.elapsed().as_secs_f64() / 60.0;
    let per_minute = apimetrics::delta(&before, &after).into_iter().map(|(verb, n)| (verb, n / minutes)).collect();
    Ok(Baseline { per_minute })
}

/// Measures the idle window of `system` with `n` converged apps.
pub async fn run(
    env: &Env,
    plan: &Plan,
    (system, controller): (&str, &mut dyn Measured),
    (baseline, own): (Option<&Baseline>, Option<std::net::SocketAddr>),
    n: usize,
    out: &mut Vec<Measurement>,
) -> Result<()> {
    tokio::time::sleep(plan.settle).await;
    let api_before = apimetrics::read(&env.cluster)?;
    let own_before = own.map(super::own_requests::read).transpose()?;
    let git_before = env.git.requests(None);
    let usage_before = controller.usage()?;
    let started = Instant::now();
    let mut rss = vec![usage_before.rss_mib];
    while started.elapsed() < plan.idle {
        tokio::time::sleep(plan.sample_every.min(plan.idle.saturating_sub(started.elapsed()))).await;
        controller.check_alive()?;
        rss.push(controller.usage()?.rss_mib);
    }
    let secs = started.elapsed().as_secs_f64();
    let api_after = apimetrics::read(&env.cluster)?;
    let own_after = own.map(super::own_requests::read).transpose()?;
    let git_after = env.git.requests(None);
    let usage_after = controller.usage()?;
    let minutes = secs / 60.0;
    let case = case(n);
    let m =
        |metric: &str, unit: &str, samples: Vec<f64>| Measurement::new(SCENARIO, &case, metric, unit, system, samples);
    out.push(m("controller RSS", "MiB", rss));
    // What of it is heap and stacks rather than mapped files (the binary's pages, git packs).
    out.push(m("controller anonymous RSS (end of window)", "MiB", vec![usage_after.anon_rss_mib]));
    out.push(m("controller CPU", "% of a core", vec![(usage_after.cpu_secs - usage_before.cpu_secs) / secs * 100.0]));
    let rates = controller_rates(&apimetrics::delta(&api_before, &api_after), minutes, baseline);
    let writes: f64 = rates.iter().filter(|(verb, _)| apimetrics::is_write(verb)).map(|(_, r)| r).sum();
    out.push(m("API writes (not dry-run)", "req/min", vec![writes]));
    for (verb, rate) in rates.into_iter().filter(|(_, rate)| *rate > 0.0) {
        out.push(m(&format!("API {verb}"), "req/min", vec![rate]));
    }
    // The controller's own count (`lockstep_kube_requests_total`): no baseline, nothing of the
    // cluster's components, so e.g. how often its watches are re-established shows as it is.
    if let (Some(before), Some(after)) = (own_before, own_after) {
        for (verb, count) in apimetrics::delta(&before, &after).into_iter().filter(|(_, count)| *count > 0.0) {
            out.push(m(&format!("controller's own requests: {verb}"), "req/min", vec![count / minutes]));
        }
    }
    let git = |f: fn(&GitRequests) -> u64| (f(&git_after) - f(&git_before)) as f64 / minutes;
    out.push(m("git ref listings", "req/min", vec![git(|g| g.ref_listings)]));
    out.push(m("git fetches", "req/min", vec![git(|g| g.fetches)]));
    Ok(())
}

/// Records what lockstep's own plan of one converged Application in `ns` would write.
pub fn record_planned_writes(env: &Env, ns: &str, n: usize, out: &mut Vec<Measurement>) -> Result<()> {
    let writes = planned_writes(env, ns, &app_name(0))?;
    let metric = "planned writes, one converged app (sync --dry-run)";
    out.push(Measurement::new(SCENARIO, &case(n), metric, "objects", "lockstep", vec![writes as f64]));
    Ok(())
}

/// Total API requests in `delta`, less what the cluster makes by itself in `minutes` without a
/// controller (never below zero).
pub fn beyond_baseline(delta: &Counts, minutes: f64, baseline: Option<&Baseline>) -> f64 {
    controller_rates(delta, minutes, baseline).iter().map(|(_, rate)| rate * minutes).sum()
}

/// What the controller's own plan (`lockstep sync APP --dry-run`, the value the controller carries
/// out) would write for `app`: a converged Application's plan writes nothing.
fn planned_writes(env: &Env, ns: &str, app: &str) -> Result<usize> {
    let out = std::process::Command::new(&env.lockstep)
        .args(["sync", app, "--dry-run", "-n", ns, "--kubeconfig"])
        .arg(&env.cluster.kubeconfig)
        .env("NO_COLOR", "1")
        .env("LOCKSTEP_CLI_CACHE_DIR", env.run_dir.join("cli-cache"))
        .output()
        .context("running lockstep sync --dry-run")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = text.lines().rev().find_map(|l| l.strip_prefix("plan: "));
    let Some(writes) = summary.and_then(writes_in) else {
        bail!("lockstep sync {app} --dry-run printed no plan: {text}{}", String::from_utf8_lossy(&out.stderr));
    };
    Ok(writes)
}

/// The writes a plan summary counts ("1 to create, 2 to update, 0 to replace, 0 to prune, …").
fn writes_in(summary: &str) -> Option<usize> {
    let counted = |what: &str| -> Option<usize> {
        let part = summary.split(", ").find(|p| p.ends_with(what))?;
        part.split(' ').next()?.parse().ok()
    };
    Some(counted("to create")? + counted("to update")? + counted("to replace")? + counted("to prune")?)
}

/// Per-minute rates by verb of `delta` over `minutes`, less the baseline (never below zero).
fn controller_rates(delta: &Counts, minutes: f64, baseline: Option<&Baseline>) -> Vec<(String, f64)> {
    delta
        .iter()
        .map(|(verb, n)| {
            let base = baseline.and_then(|b| b.per_minute.get(verb)).copied().unwrap_or(0.0);
            (verb.clone(), (n / minutes - base).max(0.0))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_summary_counts_its_writes() {
        let summary = "1 to create, 2 to update, 0 to replace, 3 to prune, 40 unchanged, 1 skipped";
        assert_eq!(writes_in(summary), Some(6));
        assert_eq!(writes_in("no plan"), None);
    }

    #[test]
    fn rates_subtract_the_baseline() {
        let delta: Counts = [("LIST".to_owned(), 20.0), ("GET".to_owned(), 4.0)].into();
        let baseline = Baseline { per_minute: [("LIST".to_owned(), 5.0), ("GET".to_owned(), 9.0)].into() };
        let rates = controller_rates(&delta, 2.0, Some(&baseline));
        assert_eq!(rates, vec![("GET".to_owned(), 0.0), ("LIST".to_owned(), 5.0)]);
    }
}
