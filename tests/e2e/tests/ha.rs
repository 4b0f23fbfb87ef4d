//! High availability end to end: leader election between controller processes, shards splitting
//! Applications, and the install manifests in deploy/ applied to the control plane.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kube::api::{Api, ListParams, Patch, PatchParams};
use lockstep_e2e::apps::{apply_app, refresh, wait_reason};
use lockstep_e2e::cluster::{kubectl_ok, workspace_root};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client, wait_for};
use serde_json::json;

/// The Lease a single replica set competes for.
const LEASE: &str = "lockstep-controller";

fn config_map(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n")
}

fn self_healing(repo: &GitRepo, path: Option<&str>) -> serde_json::Value {
    json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main", "path": path},
        "syncPolicy": {"automated": {"prune": true, "selfHeal": true}},
    })
}

async fn value(client: &kube::Client, ns: &str, name: &str) -> Option<String> {
    let cm = Api::<ConfigMap>::namespaced(client.clone(), ns).get_opt(name).await.ok()??;
    cm.data?.get("value").cloned()
}

/// The Lease's holder; `None` when it does not exist or nobody holds it.
async fn holder(client: &kube::Client, ns: &str, lease: &str) -> anyhow::Result<Option<String>> {
    let lease = Api::<Lease>::namespaced(client.clone(), ns).get_opt(lease).await?;
    Ok(lease.and_then(|l| l.spec?.holder_identity).filter(|h| !h.is_empty()))
}

/// Waits until the Lease is held by the process with `pid` (identities are `<host>_<pid>`).
async fn wait_held_by(client: &kube::Client, ns: &str, lease: &str, pid: u32, timeout: Duration) -> anyhow::Result<()> {
    wait_for(&format!("lease {lease} held by pid {pid}"), timeout, || async {
        let holder = holder(client, ns, lease).await?;
        if holder.as_deref().is_some_and(|h| h.ends_with(&format!("_{pid}"))) {
            Ok(Some(()))
        } else {
            anyhow::bail!("holder is {holder:?}")
        }
    })
    .await
}

/// The log without terminal colour codes.
fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// How many times a controller wrote objects of an Application (the controller logs each apply pass
/// that created, updated or pruned anything).
fn applies(log: &str, ns: &str, app: &str) -> usize {
    let needle = format!(" applied app={ns}/{app} ");
    plain(log).lines().filter(|l| l.contains(&needle)).count()
}

/// Waits until a controller's log shows it competing for the Lease as a follower (its caches are up).
async fn wait_following(controller: &ControllerProcess) -> anyhow::Result<()> {
    wait_for("the second replica following", Duration::from_secs(30), || async {
        Ok(plain(&controller.log()).contains("leader election: following").then_some(()))
    })
    .await
}

#[tokio::test]
async fn the_follower_takes_over_from_a_dead_leader_and_heals_drift_without_double_writes() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-ha-failover").await?;
    let repo = GitRepo::new();
    repo.write("a.yaml", &config_map("a", "git"));
    repo.commit("one");
    // A long resync period: only a takeover (which reconciles everything) can heal within the test.
    let args = ["--resync-period", "1h"];
    let mut first = ControllerProcess::start_named(&ns.name, &format!("{}-first", ns.name), &args)?;
    wait_held_by(&client, &ns.name, LEASE, first.pid(), Duration::from_secs(30)).await?;
    let second = ControllerProcess::start_named(&ns.name, &format!("{}-second", ns.name), &args)?;
    wait_following(&second).await?;

    apply_app(&client, &ns.name, "heal", self_healing(&repo, None)).await?;
    wait_reason(&client, &ns.name, "heal", "Succeeded").await?;
    // Both replicas see the refresh; only the leader acts on it.
    refresh(&client, &ns.name, "heal").await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(applies(&first.log(), &ns.name, "heal"), 1, "the leader applied once");
    assert_eq!(applies(&second.log(), &ns.name, "heal"), 0, "the follower wrote nothing");
    wait_held_by(&client, &ns.name, LEASE, first.pid(), Duration::from_secs(1)).await?;

    // The leader dies without releasing the Lease; drift appears while nobody leads.
    first.kill();
    let killed = Instant::now();
    let patch = json!({"data": {"value": "edited by hand"}});
    Api::<ConfigMap>::namespaced(client.clone(), &ns.name)
        .patch("a", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    wait_for("the drift healed by the new leader", Duration::from_secs(40), || async {
        Ok((value(&client, &ns.name, "a").await.as_deref() == Some("git")).then_some(()))
    })
    .await?;
    let took = killed.elapsed();
    // Lease duration 15 s, retry period 2 s: the takeover comes after the lease runs out, not before.
    assert!(took >= Duration::from_secs(12), "took over after {took:?}, before the lease could expire");
    assert!(took <= Duration::from_secs(25), "took over after {took:?}");
    wait_held_by(&client, &ns.name, LEASE, second.pid(), Duration::from_secs(1)).await?;
    assert_eq!(applies(&second.log(), &ns.name, "heal"), 1, "the new leader healed once");
    let lease = Api::<Lease>::namespaced(client.clone(), &ns.name).get(LEASE).await?;
    assert_eq!(lease.spec.and_then(|s| s.lease_transitions), Some(1));
    Ok(())
}

#[tokio::test]
async fn sigterm_finishes_and_releases_the_lease_at_once() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-ha-release").await?;
    let repo = GitRepo::new();
    repo.write("a.yaml", &config_map("a", "git"));
    repo.commit("one");
    let mut first = ControllerProcess::start_named(&ns.name, &format!("{}-first", ns.name), &[])?;
    wait_held_by(&client, &ns.name, LEASE, first.pid(), Duration::from_secs(30)).await?;
    let second = ControllerProcess::start_named(&ns.name, &format!("{}-second", ns.name), &[])?;
    wait_following(&second).await?;
    apply_app(&client, &ns.name, "app", self_healing(&repo, None)).await?;
    wait_reason(&client, &ns.name, "app", "Succeeded").await?;

    let status = first.terminate(Duration::from_secs(20)).expect("the leader exits on SIGTERM");
    assert!(status.success(), "exit status {status}");
    let stopped = Instant::now();
    let log = plain(&first.log());
    assert!(log.contains("released the lease"), "{log}");
    // Far sooner than the 15 s lease duration: the released Lease is taken on the next try.
    wait_held_by(&client, &ns.name, LEASE, second.pid(), Duration::from_secs(6)).await?;
    assert!(stopped.elapsed() < Duration::from_secs(10));

    // The new leader works: a new commit is synced, and it had nothing to redo before that.
    repo.write("b.yaml", &config_map("b", "new"));
    repo.commit("two");
    refresh(&client, &ns.name, "app").await?;
    wait_for("b synced by the new leader", Duration::from_secs(30), || async {
        Ok(value(&client, &ns.name, "b").await.is_some().then_some(()))
    })
    .await?;
    assert_eq!(applies(&second.log(), &ns.name, "app"), 1, "only the new commit was applied");
    Ok(())
}

/// 64-bit FNV-1a, the documented shard hash, computed independently of the controller.
fn shard_of(ns: &str, name: &str, shards: u64) -> usize {
    let hash = format!("{ns}/{name}")
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
    usize::try_from(hash % shards).expect("small")
}

#[tokio::test]
async fn two_shards_split_twenty_applications() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-ha-shards").await?;
    let repo = GitRepo::new();
    let names: Vec<String> = (0..20).map(|i| format!("app-{i:02}")).collect();
    for name in &names {
        repo.write(&format!("{name}/cm.yaml"), &config_map(&format!("cm-{name}"), "git"));
    }
    repo.commit("twenty");
    let shards = [
        ControllerProcess::start_named(&ns.name, &format!("{}-shard-0", ns.name), &["--shards", "2", "--shard", "0"])?,
        ControllerProcess::start_named(&ns.name, &format!("{}-shard-1", ns.name), &["--shards", "2", "--shard", "1"])?,
    ];
    for name in &names {
        apply_app(&client, &ns.name, name, self_healing(&repo, Some(name))).await?;
    }
    for name in &names {
        wait_reason(&client, &ns.name, name, "Succeeded").await?;
    }

    let logs: Vec<String> = shards.iter().map(|s| plain(&s.log())).collect();
    let mut per_shard = [0usize; 2];
    for name in &names {
        let owner = shard_of(&ns.name, name, 2);
        per_shard[owner] += 1;
        assert_eq!(applies(&logs[owner], &ns.name, name), 1, "{name} is applied by shard {owner}");
        let other = &logs[1 - owner];
        assert!(!other.contains(&format!("app={}/{name} ", ns.name)), "shard {} touched {name}", 1 - owner);
        assert!(!other.contains(&format!("lockstep.dev/{name}.{}", ns.name)), "shard {} reconciled {name}", 1 - owner);
    }
    assert!(per_shard.iter().all(|&n| n > 0), "both shards have work: {per_shard:?}");
    for (index, shard) in shards.iter().enumerate() {
        wait_held_by(&client, &ns.name, &format!("{LEASE}-shard-{index}"), shard.pid(), Duration::from_secs(1)).await?;
    }
    Ok(())
}

#[tokio::test]
async fn deploy_base_installs_two_replicas_spread_across_zones() -> anyhow::Result<()> {
    let client = client().await?;
    let base = workspace_root().join("deploy/base");
    // Every CRD file in crds/ is part of the base (crds/Kustomization lists them).
    let rendered = kubectl_ok(&["kustomize", &base.display().to_string()], None)?;
    for entry in std::fs::read_dir(workspace_root().join("crds"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            assert!(rendered.contains(&format!("name: {name}\n")), "crds/Kustomization misses {}", path.display());
        }
    }
    kubectl_ok(&["apply", "--server-side", "--force-conflicts", "-k", &base.display().to_string()], None)?;
    let ns = "lockstep-system";
    for object in [
        "namespace/lockstep-system",
        "customresourcedefinition/applications.lockstep.dev",
        "clusterrole/lockstep-controller",
        "clusterrolebinding/lockstep-controller",
    ] {
        kubectl_ok(&["get", object], None)?;
    }
    for object in [
        "serviceaccount/lockstep-controller",
        "role/lockstep-controller",
        "rolebinding/lockstep-controller",
        "deployment/lockstep-controller",
        "poddisruptionbudget/lockstep-controller",
        "service/lockstep-metrics",
        "service/lockstep-webhook",
        "networkpolicy/lockstep-controller",
    ] {
        kubectl_ok(&["get", "-n", ns, object], None)?;
    }

    // kwok runs no containers but schedules the pods and reports them Running; the scheduler must
    // have honoured the zone spread (and Pod Security admission the restricted profile).
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let nodes: Api<Node> = Api::all(client.clone());
    let selector =
        ListParams::default().labels("app.kubernetes.io/name=lockstep,app.kubernetes.io/component=controller");
    let zones = wait_for("two running controller pods in two zones", Duration::from_secs(60), || async {
        let pods = pods.list(&selector).await?.items;
        let running: Vec<&Pod> = pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            .collect();
        let mut zones = BTreeSet::new();
        for pod in &running {
            let Some(node) = pod.spec.as_ref().and_then(|s| s.node_name.as_deref()) else { continue };
            let node = nodes.get(node).await?;
            if let Some(zone) = node.metadata.labels.and_then(|l| l.get("topology.kubernetes.io/zone").cloned()) {
                zones.insert(zone);
            }
        }
        if running.len() == 2 && zones.len() == 2 {
            Ok(Some(zones))
        } else {
            anyhow::bail!("{} pods, {} running, zones {zones:?}", pods.len(), running.len())
        }
    })
    .await?;
    assert_eq!(zones, BTreeSet::from(["a".to_string(), "b".to_string()]));

    // Every flag the Deployment passes is one the binary knows.
    let deployment = kubectl_ok(
        &["get", "-n", ns, "deployment/lockstep-controller", "-o", "jsonpath={.spec.template.spec.containers[0].args}"],
        None,
    )?;
    let args: Vec<String> = serde_json::from_str(&deployment)?;
    let bin = std::env::var_os("LOCKSTEP_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/debug/lockstep"));
    let help = std::process::Command::new(bin).args(["controller", "--help"]).output()?;
    let help = String::from_utf8_lossy(&help.stdout);
    assert_eq!(args.first().map(String::as_str), Some("controller"));
    for flag in args.iter().filter(|a| a.starts_with("--")) {
        let name = flag.split('=').next().unwrap_or(flag);
        assert!(help.contains(&format!("{name} ")) || help.contains(&format!("{name}\n")), "unknown flag {name}");
    }

    // The impersonation-only variant renders and the API server accepts it; it grants no writes
    // beyond lockstep's own kinds and impersonation.
    let overlay = workspace_root().join("deploy/overlays/impersonation-only");
    let rendered = kubectl_ok(&["kustomize", &overlay.display().to_string()], None)?;
    let role = rendered.split("\n---\n").find(|d| d.contains("kind: ClusterRole\n")).expect("a ClusterRole");
    let role: serde_json::Value = serde_yaml_ng::from_str(role)?;
    for rule in role["rules"].as_array().expect("rules") {
        let verbs: Vec<&str> = rule["verbs"].as_array().expect("verbs").iter().filter_map(|v| v.as_str()).collect();
        assert!(!verbs.contains(&"*"), "{rule}");
        let writes = verbs.iter().any(|v| ["create", "update", "patch", "delete"].contains(v));
        if writes {
            assert_eq!(rule["apiGroups"], json!(["lockstep.dev"]), "{rule}");
        }
    }
    kubectl_ok(
        &["apply", "--server-side", "--force-conflicts", "--dry-run=server", "-k", &overlay.display().to_string()],
        None,
    )?;
    Ok(())
}
