//! The secret-hygiene audit: a full scenario with several test secrets (a SOPS-encrypted Secret's
//! plaintext, a git credentials Secret's password, a notification service token and a webhook
//! signing key), then every controller log line, every Event of the namespace, every status field of
//! the Applications, the `/metrics` text and every notification payload is searched for the
//! plaintext of each secret: none is found. The applied Secret, searched the same way, does hold the
//! SOPS plaintext, so the search looks for something real.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Secret};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use lockstep_api::Application;
use lockstep_e2e::apps::{apply_app, refresh, wait_reason};
use lockstep_e2e::chat::ChatServer;
use lockstep_e2e::cluster::kubectl_ok;
use lockstep_e2e::gitserver::{HTTP_PASSWORD, HTTP_USER, HttpGitServer};
use lockstep_e2e::http::{free_addr, get};
use lockstep_e2e::sops::AgeKey;
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client, wait_for};
use serde_json::json;

const MATTERMOST_TOKEN: &str = "hygiene-mattermost-token-7c1e";
const SIGNING_KEY: &str = "hygiene-signing-key-93af";
const WRONG_PASSWORD: &str = "hygiene-wrong-password-51d0";

/// Where each secret's plaintext was found, by surface name.
fn leaks(surfaces: &BTreeMap<&str, String>, secrets: &[(&str, &str)]) -> Vec<String> {
    let mut found = Vec::new();
    for (surface, text) in surfaces {
        for (secret, plaintext) in secrets {
            if text.contains(plaintext) {
                found.push(format!("{secret} in {surface}"));
            }
        }
    }
    found
}

fn configure_notifications(ns: &str, chat: &ChatServer) -> anyhow::Result<()> {
    let url = chat.url();
    kubectl_ok(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: lockstep-notifications\n  namespace: {ns}\nstringData:\n  mattermost-token: {MATTERMOST_TOKEN}\n  signing-key: {SIGNING_KEY}\n---\n\
apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lockstep-notifications\n  namespace: {ns}\ndata:\n  \
service.mattermost.api: |\n    apiUrl: {url}\n    token: $mattermost-token\n    channel: ops\n  \
service.webhook.audit: |\n    url: {url}/webhook\n    signingSecret: $signing-key\n  \
subscriptions: |\n    - recipients: [mattermost.api, webhook.audit]\n      triggers: [on-deployed, on-sync-succeeded, on-sync-status-unknown, on-sync-failed]\n"
        )),
    )
    .map(drop)
}

#[tokio::test]
async fn no_secret_reaches_logs_events_status_metrics_or_notifications() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-hygiene").await?;
    let key = AgeKey::generate()?;
    let sops_plaintext = format!("hygiene-sops-{:016x}", rand::random::<u64>());
    let secret_yaml = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  labels:\n    rev: \"1\"\nstringData:\n  password: {sops_plaintext}\n  dsn: postgres://app:{sops_plaintext}@db:5432/app\n"
    );
    let repo = GitRepo::new();
    repo.write("app/db.enc.yaml", &key.encrypt("db.yaml", &secret_yaml, &["--encrypted-regex", "^stringData$"])?);
    repo.write("app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain\ndata:\n  k: v\n");
    repo.commit("first");
    let server = HttpGitServer::start()?;
    server.publish("app", &repo)?;
    key.put_secret(&client, &ns.name, "sops-keys").await?;
    // Git credentials for the private URL, as a labelled credential Secret.
    let credentials = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "git-creds", "labels": {"lockstep.dev/secret-type": "repository"}},
        "stringData": {"url": server.private_url("app"), "username": HTTP_USER, "password": HTTP_PASSWORD},
    });
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns.name);
    secrets.patch("git-creds", &PatchParams::apply("e2e-test").force(), &Patch::Apply(&credentials)).await?;
    let chat = ChatServer::start(MATTERMOST_TOKEN, "unused-telegram", SIGNING_KEY).await?;
    configure_notifications(&ns.name, &chat)?;

    let metrics = free_addr();
    let controller = ControllerProcess::start(
        &ns.name,
        &["--controller-namespace", &ns.name, "--metrics-addr", &metrics.to_string()],
    )?;
    let spec = json!({
        "source": {"repoURL": server.private_url("app"), "targetRevision": "main", "path": "app"},
        "destination": {"namespace": ns.name},
        "syncPolicy": {"automated": {"prune": true}},
        "decryption": {"provider": "sops", "secretRef": {"name": "sops-keys"}},
    });
    apply_app(&client, &ns.name, "web", spec).await?;
    wait_reason(&client, &ns.name, "web", "Succeeded").await?;
    wait_for("the deployed notification", Duration::from_secs(60), || async {
        let got = chat.accepted();
        Ok(got.iter().any(|r| r.service == "mattermost-api").then_some(()))
    })
    .await?;

    // A failing pass too: the file tampered, so error paths (condition, Event, notification) run.
    let tampered = std::fs::read_to_string(repo.path().join("app/db.enc.yaml"))?.replace("rev: \"1\"", "rev: \"2\"");
    repo.write("app/db.enc.yaml", &tampered);
    repo.commit("tampered");
    server.publish("app", &repo)?;
    refresh(&client, &ns.name, "web").await?;
    wait_reason(&client, &ns.name, "web", "DecryptionFailed").await?;
    // And a credentials failure: a wrong password for another repository.
    let other = GitRepo::new();
    other.write("app/cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\ndata:\n  k: v\n");
    other.commit("other");
    server.publish("other", &other)?;
    let wrong = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "wrong-creds", "labels": {"lockstep.dev/secret-type": "repository"}},
        "stringData": {"url": server.private_url("other"), "username": HTTP_USER, "password": WRONG_PASSWORD},
    });
    secrets.patch("wrong-creds", &PatchParams::apply("e2e-test").force(), &Patch::Apply(&wrong)).await?;
    let other_spec = json!({
        "source": {"repoURL": server.private_url("other"), "targetRevision": "main", "path": "app"},
        "destination": {"namespace": ns.name},
    });
    apply_app(&client, &ns.name, "other", other_spec).await?;
    wait_reason(&client, &ns.name, "other", "AuthenticationFailed").await?;
    // Let the failure reach Events, the notifier and a metrics scrape.
    tokio::time::sleep(Duration::from_secs(6)).await;

    let mut surfaces: BTreeMap<&str, String> = BTreeMap::new();
    surfaces.insert("controller log", controller.log());
    let events = Api::<Event>::namespaced(client.clone(), &ns.name).list(&ListParams::default()).await?;
    surfaces.insert("Events", serde_json::to_string(&events.items)?);
    let apps = Api::<Application>::namespaced(client.clone(), &ns.name).list(&ListParams::default()).await?;
    let statuses: Vec<_> = apps.items.iter().map(|a| (&a.metadata.annotations, &a.status)).collect();
    surfaces.insert("Application status and annotations", serde_json::to_string(&statuses)?);
    surfaces.insert("/metrics", get(metrics, "/metrics").await?.body);
    let payloads: Vec<_> = chat.accepted().into_iter().map(|r| json!({"path": r.path, "body": r.body})).collect();
    surfaces.insert("notification payloads", serde_json::to_string(&payloads)?);
    let secrets_searched = [
        ("the SOPS plaintext", sops_plaintext.as_str()),
        ("the git password", HTTP_PASSWORD),
        ("the wrong git password", WRONG_PASSWORD),
        ("the Mattermost token", MATTERMOST_TOKEN),
        ("the webhook signing key", SIGNING_KEY),
    ];
    // The surfaces are real: the failure and the notifications are in them.
    assert!(surfaces["Events"].contains("DecryptionFailed"), "{}", surfaces["Events"]);
    assert!(surfaces["Events"].contains("AuthenticationFailed"), "{}", surfaces["Events"]);
    assert!(surfaces["/metrics"].contains("lockstep_"), "{}", surfaces["/metrics"]);
    assert!(payloads.len() >= 2, "{payloads:?}");
    assert!(surfaces["controller log"].lines().count() > 10);
    assert_eq!(leaks(&surfaces, &secrets_searched), Vec::<String>::new());

    // The search can fail: the applied Secret holds the plaintext, and so would a leak.
    let applied = serde_json::to_string(&secrets.get("db").await?.data)?;
    let decoded: String = secrets
        .get("db")
        .await?
        .data
        .unwrap_or_default()
        .values()
        .map(|v| String::from_utf8_lossy(&v.0).into_owned())
        .collect();
    let control = BTreeMap::from([("the applied Secret", decoded)]);
    assert_eq!(
        leaks(&control, &secrets_searched),
        vec!["the SOPS plaintext in the applied Secret".to_string()],
        "{applied}"
    );
    Ok(())
}
