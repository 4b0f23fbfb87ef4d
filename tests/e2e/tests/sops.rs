//! SOPS-encrypted Secrets in git (age, encrypted by the real sops) over a real git server: applied
//! decrypted, the plaintext never in the render cache directory or the controller log; a tampered
//! file or a missing key stops the pass with `DecryptionFailed`, nothing applied, nothing pruned.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Event, Secret};
use kube::Api;
use lockstep_e2e::apps::{apply_app, ready, wait_event_reasons, wait_reason};
use lockstep_e2e::cli::{lockstep, lockstep_ok};
use lockstep_e2e::cluster::kubectl_ok;
use lockstep_e2e::gitserver::HttpGitServer;
use lockstep_e2e::sops::{AgeKey, assert_never_stored, decoded, decrypting_spec, files_containing};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client, wait_for};
use serde_json::json;

/// A Secret whose `stringData` is encrypted (metadata stays readable, as is usual for Kubernetes).
fn secret(name: &str, password: &str, version: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  labels:\n    version: \"{version}\"\ntype: Opaque\nstringData:\n  password: {password}\n  user: app\n"
    )
}

fn config_map(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n")
}

#[tokio::test]
async fn an_encrypted_secret_is_applied_decrypted_and_a_tampered_one_stops_the_pass() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-sops").await?;
    let key = AgeKey::generate()?;
    let plaintext = format!("sops-plaintext-{:016x}", rand::random::<u64>());
    let regex = ["--encrypted-regex", "^(data|stringData)$"];
    let repo = GitRepo::new();
    repo.write("app/db.enc.yaml", &key.encrypt("db.yaml", &secret("db", &plaintext, "1"), &regex)?);
    repo.write("app/keep.yaml", &config_map("keep"));
    // The same kind of file through Kustomize, which renames it and adds a label.
    let kustomized = format!("sops-kustomized-{:016x}", rand::random::<u64>());
    repo.write("kust/db.enc.yaml", &key.encrypt("kdb.yaml", &secret("db", &kustomized, "1"), &regex)?);
    repo.write("kust/kustomization.yaml", "resources: [db.enc.yaml]\nnamePrefix: k-\ncommonLabels: {via: kustomize}\n");
    repo.commit("encrypted secret");
    assert!(!std::fs::read_to_string(repo.path().join("app/db.enc.yaml"))?.contains(&plaintext));
    let server = HttpGitServer::start()?;
    server.publish("app", &repo)?;
    key.put_secret(&client, &ns.name, "sops-keys").await?;

    let cache = tempfile::tempdir()?;
    let cache_dir = cache.path().to_path_buf();
    let controller = ControllerProcess::start_with_cache(&ns.name, cache, &[])?;
    apply_app(&client, &ns.name, "web", decrypting_spec(&server.url("app"), &ns.name, "app", "sops-keys")).await?;
    wait_reason(&client, &ns.name, "web", "Succeeded").await?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns.name);
    let applied = secrets.get("db").await?;
    assert_eq!(decoded(&applied, "password").as_deref(), Some(plaintext.as_str()), "applied decrypted");
    assert_eq!(decoded(&applied, "user").as_deref(), Some("app"));
    assert!(!serde_json::to_string(&applied)?.contains("ENC[AES256_GCM"), "no ciphertext applied");
    let mut kust = decrypting_spec(&server.url("app"), &ns.name, "app", "sops-keys");
    kust["source"]["path"] = json!("kust");
    apply_app(&client, &ns.name, "kust", kust).await?;
    wait_reason(&client, &ns.name, "kust", "Succeeded").await?;
    let applied = secrets.get("k-db").await?;
    assert_eq!(decoded(&applied, "password").as_deref(), Some(kustomized.as_str()), "decrypted through Kustomize");
    assert_eq!(applied.metadata.labels.unwrap_or_default().get("via").map(String::as_str), Some("kustomize"));

    // The render cache directory (renders, git cache, snapshots) and the log never hold the plaintext.
    assert!(cache_dir.join("renders").is_dir(), "the render cache is on disk: {}", cache_dir.display());
    assert!(files_containing(&cache_dir, "ENC[AES256_GCM").iter().any(|f| f.starts_with(cache_dir.join("renders"))));
    assert_never_stored(&cache_dir, &controller.log(), &[plaintext.as_str(), kustomized.as_str()]);

    // Merge-request pipelines: the CLI decrypts with a local key file and shows no plaintext.
    let key_file = key.file().display().to_string();
    let checkout = repo.path().display().to_string();
    let rendered = lockstep_ok(&ns.name, &["render", "web", "--path", &checkout, "--decryption-key", &key_file])?;
    assert!(rendered.contains("password: '**SOPS**'") || rendered.contains("password: \"**SOPS**\""), "{rendered}");
    assert!(!rendered.contains(&plaintext) && !rendered.contains("ENC[AES256_GCM") && !rendered.contains("sops:"));
    let out = lockstep(&ns.name, &["render", "web", "--path", &checkout]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--decryption-key"), "{err}");
    let changed = format!("sops-changed-{:016x}", rand::random::<u64>());
    let merge_request = GitRepo::new();
    merge_request.write("app/db.enc.yaml", &key.encrypt("db.yaml", &secret("db", &changed, "1"), &regex)?);
    merge_request.write("app/keep.yaml", &config_map("keep"));
    let path = merge_request.path().display().to_string();
    let out = lockstep(&ns.name, &["diff", "web", "--path", &path, "--decryption-key", &key_file]);
    let diff = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{diff}{}", String::from_utf8_lossy(&out.stderr));
    assert!(diff.contains("Secret") && diff.contains("***"), "{diff}");
    assert!(!diff.contains(&plaintext) && !diff.contains(&changed), "{diff}");

    // Tampered: a clear value changed (the MAC covers it), a ConfigMap added and one removed in
    // the same commit: nothing is applied and nothing is pruned.
    let tampered =
        std::fs::read_to_string(repo.path().join("app/db.enc.yaml"))?.replace("version: \"1\"", "version: \"2\"");
    repo.write("app/db.enc.yaml", &tampered);
    repo.write("app/added.yaml", &config_map("added"));
    repo.remove("app/keep.yaml");
    repo.commit("tampered");
    server.publish("app", &repo)?;
    lockstep_e2e::apps::refresh(&client, &ns.name, "web").await?;
    let app = wait_reason(&client, &ns.name, "web", "DecryptionFailed").await?;
    let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("app/db.enc.yaml") && message.contains("MAC mismatch"), "{message}");
    wait_event_reasons(&client, &ns.name, "web", &["DecryptionFailed"]).await?;
    let events = Api::<Event>::namespaced(client.clone(), &ns.name).list(&Default::default()).await?;
    let failed = events.items.iter().find(|e| e.reason.as_deref() == Some("DecryptionFailed")).map(|e| e.type_.clone());
    assert_eq!(failed, Some(Some("Warning".to_string())));
    let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    assert!(config_maps.get_opt("added").await?.is_none(), "nothing applied");
    assert!(config_maps.get_opt("keep").await?.is_some(), "nothing pruned");
    let label = secrets.get("db").await?.metadata.labels.unwrap_or_default().get("version").cloned();
    assert_eq!(label.as_deref(), Some("1"));

    // A missing key Secret is a condition too; creating it lets the next pass through.
    let plaintext2 = format!("sops-second-{:016x}", rand::random::<u64>());
    let other = GitRepo::new();
    other.write("app/api.enc.yaml", &key.encrypt("api.yaml", &secret("api", &plaintext2, "1"), &regex)?);
    other.commit("second");
    server.publish("other", &other)?;
    apply_app(&client, &ns.name, "api", decrypting_spec(&server.url("other"), &ns.name, "app", "later-keys")).await?;
    let app = wait_reason(&client, &ns.name, "api", "DecryptionFailed").await?;
    let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("app/api.enc.yaml") && message.contains("does not exist"), "{message}");
    assert!(secrets.get_opt("api").await?.is_none(), "nothing applied without the key");
    key.put_secret(&client, &ns.name, "later-keys").await?;
    wait_for("the key Secret is picked up", Duration::from_secs(90), || async {
        let found = secrets.get_opt("api").await?;
        Ok(found.and_then(|s| decoded(&s, "password")).filter(|p| *p == plaintext2))
    })
    .await?;
    let log = controller.log();
    assert!(!log.contains(&plaintext) && !log.contains(&plaintext2), "a plaintext is in the controller log");
    Ok(())
}

#[tokio::test]
async fn a_project_s_decryption_is_the_default_of_its_applications() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-sops-project").await?;
    let key = AgeKey::generate()?;
    let plaintext = format!("sops-project-{:016x}", rand::random::<u64>());
    let repo = GitRepo::new();
    let regex = ["--encrypted-regex", "^stringData$"];
    repo.write("app/db.enc.yaml", &key.encrypt("db.yaml", &secret("db", &plaintext, "1"), &regex)?);
    repo.commit("encrypted");
    let server = HttpGitServer::start()?;
    server.publish("app", &repo)?;
    key.put_secret(&client, &ns.name, "project-keys").await?;
    let project = json!({
        "apiVersion": "lockstep.dev/v1alpha1", "kind": "AppProject",
        "metadata": {"name": "team", "namespace": ns.name},
        "spec": {
            "sourceRepos": ["*"],
            "destinations": [{"server": "*", "namespace": "*"}],
            "decryption": {"provider": "sops", "secretRef": {"name": "project-keys"}},
        },
    });
    kubectl_ok(&["apply", "--server-side", "-f", "-"], Some(&project.to_string()))?;
    let _controller = ControllerProcess::start(&ns.name, &["--controller-namespace", &ns.name])?;
    let mut spec = decrypting_spec(&server.url("app"), &ns.name, "app", "unused");
    spec["project"] = json!("team");
    spec.as_object_mut().map(|s| s.remove("decryption"));
    apply_app(&client, &ns.name, "web", spec).await?;
    wait_reason(&client, &ns.name, "web", "Succeeded").await?;
    let applied = Api::<Secret>::namespaced(client.clone(), &ns.name).get("db").await?;
    assert_eq!(decoded(&applied, "password").as_deref(), Some(plaintext.as_str()));
    Ok(())
}
