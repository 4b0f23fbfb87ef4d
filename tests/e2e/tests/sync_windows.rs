//! Sync windows end to end: a deny window of the Application's AppProject holds a new commit and
//! self-heal (drift is still reported), says which window and until when, and the commit syncs
//! when the window ends; a window with `manualSync: true` lets `lockstep sync` through.

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::jiff::{Timestamp, ToSpan};
use kube::api::{Api, Patch, PatchParams};
use lockstep_api::{AppProject, SyncStatusCode};
use lockstep_e2e::apps::{apply_app, ready, refresh, wait_app, wait_reason};
use lockstep_e2e::cli::lockstep_ok;
use lockstep_e2e::configmaps::{config_map, value, wait_value};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client};
use serde_json::{Value, json};

async fn set_windows(client: &kube::Client, ns: &str, windows: Value) -> anyhow::Result<()> {
    let project = json!({
        "apiVersion": "lockstep.dev/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": "platform", "namespace": ns},
        "spec": {
            "sourceRepos": ["*"],
            "destinations": [{"server": "*", "namespace": "*"}],
            "syncWindows": windows,
        },
    });
    Api::<AppProject>::namespaced(client.clone(), ns)
        .patch("platform", &PatchParams::apply("e2e-test").force(), &Patch::Apply(&project))
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_deny_window_holds_a_commit_until_it_ends_and_manual_sync_passes_when_allowed() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-windows").await?;
    let repo = GitRepo::new();
    repo.write("cm.yaml", &config_map("settings", "1"));
    repo.commit("one");
    set_windows(&client, &ns.name, json!([])).await?;
    let _controller =
        ControllerProcess::start(&ns.name, &["--controller-namespace", &ns.name, "--resync-period", "1h"])?;
    let spec = json!({
        "project": "platform",
        "source": {"repoURL": repo.url(), "targetRevision": "main"},
        "syncPolicy": {"automated": {"prune": true, "selfHeal": true}},
    });
    apply_app(&client, &ns.name, "windowed", spec).await?;
    wait_reason(&client, &ns.name, "windowed", "Succeeded").await?;

    // A deny window that began at the start of this minute and ends about 35 s from now.
    let now = Timestamp::now();
    let zoned = now.to_zoned(k8s_openapi::jiff::tz::TimeZone::UTC);
    let started = zoned.second() as i64;
    // Cron works in whole minutes and the duration in whole seconds: the window ends at this
    // second's start plus 35 s, not at `now` plus 35 s.
    let ends = Timestamp::from_second(now.as_second())? + 35.seconds();
    let schedule = format!("{} {} * * *", zoned.minute(), zoned.hour());
    let deny = json!({"kind": "deny", "schedule": schedule, "duration": format!("{}s", started + 35),
                      "applications": ["windowed"], "manualSync": false});
    set_windows(&client, &ns.name, json!([deny])).await?;
    repo.write("cm.yaml", &config_map("settings", "2"));
    repo.commit("two, inside the window");
    refresh(&client, &ns.name, "windowed").await?;
    let held = wait_reason(&client, &ns.name, "windowed", "SyncWindowBlocked").await?;
    let message = ready(&held).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("deny") && message.contains(&schedule) && message.contains("until"), "{message}");
    assert_eq!(value(&client, &ns.name, "settings").await.as_deref(), Some("1"), "the commit is held");
    assert_eq!(held.status.as_ref().map(|s| s.sync.status), Some(SyncStatusCode::OutOfSync), "and reported");

    // Drift inside the window is reported, not healed.
    let edit = json!({"data": {"value": "by hand"}});
    Api::<ConfigMap>::namespaced(client.clone(), &ns.name)
        .patch("settings", &PatchParams::default(), &Patch::Merge(&edit))
        .await?;
    wait_app(&client, &ns.name, "windowed", "the edit reported as drift", |app| {
        app.status.as_ref().is_some_and(|s| s.resources.iter().any(|r| r.status == SyncStatusCode::OutOfSync))
    })
    .await?;
    assert_eq!(value(&client, &ns.name, "settings").await.as_deref(), Some("by hand"), "self-heal is held");
    assert!(Timestamp::now() < ends, "the checks above ran inside the window");

    // The window ends: the held commit syncs without a trigger (the controller looks again then).
    wait_value(&client, &ns.name, "settings", Some("2")).await?;
    wait_reason(&client, &ns.name, "windowed", "Succeeded").await?;
    assert!(Timestamp::now() >= ends, "synced only once the window ended");

    // A window that lets people sync: automation waits, `lockstep sync` goes through.
    let always = json!({"kind": "deny", "schedule": "* * * * *", "duration": "1h", "applications": ["*"],
                        "manualSync": true});
    set_windows(&client, &ns.name, json!([always])).await?;
    repo.write("cm.yaml", &config_map("settings", "3"));
    repo.commit("three");
    refresh(&client, &ns.name, "windowed").await?;
    wait_reason(&client, &ns.name, "windowed", "SyncWindowBlocked").await?;
    assert_eq!(value(&client, &ns.name, "settings").await.as_deref(), Some("2"));
    lockstep_ok(&ns.name, &["sync", "windowed", "--wait", "--timeout", "60s"])?;
    wait_value(&client, &ns.name, "settings", Some("3")).await?;

    // A window that cannot be evaluated is the project's error, named on the Application.
    let broken = json!({"kind": "deny", "schedule": "61 * * * *", "duration": "1h", "applications": ["*"]});
    set_windows(&client, &ns.name, json!([broken])).await?;
    let app = wait_reason(&client, &ns.name, "windowed", "ProjectViolation").await?;
    let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("syncWindows[0]") && message.contains("61 * * * *"), "{message}");
    Ok(())
}
