//! Scenario 1, the floor: the same objects as cold convergence, server-side applied by a minimal
//! concurrent client with no controller, git or rendering; and the latency of applying a single
//! object. The fastest this API server allows; other scenarios are reported as ratios to it. The
//! all-objects floor is timed twice: until the last apply returns, and until the control plane has
//! reacted as health requires (Deployments observed by kube-controller-manager, Ingresses
//! addressed by the harness's stand-in ingress controller).

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::Value;

use super::Env;
use super::apimetrics;
use super::fixtures::{app_objects, config_map};
use super::ingress::IngressAddresser;
use super::k8s;
use super::plan::Plan;
use super::report::{FLOOR, Measurement};

/// The field manager of the floor client.
const MANAGER: &str = "lockstep-bench-floor";
/// Metric name of the all-objects floor, referred to by cold convergence.
pub const APPLY_ALL: &str = "apply all objects";
/// Metric name of the all-objects floor including the control plane's own reaction: every
/// Deployment's status observed by its controller and every Ingress addressed, which is what health
/// waits for. Cold convergence is reported as a ratio to this one.
pub const APPLIED_AND_OBSERVED: &str = "applied, Deployments observed, Ingresses addressed";
/// Metric name of the one-object floor, referred to by the webhook and drift scenarios.
pub const APPLY_ONE: &str = "apply one object";
/// Metric: API requests per app, from the first apply until settled (every verb, every client).
pub const REQUESTS_PER_APP: &str = "API requests per app";
/// Case name of the one-object floor.
pub const ONE: &str = "1 object";

/// The case name of size `n`.
pub fn case(n: usize) -> String {
    format!("N={n}")
}

/// Runs the floor for every size, then the one-object latency.
pub async fn run(env: &Env, plan: &Plan, out: &mut Vec<Measurement>) -> Result<()> {
    for &n in &plan.sizes {
        let objects: Vec<Value> = (0..n).flat_map(app_objects).collect();
        let (mut samples, mut settled_samples, mut requests) = (Vec::new(), Vec::new(), Vec::new());
        for t in 0..plan.trials {
            let ns = format!("bench-floor-{n}-{t}");
            k8s::create_namespace(&env.client, &ns).await?;
            let result = trial(env, &ns, &objects, plan.floor_concurrency).await;
            k8s::delete_namespace(&env.client, &ns, Duration::from_secs(600)).await?;
            let (applied, settled, made) = result?;
            requests.push(made / n as f64);
            eprintln!(
                "bench: floor N={n} trial {t}: {applied:.3}s to apply {} objects, {settled:.3}s until observed",
                objects.len()
            );
            samples.push(applied);
            settled_samples.push(settled);
        }
        out.push(Measurement::new(FLOOR, &case(n), APPLY_ALL, "s", "floor", samples));
        out.push(Measurement::new(FLOOR, &case(n), APPLIED_AND_OBSERVED, "s", "floor", settled_samples));
        out.push(Measurement::new(FLOOR, &case(n), REQUESTS_PER_APP, "req", "floor", requests));
    }
    let ns = "bench-floor-one";
    k8s::create_namespace(&env.client, ns).await?;
    let mut samples = Vec::new();
    for trial in 0..plan.latency_trials.max(5) {
        let obj = config_map(0, &trial.to_string());
        let started = Instant::now();
        k8s::apply(&env.client, ns, &obj, MANAGER).await?;
        samples.push(started.elapsed().as_secs_f64());
    }
    k8s::delete_namespace(&env.client, ns, Duration::from_secs(120)).await?;
    out.push(Measurement::new(FLOOR, ONE, APPLY_ONE, "s", "floor", samples));
    Ok(())
}

/// Applies benchmark-app `objects` into the existing namespace `ns` with `concurrency` requests in
/// flight and waits until the control plane reacted as health requires. Returns the seconds until
/// the last apply, until settled, and the API requests counted meanwhile.
pub async fn trial(env: &Env, ns: &str, objects: &[Value], concurrency: usize) -> Result<(f64, f64, f64)> {
    let _addresser = IngressAddresser::start(&env.client, ns);
    let apps = objects.iter().filter(|o| o["kind"] == "Deployment").count();
    let before = apimetrics::read(&env.cluster)?;
    let started = Instant::now();
    k8s::apply_all(&env.client, ns, objects, MANAGER, concurrency).await?;
    let applied = started.elapsed().as_secs_f64();
    let timeout = Duration::from_secs(240 + apps as u64);
    let deployments = k8s::api(&env.client, ns, "apps/v1", "Deployment");
    k8s::wait_ready(&deployments, apps, timeout, &|d| {
        d.metadata.generation.is_some_and(|g| d.data["status"]["observedGeneration"] == g)
    })
    .await?;
    let ingresses = k8s::api(&env.client, ns, "networking.k8s.io/v1", "Ingress");
    k8s::wait_ready(&ingresses, apps, timeout, &|i| {
        i.data["status"]["loadBalancer"]["ingress"].as_array().is_some_and(|a| !a.is_empty())
    })
    .await?;
    let settled = started.elapsed().as_secs_f64();
    // Everything the API server counted meanwhile: the applies and what the control plane's
    // controllers and the Ingress addresser do in answer, as for the systems.
    let made = apimetrics::delta(&before, &apimetrics::read(&env.cluster)?).values().sum::<f64>();
    Ok((applied, settled, made))
}
