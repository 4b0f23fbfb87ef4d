//! Scenario 11, one large app: a single Application (and, with the peer, a single Kustomization)
//! holding the objects of `large_objects / 4` benchmark apps in one directory, from creation to
//! converged; with the floor of the same objects, the controller's peak memory and its memory once
//! converged, and the API requests per object. Shows how time and memory grow with one app's size
//! rather than with the number of apps.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::Value;

use super::fixtures::{Repo, app_objects, to_yaml};
use super::floor::{self, APPLIED_AND_OBSERVED};
use super::flux::{self, Flux};
use super::ingress::IngressAddresser;
use super::plan::Plan;
use super::proc::Measured;
use super::report::{FLOOR, Measurement};
use super::{Env, apimetrics, k8s, lockstep};

/// The scenario's name in the report.
const SCENARIO: &str = "11 one large app";
/// The directory of the repository holding the objects.
const PATH: &str = "large";
/// Objects per file of the repository.
const PER_FILE: usize = 400;

/// Runs the floor, lockstep and (when built) Flux on one app of `plan.large_objects` objects.
pub async fn run(env: &Env, plan: &Plan, out: &mut Vec<Measurement>) -> Result<()> {
    let objects: Vec<Value> = (0..plan.large_objects / 4).flat_map(app_objects).collect();
    let case = format!("{} objects", objects.len());
    let repo = Repo::create(&env.git, &env.run_dir.join("work"), "large")?;
    for (i, part) in objects.chunks(PER_FILE).enumerate() {
        repo.write(&format!("{PATH}/part-{i:03}.yaml"), &to_yaml(part))?;
    }
    let sha = repo.commit_and_push("one large app")?;

    let ns = "bench-large-floor";
    k8s::create_namespace(&env.client, ns).await?;
    let result = floor::trial(env, ns, &objects, plan.floor_concurrency).await;
    k8s::delete_namespace(&env.client, ns, Duration::from_secs(900)).await?;
    let (applied, settled, made) = result?;
    eprintln!("bench: floor of {case}: {applied:.3}s to apply, {settled:.3}s until observed");
    out.push(Measurement::new(FLOOR, &case, APPLIED_AND_OBSERVED, "s", "floor", vec![settled]));
    out.push(Measurement::new(FLOOR, &case, PER_OBJECT, "req", "floor", vec![made / objects.len() as f64]));

    let lockstep =
        in_namespace(env, "bench-large-lockstep", |ns| lockstep_trial(env, plan, ns, &repo.url, &sha, objects.len()));
    record(out, &case, "lockstep", lockstep.await?);
    if let Some(build) = &env.flux {
        let flux = in_namespace(env, "bench-large-flux", |ns| {
            flux_trial(env, build, plan, ns, &repo.url, &sha, objects.len())
        });
        record(out, &case, "flux", flux.await?);
    }
    Ok(())
}

/// Metric: API requests per object, from the first apply until converged (every verb, every client).
const PER_OBJECT: &str = "API requests per object";

/// One system's figures on the large app.
struct Large {
    /// Seconds to converged, or until the trial gave up.
    elapsed: f64,
    converged: bool,
    peak: f64,
    /// Resident memory once converged and settled (or when the trial gave up).
    settled_rss: f64,
    requests_per_object: f64,
}

fn record(out: &mut Vec<Measurement>, case: &str, system: &str, large: Large) {
    let metric = if large.converged { "converged at the commit" } else { "not converged: gave up after" };
    out.push(
        Measurement::new(SCENARIO, case, metric, "s", system, vec![large.elapsed]).vs_floor(case, APPLIED_AND_OBSERVED),
    );
    out.push(Measurement::new(SCENARIO, case, "controller peak RSS", "MiB", system, vec![large.peak]));
    out.push(Measurement::new(SCENARIO, case, "controller RSS once converged", "MiB", system, vec![large.settled_rss]));
    out.push(
        Measurement::new(SCENARIO, case, PER_OBJECT, "req", system, vec![large.requests_per_object])
            .vs_floor(case, PER_OBJECT),
    );
}

/// Runs `trial` in the fresh namespace `ns` with its Ingresses addressed, then deletes the
/// namespace while the trial's controllers still run (so finalizers are honoured).
async fn in_namespace<'a, F, Fut>(env: &'a Env, ns: &'a str, trial: F) -> Result<Large>
where
    F: FnOnce(&'a str) -> Fut,
    Fut: Future<Output = Result<(Large, Box<dyn Measured>)>>,
{
    k8s::create_namespace(&env.client, ns).await?;
    let addresser = IngressAddresser::start(&env.client, ns);
    let result = trial(ns).await;
    let deleted = k8s::delete_namespace(&env.client, ns, Duration::from_secs(900)).await;
    drop(addresser);
    let (large, controllers) = result?;
    drop(controllers);
    if let Err(err) = deleted {
        // A namespace still deleting slows what follows but does not void what was measured.
        eprintln!("bench: WARNING: {err:#}; the run goes on beside its deletion");
    }
    Ok(large)
}

/// How long either system gets: generous, since one app's objects are applied by one worker.
fn patience(objects: usize) -> Duration {
    Duration::from_secs(600 + objects as u64 / 10)
}

async fn lockstep_trial(
    env: &Env,
    plan: &Plan,
    ns: &str,
    url: &str,
    sha: &str,
    objects: usize,
) -> Result<(Large, Box<dyn Measured>)> {
    let metrics = lockstep::free_addr()?;
    let listen = lockstep::Listen { webhook: None, metrics: Some(metrics) };
    let mut controller = lockstep::start(env, ns, "large", listen)?;
    lockstep::wait_readyz(&mut controller, metrics).await?;
    let before = apimetrics::read(&env.cluster)?;
    let started = Instant::now();
    k8s::apply(&env.client, ns, &lockstep::application(ns, "large", url, PATH), k8s::MANAGER).await?;
    let api = k8s::applications(&env.client, ns);
    let converged = k8s::wait_ready(&api, 1, patience(objects), &|a| lockstep::is_ready(a, Some(sha)))
        .await
        .map_err(|err| eprintln!("bench: lockstep on the large app gave up ({}): {err:#}", controller.log.display()))
        .is_ok();
    let large = settle(env, plan, &before, started, converged, &controller, objects).await?;
    eprintln!("bench: lockstep, one app of {objects} objects: {:.3}s, converged {converged}", large.elapsed);
    Ok((large, Box::new(controller)))
}

async fn flux_trial(
    env: &Env,
    build: &flux::FluxBuild,
    plan: &Plan,
    ns: &str,
    url: &str,
    sha: &str,
    objects: usize,
) -> Result<(Large, Box<dyn Measured>)> {
    let mut peer = Flux::start(env, build, "large")?;
    peer.wait_ready().await?;
    let mut kustomization = flux::kustomization(ns, "large", PATH);
    // Flux's health-check timeout for one app of this size: as long as the harness waits.
    kustomization["spec"]["timeout"] = format!("{}s", patience(objects).as_secs()).into();
    let before = apimetrics::read(&env.cluster)?;
    let started = Instant::now();
    k8s::apply_all(&env.client, ns, &[flux::git_repository(ns, url), kustomization], k8s::MANAGER, 2).await?;
    let api = k8s::api(&env.client, ns, "kustomize.toolkit.fluxcd.io/v1", "Kustomization");
    let converged = k8s::wait_ready(&api, 1, patience(objects), &|k| flux::is_ready(k, sha))
        .await
        .map_err(|err| eprintln!("bench: Flux on the large app gave up ({}): {err:#}", peer.logs()))
        .is_ok();
    let large = settle(env, plan, &before, started, converged, &peer, objects).await?;
    eprintln!("bench: flux, one app of {objects} objects: {:.3}s, converged {converged}", large.elapsed);
    Ok((large, Box::new(peer)))
}

/// The figures of a trial that converged (or gave up) `started.elapsed()` ago: requests so far,
/// peak memory, and memory after the plan's settle time.
async fn settle(
    env: &Env,
    plan: &Plan,
    before: &apimetrics::Counts,
    started: Instant,
    converged: bool,
    system: &dyn Measured,
    objects: usize,
) -> Result<Large> {
    let elapsed = started.elapsed().as_secs_f64();
    let made = apimetrics::delta(before, &apimetrics::read(&env.cluster)?).values().sum::<f64>();
    let peak = system.usage().context("reading the controller's memory")?.peak_rss_mib;
    tokio::time::sleep(plan.settle).await;
    let settled_rss = system.usage().context("reading the controller's memory")?.rss_mib;
    Ok(Large { elapsed, converged, peak, settled_rss, requests_per_object: made / objects as f64 })
}
