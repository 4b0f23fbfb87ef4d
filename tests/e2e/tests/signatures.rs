//! Signed sources end to end, against a real git server over HTTP: commits signed with SSH (by git
//! and `ssh-keygen`) and with OpenPGP (rpgp) verify and sync, and the signer's fingerprint is in the
//! status; an unsigned commit on top stops the sync with `SignatureVerificationFailed` naming it,
//! nothing of it is applied or pruned and the verified revision stays; `AllCommits` keeps refusing
//! after a signed commit lands on the unsigned one, where `HEAD` accepts it; and a project that
//! requires verification refuses an Application without `spec.source.verify`.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use lockstep_api::Application;
use lockstep_e2e::apps::{apply_app, get_app, ready, refresh, wait_app, wait_event_reasons, wait_reason};
use lockstep_e2e::cluster::kubectl_ok;
use lockstep_e2e::gitserver::HttpGitServer;
use lockstep_e2e::signing::{PgpSigner, SshSigner};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client};
use serde_json::{Value, json};

fn config_map(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: {value:?}\n")
}

fn app(repo: &str, path: &str, namespace: &str, verify: Option<Value>) -> Value {
    let mut source = json!({"repoURL": repo, "targetRevision": "main", "path": path});
    if let Some(verify) = verify {
        source["verify"] = verify;
    }
    json!({
        "source": source,
        "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
        "syncPolicy": {"automated": {"prune": true}},
    })
}

fn apply(object: &Value) -> anyhow::Result<()> {
    kubectl_ok(&["apply", "--server-side", "--force-conflicts", "-f", "-"], Some(&object.to_string()))?;
    Ok(())
}

fn key_secret(namespace: &str, name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "stringData": data})
}

async fn value_of(client: &kube::Client, ns: &str, name: &str) -> Option<String> {
    let found = Api::<ConfigMap>::namespaced(client.clone(), ns).get_opt(name).await.ok().flatten()?;
    found.data?.get("value").cloned()
}

fn synced_at(app: &Application, revision: &str) -> bool {
    let status = app.status.as_ref();
    status.and_then(|s| s.sync.revision.as_deref()) == Some(revision) && ready(app).is_some_and(|c| c.status == "True")
}

fn fingerprint(app: &Application) -> String {
    app.status.as_ref().and_then(|s| s.source_verification.as_ref()).map(|v| v.fingerprint.clone()).unwrap_or_default()
}

/// Writes the two Applications' files: `a/` (verified `HEAD`) and `b/` (verified `AllCommits`).
fn write_both(repo: &GitRepo, value: &str, with_extra: bool) {
    for dir in ["a", "b"] {
        repo.write(&format!("{dir}/main.yaml"), &config_map(&format!("{dir}-main"), value));
        let extra = format!("{dir}/extra.yaml");
        if with_extra {
            repo.write(&extra, &config_map(&format!("{dir}-extra"), "kept"));
        } else if repo.path().join(&extra).exists() {
            repo.remove(&extra);
        }
    }
}

#[tokio::test]
async fn signed_commits_sync_and_an_unsigned_one_stops_before_anything_is_applied() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-signatures").await?;
    let server = HttpGitServer::start()?;
    let ssh = SshSigner::generate("dev@example.com")?;
    let pgp = PgpSigner::generate("Release Bot <release@example.com>")?;
    let data = json!({"allowed_signers": ssh.allowed_signer("dev@example.com"), "release.asc": pgp.public});
    apply(&key_secret(&ns.name, "signing-keys", data))?;

    let repo = GitRepo::new();
    write_both(&repo, "one", true);
    let first = ssh.commit(&repo, "first, SSH-signed");
    server.publish("signed", &repo)?;
    let url = server.url("signed");
    let _controller = ControllerProcess::start(&ns.name, &["--controller-namespace", &ns.name])?;
    let verify = |mode: &str| Some(json!({"mode": mode, "secretRef": {"name": "signing-keys"}}));
    apply_app(&client, &ns.name, "head", app(&url, "a", &ns.name, verify("HEAD"))).await?;
    apply_app(&client, &ns.name, "all", app(&url, "b", &ns.name, verify("AllCommits"))).await?;

    for name in ["head", "all"] {
        let synced =
            wait_app(&client, &ns.name, name, "synced at the SSH-signed commit", |a| synced_at(a, &first)).await?;
        assert_eq!(fingerprint(&synced), ssh.fingerprint, "{name}");
        let verified = synced.status.as_ref().and_then(|s| s.source_verification.clone()).unwrap_or_default();
        assert_eq!((verified.signer.as_str(), verified.format.as_str()), ("dev@example.com", "SSH"));
        assert_eq!(verified.key_source, format!("Secret {}/signing-keys", ns.name));
    }
    assert_eq!(value_of(&client, &ns.name, "a-main").await.as_deref(), Some("one"));

    write_both(&repo, "two", true);
    let second = pgp.commit(&repo, "second, OpenPGP-signed")?;
    server.publish("signed", &repo)?;
    for name in ["head", "all"] {
        refresh(&client, &ns.name, name).await?;
        let synced =
            wait_app(&client, &ns.name, name, "synced at the PGP-signed commit", |a| synced_at(a, &second)).await?;
        assert_eq!(fingerprint(&synced), pgp.fingerprint, "{name}");
    }
    assert_eq!(value_of(&client, &ns.name, "b-main").await.as_deref(), Some("two"));

    // An unsigned commit that changes one object and removes another: nothing of it lands.
    write_both(&repo, "three", false);
    let unsigned = repo.commit("third, unsigned");
    server.publish("signed", &repo)?;
    for name in ["head", "all"] {
        refresh(&client, &ns.name, name).await?;
        let stopped = wait_reason(&client, &ns.name, name, "SignatureVerificationFailed").await?;
        let message = ready(&stopped).map(|c| c.message.clone()).unwrap_or_default();
        assert!(message.contains(&unsigned[..12]) && message.contains("not signed"), "{name}: {message}");
        assert_eq!(stopped.status.as_ref().and_then(|s| s.sync.revision.clone()).as_deref(), Some(second.as_str()));
        assert_eq!(fingerprint(&stopped), pgp.fingerprint, "the last verification is kept");
        wait_event_reasons(&client, &ns.name, name, &["SignatureVerificationFailed"]).await?;
    }
    for dir in ["a", "b"] {
        assert_eq!(value_of(&client, &ns.name, &format!("{dir}-main")).await.as_deref(), Some("two"));
        assert_eq!(value_of(&client, &ns.name, &format!("{dir}-extra")).await.as_deref(), Some("kept"), "not pruned");
    }

    // A signed commit on top: HEAD mode accepts it; AllCommits still finds the unsigned one below.
    write_both(&repo, "four", false);
    let fourth = ssh.commit(&repo, "fourth, SSH-signed on top of the unsigned one");
    server.publish("signed", &repo)?;
    refresh(&client, &ns.name, "head").await?;
    wait_app(&client, &ns.name, "head", "HEAD mode synced the signed tip", |a| synced_at(a, &fourth)).await?;
    assert_eq!(value_of(&client, &ns.name, "a-main").await.as_deref(), Some("four"));
    let value = refresh(&client, &ns.name, "all").await?;
    let all = wait_app(&client, &ns.name, "all", "AllCommits compared the new tip", |a| {
        a.status.as_ref().and_then(|s| s.observed_refresh.as_deref()) == Some(value.as_str())
    })
    .await?;
    let condition = ready(&all).cloned().expect("a Ready condition");
    assert_eq!(condition.reason, "SignatureVerificationFailed", "{}", condition.message);
    assert!(condition.message.contains(&unsigned[..12]), "{}", condition.message);
    assert_eq!(value_of(&client, &ns.name, "b-main").await.as_deref(), Some("two"));
    assert_eq!(value_of(&client, &ns.name, "b-extra").await.as_deref(), Some("kept"));
    Ok(())
}

#[tokio::test]
async fn a_project_that_requires_signatures_refuses_an_application_without_verify() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-signatures-project").await?;
    let server = HttpGitServer::start()?;
    let ssh = SshSigner::generate("ops@example.com")?;
    let intruder = SshSigner::generate("intruder@example.com")?;
    apply(&key_secret(&ns.name, "project-keys", json!({"allowed_signers": ssh.allowed_signer("ops@example.com")})))?;
    // The Application names keys of its own; a requiring project ignores them.
    apply(&key_secret(
        &ns.name,
        "own-keys",
        json!({"allowed_signers": intruder.allowed_signer("intruder@example.com")}),
    ))?;
    apply(&json!({
        "apiVersion": "lockstep.dev/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": "strict", "namespace": ns.name},
        "spec": {
            "sourceRepos": ["*"],
            "destinations": [{"server": "*", "namespace": "*"}],
            "sourceIntegrity": {"required": true, "keys": [{"secretRef": {"name": "project-keys"}}]},
        },
    }))?;
    let repo = GitRepo::new();
    repo.write("ops/cm.yaml", &config_map("ops", "signed"));
    let signed = ssh.commit(&repo, "ops, signed");
    server.publish("ops", &repo)?;
    let other = GitRepo::new();
    other.write("ops/cm.yaml", &config_map("intruder", "x"));
    intruder.commit(&other, "signed by a key the project does not trust");
    server.publish("other", &other)?;
    let _controller = ControllerProcess::start(&ns.name, &["--controller-namespace", &ns.name])?;

    let in_project = |mut spec: Value| {
        spec["project"] = json!("strict");
        spec
    };
    let own = Some(json!({"secretRef": {"name": "own-keys"}}));
    apply_app(&client, &ns.name, "unverified", in_project(app(&server.url("ops"), "ops", &ns.name, None))).await?;
    apply_app(&client, &ns.name, "verified", in_project(app(&server.url("ops"), "ops", &ns.name, own.clone()))).await?;
    apply_app(&client, &ns.name, "own-key", in_project(app(&server.url("other"), "ops", &ns.name, own))).await?;

    let refused = wait_reason(&client, &ns.name, "unverified", "ProjectViolation").await?;
    let message = ready(&refused).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("requires signed sources") && message.contains("spec.source.verify"), "{message}");
    let synced =
        wait_app(&client, &ns.name, "verified", "synced with the project's key", |a| synced_at(a, &signed)).await?;
    assert_eq!(fingerprint(&synced), ssh.fingerprint);
    let foreign = wait_reason(&client, &ns.name, "own-key", "SignatureVerificationFailed").await?;
    let message = ready(&foreign).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains(&intruder.fingerprint) && message.contains("not among the trusted keys"), "{message}");
    assert_eq!(value_of(&client, &ns.name, "intruder").await, None);
    assert_eq!(get_app(&client, &ns.name, "unverified").await?.status.and_then(|s| s.sync.revision), None);
    Ok(())
}
