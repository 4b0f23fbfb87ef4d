//! Scenario 10, the web UI's list: the largest N Applications (with a Synced and Healthy status and
//! three managed objects each, as a fleet the controller has converged would show; no controller
//! runs) and `lockstep ui --local` on loopback. Measures, per trial with a fresh UI process, the
//! time from starting the process to `GET /` answering 200 with all N rows, the resident memory
//! then, the latency of [`GETS`] further `GET /`, and the peak resident memory (`VmHWM`) after
//! them.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::{StreamExt as _, TryStreamExt as _, stream};
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use super::fixtures::{app_name, app_path};
use super::plan::Plan;
use super::proc::{Controller, usage};
use super::report::Measurement;
use super::{Env, http, k8s, lockstep};

/// The scenario's name in the report.
const SCENARIO: &str = "10 web UI list";
/// The namespace the Applications live in.
const NAMESPACE: &str = "bench-ui";
/// Timed `GET /` after the first render, per trial.
const GETS: usize = 20;
/// How long the first render may take.
const FIRST_RENDER_TIMEOUT: Duration = Duration::from_secs(120);
/// A commit id for the statuses (the repository is never fetched).
const REVISION: &str = "3f2a9c1d0b8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a";

/// Runs the scenario with the plan's largest N.
pub async fn run(env: &Env, plan: &Plan, out: &mut Vec<Measurement>) -> Result<()> {
    k8s::create_namespace(&env.client, NAMESPACE).await?;
    let result = measure(env, plan, out).await;
    let deleted = k8s::delete_namespace(&env.client, NAMESPACE, Duration::from_secs(300)).await;
    result?;
    deleted
}

async fn measure(env: &Env, plan: &Plan, out: &mut Vec<Measurement>) -> Result<()> {
    let n = plan.largest();
    create_applications(env, n).await?;
    let mut first_render = Vec::new();
    let mut rss = Vec::new();
    let mut latencies = Vec::new();
    let mut peak = Vec::new();
    let mut page_kib = 0.0;
    for trial in 0..plan.trials {
        let addr = lockstep::free_addr()?;
        let started = Instant::now();
        let mut ui = start_ui(env, addr, trial)?;
        let page = first_full_page(&mut ui, addr, n, started).await?;
        first_render.push(started.elapsed().as_secs_f64());
        page_kib = page.len() as f64 / 1024.0;
        rss.push(usage(ui.pid())?.rss_mib);
        for _ in 0..GETS {
            let sent = Instant::now();
            let (status, body) = http::get(addr, "/")?;
            let took = sent.elapsed().as_secs_f64();
            if status != 200 || rows(&body) != n {
                bail!("GET / answered {status} with {} of {n} rows; log: {}", rows(&body), ui.log.display());
            }
            latencies.push(took);
        }
        peak.push(usage(ui.pid())?.peak_rss_mib);
        ui.check_alive()?;
        eprintln!(
            "bench: ui N={n} trial {}: first render {:.3}s, page {page_kib:.0} KiB, RSS {:.1} MiB, peak {:.1} MiB",
            trial + 1,
            first_render[trial],
            rss[trial],
            peak[trial]
        );
    }
    let case = format!("N={n}");
    let m = |metric: &str, unit: &str, samples: Vec<f64>| {
        Measurement::new(SCENARIO, &case, metric, unit, "lockstep", samples)
    };
    out.push(m("time to first render: process start → GET / 200 with all rows", "s", first_render));
    out.push(m(&format!("GET / ({GETS} per trial, page {page_kib:.0} KiB)"), "s", latencies));
    out.push(m("server RSS after the first render", "MiB", rss));
    out.push(m(&format!("server peak RSS (VmHWM) after {GETS} more GETs"), "MiB", peak));
    Ok(())
}

/// Creates `n` Applications and gives each a converged-looking status.
async fn create_applications(env: &Env, n: usize) -> Result<()> {
    let url = "http://git.invalid/bench/ui.git";
    let apps: Vec<Value> = (0..n).map(|i| lockstep::application(NAMESPACE, &app_name(i), url, &app_path(i))).collect();
    k8s::apply_all(&env.client, NAMESPACE, &apps, k8s::MANAGER, 32).await?;
    let api = k8s::applications(&env.client, NAMESPACE);
    stream::iter((0..n).map(|i| {
        let api = api.clone();
        async move {
            let name = app_name(i);
            api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&json!({"status": status(&name)})))
                .await
                .with_context(|| format!("writing the status of Application {name}"))
                .map(drop)
        }
    }))
    .buffer_unordered(32)
    .try_collect::<Vec<()>>()
    .await
    .map(drop)
}

/// A Synced, Healthy status at [`REVISION`] with a Deployment, a Service and a ConfigMap.
fn status(name: &str) -> Value {
    let resource = |group: &str, version: &str, kind: &str| {
        json!({"group": group, "version": version, "kind": kind, "namespace": NAMESPACE, "name": name,
               "status": "Synced", "health": {"status": "Healthy"}})
    };
    json!({
        "sync": {"status": "Synced", "revision": REVISION},
        "health": {"status": "Healthy"},
        "resources": [resource("apps", "v1", "Deployment"), resource("", "v1", "Service"), resource("", "v1", "ConfigMap")],
    })
}

/// Starts `lockstep ui --local` on `addr` with the cluster's kubeconfig.
fn start_ui(env: &Env, addr: SocketAddr, trial: usize) -> Result<Controller> {
    let mut cmd = Command::new(&env.lockstep);
    cmd.args(["ui", "--local", "--listen", &addr.to_string(), "--log-format", "json"])
        .env("KUBECONFIG", &env.cluster.kubeconfig)
        .env("RUST_LOG", "info");
    Controller::start("lockstep ui", cmd, &env.run_dir.join(format!("lockstep-ui-{trial}.log")))
}

/// Polls `GET /` until it answers 200 with all `n` rows; returns that page.
async fn first_full_page(ui: &mut Controller, addr: SocketAddr, n: usize, started: Instant) -> Result<String> {
    loop {
        ui.check_alive()?;
        let last = match http::get(addr, "/") {
            Ok((200, body)) if rows(&body) == n => return Ok(body),
            Ok((status, body)) => format!("{status} with {} rows", rows(&body)),
            Err(err) => format!("{err:#}"),
        };
        if started.elapsed() > FIRST_RENDER_TIMEOUT {
            bail!("GET / never showed all {n} rows ({last}); log: {}", ui.log.display());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The Application rows of a list page.
fn rows(page: &str) -> usize {
    page.matches("data-app=").count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_counted_by_their_marker() {
        let page = r#"<table><tr data-app="ns/a"></tr><tr data-app="ns/b"></tr></table><template id="tpl"></template>"#;
        assert_eq!(rows(page), 2);
        assert_eq!(rows("<p>no Applications</p>"), 0);
    }

    #[test]
    fn the_status_is_what_the_list_reads() {
        let status = status("app-0001");
        assert_eq!(status["sync"]["revision"], REVISION);
        assert_eq!(status["health"]["status"], "Healthy");
        assert_eq!(status["resources"].as_array().map(Vec::len), Some(3));
    }
}
