//! Rollback end to end: `lockstep rollback` deploys the previous history entry (its objects come
//! back, the newer ones are pruned) without touching git; a new commit does not undo it; `--resume`
//! syncs git's newest commit; `--until-commit` ends at the next commit by itself. History records
//! who asked for each sync.

use lockstep_api::Application;
use lockstep_e2e::apps::{apply_app, get_app, refresh, wait_app};
use lockstep_e2e::cli::lockstep_ok;
use lockstep_e2e::configmaps::{config_map, value, wait_value};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client};
use serde_json::json;

async fn wait_synced_at(client: &kube::Client, ns: &str, revision: &str) -> anyhow::Result<Application> {
    wait_app(client, ns, "web", &format!("synced at {revision}"), |app| {
        app.status.as_ref().is_some_and(|s| {
            s.sync.revision.as_deref() == Some(revision) && s.history.last().is_some_and(|h| h.revision == revision)
        })
    })
    .await
}

fn rolled_back(app: &Application) -> Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    app.status.as_ref()?.conditions.iter().find(|c| c.type_ == "RolledBack")
}

#[tokio::test]
async fn a_rollback_stays_until_resumed_and_new_commits_wait() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-rollback").await?;
    let repo = GitRepo::new();
    repo.write("web.yaml", &config_map("web", "1"));
    repo.write("old.yaml", &config_map("old-only", "1"));
    let first = repo.commit("one");
    let _controller = ControllerProcess::start(&ns.name, &["--resync-period", "1h"])?;
    let spec = json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main"},
        "syncPolicy": {"automated": {"prune": true, "selfHeal": true}},
    });
    apply_app(&client, &ns.name, "web", spec).await?;
    wait_synced_at(&client, &ns.name, &first).await?;
    repo.write("web.yaml", &config_map("web", "2"));
    repo.remove("old.yaml");
    repo.write("new.yaml", &config_map("new-only", "2"));
    let second = repo.commit("two");
    refresh(&client, &ns.name, "web").await?;
    wait_synced_at(&client, &ns.name, &second).await?;
    wait_value(&client, &ns.name, "old-only", None).await?;

    // Roll back to the entry before the deployed one: the first commit's objects return.
    let said = lockstep_ok(&ns.name, &["rollback", "web", "--wait", "--timeout", "60s"])?;
    assert!(said.contains(&first[..12]), "{said}");
    wait_value(&client, &ns.name, "web", Some("1")).await?;
    wait_value(&client, &ns.name, "old-only", Some("1")).await?;
    wait_value(&client, &ns.name, "new-only", None).await?;
    let app = wait_synced_at(&client, &ns.name, &first).await?;
    let condition = rolled_back(&app).expect("the RolledBack condition");
    assert!(condition.message.contains(&first[..12]), "{}", condition.message);
    let history = &app.status.as_ref().expect("status").history;
    let who: Vec<_> = history.iter().map(|h| h.initiated_by.clone().unwrap_or_default()).collect();
    assert_eq!(who[0], "automated");
    assert!(who.last().is_some_and(|w| w.starts_with("rollback ")), "{who:?}");
    let listed = lockstep_ok(&ns.name, &["rollback", "web", "--list"])?;
    assert!(listed.contains("rolled back to") && listed.contains("INITIATED BY"), "{listed}");

    // A history id that does not exist is named, and changes nothing.
    lockstep_ok(&ns.name, &["rollback", "web", "99"])?;
    let app = lockstep_e2e::apps::wait_reason(&client, &ns.name, "web", "InvalidSpec").await?;
    let message = lockstep_e2e::apps::ready(&app).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("no entry 99"), "{message}");
    assert_eq!(value(&client, &ns.name, "web").await.as_deref(), Some("1"));
    lockstep_ok(&ns.name, &["rollback", "web", "0", "--wait", "--timeout", "60s"])?;

    // A new commit does not undo the rollback.
    repo.write("web.yaml", &config_map("web", "3"));
    let third = repo.commit("three");
    let asked = refresh(&client, &ns.name, "web").await?;
    wait_app(&client, &ns.name, "web", "the refresh seen", |app| {
        app.status.as_ref().is_some_and(|s| s.observed_refresh.as_deref() == Some(asked.as_str()))
    })
    .await?;
    assert_eq!(value(&client, &ns.name, "web").await.as_deref(), Some("1"), "still rolled back");
    assert!(rolled_back(&get_app(&client, &ns.name, "web").await?).is_some());

    // Resuming syncs git's newest commit and drops the condition.
    lockstep_ok(&ns.name, &["rollback", "web", "--resume", "--wait", "--timeout", "60s"])?;
    wait_synced_at(&client, &ns.name, &third).await?;
    wait_value(&client, &ns.name, "web", Some("3")).await?;
    let app = get_app(&client, &ns.name, "web").await?;
    assert!(rolled_back(&app).is_none());

    // `--until-commit` ends by itself at the next commit. The entry before the deployed one is
    // now the earlier rollback's (the first commit).
    lockstep_ok(&ns.name, &["rollback", "web", "--until-commit", "--wait", "--timeout", "60s"])?;
    wait_value(&client, &ns.name, "web", Some("1")).await?;
    repo.write("web.yaml", &config_map("web", "4"));
    let fourth = repo.commit("four");
    refresh(&client, &ns.name, "web").await?;
    wait_synced_at(&client, &ns.name, &fourth).await?;
    wait_value(&client, &ns.name, "web", Some("4")).await?;
    Ok(())
}
