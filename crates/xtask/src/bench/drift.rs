//! Scenario 5, drift: with N Applications converged, another manager scales one app's Deployment
//! from 0 to 1 replica; time until the controller has set it back to 0.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kube::api::{Patch, PatchParams};
use serde_json::json;

use super::fixtures::app_name;
use super::floor::{APPLY_ONE, ONE, case};
use super::proc::Measured;
use super::report::Measurement;
use super::{Env, k8s};

/// The scenario's name in the report.
const SCENARIO: &str = "5 drift";
/// How long one correction may take.
const TRIAL_TIMEOUT: Duration = Duration::from_secs(60);

/// Which apps the trials edit and how many trials there are.
pub struct Targets {
    /// Trials.
    pub trials: usize,
    /// The app of trial `i`.
    pub app: fn(usize, usize) -> String,
}

impl Targets {
    /// `trials` edits spread over the fleet of `n` (7919 is prime, so every app is reached).
    pub fn spread(trials: usize) -> Self {
        Self { trials, app: |trial, n| app_name(trial * 7919 % n) }
    }

    /// `trials` edits of app 0.
    pub fn first(trials: usize) -> Self {
        Self { trials, app: |_, _| app_name(0) }
    }
}

/// Runs the drift trials of `system` in namespace `ns`, where `n` apps are converged.
pub async fn run(
    env: &Env,
    (ns, n): (&str, usize),
    (system, controller): (&str, &mut dyn Measured),
    targets: Targets,
    out: &mut Vec<Measurement>,
) -> Result<()> {
    let deployments = k8s::api(&env.client, ns, "apps/v1", "Deployment");
    let edit = PatchParams { field_manager: Some("bench-drift".into()), ..PatchParams::default() };
    let mut samples = Vec::new();
    for trial in 0..targets.trials {
        controller.check_alive()?;
        let name = (targets.app)(trial, n);
        let started = Instant::now();
        deployments
            .patch(&name, &edit, &Patch::Merge(json!({"spec": {"replicas": 1}})))
            .await
            .with_context(|| format!("scaling Deployment {name}"))?;
        loop {
            let live = deployments.get(&name).await.with_context(|| format!("reading Deployment {name}"))?;
            if live.data["spec"]["replicas"] == 0 {
                break;
            }
            if started.elapsed() > TRIAL_TIMEOUT {
                bail!("drift of {name} not corrected by {system} after {TRIAL_TIMEOUT:?}; logs: {}", controller.logs());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let elapsed = started.elapsed().as_secs_f64();
        if trial < 3 || trial % 20 == 0 {
            eprintln!("bench: {system} drift trial {trial} ({name}): {elapsed:.3}s");
        }
        samples.push(elapsed);
    }
    out.push(Measurement::new(SCENARIO, &case(n), "edit corrected", "s", system, samples).vs_floor(ONE, APPLY_ONE));
    Ok(())
}
