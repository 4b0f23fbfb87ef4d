//! Scenario 9, dependency chains: N chains of three Applications A ← B ← C (`spec.dependsOn`),
//! all created at once with the controller running. A deploys a Deployment that stays Progressing
//! for [`MIN_READY_SECONDS`] after kwok makes its Pod ready; B and C a ConfigMap each. Measures, per
//! hop, the time from a dependency turning Ready to its dependent syncing, on the bench's own watch
//! of the Applications (timed on receipt) and from their status timestamps (1 s resolution); and
//! the time until all 3N are Ready. A dependent syncing before its dependency was Ready fails the
//! scenario.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use kube::Api;
use kube::api::{DynamicObject, ListParams};
use kube::runtime::watcher::Event;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::chain_hops::{Hop, Timeline, hop, ready_since};
use super::fixtures::{Repo, to_yaml};
use super::plan::Plan;
use super::proc::Controller;
use super::report::Measurement;
use super::{Env, k8s, lockstep};

/// The scenario's name in the report.
const SCENARIO: &str = "9 dependency chains";
/// The Applications of a chain, each depending on the one before.
const LAYERS: [&str; 3] = ["a", "b", "c"];
/// How long A's Deployment stays Progressing after its Pod is ready.
const MIN_READY_SECONDS: u32 = 5;
/// How long the watch may lag behind the poll that saw every Application Ready.
const WATCH_LAG: Duration = Duration::from_secs(30);

/// Runs the scenario with the plan's number of chains.
pub async fn run(env: &Env, plan: &Plan, out: &mut Vec<Measurement>) -> Result<()> {
    let ns = "bench-chains";
    k8s::create_namespace(&env.client, ns).await?;
    let metrics = lockstep::free_addr()?;
    let listen = lockstep::Listen { webhook: None, metrics: Some(metrics) };
    let mut controller = lockstep::start(env, ns, "chains", listen)?;
    let result = measure(env, ns, plan.chains, (&mut controller, metrics), out).await;
    // The controller still runs while the namespace goes, so the Applications' finalizers are honoured.
    let deleted = k8s::delete_namespace(&env.client, ns, Duration::from_secs(900)).await;
    drop(controller);
    result?;
    deleted
}

async fn measure(
    env: &Env,
    ns: &str,
    n: usize,
    (controller, metrics): (&mut Controller, SocketAddr),
    out: &mut Vec<Measurement>,
) -> Result<()> {
    lockstep::wait_readyz(controller, metrics).await?;
    let (url, sha) = chain_repo(env, n)?;
    let apps = k8s::applications(&env.client, ns);
    let watch = ChainWatch::start(apps.clone(), LAYERS.len() * n).await?;
    let objects: Vec<Value> = (0..n).flat_map(|i| chain_applications(ns, &url, i)).collect();
    let applied_at = watch.now();
    k8s::apply_all(&env.client, ns, &objects, k8s::MANAGER, 32).await?;
    let timeout = Duration::from_secs(240 + objects.len() as u64);
    k8s::wait_ready(&apps, objects.len(), timeout, &|a| {
        lockstep::is_ready(a, Some(&sha)) && ready_since(&a.data["status"]).is_some()
    })
    .await
    .with_context(|| format!("controller log: {}", controller.log.display()))?;
    let mut seen = watch.finish().await?;
    for app in apps.list(&ListParams::default()).await.context("listing the chains' Applications")?.items {
        if let Some(timeline) = app.metadata.name.as_ref().and_then(|name| seen.get_mut(name)) {
            timeline.stamp(&app.data["status"]);
        }
    }
    let figures = Figures::of(&seen, n);
    let all_ready = seen.values().filter_map(|t| t.ready_seen).fold(applied_at, f64::max) - applied_at;
    let max = |samples: &[f64]| samples.iter().copied().fold(0.0, f64::max);
    eprintln!(
        "bench: chains N={n}: all {} Ready {all_ready:.2}s; hop max {:.3}s (watch), {:.0}s (status); {} out of order",
        objects.len(),
        max(&figures.watched),
        max(&figures.stamped),
        figures.problems.len()
    );
    let case = format!("{n} chains");
    let m = |metric: &str, samples: Vec<f64>| Measurement::new(SCENARIO, &case, metric, "s", "lockstep", samples);
    out.push(m("hop: dependency Ready → dependent's sync recorded (watch)", figures.watched));
    out.push(m("hop: dependency Ready → dependent's sync started (status, 1 s resolution)", figures.stamped));
    out.push(m("chain: A Ready → C Ready (watch)", figures.spans));
    out.push(m(&format!("all {} Applications Ready", objects.len()), vec![all_ready]));
    if !figures.problems.is_empty() {
        bail!(
            "{} of {} hops out of order or unobserved: {}; controller log: {}",
            figures.problems.len(),
            2 * n,
            figures.problems.join("; "),
            controller.log.display()
        );
    }
    Ok(())
}

/// The samples of a run, and what went wrong.
struct Figures {
    /// Per hop, the watch's figure.
    watched: Vec<f64>,
    /// Per hop, the status timestamps' figure.
    stamped: Vec<f64>,
    /// Per chain, from A Ready to C Ready on the watch.
    spans: Vec<f64>,
    /// Hops out of order or not observed, named.
    problems: Vec<String>,
}

impl Figures {
    fn of(seen: &BTreeMap<String, Timeline>, n: usize) -> Self {
        let mut figures = Self { watched: Vec::new(), stamped: Vec::new(), spans: Vec::new(), problems: Vec::new() };
        for i in 0..n {
            let names = LAYERS.map(|layer| chain_app(i, layer));
            let lines = names.clone().map(|name| seen.get(&name).copied().unwrap_or_default());
            for edge in 1..LAYERS.len() {
                let (dependency, dependent) = (&names[edge - 1], &names[edge]);
                match hop(&lines[edge - 1], &lines[edge]) {
                    Hop::Timed { watched, stamped } => {
                        figures.watched.push(watched);
                        figures.stamped.push(stamped);
                    }
                    Hop::Early { clock, lead } => figures
                        .problems
                        .push(format!("{dependent} synced {lead:.3}s before {dependency} was Ready ({clock})")),
                    Hop::Unseen(what) => figures.problems.push(format!("{dependent}: {what} was never observed")),
                }
            }
            if let (Some(first), Some(last)) = (lines[0].ready_seen, lines[LAYERS.len() - 1].ready_seen) {
                figures.spans.push(last - first);
            }
        }
        figures
    }
}

/// The bench's own watch of the namespace's Applications, noting when each event arrived.
struct ChainWatch {
    origin: Instant,
    task: JoinHandle<BTreeMap<String, Timeline>>,
}

impl ChainWatch {
    /// Starts the watch; returns once its initial list is done, so no later event is missed.
    async fn start(api: Api<DynamicObject>, expected: usize) -> Result<Self> {
        let origin = Instant::now();
        let (listed, on_listed) = oneshot::channel();
        let task = tokio::spawn(follow(api, origin, expected, listed));
        let watch = Self { origin, task };
        tokio::time::timeout(Duration::from_secs(60), on_listed)
            .await
            .context("the watch of the chains' Applications did not list them within 60 s")?
            .context("the watch of the chains' Applications ended before listing them")?;
        Ok(watch)
    }

    /// Seconds since the watch started, the clock of its timelines.
    fn now(&self) -> f64 {
        self.origin.elapsed().as_secs_f64()
    }

    /// Waits until the watch has seen every Application Ready; returns their timelines by name.
    async fn finish(mut self) -> Result<BTreeMap<String, Timeline>> {
        tokio::time::timeout(WATCH_LAG, &mut self.task)
            .await
            .with_context(|| format!("the watch did not see every Application Ready {WATCH_LAG:?} after the poll did"))?
            .context("the watch of the chains' Applications failed")
    }
}

impl Drop for ChainWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Follows the Applications until `expected` of them were seen Ready; `listed` fires after the
/// initial list.
async fn follow(
    api: Api<DynamicObject>,
    origin: Instant,
    expected: usize,
    listed: oneshot::Sender<()>,
) -> BTreeMap<String, Timeline> {
    let mut listed = Some(listed);
    let mut seen: BTreeMap<String, Timeline> = BTreeMap::new();
    let mut events = watcher(api, watcher::Config::default()).default_backoff().boxed();
    while let Some(event) = events.next().await {
        let at = origin.elapsed().as_secs_f64();
        match event {
            Ok(Event::Apply(app) | Event::InitApply(app)) => {
                if let Some(name) = app.metadata.name.clone() {
                    seen.entry(name).or_default().saw(&app.data["status"], at);
                }
            }
            Ok(Event::InitDone) => {
                if let Some(listed) = listed.take() {
                    let _ = listed.send(());
                }
            }
            Ok(Event::Init | Event::Delete(_)) | Err(_) => {}
        }
        if seen.values().filter(|t| t.ready_seen.is_some()).count() >= expected {
            break;
        }
    }
    seen
}

/// The name of layer `layer` of chain `i`.
fn chain_app(i: usize, layer: &str) -> String {
    format!("chain-{i:03}-{layer}")
}

/// Where layer `layer` of chain `i` lives in the repository.
fn chain_path(i: usize, layer: &str) -> String {
    format!("chains/chain-{i:03}/{layer}")
}

/// What layer `layer` of chain `i` deploys: A a Deployment held Progressing by `minReadySeconds`,
/// B and C a ConfigMap each.
fn layer_objects(i: usize, layer: &str) -> Vec<Value> {
    let name = chain_app(i, layer);
    if layer != LAYERS[0] {
        return vec![
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"chain": i.to_string()}}),
        ];
    }
    let labels = json!({"app": name});
    vec![json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "labels": labels},
                "spec": {"replicas": 1, "minReadySeconds": MIN_READY_SECONDS, "selector": {"matchLabels": labels},
                         "template": {"metadata": {"labels": labels},
                                      "spec": {"containers": [{"name": "app", "image": "registry.invalid/bench/app:1.0.0"}]}}}})]
}

/// The three Applications of chain `i`, each depending on the one before.
fn chain_applications(ns: &str, url: &str, i: usize) -> [Value; 3] {
    let mut previous: Option<String> = None;
    LAYERS.map(|layer| {
        let name = chain_app(i, layer);
        let mut app = lockstep::application(ns, &name, url, &chain_path(i, layer));
        if let Some(dependency) = previous.replace(name) {
            app["spec"]["dependsOn"] = json!([{"name": dependency}]);
        }
        app
    })
}

/// A repository holding `n` chains; returns its URL and commit.
fn chain_repo(env: &Env, n: usize) -> Result<(String, String)> {
    let repo = Repo::create(&env.git, &env.run_dir.join("work"), &format!("chains-{n}"))?;
    for i in 0..n {
        for layer in LAYERS {
            repo.write(&format!("{}/objects.yaml", chain_path(i, layer)), &to_yaml(&layer_objects(i, layer)))?;
        }
    }
    let sha = repo.commit_and_push("chains")?;
    Ok((repo.url, sha))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_layer_depends_on_the_one_before() {
        let [a, b, c] = chain_applications("ns", "http://git", 7);
        assert_eq!(a["metadata"]["name"], "chain-007-a");
        assert!(a["spec"].get("dependsOn").is_none());
        assert_eq!(b["spec"]["dependsOn"], json!([{"name": "chain-007-a"}]));
        assert_eq!(c["spec"]["dependsOn"], json!([{"name": "chain-007-b"}]));
        assert_eq!(c["spec"]["source"]["path"], "chains/chain-007/c");
    }

    #[test]
    fn a_deploys_a_slow_deployment_and_b_and_c_a_config_map() {
        let a = layer_objects(3, "a");
        assert_eq!((a[0]["kind"].as_str(), a[0]["spec"]["minReadySeconds"].as_u64()), (Some("Deployment"), Some(5)));
        assert_eq!(a[0]["spec"]["replicas"], 1);
        let (b, c) = (layer_objects(3, "b"), layer_objects(3, "c"));
        assert_eq!((b[0]["kind"].as_str(), c[0]["kind"].as_str()), (Some("ConfigMap"), Some("ConfigMap")));
        assert_ne!(b[0]["metadata"]["name"], c[0]["metadata"]["name"]);
    }

    #[test]
    fn figures_time_each_hop_and_name_the_late_or_missing() {
        let line = |ready: f64, sync: f64| Timeline {
            ready_seen: Some(ready),
            sync_seen: Some(sync),
            ready_since: Some(ready.floor()),
            sync_started: Some(sync.floor()),
        };
        let mut seen = BTreeMap::new();
        seen.insert(chain_app(0, "a"), line(6.0, 1.0));
        seen.insert(chain_app(0, "b"), line(6.5, 6.25));
        seen.insert(chain_app(0, "c"), line(7.0, 6.75));
        seen.insert(chain_app(1, "a"), line(6.0, 1.0));
        seen.insert(chain_app(1, "b"), line(5.5, 5.0));
        let figures = Figures::of(&seen, 2);
        assert_eq!(figures.watched, [0.25, 0.25]);
        assert_eq!(figures.stamped, [0.0, 0.0]);
        assert_eq!(figures.spans, [1.0]);
        assert_eq!(figures.problems.len(), 2, "{:?}", figures.problems);
        assert!(figures.problems[0].contains("chain-001-b synced 1.000s before chain-001-a"));
        assert!(figures.problems[1].contains("chain-001-c: the dependent's sync on the watch"));
    }
}
