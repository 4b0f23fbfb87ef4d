//! Scenario 3, cold convergence: N apps from one repository, from creation to all converged, with
//! the controllers' peak memory and the API requests each app cost. At the largest N the converged
//! fleet then hosts scenario 4 (idle cost) and scenario 5 (drift). With `--peer flux`, Flux runs the
//! same sizes from the same repository and commit in the same run, one system at a time.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use super::apimetrics;
use super::fixtures::{app_name, app_path, fleet_repo};
use super::floor::{APPLIED_AND_OBSERVED, REQUESTS_PER_APP, case};
use super::flux::{self, Flux};
use super::idle::Baseline;
use super::ingress::IngressAddresser;
use super::plan::{Plan, Scenario};
use super::proc::Measured;
use super::report::Measurement;
use super::{Env, drift, idle, k8s, lockstep, own_requests};

/// The scenario's name in the report.
const SCENARIO: &str = "3 cold convergence";
/// Drift trials of Flux: each waits for its interval ([`flux::DRIFT_INTERVAL`]) to come round.
const FLUX_DRIFT_TRIALS: usize = 10;

/// One cold trial's figures.
struct Cold {
    /// Seconds to all converged, or until the trial gave up.
    elapsed: f64,
    peak: f64,
    requests_per_app: f64,
    /// `None` when all converged; else how many had when the trial gave up.
    gave_up_at: Option<usize>,
}

/// How long a Flux trial waits for N Kustomizations before it records how many were Ready and
/// moves on: 6 minutes at N = 100, 10 at 500, 15 at 1,000 (Flux took 4.3 minutes at 500 here).
fn flux_patience(n: usize) -> Duration {
    Duration::from_secs(300 + 3 * n as u64 / 5)
}

/// Runs cold convergence for every size (only the largest when just idle or drift is selected).
pub async fn run(env: &Env, plan: &Plan, out: &mut Vec<Measurement>) -> Result<()> {
    let cold = plan.runs(Scenario::Cold);
    let sizes = if cold { plan.sizes.clone() } else { vec![plan.largest()] };
    let baseline = idle::baseline(env, plan).await?;
    let mut flux_gave_up = false;
    for n in sizes {
        let (repo, sha) = fleet_repo(&env.git, &env.run_dir.join("work"), &format!("fleet-{n}"), n)?;
        let trials = if cold { plan.trials } else { 1 };
        let mut systems: Vec<(&str, Vec<Cold>)> = Vec::new();
        let mut lockstep_trials = Vec::new();
        for trial in 0..trials {
            let hosts_more = trial + 1 == trials && n == plan.largest();
            let ns = format!("bench-fleet-{n}-{trial}");
            let run = lockstep_trial(env, plan, (ns.clone(), n, trial), (&repo.url, &sha), hosts_more, &baseline, out);
            lockstep_trials.push(in_namespace(env, &ns, run).await?);
        }
        systems.push(("lockstep", lockstep_trials));
        if env.flux.is_some() && !flux_gave_up {
            let mut flux_trials = Vec::new();
            for trial in 0..trials {
                let hosts_more = trial + 1 == trials && n == plan.largest();
                let ns = format!("bench-flux-{n}-{trial}");
                let at = (ns.clone(), n, trial);
                let run = flux_trial(env, plan, at, (&repo.url, &sha), hosts_more, &baseline, out);
                let cold = in_namespace(env, &ns, run).await?;
                let gave_up = cold.gave_up_at.is_some();
                flux_trials.push(cold);
                if gave_up {
                    // A larger fleet or another trial would only wait out the same patience.
                    flux_gave_up = true;
                    break;
                }
            }
            systems.push(("flux", flux_trials));
        }
        if cold {
            let case = case(n);
            for (system, trials) in systems {
                // lockstep: every Application Synced and Healthy at the commit; Flux: every
                // Kustomization Ready (applied and health-checked) at the commit.
                let metric = "all converged at the commit";
                let (done, gave_up): (Vec<&Cold>, Vec<&Cold>) = trials.iter().partition(|t| t.gave_up_at.is_none());
                if !done.is_empty() {
                    let times = done.iter().map(|t| t.elapsed).collect();
                    out.push(
                        Measurement::new(SCENARIO, &case, metric, "s", system, times)
                            .vs_floor(&case, APPLIED_AND_OBSERVED),
                    );
                }
                for trial in &gave_up {
                    let ready = trial.gave_up_at.unwrap_or_default() as f64;
                    let metric =
                        format!("not converged: ever ready when the trial gave up after {:.0} s", trial.elapsed);
                    out.push(Measurement::new(SCENARIO, &case, &metric, "apps", system, vec![ready]));
                    let metric = "requests per app until the trial gave up";
                    out.push(Measurement::new(SCENARIO, &case, metric, "req", system, vec![trial.requests_per_app]));
                }
                let peaks = trials.iter().map(|t| t.peak).collect();
                out.push(Measurement::new(SCENARIO, &case, "controller peak RSS", "MiB", system, peaks));
                if !done.is_empty() {
                    let requests = done.iter().map(|t| t.requests_per_app).collect();
                    out.push(
                        Measurement::new(SCENARIO, &case, REQUESTS_PER_APP, "req", system, requests)
                            .vs_floor(&case, REQUESTS_PER_APP),
                    );
                }
            }
        }
    }
    Ok(())
}

/// Runs `trial` in a fresh namespace `ns` with its Ingresses addressed, and deletes the namespace
/// after (while the trial's controllers still run, so finalizers are honoured).
async fn in_namespace<T>(
    env: &Env,
    ns: &str,
    trial: impl Future<Output = Result<(T, Box<dyn Measured>)>>,
) -> Result<T> {
    k8s::create_namespace(&env.client, ns).await?;
    let addresser = IngressAddresser::start(&env.client, ns);
    let result = trial.await;
    let deleted = k8s::delete_namespace(&env.client, ns, Duration::from_secs(900)).await;
    drop(addresser);
    let (figures, controllers) = result?;
    drop(controllers);
    if let Err(err) = deleted {
        // A namespace still deleting slows what follows but does not void what was measured.
        eprintln!("bench: WARNING: {err:#}; the run goes on beside its deletion");
    }
    Ok(figures)
}

/// The API requests of a cold start per app: everything the API server counted from the first
/// apply to convergence, less what the cluster makes by itself in that time.
fn per_app(before: &apimetrics::Counts, env: &Env, minutes: f64, baseline: &Baseline, n: usize) -> Result<f64> {
    let after = apimetrics::read(&env.cluster)?;
    Ok(idle::beyond_baseline(&apimetrics::delta(before, &after), minutes, Some(baseline)) / n as f64)
}

/// One lockstep trial: N Applications to Synced and Healthy; then, on the hosting trial, idle,
/// the plan of a converged app, and drift.
async fn lockstep_trial(
    env: &Env,
    plan: &Plan,
    (ns, n, trial): (String, usize, usize),
    (url, sha): (&str, &str),
    hosts_more: bool,
    baseline: &Baseline,
    out: &mut Vec<Measurement>,
) -> Result<(Cold, Box<dyn Measured>)> {
    let metrics = lockstep::free_addr()?;
    let listen = lockstep::Listen { webhook: None, metrics: Some(metrics) };
    let mut controller = lockstep::start(env, &ns, &format!("fleet-{n}-{trial}"), listen)?;
    lockstep::wait_readyz(&mut controller, metrics).await?;
    let apps: Vec<Value> = (0..n).map(|i| lockstep::application(&ns, &app_name(i), url, &app_path(i))).collect();
    let before = apimetrics::read(&env.cluster)?;
    let own_before = own_requests::read(metrics)?;
    let started = Instant::now();
    k8s::apply_all(&env.client, &ns, &apps, k8s::MANAGER, 32).await?;
    let api = k8s::applications(&env.client, &ns);
    // Longer than the default resync period (3 min), so a missed trigger shows as a slow trial, not a failure.
    let timeout = Duration::from_secs(240 + n as u64);
    k8s::wait_ready(&api, n, timeout, &|a| lockstep::is_ready(a, Some(sha)))
        .await
        .with_context(|| format!("controller log: {}", controller.log.display()))?;
    let elapsed = started.elapsed();
    let requests_per_app = per_app(&before, env, elapsed.as_secs_f64() / 60.0, baseline, n)?;
    if hosts_more {
        // The controller's own count by verb and code (no baseline needed), for the trial that
        // hosts the other scenarios; requests after convergence fall in the idle window.
        let own = apimetrics::delta(&own_before, &own_requests::read(metrics)?);
        for (verb, count) in own.into_iter().filter(|(_, count)| *count > 0.0) {
            let metric = format!("controller's own requests per app: {verb}");
            out.push(Measurement::new(SCENARIO, &case(n), &metric, "req", "lockstep", vec![count / n as f64]));
        }
    }
    let peak = controller.usage()?.peak_rss_mib;
    let elapsed = elapsed.as_secs_f64();
    eprintln!(
        "bench: lockstep cold N={n} trial {trial}: {elapsed:.3}s, peak RSS {peak:.1} MiB, {requests_per_app:.1} requests/app"
    );
    if hosts_more && plan.runs(Scenario::Idle) {
        idle::run(env, plan, ("lockstep", &mut controller), (Some(baseline), Some(metrics)), n, out).await?;
        idle::record_planned_writes(env, &ns, n, out)?;
    }
    if hosts_more && plan.runs(Scenario::Drift) {
        let targets = drift::Targets::spread(plan.latency_trials);
        drift::run(env, (&ns, n), ("lockstep", &mut controller), targets, out).await?;
    }
    Ok((Cold { elapsed, peak, requests_per_app, gave_up_at: None }, Box::new(controller)))
}

/// One Flux trial: one GitRepository and N Kustomizations to Ready at the commit; then, on the
/// hosting trial, idle and drift (on one Kustomization given a short interval).
async fn flux_trial(
    env: &Env,
    plan: &Plan,
    (ns, n, trial): (String, usize, usize),
    (url, sha): (&str, &str),
    hosts_more: bool,
    baseline: &Baseline,
    out: &mut Vec<Measurement>,
) -> Result<(Cold, Box<dyn Measured>)> {
    let build = env.flux.as_ref().context("the Flux peer was not built")?;
    let mut peer = Flux::start(env, build, &format!("fleet-{n}-{trial}"))?;
    peer.wait_ready().await?;
    let mut objects = vec![flux::git_repository(&ns, url)];
    objects.extend((0..n).map(|i| flux::kustomization(&ns, &app_name(i), &app_path(i))));
    let before = apimetrics::read(&env.cluster)?;
    let started = Instant::now();
    k8s::apply_all(&env.client, &ns, &objects, k8s::MANAGER, 32).await?;
    let api = k8s::api(&env.client, &ns, "kustomize.toolkit.fluxcd.io/v1", "Kustomization");
    let gave_up_at = match k8s::wait_each_ready(&api, n, flux_patience(n), &|k| flux::is_ready(k, sha)).await? {
        k8s::Convergence::Done(_) => None,
        k8s::Convergence::GaveUp { ready, waiting } => {
            // Flux still reconciling after its patience is a result, not a harness failure.
            eprintln!("bench: flux cold N={n} trial {trial} gave up ({}); never ready: {waiting}", peer.logs());
            Some(ready)
        }
    };
    let elapsed = started.elapsed();
    let requests_per_app = per_app(&before, env, elapsed.as_secs_f64() / 60.0, baseline, n)?;
    let usage = peer.usage()?;
    let peak = usage.peak_rss_mib;
    let elapsed = elapsed.as_secs_f64();
    eprintln!(
        "bench: flux cold N={n} trial {trial}: {elapsed:.3}s, peak RSS {peak:.1} MiB, {requests_per_app:.1} \
         requests/app, RSS now {:.1} MiB, not ready {:?}",
        usage.rss_mib,
        gave_up_at.map(|ready| n - ready)
    );
    if gave_up_at.is_some() {
        let metric = "controllers' RSS when the trial gave up";
        out.push(Measurement::new(SCENARIO, &case(n), metric, "MiB", "flux", vec![usage.rss_mib]));
        return Ok((Cold { elapsed, peak, requests_per_app, gave_up_at }, Box::new(peer)));
    }
    if hosts_more && plan.runs(Scenario::Idle) {
        idle::run(env, plan, ("flux", &mut peer), (Some(baseline), None), n, out).await?;
    }
    if hosts_more && plan.runs(Scenario::Drift) {
        shorten_interval(&api, &app_name(0)).await?;
        let targets = drift::Targets::first(plan.latency_trials.min(FLUX_DRIFT_TRIALS));
        drift::run(env, (&ns, n), ("flux", &mut peer), targets, out).await?;
    }
    Ok((Cold { elapsed, peak, requests_per_app, gave_up_at }, Box::new(peer)))
}

/// Gives Kustomization `name` the drift interval and waits until Flux reconciled the change.
async fn shorten_interval(api: &kube::Api<kube::api::DynamicObject>, name: &str) -> Result<()> {
    let patch = json!({"spec": {"interval": flux::DRIFT_INTERVAL}});
    let edited = api
        .patch(
            name,
            &PatchParams { field_manager: Some(k8s::MANAGER.into()), ..Default::default() },
            &Patch::Merge(&patch),
        )
        .await
        .with_context(|| format!("shortening the interval of Kustomization {name}"))?;
    let generation = edited.metadata.generation;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        let live = api.get(name).await.with_context(|| format!("reading Kustomization {name}"))?;
        if live.data["status"]["observedGeneration"].as_i64() == generation {
            return Ok(());
        }
        tokio::time::sleep(flux::POLL).await;
    }
    anyhow::bail!("Flux did not reconcile the new interval of Kustomization {name} within 2 minutes")
}
