//! The `lockstep` CLI end to end: `diff` against live state by server-side dry-run (exit codes,
//! exactly the changed field, masked Secrets), `sync --dry-run` (the plan, writing nothing),
//! `sync --wait`, `get -o json`, `explain` after a manual edit, and `refresh --wait`.

use std::path::Path;
use std::process::{Command, Output};

use lockstep_api::{Application, SyncStatusCode};
use lockstep_e2e::apps::{apply_app, wait_app, wait_reason};
use lockstep_e2e::cli::{lockstep, lockstep_bin};
use lockstep_e2e::cluster::kubectl_ok;
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client};
use serde_json::json;

/// One controller process per test namespace: it always leads.
const CONTROLLER_ARGS: &[&str] = &["--leader-elect=false"];

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn deployment(image: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: {image}
        ports:
        - containerPort: 8080
"
    )
}

const SECRET: &str = "apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: hunter2-old
";

const CONFIG: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  mode: blue
";

/// A repository with a Deployment, a Secret and a ConfigMap under `deploy/`.
fn repo() -> GitRepo {
    let repo = GitRepo::new();
    repo.write("deploy/web.yaml", &deployment("registry.example/web:1"));
    repo.write("deploy/secret.yaml", SECRET);
    repo.write("deploy/config.yaml", CONFIG);
    repo.commit("web");
    repo
}

fn spec(repo: &GitRepo, automated: bool) -> serde_json::Value {
    let mut spec = json!({"source": {"repoURL": repo.url(), "targetRevision": "main", "path": "deploy"}});
    if automated {
        spec["syncPolicy"] = json!({"automated": {}});
    }
    spec
}

/// A copy of the repository's working tree, as a merge request checkout would be.
fn checkout(repo: &GitRepo) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    copy_tree(repo.path(), dir.path());
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_name() == ".git" {
            continue;
        }
        if entry.file_type().expect("type").is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

fn changed_lines(diff: &str) -> Vec<&str> {
    diff.lines()
        .filter(|l| (l.starts_with('-') || l.starts_with('+')) && !l.starts_with("---") && !l.starts_with("+++"))
        .collect()
}

#[tokio::test]
async fn diff_exit_codes_show_exactly_the_changed_field_and_mask_secrets() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-cli-diff").await?;
    let repo = repo();
    let _controller = ControllerProcess::start(&ns.name, CONTROLLER_ARGS)?;
    apply_app(&client, &ns.name, "web", spec(&repo, true)).await?;
    wait_app(&client, &ns.name, "web", "Synced", |app| {
        app.status.as_ref().is_some_and(|s| s.sync.status == SyncStatusCode::Synced)
    })
    .await?;

    // The current revision and an unchanged checkout: nothing differs.
    let out = lockstep(&ns.name, &["diff", "web"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(stdout(&out), "no differences\n");
    let unchanged = checkout(&repo);
    let out = lockstep(&ns.name, &["diff", "web", "--path", &unchanged.path().display().to_string()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // A merge request changing the image and the Secret: exactly those fields, values masked.
    let changed = checkout(&repo);
    std::fs::write(changed.path().join("deploy/web.yaml"), deployment("registry.example/web:2"))?;
    std::fs::write(changed.path().join("deploy/secret.yaml"), SECRET.replace("hunter2-old", "hunter2-new"))?;
    let out = lockstep(&ns.name, &["diff", "web", "--path", &changed.path().display().to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = stdout(&out);
    let web = report
        .split("changed  Deployment")
        .nth(1)
        .expect("the Deployment changed")
        .split("\nchanged ")
        .next()
        .unwrap_or_default();
    assert_eq!(
        changed_lines(web),
        vec!["-      - image: registry.example/web:1", "+      - image: registry.example/web:2"],
        "{report}"
    );
    assert!(report.contains(&format!("changed  Secret {}/creds", ns.name)), "{report}");
    assert!(report.contains("password: '*** (before)'") && report.contains("password: '*** (after)'"), "{report}");
    for secret in ["hunter2", "aHVudGVy"] {
        assert!(!report.contains(secret), "a Secret value leaked: {report}");
    }
    assert!(!report.contains("settings"), "unchanged objects are omitted: {report}");

    // The same change committed on a branch, by --revision.
    repo.git(&["checkout", "-q", "-b", "mr"]);
    repo.write("deploy/web.yaml", &deployment("registry.example/web:3"));
    repo.commit("mr");
    repo.git(&["checkout", "-q", "main"]);
    let out = lockstep(&ns.name, &["diff", "web", "--revision", "mr"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stdout(&out).contains("+      - image: registry.example/web:3"), "{}", text(&out));

    // A broken checkout: exit 2 with the render error on stderr.
    let broken = checkout(&repo);
    std::fs::write(broken.path().join("deploy/web.yaml"), "apiVersion: apps/v1\nkind: [unclosed\n")?;
    let out = lockstep(&ns.name, &["diff", "web", "--path", &broken.path().display().to_string()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("web.yaml"), "{}", text(&out));

    // -f: an Application not in the cluster yet; everything would be created.
    let file = tempfile::NamedTempFile::new()?;
    let new_app = json!({"apiVersion": "lockstep.dev/v1alpha1", "kind": "Application",
        "metadata": {"name": "fresh"}, "spec": {"source": {"repoURL": repo.url(), "path": "deploy"}, "destination": {"namespace": ns.name}}});
    std::fs::write(file.path(), serde_yaml_ng::to_string(&new_app)?)?;
    let out = lockstep(&ns.name, &["diff", "-f", &file.path().display().to_string()]);
    // Its objects exist, managed by Application web: comparing them names the owner and fails.
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stdout(&out).contains("already managed by Application"), "{}", text(&out));
    Ok(())
}

#[tokio::test]
async fn sync_wait_get_json_and_explain_on_a_manual_app() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-cli-sync").await?;
    let repo = repo();
    let _controller = ControllerProcess::start(&ns.name, CONTROLLER_ARGS)?;
    apply_app(&client, &ns.name, "web", spec(&repo, false)).await?;
    wait_reason(&client, &ns.name, "web", "OutOfSync").await?;

    let out = lockstep(&ns.name, &["diff", "web"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stdout(&out).contains(&format!("created  Deployment {}/web", ns.name)), "{}", text(&out));

    let out = lockstep(&ns.name, &["sync", "web", "--wait", "--timeout", "90s"]);
    assert!(out.status.success(), "{}", text(&out));
    let printed = stdout(&out);
    assert!(printed.contains(&format!("Deployment {}/web: Synced", ns.name)), "{printed}");
    assert!(printed.contains("sync succeeded"), "{printed}");

    // get -o json round-trips into the API type; the table names the app.
    let out = lockstep(&ns.name, &["get", "web", "-o", "json"]);
    assert!(out.status.success(), "{}", text(&out));
    let app: Application = serde_json::from_slice(&out.stdout)?;
    let status = app.status.expect("status");
    assert!(status.operation_state.and_then(|o| o.sync_request).is_some());
    assert_eq!(status.sync.status, SyncStatusCode::Synced);
    let out = lockstep(&ns.name, &["get", "-o", "json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let items: Vec<Application> = serde_json::from_value(list["items"].clone())?;
    assert_eq!(items.len(), 1);
    let out = lockstep(&ns.name, &["get"]);
    assert!(stdout(&out).starts_with("NAME  SYNC    HEALTH"), "{}", text(&out));
    let out = lockstep(&ns.name, &["get", "web"]);
    assert!(stdout(&out).contains("Resources:"), "{}", text(&out));

    // A kubectl edit of the image: explain names the drifted field and the way back.
    kubectl_ok(
        &[
            "-n",
            &ns.name,
            "patch",
            "deployment",
            "web",
            "--type=json",
            "-p",
            r#"[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"registry.example/web:hotfix"}]"#,
        ],
        None,
    )?;
    wait_reason(&client, &ns.name, "web", "OutOfSync").await?;
    let out = lockstep(&ns.name, &["explain", "web"]);
    assert!(out.status.success(), "{}", text(&out));
    let explained = stdout(&out);
    assert!(
        explained.contains(
            r#"spec.template.spec.containers[0].image: "registry.example/web:hotfix" → "registry.example/web:1""#
        ),
        "{explained}"
    );
    assert!(explained.contains("lockstep sync web"), "{explained}");

    // refresh --wait returns once the controller has looked, even when nothing changes.
    let out = lockstep(&ns.name, &["refresh", "web", "--wait", "--timeout", "60s"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(stdout(&out).starts_with("OutOfSync"), "{}", text(&out));
    Ok(())
}

const HOOK: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: migrate
  annotations:
    argocd.argoproj.io/hook: PreSync
data:
  step: migrate
";

#[tokio::test]
async fn sync_dry_run_prints_the_plan_by_phase_and_wave_and_writes_nothing() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-cli-plan").await?;
    let repo = GitRepo::new();
    repo.write("deploy/web.yaml", &deployment("registry.example/web:1"));
    repo.write(
        "deploy/config.yaml",
        &CONFIG.replace("name: settings", "name: settings\n  annotations:\n    argocd.argoproj.io/sync-wave: \"-1\""),
    );
    repo.write("deploy/hook.yaml", HOOK);
    repo.commit("web with a wave and a hook");
    let _controller = ControllerProcess::start(&ns.name, CONTROLLER_ARGS)?;
    apply_app(&client, &ns.name, "web", spec(&repo, false)).await?;
    wait_reason(&client, &ns.name, "web", "OutOfSync").await?;

    let out = lockstep(&ns.name, &["sync", "web", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1), "a sync would write: {}", text(&out));
    let ns_name = &ns.name;
    assert_eq!(
        stdout(&out),
        format!(
            "PreSync hooks\n  create    ConfigMap {ns_name}/migrate: PreSync hook: runs once per sync operation\n\
             wave -1\n  create    ConfigMap {ns_name}/settings: not in the cluster\n\
             wave 0\n  create    Deployment {ns_name}/web: not in the cluster\n\
             plan: 3 to create, 0 to update, 0 to replace, 0 to prune, 0 unchanged, 0 skipped\n"
        )
    );
    let written = kubectl_ok(&["-n", ns_name, "get", "configmaps,deployments", "-o", "name"], None)?;
    assert!(!written.contains("settings") && !written.contains("deployment"), "a dry run writes nothing: {written}");

    let out = lockstep(&ns.name, &["sync", "web", "--wait", "--timeout", "90s"]);
    assert!(out.status.success(), "{}", text(&out));

    // Drift on one object, another removed from git: the plan says which is which, and prunes only
    // when asked.
    kubectl_ok(
        &["-n", ns_name, "patch", "configmap", "settings", "--type=merge", "-p", r#"{"data":{"mode":"green"}}"#],
        None,
    )?;
    repo.remove("deploy/web.yaml");
    repo.commit("no more web");
    let out = lockstep(&ns.name, &["refresh", "web", "--wait", "--timeout", "60s"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = lockstep(&ns.name, &["sync", "web", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let plan = stdout(&out);
    assert!(plan.contains(&format!("update    ConfigMap {ns_name}/settings: differs from the live object")), "{plan}");
    assert!(
        plan.contains(&format!(
            "left git\n  skip      Deployment {ns_name}/web: left git; only a sync with prune deletes it"
        )),
        "{plan}"
    );
    let out = lockstep(&ns.name, &["sync", "web", "--dry-run", "--prune"]);
    let plan = stdout(&out);
    assert!(plan.contains(&format!("prune     Deployment {ns_name}/web: left git")), "{plan}");
    assert!(
        plan.ends_with("plan: 1 to create, 1 to update, 0 to replace, 1 to prune, 0 unchanged, 0 skipped\n"),
        "{plan}"
    );
    let live = kubectl_ok(&["-n", ns_name, "get", "configmap", "settings", "-o", "jsonpath={.data.mode}"], None)?;
    assert_eq!(live.trim(), "green", "the drift is still there: nothing was written");
    assert!(
        kubectl_ok(&["-n", ns_name, "get", "deployment", "web", "-o", "name"], None)?.contains("web"),
        "nothing pruned"
    );
    Ok(())
}

#[tokio::test]
async fn render_a_local_directory_without_a_cluster() -> anyhow::Result<()> {
    let repo = repo();
    let out = Command::new(lockstep_bin())
        .args(["render", "--path"])
        .arg(repo.path().join("deploy"))
        .args(["--kubeconfig", "/nonexistent"])
        .output()?;
    assert!(out.status.success(), "{}", text(&out));
    let printed = stdout(&out);
    assert_eq!(printed.matches("---\n").count(), 3, "{printed}");
    assert!(printed.contains("image: registry.example/web:1"), "{printed}");

    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(lockstep_bin()).args(["completion", shell]).output()?;
        assert!(out.status.success() && stdout(&out).contains("diff"), "{}", text(&out));
    }
    let out = Command::new(lockstep_bin()).args(["version", "--client"]).output()?;
    assert_eq!(stdout(&out), format!("lockstep {}\n", env!("CARGO_PKG_VERSION")));
    let out = Command::new(lockstep_bin()).args(["get", "--kubeconfig", "/nonexistent"]).output()?;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "), "{}", text(&out));
    Ok(())
}
