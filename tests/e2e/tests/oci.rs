//! OCI sources against a real registry on loopback (CNCF distribution, htpasswd auth, TLS from a
//! test CA): a Helm chart pushed with the pinned helm and deployed from `oci://` pinned by digest;
//! a manifest artifact (Flux's layout) deployed and updated by retagging; and the bad inputs, each
//! a condition with its own reason while what was deployed stays.

use lockstep_e2e::apps::{apply_app, ready, refresh, revision, synced_at, wait_app, wait_reason};
use lockstep_e2e::cli::{lockstep, lockstep_ok};
use lockstep_e2e::configmaps::{config_map, value, wait_value};
use lockstep_e2e::registry::{FLUX_CONTENT, REGISTRY_PASSWORD, REGISTRY_USER, Registry, tar_gz};
use lockstep_e2e::secrets::apply_secret;
use lockstep_e2e::{ControllerProcess, TestNamespace, client};
use serde_json::{Value, json};

const FAST: &[&str] = &["--fetch-retry-period", "2s", "--resync-period", "20s"];

fn spec(ns: &str, url: &str, revision: &str) -> Value {
    json!({
        "source": {"repoURL": url, "targetRevision": revision},
        "destination": {"namespace": ns},
        "syncPolicy": {"automated": {"prune": true}},
    })
}

#[tokio::test]
async fn helm_chart_from_oci_pinned_by_digest() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-oci-chart").await?;
    let registry = Registry::start()?;
    let chart = tempfile::tempdir()?;
    let dir = chart.path().join("guestbook");
    std::fs::create_dir_all(dir.join("templates"))?;
    std::fs::write(dir.join("Chart.yaml"), "apiVersion: v2\nname: guestbook\nversion: 1.2.3\n")?;
    std::fs::write(dir.join("values.yaml"), "greeting: hello\n")?;
    std::fs::write(
        dir.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-greeting\ndata:\n  value: {{ .Values.greeting | quote }}\n",
    )?;
    let digest = registry.push_chart(&dir, "charts")?;
    registry.push_chart(&dir, "private")?;
    apply_secret(&client, &ns.name, registry.docker_config_secret(REGISTRY_USER, REGISTRY_PASSWORD)).await?;
    let _controller = ControllerProcess::start(&ns.name, FAST)?;

    let url = format!("oci://{}/charts/guestbook", registry.host());
    let mut by_digest = spec(&ns.name, &url, &digest);
    by_digest["source"]["helm"] = json!({"valuesObject": {"greeting": "from-oci"}});
    apply_app(&client, &ns.name, "chart", by_digest).await?;
    wait_app(&client, &ns.name, "chart", "synced at the digest", |app| synced_at(app, &digest)).await?;
    wait_value(&client, &ns.name, "chart-greeting", Some("from-oci")).await?;

    // The same chart by tag reports tag@digest; a range picks the highest tag.
    apply_app(&client, &ns.name, "by-range", spec(&ns.name, &url, "~1.2")).await?;
    let by_range = format!("1.2.3@{digest}");
    wait_app(&client, &ns.name, "by-range", "synced by range", |app| synced_at(app, &by_range)).await?;
    let downloads = registry.gets("/v2/charts/guestbook/blobs/");
    assert_eq!(downloads, 1, "two Applications, one download of the chart's layer:\n{}", registry.log());

    // A wrong password in a Secret for one repository: AuthenticationFailed, nothing read from the cache.
    let private = format!("oci://{}/private/guestbook", registry.host());
    apply_secret(&client, &ns.name, registry.repository_secret("private-wrong", &private, "wrong-password")).await?;
    apply_app(&client, &ns.name, "wrong", spec(&ns.name, &private, &digest)).await?;
    let wrong = wait_reason(&client, &ns.name, "wrong", "AuthenticationFailed").await?;
    let message = ready(&wrong).map(|c| c.message.clone()).unwrap_or_default();
    assert!(!message.contains("wrong-password"), "the password leaked: {message}");

    // A Secret for one repository without the registry's CA: TLSFailed.
    let no_ca = format!("oci://{}/tls/guestbook", registry.host());
    apply_secret(
        &client,
        &ns.name,
        json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "no-ca", "labels": {"lockstep.dev/secret-type": "repository"}},
            "stringData": {"url": no_ca, "username": REGISTRY_USER, "password": REGISTRY_PASSWORD},
        }),
    )
    .await?;
    apply_app(&client, &ns.name, "no-ca", spec(&ns.name, &no_ca, "1.2.3")).await?;
    wait_reason(&client, &ns.name, "no-ca", "TLSFailed").await?;

    // Unknown tag, and a range no tag satisfies.
    apply_app(&client, &ns.name, "unknown", spec(&ns.name, &url, "9.9.9")).await?;
    wait_reason(&client, &ns.name, "unknown", "RevisionNotFound").await?;
    apply_app(&client, &ns.name, "no-match", spec(&ns.name, &url, "~3.0")).await?;
    let no_match = wait_reason(&client, &ns.name, "no-match", "RevisionNotFound").await?;
    let message = ready(&no_match).map(|c| c.message.clone()).unwrap_or_default();
    assert!(message.contains("1.2.3"), "the message lists the tags seen: {message}");
    assert_eq!(value(&client, &ns.name, "chart-greeting").await.as_deref(), Some("from-oci"));

    // The CLI reads oci:// sources: the deployed digest renders and diffs clean; a chart bump
    // (1.2.4 adds a key) is diffed before anyone deploys it.
    let ca = registry.ca_file().display().to_string();
    let helm = lockstep_e2e::controller::tool_path("LOCKSTEP_HELM", "helm").display().to_string();
    let creds = [
        "--helm-path",
        &helm,
        "--registry-username",
        REGISTRY_USER,
        "--registry-password",
        REGISTRY_PASSWORD,
        "--registry-ca-file",
        &ca,
    ];
    let rendered = lockstep_ok(&ns.name, &[&["render", "chart"][..], &creds].concat())?;
    assert!(rendered.contains("chart-greeting") && rendered.contains("from-oci"), "{rendered}");
    let same = lockstep(&ns.name, &[&["diff", "chart"][..], &creds].concat());
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&same.stdout),
        String::from_utf8_lossy(&same.stderr)
    );
    std::fs::write(dir.join("Chart.yaml"), "apiVersion: v2\nname: guestbook\nversion: 1.2.4\n")?;
    std::fs::write(
        dir.join("templates/cm.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-greeting\ndata:\n  value: {{ .Values.greeting | quote }}\n  added: \"in-1.2.4\"\n",
    )?;
    registry.push_chart(&dir, "charts")?;
    let bump = lockstep(&ns.name, &[&["diff", "chart", "--revision", "1.2.4"][..], &creds].concat());
    let report = String::from_utf8_lossy(&bump.stdout).to_string();
    assert_eq!(bump.status.code(), Some(1), "{report}{}", String::from_utf8_lossy(&bump.stderr));
    assert!(report.contains("in-1.2.4"), "{report}");
    Ok(())
}

#[tokio::test]
async fn manifest_artifact_retagged_and_bad_input() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-oci-artifact").await?;
    let mut registry = Registry::start()?;
    let repo = "manifests/app";
    for (tag, value) in [("v1", "1"), ("v2", "2")] {
        registry.push_artifact(repo, tag, tar_gz(&[("cm.yaml", &config_map("artifact", value))]), FLUX_CONTENT).await?;
    }
    registry.retag(repo, "v1", "stable").await?;
    apply_secret(&client, &ns.name, registry.docker_config_secret(REGISTRY_USER, REGISTRY_PASSWORD)).await?;
    let mut args = vec!["--max-artifact-size", "8192"];
    args.extend_from_slice(FAST);
    let _controller = ControllerProcess::start(&ns.name, &args)?;

    let url = format!("oci://{}/{repo}", registry.host());
    apply_app(&client, &ns.name, "artifact", spec(&ns.name, &url, "stable")).await?;
    wait_value(&client, &ns.name, "artifact", Some("1")).await?;
    let app =
        wait_app(&client, &ns.name, "artifact", "stable@sha256", |a| revision(a).starts_with("stable@sha256:")).await?;
    let first = revision(&app);

    // Retagging `stable` to v2 deploys v2 at the next look.
    registry.retag(repo, "v2", "stable").await?;
    refresh(&client, &ns.name, "artifact").await?;
    wait_value(&client, &ns.name, "artifact", Some("2")).await?;
    let app = wait_app(&client, &ns.name, "artifact", "a new stable@sha256", |a| {
        revision(a).starts_with("stable@sha256:") && revision(a) != first
    })
    .await?;
    let good = revision(&app);

    // The registry down: the last good artifact keeps serving, the condition says so.
    registry.stop();
    refresh(&client, &ns.name, "artifact").await?;
    wait_app(&client, &ns.name, "artifact", "SourceAvailable=False", |a| {
        a.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "SourceAvailable" && c.status == "False" && c.reason == "SourceUnavailable")
        })
    })
    .await?;
    assert_eq!(value(&client, &ns.name, "artifact").await.as_deref(), Some("2"));
    assert_eq!(revision(&lockstep_e2e::apps::get_app(&client, &ns.name, "artifact").await?), good);
    registry.resume()?;

    // Each bad artifact in turn under the Application's tag: its own reason, the ConfigMap stays.
    let escape = tar_gz(&[("../evil.yaml", &config_map("evil", "x"))]);
    let link = tar_gz(&[("cm.yaml", "->/etc/passwd")]);
    let compressible = "# padding\n".repeat(2000);
    let big = tar_gz(&[("cm.yaml", &format!("{}{compressible}", config_map("artifact", "big")))]);
    let (_, tampered_layer) =
        registry.push_artifact(repo, "v3", tar_gz(&[("cm.yaml", &config_map("artifact", "3"))]), FLUX_CONTENT).await?;
    let original = std::fs::read(registry.blob_file(&tampered_layer))?;
    let mut tampered = original.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0xff;
    std::fs::write(registry.blob_file(&tampered_layer), tampered)?;
    registry.push_artifact(repo, "escape", escape, FLUX_CONTENT).await?;
    registry.push_artifact(repo, "link", link, FLUX_CONTENT).await?;
    registry.push_artifact(repo, "big", big, FLUX_CONTENT).await?;
    for (tag, reason) in [
        ("v3", "DigestMismatch"),
        ("escape", "UnsafeArtifact"),
        ("link", "UnsafeArtifact"),
        ("big", "ArtifactTooLarge"),
        ("v9", "RevisionNotFound"),
        ("~7.0", "RevisionNotFound"),
    ] {
        apply_app(&client, &ns.name, "artifact", spec(&ns.name, &url, tag)).await?;
        wait_reason(&client, &ns.name, "artifact", reason)
            .await
            .map_err(|e| anyhow::anyhow!("{tag}: {e}\n{}", registry.log()))?;
        assert_eq!(value(&client, &ns.name, "artifact").await.as_deref(), Some("2"), "{tag}: pruned or changed");
        assert_eq!(value(&client, &ns.name, "evil").await, None, "{tag}: ../ escaped");
    }

    // Back to a good tag: syncs again.
    apply_app(&client, &ns.name, "artifact", spec(&ns.name, &url, "v1")).await?;
    wait_value(&client, &ns.name, "artifact", Some("1")).await?;
    Ok(())
}

#[tokio::test]
async fn cosign_signatures_are_required_when_the_secret_holds_a_key() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-oci-cosign").await?;
    let registry = Registry::start()?;
    let repo = "signed/app";
    let (signed, _) = registry
        .push_artifact(repo, "signed", tar_gz(&[("cm.yaml", &config_map("signed", "1"))]), FLUX_CONTENT)
        .await?;
    let public_key = registry.cosign_sign(repo, &signed).await?;
    registry.push_artifact(repo, "unsigned", tar_gz(&[("cm.yaml", &config_map("signed", "2"))]), FLUX_CONTENT).await?;
    let (other, _) = registry
        .push_artifact(repo, "other-key", tar_gz(&[("cm.yaml", &config_map("signed", "3"))]), FLUX_CONTENT)
        .await?;
    registry.cosign_sign(repo, &other).await?;
    let mut secret = registry.docker_config_secret(REGISTRY_USER, REGISTRY_PASSWORD);
    secret["stringData"]["cosignPublicKey"] = json!(public_key);
    apply_secret(&client, &ns.name, secret).await?;
    let _controller = ControllerProcess::start(&ns.name, FAST)?;

    let url = format!("oci://{}/{repo}", registry.host());
    apply_app(&client, &ns.name, "signed", spec(&ns.name, &url, "signed")).await?;
    wait_value(&client, &ns.name, "signed", Some("1")).await?;
    for tag in ["unsigned", "other-key"] {
        apply_app(&client, &ns.name, "signed", spec(&ns.name, &url, tag)).await?;
        let app = wait_reason(&client, &ns.name, "signed", "SignatureVerificationFailed").await?;
        let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
        assert!(message.contains("signature"), "{tag}: {message}");
        assert_eq!(value(&client, &ns.name, "signed").await.as_deref(), Some("1"), "{tag}: applied unsigned");
    }
    Ok(())
}
