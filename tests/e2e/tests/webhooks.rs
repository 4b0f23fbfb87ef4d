//! Push webhooks: each provider's documented payload, good and bad signatures, and only the
//! Applications tracking the pushed ref of the pushed repository refresh.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lockstep_e2e::apps::{apply_app, get_app, wait_app};
use lockstep_e2e::cluster::kubectl_ok;
use lockstep_e2e::http::{free_addr, get, hmac_hex, request};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client};
use serde_json::{Value, json};

fn config_map(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n")
}

/// Fifty ConfigMaps in one file (the issue's "50-object app").
fn fifty(value: &str) -> String {
    (0..50).map(|i| format!("---\n{}", config_map(&format!("item-{i}"), value))).collect()
}

fn app_spec(repo: &GitRepo, revision: &str, path: &str) -> Value {
    json!({
        "source": {"repoURL": repo.url(), "targetRevision": revision, "path": path},
        "syncPolicy": {"automated": {"prune": true}},
    })
}

/// A controller that only refreshes on webhooks (the resync period and listing TTL are long).
fn start_controller(ns: &str, webhook: SocketAddr, metrics: SocketAddr) -> anyhow::Result<ControllerProcess> {
    ControllerProcess::start(
        ns,
        &[
            "--resync-period",
            "30m",
            "--controller-namespace",
            ns,
            "--webhook-addr",
            &webhook.to_string(),
            "--metrics-addr",
            &metrics.to_string(),
        ],
    )
}

fn webhook_secret(ns: &str, pairs: &[(&str, &str)]) -> anyhow::Result<()> {
    let data: String = pairs.iter().map(|(k, v)| format!("  {k}: \"{v}\"\n")).collect();
    let yaml = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: lockstep-webhook\n  namespace: {ns}\nstringData:\n{data}"
    );
    kubectl_ok(&["apply", "-f", "-"], Some(&yaml))?;
    Ok(())
}

async fn revision_of(client: &kube::Client, ns: &str, name: &str) -> anyhow::Result<Option<String>> {
    Ok(get_app(client, ns, name).await?.status.and_then(|s| s.sync.revision))
}

async fn wait_revision(client: &kube::Client, ns: &str, name: &str, revision: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    wait_app(client, ns, name, &format!("{name} synced at {revision}"), |app| {
        app.status
            .as_ref()
            .is_some_and(|s| s.sync.revision.as_deref() == Some(revision) && format!("{:?}", s.sync.status) == "Synced")
    })
    .await?;
    Ok(started.elapsed())
}

async fn wait_webhook_ready(addr: SocketAddr) -> anyhow::Result<()> {
    lockstep_e2e::wait_for("webhook server", Duration::from_secs(60), || async {
        let r = request(addr, "POST", "/api/webhook", &[], b"{}").await?;
        Ok(Some(r.status))
    })
    .await
    .map(drop)
}

fn gitlab_push(repo: &GitRepo, branch: &str, before: &str, after: &str) -> Vec<u8> {
    // Shape from GitLab's "Push events" documentation.
    serde_json::to_vec(&json!({
        "object_kind": "push", "event_name": "push", "before": before, "after": after,
        "ref": format!("refs/heads/{branch}"), "checkout_sha": after, "user_name": "John Smith",
        "project_id": 15,
        "project": {"id": 15, "name": "app", "web_url": "https://gitlab.example.com/team/app",
                    "git_ssh_url": "git@gitlab.example.com:team/app.git", "git_http_url": repo.url(),
                    "namespace": "team", "path_with_namespace": "team/app", "default_branch": "main"},
        "repository": {"name": "app", "url": "git@gitlab.example.com:team/app.git",
                       "homepage": "https://gitlab.example.com/team/app", "git_http_url": repo.url(),
                       "git_ssh_url": "git@gitlab.example.com:team/app.git"},
        "commits": [{"id": after, "message": "change", "added": [], "modified": ["app/config.yaml"], "removed": []}],
        "total_commits_count": 1
    }))
    .unwrap_or_default()
}

#[tokio::test]
async fn gitlab_push_refreshes_only_apps_tracking_the_pushed_branch() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-webhook-gitlab").await?;
    let repo = GitRepo::new();
    repo.write("app/config.yaml", &config_map("main-config", "1"));
    repo.write("app/many.yaml", &fifty("1"));
    repo.write("head/config.yaml", &config_map("head-config", "1"));
    let first = repo.commit("first");
    repo.git(&["checkout", "-q", "-b", "dev"]);
    repo.write("dev/config.yaml", &config_map("dev-config", "1"));
    let dev_first = repo.commit("dev first");
    repo.git(&["checkout", "-q", "main"]);
    webhook_secret(&ns.name, &[("gitlab", "gl-token")])?;
    let (webhook, metrics) = (free_addr(), free_addr());
    let _controller = start_controller(&ns.name, webhook, metrics)?;
    apply_app(&client, &ns.name, "main-app", app_spec(&repo, "main", "app")).await?;
    apply_app(&client, &ns.name, "head-app", app_spec(&repo, "HEAD", "head")).await?;
    apply_app(&client, &ns.name, "dev-app", app_spec(&repo, "dev", "dev")).await?;
    wait_revision(&client, &ns.name, "main-app", &first).await?;
    wait_revision(&client, &ns.name, "head-app", &first).await?;
    wait_revision(&client, &ns.name, "dev-app", &dev_first).await?;
    wait_webhook_ready(webhook).await?;

    repo.write("app/config.yaml", &config_map("main-config", "2"));
    repo.write("app/many.yaml", &fifty("2"));
    let second = repo.commit("second");
    let body = gitlab_push(&repo, "main", &first, &second);
    let headers = [("Content-Type", "application/json"), ("X-Gitlab-Event", "Push Hook")];
    let wrong =
        request(webhook, "POST", "/api/webhook", &[headers[0], headers[1], ("X-Gitlab-Token", "guess")], &body).await?;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    let missing = request(webhook, "POST", "/api/webhook", &headers, &body).await?;
    assert_eq!(missing.status, 401, "{}", missing.body);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        revision_of(&client, &ns.name, "main-app").await?.as_deref(),
        Some(first.as_str()),
        "a rejected push refreshes nothing"
    );

    let good =
        request(webhook, "POST", "/api/webhook", &[headers[0], headers[1], ("X-Gitlab-Token", "gl-token")], &body)
            .await?;
    assert_eq!(good.status, 200, "{}", good.body);
    let answer: Value = serde_json::from_str(&good.body)?;
    let mut names: Vec<String> = answer["applications"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    names.sort();
    assert_eq!(names, [format!("{}/head-app", ns.name), format!("{}/main-app", ns.name)]);
    let took = wait_revision(&client, &ns.name, "main-app", &second).await?;
    eprintln!("webhook received -> 51 objects applied and status written: {took:?}");
    assert!(took < Duration::from_secs(5), "push to applied took {took:?}");
    wait_revision(&client, &ns.name, "head-app", &second).await?;
    let value = kubectl_ok(&["get", "configmap", "main-config", "-n", &ns.name, "-o", "jsonpath={.data.value}"], None)?;
    assert_eq!(value, "2");
    assert_eq!(revision_of(&client, &ns.name, "dev-app").await?.as_deref(), Some(dev_first.as_str()));

    let text = get(metrics, "/metrics").await?.body;
    assert!(text.contains(r#"lockstep_webhook_requests_total{provider="gitlab",result="unauthorized"} 2"#), "{text}");
    assert!(text.contains(r#"lockstep_webhook_requests_total{provider="gitlab",result="accepted"} 1"#), "{text}");
    Ok(())
}

/// GitHub `push` (X-Hub-Signature-256), Gitea `push` (X-Gitea-Signature), Bitbucket Cloud
/// `repo:push` and Bitbucket Server `repo:refs_changed` (X-Hub-Signature).
#[tokio::test]
async fn github_gitea_and_bitbucket_pushes_are_verified_then_refresh() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-webhook-hmac").await?;
    let repo = GitRepo::new();
    repo.write("app/config.yaml", &config_map("cfg", "0"));
    let mut previous = repo.commit("first");
    webhook_secret(&ns.name, &[("github", "gh-secret"), ("gitea", "gt-secret"), ("bitbucket", "bb-secret")])?;
    let (webhook, metrics) = (free_addr(), free_addr());
    let _controller = start_controller(&ns.name, webhook, metrics)?;
    apply_app(&client, &ns.name, "app", app_spec(&repo, "main", "app")).await?;
    wait_revision(&client, &ns.name, "app", &previous).await?;
    wait_webhook_ready(webhook).await?;

    let ping = serde_json::to_vec(&json!({"zen": "Keep it logically awesome.", "hook_id": 1}))?;
    let signature = format!("sha256={}", hmac_hex(b"gh-secret", &ping));
    let pong = request(
        webhook,
        "POST",
        "/api/webhook",
        &[("X-GitHub-Event", "ping"), ("X-Hub-Signature-256", &signature)],
        &ping,
    )
    .await?;
    assert_eq!(pong.status, 200, "{}", pong.body);

    let url = repo.url();
    for (round, provider) in ["github", "gitea", "bitbucket-cloud", "bitbucket-server"].into_iter().enumerate() {
        repo.write("app/config.yaml", &config_map("cfg", &format!("{}", round + 1)));
        let next = repo.commit(provider);
        let (body, event_headers, signature_header, key): (Value, Vec<(&str, &str)>, &str, &[u8]) = match provider {
            "github" => (
                json!({"ref": "refs/heads/main", "before": previous, "after": next,
                       "repository": {"full_name": "team/app", "html_url": "https://github.com/team/app",
                                      "clone_url": url, "ssh_url": "git@github.com:team/app.git", "default_branch": "main"},
                       "pusher": {"name": "octocat"}, "commits": [{"id": next}]}),
                vec![("X-GitHub-Event", "push"), ("X-GitHub-Delivery", "72d3162e")],
                "X-Hub-Signature-256",
                b"gh-secret",
            ),
            "gitea" => (
                json!({"ref": "refs/heads/main", "before": previous, "after": next,
                       "repository": {"full_name": "team/app", "html_url": "https://gitea.example.com/team/app",
                                      "clone_url": url, "ssh_url": "git@gitea.example.com:team/app.git", "default_branch": "main"},
                       "commits": [{"id": next}]}),
                vec![("X-Gitea-Event", "push"), ("X-GitHub-Event", "push"), ("X-Gitea-Delivery", "f6266f16")],
                "X-Gitea-Signature",
                b"gt-secret",
            ),
            "bitbucket-cloud" => (
                json!({"push": {"changes": [{"new": {"type": "branch", "name": "main", "target": {"hash": next}},
                                             "old": {"type": "branch", "name": "main", "target": {"hash": previous}}}]},
                       "repository": {"type": "repository", "full_name": "team/app", "name": "app",
                                      "links": {"html": {"href": url}}},
                       "actor": {"display_name": "Jane"}}),
                vec![
                    ("X-Event-Key", "repo:push"),
                    ("X-Hook-UUID", "d6b8f0e2"),
                    ("User-Agent", "Bitbucket-Webhooks/2.0"),
                ],
                "X-Hub-Signature",
                b"bb-secret",
            ),
            _ => (
                json!({"eventKey": "repo:refs_changed", "date": "2026-11-24T07:00:00+0000",
                       "actor": {"name": "admin"},
                       "repository": {"slug": "app", "name": "app", "project": {"key": "TEAM"},
                                      "links": {"clone": [{"href": "ssh://git@bitbucket.example.com:7999/team/app.git", "name": "ssh"},
                                                          {"href": url, "name": "http"}]}},
                       "changes": [{"ref": {"id": "refs/heads/main", "displayId": "main", "type": "BRANCH"},
                                    "refId": "refs/heads/main", "fromHash": previous, "toHash": next, "type": "UPDATE"}]}),
                vec![("X-Event-Key", "repo:refs_changed"), ("X-Request-Id", "a7a2b7b0")],
                "X-Hub-Signature",
                b"bb-secret",
            ),
        };
        let body = serde_json::to_vec(&body)?;
        let hex = hmac_hex(key, &body);
        let good_value = if provider == "gitea" { hex.clone() } else { format!("sha256={hex}") };
        let bad_value = if provider == "gitea" {
            hmac_hex(b"wrong", &body)
        } else {
            format!("sha256={}", hmac_hex(b"wrong", &body))
        };
        let mut bad_headers = event_headers.clone();
        bad_headers.push((signature_header, &bad_value));
        let bad = request(webhook, "POST", "/api/webhook", &bad_headers, &body).await?;
        assert_eq!(bad.status, 401, "{provider}: {}", bad.body);
        let mut good_headers = event_headers.clone();
        good_headers.push((signature_header, &good_value));
        let good = request(webhook, "POST", "/api/webhook", &good_headers, &body).await?;
        assert_eq!(good.status, 200, "{provider}: {}", good.body);
        assert!(good.body.contains(&format!("{}/app", ns.name)), "{provider}: {}", good.body);
        wait_revision(&client, &ns.name, "app", &next).await?;
        previous = next;
    }
    let text = get(metrics, "/metrics").await?.body;
    for provider in ["github", "gitea", "bitbucket-cloud", "bitbucket-server"] {
        assert!(
            text.contains(&format!(
                r#"lockstep_webhook_requests_total{{provider="{provider}",result="unauthorized"}} 1"#
            )),
            "{text}"
        );
        assert!(
            text.contains(&format!(r#"lockstep_webhook_requests_total{{provider="{provider}",result="accepted"}} 1"#)),
            "{text}"
        );
    }
    Ok(())
}

/// A webhook reaching a replica that does not lead still refreshes: the follower asks the leader
/// through `lockstep.dev/refresh`.
#[tokio::test]
async fn a_follower_replica_passes_a_push_to_the_leader() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-webhook-follower").await?;
    let repo = GitRepo::new();
    repo.write("app/config.yaml", &config_map("cfg", "1"));
    let first = repo.commit("first");
    let (leader_hook, leader_metrics) = (free_addr(), free_addr());
    let _leader = start_controller(&ns.name, leader_hook, leader_metrics)?;
    apply_app(&client, &ns.name, "app", app_spec(&repo, "main", "app")).await?;
    wait_revision(&client, &ns.name, "app", &first).await?;
    let (follower_hook, follower_metrics) = (free_addr(), free_addr());
    let _follower = start_controller(&ns.name, follower_hook, follower_metrics)?;
    wait_webhook_ready(follower_hook).await?;
    // Ready once its Application watch has listed, as a Service would route to it: before that
    // its webhook finds no Application the push concerns.
    lockstep_e2e::wait_for("the follower ready", Duration::from_secs(60), || async {
        let r = get(follower_metrics, "/readyz").await?;
        if r.status == 200 { Ok(Some(())) } else { anyhow::bail!("/readyz answered {}", r.status) }
    })
    .await?;

    repo.write("app/config.yaml", &config_map("cfg", "2"));
    let second = repo.commit("second");
    let body = gitlab_push(&repo, "main", &first, &second);
    let headers = [("Content-Type", "application/json"), ("X-Gitlab-Event", "Push Hook")];
    let answer = request(follower_hook, "POST", "/api/webhook", &headers, &body).await?;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let took = wait_revision(&client, &ns.name, "app", &second).await?;
    assert!(took < Duration::from_secs(15), "took {took:?}");
    Ok(())
}
