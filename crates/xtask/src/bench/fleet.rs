//! Scenario 3, cold convergence: N Applications from one repository, from creation to all Synced
//! and Healthy, with the controller's peak memory. At the largest N the converged fleet then hosts
//! scenario 4 (idle cost) and scenario 5 (drift).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::Value;

use super::fixtures::{app_name, app_path, fleet_repo};
use super::floor::{APPLIED_AND_OBSERVED, case};
use super::ingress::IngressAddresser;
use super::plan::{Plan, Scenario};
use super::report::Measurement;
use super::{Env, drift, idle, k8s, lockstep};

/// The scenario's name in the report.
const SCENARIO: &str = "3 cold convergence";

/// Runs cold convergence for every size (only the largest when just idle or drift is selected).
pub async fn run(env: &Env, plan: &Plan, out: &mut Vec<Measurement>) -> Result<()> {
    let cold = plan.runs(Scenario::Cold);
    let sizes = if cold { plan.sizes.clone() } else { vec![plan.largest()] };
    for n in sizes {
        let (repo, sha) = fleet_repo(&env.git, &env.run_dir.join("work"), &format!("fleet-{n}"), n)?;
        let trials = if cold { plan.trials } else { 1 };
        let (mut times, mut peaks) = (Vec::new(), Vec::new());
        for trial in 0..trials {
            let ns = format!("bench-fleet-{n}-{trial}");
            let hosts_more = trial + 1 == trials && n == plan.largest();
            k8s::create_namespace(&env.client, &ns).await?;
            let result = async {
                let _addresser = IngressAddresser::start(&env.client, &ns);
                let baseline =
                    if hosts_more && plan.runs(Scenario::Idle) { Some(idle::baseline(env, plan).await?) } else { None };
                let metrics = lockstep::free_addr()?;
                let listen = lockstep::Listen { webhook: None, metrics: Some(metrics) };
                let mut controller = lockstep::start(env, &ns, &format!("fleet-{n}-{trial}"), listen)?;
                lockstep::wait_readyz(&mut controller, metrics).await?;
                let apps: Vec<Value> =
                    (0..n).map(|i| lockstep::application(&ns, &app_name(i), &repo.url, &app_path(i))).collect();
                let started = Instant::now();
                k8s::apply_all(&env.client, &ns, &apps, k8s::MANAGER, 32).await?;
                let api = k8s::applications(&env.client, &ns);
                // Longer than the default resync period (3 min), so a missed trigger shows as a slow trial, not a failure.
                let timeout = Duration::from_secs(240 + n as u64);
                k8s::wait_ready(&api, n, timeout, &|a| lockstep::is_ready(a, Some(&sha)))
                    .await
                    .with_context(|| format!("controller log: {}", controller.log.display()))?;
                let elapsed = started.elapsed().as_secs_f64();
                let peak = controller.usage()?.peak_rss_mib;
                eprintln!("bench: cold N={n} trial {trial}: {elapsed:.3}s, peak RSS {peak:.1} MiB");
                if hosts_more && plan.runs(Scenario::Idle) {
                    idle::run(env, plan, &mut controller, baseline, (&ns, n), out).await?;
                }
                if hosts_more && plan.runs(Scenario::Drift) {
                    drift::run(env, plan, &ns, n, &mut controller, out).await?;
                }
                anyhow::Ok((elapsed, peak))
            }
            .await;
            k8s::delete_namespace(&env.client, &ns, Duration::from_secs(900)).await?;
            let (elapsed, peak) = result?;
            times.push(elapsed);
            peaks.push(peak);
        }
        if cold {
            let case = case(n);
            out.push(
                Measurement::new(SCENARIO, &case, "all Synced and Healthy", "s", "lockstep", times)
                    .vs_floor(&case, APPLIED_AND_OBSERVED),
            );
            out.push(Measurement::new(SCENARIO, &case, "controller peak RSS", "MiB", "lockstep", peaks));
        }
    }
    Ok(())
}
