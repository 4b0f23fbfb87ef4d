//! Notifications sent by the controller to local stand-ins of Mattermost, Telegram, Slack and a
//! signed generic webhook: firing and resolved messages, once only across a restart, a hanging
//! endpoint that does not slow reconciles, and links to the UI's page with `--ui-url`.

use std::time::{Duration, Instant};

use lockstep_e2e::apps::{apply_app, get_app, refresh, wait_app};
use lockstep_e2e::chat::{ChatServer, Received};
use lockstep_e2e::cluster::kubectl_ok;
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client, wait_for};
use serde_json::json;

const TELEGRAM_TOKEN: &str = "123456:ABC-DEF1234ghIkl";
const MATTERMOST_TOKEN: &str = "mm-bot-token";
const SIGNING_KEY: &str = "webhook-signing-key";

fn deployment(name: &str, pod_spec: &str) -> String {
    format!(
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
spec:
  replicas: 1
  progressDeadlineSeconds: 5
  selector:
    matchLabels:
      app: {name}
  template:
    metadata:
      labels:
        app: {name}
    spec:
{pod_spec}      containers:
      - name: main
        image: registry.example/{name}:1
"
    )
}

const UNSCHEDULABLE: &str = "      nodeSelector:\n        lockstep.dev/e2e-no-such-node: \"true\"\n";

fn apply_yaml(yaml: &str) -> anyhow::Result<()> {
    kubectl_ok(&["apply", "-f", "-"], Some(yaml)).map(drop)
}

/// The ConfigMap and Secret `lockstep-notifications` pointing every service at the stand-in.
fn configure(ns: &str, chat: &ChatServer, extra: &str) -> anyhow::Result<()> {
    let url = chat.url();
    apply_yaml(&format!(
        "apiVersion: v1
kind: Secret
metadata:
  name: lockstep-notifications
  namespace: {ns}
stringData:
  mattermost-url: {url}/hooks/xn4ty8bd8tfh9jmzwpe6dbijpc
  mattermost-token: {MATTERMOST_TOKEN}
  telegram-token: \"{TELEGRAM_TOKEN}\"
  slack-url: {url}/services/T000/B000/XXXX
  signing-key: {SIGNING_KEY}
"
    ))?;
    apply_yaml(&format!(
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: lockstep-notifications
  namespace: {ns}
data:
  service.mattermost: |
    webhookUrl: $mattermost-url
  service.mattermost.api: |
    apiUrl: {url}
    token: $mattermost-token
    channel: ops-channel-id
  service.telegram: |
    apiUrl: {url}
    token: $telegram-token
  service.slack: |
    webhookUrl: $slack-url
  service.webhook.audit: |
    url: {url}/webhook
    headers:
    - name: X-Team
      value: platform
    signingSecret: $signing-key
{extra}"
    ))
}

fn start(ns: &str) -> anyhow::Result<ControllerProcess> {
    ControllerProcess::start(ns, &["--controller-namespace", ns])
}

fn count(received: &[Received], service: &str, needle: &str) -> usize {
    received.iter().filter(|r| r.service == service && r.text().contains(needle)).count()
}

async fn wait_received(chat: &ChatServer, what: &str, check: impl Fn(&[Received]) -> bool) -> anyhow::Result<()> {
    wait_for(what, Duration::from_secs(60), || async {
        let got = chat.accepted();
        if check(&got) {
            Ok(Some(()))
        } else {
            anyhow::bail!(
                "received {:?}; rejected {:?}",
                got.iter().map(|r| (r.service, r.text())).collect::<Vec<_>>(),
                chat.rejected()
            )
        }
    })
    .await
}

#[tokio::test]
async fn degraded_fires_once_across_a_restart_then_resolves_and_deploys() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-notify-degraded").await?;
    let chat = ChatServer::start(MATTERMOST_TOKEN, TELEGRAM_TOKEN, SIGNING_KEY).await?;
    configure(&ns.name, &chat, "")?;
    let repo = GitRepo::new();
    repo.write("app/web.yaml", &deployment("web", UNSCHEDULABLE));
    let stuck = repo.commit("unschedulable");
    let controller = start(&ns.name)?;
    let spec = json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main", "path": "app"},
        "syncPolicy": {"automated": {"prune": true}},
    });
    apply_app(&client, &ns.name, "web", spec).await?;
    kubectl_ok(
        &[
            "annotate",
            "application",
            "web",
            "-n",
            &ns.name,
            "notifications.lockstep.dev/subscribe.on-health-degraded.mattermost=town-square",
            "notifications.lockstep.dev/subscribe.on-health-degraded.telegram=-1001234567890",
            "notifications.lockstep.dev/subscribe.on-deployed.telegram=-1001234567890",
            "notifications.lockstep.dev/subscribe.on-deployed.mattermost.api=",
        ],
        None,
    )?;
    wait_received(&chat, "degraded on Mattermost and Telegram", |r| {
        count(r, "mattermost", "FIRING: App Degraded") == 1 && count(r, "telegram", "FIRING: App Degraded") == 1
    })
    .await?;
    let got = chat.accepted();
    let mattermost = got.iter().find(|r| r.service == "mattermost").expect("mattermost message");
    assert_eq!(mattermost.body["channel"], "town-square");
    let text = mattermost.text();
    assert!(text.contains(&format!("App: {}/web", ns.name)), "{text}");
    assert!(text.contains("Health: Degraded") && text.contains("Sync: Synced"), "{text}");
    assert!(text.contains(&format!("Revision: {}", &stuck[..7])), "{text}");
    assert!(text.contains("exceeded its progress deadline"), "{text}");
    let telegram = got.iter().find(|r| r.service == "telegram").expect("telegram message");
    assert_eq!(telegram.body["chat_id"], "-1001234567890");
    assert_eq!(telegram.path, format!("/bot{TELEGRAM_TOKEN}/sendMessage"));

    // A new controller process must not announce the same incident again.
    let cache = controller.stop();
    let _controller = ControllerProcess::start_with_cache(&ns.name, cache, &["--controller-namespace", &ns.name])?;
    refresh(&client, &ns.name, "web").await?;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let got = chat.accepted();
    assert_eq!(count(&got, "mattermost", "FIRING: App Degraded"), 1, "sent again after restart");
    assert_eq!(count(&got, "telegram", "FIRING: App Degraded"), 1, "sent again after restart");

    repo.write("app/web.yaml", &deployment("web", ""));
    let fixed = repo.commit("schedulable");
    refresh(&client, &ns.name, "web").await?;
    wait_received(&chat, "resolved and deployed", |r| {
        count(r, "mattermost", "RESOLVED: App Degraded") == 1
            && count(r, "telegram", "RESOLVED: App Degraded") == 1
            && count(r, "telegram", "FIRING: App Deployed") == 1
            && count(r, "mattermost-api", "FIRING: App Deployed") == 1
    })
    .await?;
    let got = chat.accepted();
    let deployed = got.iter().find(|r| r.service == "mattermost-api").expect("mattermost API post");
    assert_eq!(deployed.body["channel_id"], "ops-channel-id");
    assert!(deployed.text().contains(&format!("Revision: {}", &fixed[..7])));
    let app = get_app(&client, &ns.name, "web").await?;
    let state = app
        .metadata
        .annotations
        .unwrap_or_default()
        .get("notifications.lockstep.dev/state")
        .cloned()
        .unwrap_or_default();
    assert!(state.contains("\"on-health-degraded\":{\"revision\":"), "{state}");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let got = chat.accepted();
    assert_eq!(count(&got, "telegram", "FIRING: App Deployed"), 1, "deployed once per revision");
    assert!(chat.rejected().is_empty(), "{:?}", chat.rejected());
    Ok(())
}

#[tokio::test]
async fn a_hanging_endpoint_does_not_slow_reconciles_and_others_still_hear_with_links_to_the_ui() -> anyhow::Result<()>
{
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-notify-hang").await?;
    let chat = ChatServer::start(MATTERMOST_TOKEN, TELEGRAM_TOKEN, SIGNING_KEY).await?;
    let hang = format!(
        "  service.webhook.hang: |\n    url: {}/hang\n  subscriptions: |\n    - recipients: [webhook.hang, slack, webhook.audit]\n      triggers: [on-sync-succeeded, on-deployed]\n      selector: team=payments\n",
        chat.url()
    );
    configure(&ns.name, &chat, &hang)?;
    let repo = GitRepo::new();
    repo.write("app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  value: \"1\"\n");
    repo.commit("first");
    let args = ["--controller-namespace", &ns.name, "--ui-url", "http://ui.example/"];
    let _controller = ControllerProcess::start(&ns.name, &args)?;
    let spec = json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main", "path": "app"},
        "syncPolicy": {"automated": {"prune": true}},
    });
    apply_app(&client, &ns.name, "pay", spec).await?;
    kubectl_ok(&["label", "application", "pay", "-n", &ns.name, "team=payments"], None)?;
    wait_received(&chat, "deployed on Slack and the signed webhook", |r| {
        count(r, "slack", "FIRING: App Deployed") == 1
            && r.iter().any(|m| m.service == "webhook" && m.body["trigger"] == "on-deployed")
    })
    .await?;
    let got = chat.accepted();
    let audit = got.iter().find(|m| m.service == "webhook" && m.body["trigger"] == "on-deployed").expect("webhook");
    assert_eq!(audit.body["application"]["name"], "pay");
    assert_eq!(audit.body["state"], "firing");
    // With --ui-url, the messages link to the Application's page in the UI.
    let page = format!("http://ui.example/apps/{}/pay", ns.name);
    assert_eq!(audit.body["url"], page.as_str());
    let slack = got.iter().find(|m| m.service == "slack" && m.text().contains("FIRING: App Deployed"));
    let slack = slack.map(|m| m.text()).unwrap_or_default();
    assert!(slack.contains(&format!("\nLink: {page}")), "the Slack message links the UI page: {slack}");

    // Several commits in a row while the hanging endpoint holds its deliveries: each reconcile is prompt.
    let mut last = String::new();
    for round in 2..=4 {
        repo.write(
            "app/cm.yaml",
            &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  value: \"{round}\"\n"),
        );
        let revision = repo.commit(&format!("round {round}"));
        let started = Instant::now();
        refresh(&client, &ns.name, "pay").await?;
        wait_app(&client, &ns.name, "pay", "synced at the new revision", |app| {
            app.status.as_ref().is_some_and(|s| {
                s.sync.revision.as_deref() == Some(revision.as_str()) && format!("{:?}", s.sync.status) == "Synced"
            })
        })
        .await?;
        let took = started.elapsed();
        assert!(took < Duration::from_secs(8), "round {round} took {took:?} with a hanging notification endpoint");
        last = revision;
    }
    // Revisions superseded before the notifier looked may go unannounced; the final one is announced.
    let needle = format!("Revision: {}", &last[..7]);
    wait_received(&chat, "the final revision's deployed message", |r| {
        r.iter()
            .any(|m| m.service == "slack" && m.text().contains("FIRING: App Deployed") && m.text().contains(&needle))
    })
    .await?;
    assert!(chat.rejected().is_empty(), "{:?}", chat.rejected());
    Ok(())
}

/// `on-sync-status-unknown` (a path that does not exist) and `on-health-progressing` (after the
/// configured delay) fire and resolve; the generic webhook gets a signed, structured body.
#[tokio::test]
async fn unknown_sync_status_and_long_progressing_fire_and_resolve() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-notify-unknown").await?;
    let chat = ChatServer::start(MATTERMOST_TOKEN, TELEGRAM_TOKEN, SIGNING_KEY).await?;
    configure(
        &ns.name,
        &chat,
        "  progressingDelay: 2s\n  template.on-health-progressing: |\n    {{state}} {{app}} still {{health}} at {{shortRevision}}\n",
    )?;
    let repo = GitRepo::new();
    repo.write(
        "app/web.yaml",
        &deployment("web", UNSCHEDULABLE).replace("progressDeadlineSeconds: 5", "progressDeadlineSeconds: 600"),
    );
    let revision = repo.commit("stuck but not past its deadline");
    let _controller = start(&ns.name)?;
    let spec = json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main", "path": "missing"},
        "syncPolicy": {"automated": {"prune": true}},
    });
    apply_app(&client, &ns.name, "web", spec).await?;
    kubectl_ok(
        &[
            "annotate",
            "application",
            "web",
            "-n",
            &ns.name,
            "notifications.lockstep.dev/subscribe.on-sync-status-unknown.webhook.audit=",
            "notifications.lockstep.dev/subscribe.on-health-progressing.slack=",
        ],
        None,
    )?;
    wait_received(&chat, "sync status unknown", |r| {
        r.iter().any(|m| {
            m.service == "webhook" && m.body["trigger"] == "on-sync-status-unknown" && m.body["state"] == "firing"
        })
    })
    .await?;
    let got = chat.accepted();
    let unknown = got.iter().find(|m| m.service == "webhook").expect("webhook");
    assert_eq!(unknown.body["sync"], "Unknown");
    assert!(unknown.body["message"].as_str().unwrap_or_default().contains("missing"), "{}", unknown.body);

    let mut fixed = spec_with_path(&repo, "app");
    fixed["syncPolicy"] = json!({"automated": {"prune": true}});
    apply_app(&client, &ns.name, "web", fixed).await?;
    wait_received(&chat, "unknown resolved and progressing fired", |r| {
        r.iter().any(|m| {
            m.service == "webhook" && m.body["trigger"] == "on-sync-status-unknown" && m.body["state"] == "resolved"
        }) && count(r, "slack", &format!("FIRING {}/web still Progressing at {}", ns.name, &revision[..7])) == 1
    })
    .await?;
    let progressing = get_app(&client, &ns.name, "web").await?;
    assert_eq!(progressing.status.map(|s| format!("{:?}", s.health.status)).as_deref(), Some("Progressing"));

    repo.write("app/web.yaml", &deployment("web", ""));
    repo.commit("schedulable");
    refresh(&client, &ns.name, "web").await?;
    // No `template.on-health-progressing.resolved`: the default resolved message.
    wait_received(&chat, "progressing resolved", |r| count(r, "slack", "RESOLVED: App Progressing Too Long") == 1)
        .await?;
    assert!(chat.rejected().is_empty(), "{:?}", chat.rejected());
    Ok(())
}

fn spec_with_path(repo: &GitRepo, path: &str) -> serde_json::Value {
    json!({"source": {"repoURL": repo.url(), "targetRevision": "main", "path": path}})
}
