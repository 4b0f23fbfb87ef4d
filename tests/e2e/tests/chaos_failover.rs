//! Chaos: the leader SIGKILLed while it syncs many Applications (30 in the smoke run, 1,000 in
//! `cargo xtask chaos`), and the follower takes over. The API server's audit log of writes, by the
//! User-Agent each replica sends (`lockstep/<version> (<holder identity>)`), shows at most one writer
//! at any time: the old leader's last write completed before the new leader's first. Reports the
//! takeover time (kill → first write of the new leader, kill → every Application Synced) to
//! `target/chaos/failover.json`; `LOCKSTEP_CHAOS_APPS` sets how many Applications.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams};
use lockstep_api::{Application, SyncStatusCode};
use lockstep_e2e::apps::apply_app;
use lockstep_e2e::controlplane::{AuditedWrite, audited_writes};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client, wait_for, workspace_root};
use serde_json::json;

const LEASE: &str = "lockstep-controller";

fn config_map(app: usize, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{app:04}\ndata:\n  value: \"{value}\"\n")
}

fn commit_all(repo: &GitRepo, apps: usize, value: &str) -> String {
    for app in 0..apps {
        repo.write(&format!("app-{app:04}/cm.yaml"), &config_map(app, value));
    }
    repo.commit(value)
}

/// How many Applications are Synced at `target`.
async fn synced_at(client: &kube::Client, ns: &str, target: &str) -> anyhow::Result<usize> {
    let apps = Api::<Application>::namespaced(client.clone(), ns).list(&ListParams::default()).await?;
    Ok(apps
        .items
        .iter()
        .filter_map(|a| a.status.as_ref())
        .filter(|s| s.sync.status == SyncStatusCode::Synced && s.sync.revision.as_deref() == Some(target))
        .count())
}

/// Waits until at least `want` Applications are Synced at `target`, listing them once a second (a
/// list of 1,000 Applications is large); returns how many are.
async fn wait_synced(
    client: &kube::Client,
    ns: &str,
    target: &str,
    want: usize,
    timeout: Duration,
) -> anyhow::Result<usize> {
    let deadline = Instant::now() + timeout;
    loop {
        let synced = synced_at(client, ns, target).await;
        match synced {
            Ok(n) if n >= want => return Ok(n),
            _ if Instant::now() > deadline => anyhow::bail!("timed out: {synced:?} of {want} synced at {target}"),
            _ => tokio::time::sleep(Duration::from_secs(1)).await,
        }
    }
}

async fn holder(client: &kube::Client, ns: &str) -> anyhow::Result<Option<String>> {
    let lease = Api::<Lease>::namespaced(client.clone(), ns).get_opt(LEASE).await?;
    Ok(lease.and_then(|l| l.spec?.holder_identity).filter(|h| !h.is_empty()))
}

/// The write span of one identity: first request received, last response sent, and how many.
#[derive(Debug)]
struct Span {
    first: Timestamp,
    last: Timestamp,
    writes: usize,
}

/// The spans of every lockstep identity's writes to managed objects and Applications (their status
/// included); the Lease and Events are how replicas coordinate and report, not what they manage.
fn spans(writes: &[AuditedWrite]) -> BTreeMap<String, Span> {
    let mut spans: BTreeMap<String, Span> = BTreeMap::new();
    for w in writes.iter().filter(|w| w.user_agent.starts_with("lockstep/")) {
        if !["configmaps", "applications"].contains(&w.resource.as_str()) {
            continue;
        }
        let span =
            spans.entry(w.user_agent.clone()).or_insert(Span { first: w.received, last: w.completed, writes: 0 });
        span.first = span.first.min(w.received);
        span.last = span.last.max(w.completed);
        span.writes += 1;
    }
    spans
}

#[tokio::test]
#[ignore = "run by cargo xtask chaos (and its smoke run in cargo xtask test)"]
async fn leader_failover_under_load_never_has_two_writers() -> anyhow::Result<()> {
    let apps: usize = std::env::var("LOCKSTEP_CHAOS_APPS").ok().and_then(|k| k.parse().ok()).unwrap_or(30);
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-chaos-failover").await?;
    let repo = GitRepo::new();
    let first_commit = commit_all(&repo, apps, "first");
    let args = ["--resync-period", "30s"];
    let mut leader = ControllerProcess::start_named(&ns.name, &format!("{}-leader", ns.name), &args)?;
    let leader_id = format!("_{})", leader.pid());
    wait_for("the first replica leading", Duration::from_secs(60), || async {
        let h = holder(&client, &ns.name).await?;
        if h.as_deref().is_some_and(|h| h.ends_with(&format!("_{}", leader.pid()))) {
            Ok(Some(()))
        } else {
            anyhow::bail!("holder {h:?}")
        }
    })
    .await?;
    let follower = ControllerProcess::start_named(&ns.name, &format!("{}-follower", ns.name), &args)?;
    let follower_pid = follower.pid();
    wait_for("the second replica following", Duration::from_secs(60), || async {
        Ok(follower.log().contains("leader election: following").then_some(()))
    })
    .await?;

    for app in 0..apps {
        let spec = json!({
            "source": {"repoURL": repo.url(), "targetRevision": "main", "path": format!("app-{app:04}")},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}},
        });
        apply_app(&client, &ns.name, &format!("app-{app:04}"), spec).await?;
    }
    // Strike while the leader is busy: a quarter synced, and a new commit for all of them.
    let load_timeout = Duration::from_secs(60 + 2 * apps as u64);
    let synced_before = wait_synced(&client, &ns.name, &first_commit, apps.div_ceil(4), load_timeout).await?;
    let second_commit = commit_all(&repo, apps, "second");
    leader.kill();
    let killed_at = Timestamp::now();
    let killed = Instant::now();

    wait_synced(&client, &ns.name, &second_commit, apps, load_timeout + Duration::from_secs(60)).await?;
    let all_synced = killed.elapsed();
    let new_holder = holder(&client, &ns.name).await?;

    let spans = spans(&audited_writes(&ns.name)?);
    let old = spans.iter().find(|(agent, _)| agent.ends_with(&leader_id)).map(|(_, s)| s);
    let new = spans.iter().find(|(agent, _)| agent.ends_with(&format!("_{follower_pid})"))).map(|(_, s)| s);
    let (Some(old), Some(new)) = (old, new) else {
        anyhow::bail!("the audit log lacks one replica's writes: {spans:?}");
    };
    let gap = old.last.duration_until(new.first);
    let takeover = killed_at.duration_until(new.first);
    let overlapping = spans
        .values()
        .flat_map(|a| spans.values().map(move |b| (a, b)))
        .filter(|(a, b)| !std::ptr::eq(*a, *b) && a.first < b.last && b.first < a.last)
        .count()
        / 2;
    let report = json!({
        "scenario": "leader failover under load",
        "applications": apps, "synced_when_killed": synced_before,
        "writers": spans.len(), "overlapping_writers": overlapping,
        "old_leader_writes": old.writes, "new_leader_writes": new.writes,
        "gap_between_writers_seconds": gap.as_secs_f64(),
        "kill_to_first_write_seconds": takeover.as_secs_f64(),
        "kill_to_all_synced_seconds": all_synced.as_secs_f64(),
        "new_holder": new_holder,
    });
    let dir = workspace_root().join("target/chaos");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("failover.json"), serde_json::to_string_pretty(&report)?)?;
    println!("chaos: {report}");
    assert_eq!((spans.len(), overlapping), (2, 0), "{report}");
    assert!(old.last < new.first, "the writers overlap: {report}");
    assert!(new_holder.is_some_and(|h| h.ends_with(&format!("_{follower_pid}"))), "{report}");
    drop(follower);
    Ok(())
}
