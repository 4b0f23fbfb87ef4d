//! Git sources against real servers on loopback: smart HTTP with basic auth and TLS, SSH with
//! host key checking, an authenticating proxy, mirrors, outages and one listing per repo.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Event, Secret};
use kube::api::{Api, ListParams, Patch, PatchParams};
use lockstep_api::Application;
use lockstep_e2e::apps::{apply_app, ready, refresh, wait_app, wait_reason};
use lockstep_e2e::gitserver::{HTTP_PASSWORD, HTTP_USER, HttpGitServer, ProxyServer, SshGitServer, TestCa};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client, wait_for};
use serde_json::{Value, json};

fn config_map(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: \"{value}\"\n")
}

fn repo_with(name: &str, value: &str) -> GitRepo {
    let repo = GitRepo::new();
    repo.write("app/cm.yaml", &config_map(name, value));
    repo.commit("first");
    repo
}

fn spec(ns: &str, url: &str, revision: &str) -> Value {
    json!({
        "source": {"repoURL": url, "targetRevision": revision, "path": "app"},
        "destination": {"namespace": ns},
        "syncPolicy": {"automated": {}},
    })
}

/// Creates or replaces a credential Secret (`stringData`).
async fn put_secret(
    client: &kube::Client,
    ns: &str,
    name: &str,
    kind: &str,
    data: &[(&str, &str)],
) -> anyhow::Result<()> {
    let data: BTreeMap<&str, &str> = data.iter().copied().collect();
    let body = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "labels": {"lockstep.dev/secret-type": kind}},
        "stringData": data,
    });
    Api::<Secret>::namespaced(client.clone(), ns)
        .patch(name, &PatchParams::apply("e2e-test").force(), &Patch::Apply(&body))
        .await?;
    Ok(())
}

async fn put_config_map(client: &kube::Client, ns: &str, name: &str, data: &[(&str, &str)]) -> anyhow::Result<()> {
    let data: BTreeMap<&str, &str> = data.iter().copied().collect();
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data});
    Api::<ConfigMap>::namespaced(client.clone(), ns)
        .patch(name, &PatchParams::apply("e2e-test").force(), &Patch::Apply(&body))
        .await?;
    Ok(())
}

fn is_ready(app: &Application) -> bool {
    ready(app).is_some_and(|c| c.status == "True")
}

fn revision(app: &Application) -> Option<&str> {
    app.status.as_ref()?.sync.revision.as_deref()
}

fn fetched_from(app: &Application) -> Option<String> {
    app.status.as_ref()?.source.as_ref()?.fetched_from.clone()
}

fn source_condition(app: &Application) -> Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    app.status.as_ref()?.conditions.iter().find(|c| c.type_ == "SourceAvailable")
}

/// Waits for a reason and checks that no secret value leaked into the message.
async fn wait_reason_clean(
    client: &kube::Client,
    ns: &str,
    app: &str,
    reason: &str,
    secrets: &[&str],
) -> anyhow::Result<String> {
    let app = wait_reason(client, ns, app, reason).await?;
    let message = ready(&app).map(|c| c.message.clone()).unwrap_or_default();
    for secret in secrets {
        assert!(!message.contains(secret), "secret leaked into {message}");
    }
    Ok(message)
}

const FAST: &[&str] = &["--fetch-retry-period", "2s", "--resync-period", "20s"];

#[tokio::test]
async fn http_basic_auth_tls_and_bad_input() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-src-http").await?;
    let shared = TestNamespace::create(&client, "e2e-src-shared").await?;
    let server = HttpGitServer::start()?;
    let repo = repo_with("from-http", "1");
    repo.git(&["tag", "v1.2.0"]);
    let first = repo.git(&["rev-parse", "HEAD"]);
    server.publish("app", &repo)?;
    let mut args = vec!["--controller-namespace", shared.name.as_str()];
    args.extend_from_slice(FAST);
    let controller = ControllerProcess::start(&ns.name, &args)?;

    // Shared credentials in the controller's namespace, matched by prefix: basic auth + test CA.
    let prefix = format!("https://127.0.0.1:{}/private/", server.tls_port);
    put_secret(
        &client,
        &shared.name,
        "https-creds",
        "repo-creds",
        &[("url", &prefix), ("username", HTTP_USER), ("password", HTTP_PASSWORD), ("caData", &server.ca.ca_pem)],
    )
    .await?;
    apply_app(&client, &ns.name, "tls", spec(&ns.name, &server.https_url("app"), "~1.2")).await?;
    let app = wait_app(&client, &ns.name, "tls", "Ready over HTTPS", is_ready).await?;
    assert_eq!(revision(&app), Some(first.as_str()));
    assert_eq!(fetched_from(&app).as_deref(), Some(server.https_url("app").as_str()));

    // Wrong password in the Application's own namespace (exact match) beats the shared one.
    put_secret(
        &client,
        &ns.name,
        "wrong",
        "repository",
        &[("url", &server.private_url("app")), ("username", HTTP_USER), ("password", "not-the-password")],
    )
    .await?;
    apply_app(&client, &ns.name, "wrong-password", spec(&ns.name, &server.private_url("app"), "main")).await?;
    wait_reason_clean(
        &client,
        &ns.name,
        "wrong-password",
        "AuthenticationFailed",
        &["not-the-password", HTTP_PASSWORD],
    )
    .await?;
    // The failure is also an Event, without the password.
    let notes = wait_for("an AuthenticationFailed Event", Duration::from_secs(30), || async {
        let events = Api::<Event>::namespaced(client.clone(), &ns.name)
            .list(&ListParams::default().fields("involvedObject.name=wrong-password"))
            .await?;
        let notes: Vec<String> = events
            .items
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some("AuthenticationFailed"))
            .filter_map(|e| e.message)
            .collect();
        if notes.is_empty() { anyhow::bail!("no such Event yet") } else { Ok(Some(notes)) }
    })
    .await?;
    assert!(notes.iter().all(|n| !n.contains("not-the-password") && !n.contains(HTTP_PASSWORD)), "{notes:?}");
    // Fixing the Secret takes effect without a restart.
    put_secret(
        &client,
        &ns.name,
        "wrong",
        "repository",
        &[("url", &server.private_url("app")), ("username", HTTP_USER), ("password", HTTP_PASSWORD)],
    )
    .await?;
    // (It then meets the ConfigMap the first Application owns: fetched is what counts here.)
    wait_app(&client, &ns.name, "wrong-password", "fetched after fixing the Secret", |app| {
        revision(app) == Some(first.as_str()) && fetched_from(app).is_some()
    })
    .await?;
    // Deleting it is seen by the next fetch too (the watch-fed cache drops it): the server refuses
    // the anonymous listing again.
    Api::<Secret>::namespaced(client.clone(), &ns.name).delete("wrong", &Default::default()).await?;
    refresh(&client, &ns.name, "wrong-password").await?;
    wait_reason(&client, &ns.name, "wrong-password", "AuthenticationFailed").await?;

    apply_app(
        &client,
        &ns.name,
        "no-creds",
        spec(&ns.name, &format!("http://127.0.0.1:{}/private/other.git", server.port), "main"),
    )
    .await?;
    wait_reason(&client, &ns.name, "no-creds", "AuthenticationFailed").await?;
    apply_app(&client, &ns.name, "not-a-repo", spec(&ns.name, &server.url("nothing-here"), "main")).await?;
    wait_reason(&client, &ns.name, "not-a-repo", "NotARepository").await?;
    apply_app(&client, &ns.name, "no-branch", spec(&ns.name, &server.url("app"), "no-such-branch")).await?;
    wait_reason(&client, &ns.name, "no-branch", "RevisionNotFound").await?;
    apply_app(&client, &ns.name, "no-semver", spec(&ns.name, &server.url("app"), ">=5.0.0 <6.0.0")).await?;
    let message = wait_reason_clean(&client, &ns.name, "no-semver", "RevisionNotFound", &[]).await?;
    assert!(message.contains("v1.2.0"), "{message}");

    let log = controller.log();
    assert!(!log.contains(HTTP_PASSWORD) && !log.contains("not-the-password"), "a password leaked into the log");
    Ok(())
}

#[tokio::test]
async fn tls_without_the_ca_fails_clearly() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-src-tls").await?;
    let server = HttpGitServer::start()?;
    server.publish("app", &repo_with("tls", "1"))?;
    let mut args = vec!["--controller-namespace", ns.name.as_str()];
    args.extend_from_slice(FAST);
    let _controller = ControllerProcess::start(&ns.name, &args)?;
    put_secret(
        &client,
        &ns.name,
        "creds",
        "repository",
        &[("url", &server.https_url("app")), ("username", HTTP_USER), ("password", HTTP_PASSWORD)],
    )
    .await?;
    apply_app(&client, &ns.name, "untrusted", spec(&ns.name, &server.https_url("app"), "main")).await?;
    wait_reason_clean(&client, &ns.name, "untrusted", "TLSFailed", &[HTTP_PASSWORD]).await?;
    Ok(())
}

/// One tenant's `caData` vouches only for its own connections: after tenant A synced through its
/// CA, tenant B's credential (another CA) for a server A's CA issued still fails.
#[tokio::test]
async fn one_tenants_ca_is_not_trusted_for_another_tenant() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-src-tenants").await?;
    let server = HttpGitServer::start()?;
    server.publish("team-a", &repo_with("tenant-a", "1"))?;
    server.publish("team-b", &repo_with("tenant-b", "1"))?;
    let other_ca_dir = tempfile::tempdir()?;
    let other_ca = TestCa::generate(other_ca_dir.path())?;
    let mut args = vec!["--controller-namespace", ns.name.as_str()];
    args.extend_from_slice(FAST);
    let _controller = ControllerProcess::start(&ns.name, &args)?;
    for (secret, repo, ca) in [("tenant-a", "team-a", &server.ca.ca_pem), ("tenant-b", "team-b", &other_ca.ca_pem)] {
        put_secret(
            &client,
            &ns.name,
            secret,
            "repository",
            &[("url", &server.https_url(repo)), ("username", HTTP_USER), ("password", HTTP_PASSWORD), ("caData", ca)],
        )
        .await?;
    }
    apply_app(&client, &ns.name, "tenant-a", spec(&ns.name, &server.https_url("team-a"), "main")).await?;
    wait_app(&client, &ns.name, "tenant-a", "Ready through tenant A's CA", is_ready).await?;
    apply_app(&client, &ns.name, "tenant-b", spec(&ns.name, &server.https_url("team-b"), "main")).await?;
    let message = wait_reason_clean(&client, &ns.name, "tenant-b", "TLSFailed", &[HTTP_PASSWORD]).await?;
    assert!(message.contains("caData"), "{message}");
    Ok(())
}

#[tokio::test]
async fn ssh_with_checked_host_keys() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-src-ssh").await?;
    let server = SshGitServer::start()?;
    let repo = repo_with("from-ssh", "1");
    let first = repo.git(&["rev-parse", "HEAD"]);
    server.publish("app", &repo)?;
    let mut args = vec!["--controller-namespace", ns.name.as_str()];
    args.extend_from_slice(FAST);
    let _controller = ControllerProcess::start(&ns.name, &args)?;
    put_secret(
        &client,
        &ns.name,
        "ssh",
        "repository",
        &[("url", &server.url("app")), ("sshPrivateKey", &server.client_key)],
    )
    .await?;
    apply_app(&client, &ns.name, "ssh", spec(&ns.name, &server.url("app"), "main")).await?;

    // No known hosts at all: refused, never accepted silently.
    let message = wait_reason_clean(&client, &ns.name, "ssh", "HostKeyNotTrusted", &[&server.client_key]).await?;
    assert!(message.contains("not in known hosts"), "{message}");
    // A different key for this host: refused as changed.
    let other = SshGitServer::start()?;
    let wrong = other.known_hosts.replace(&format!(":{}", other.port), &format!(":{}", server.port));
    put_config_map(&client, &ns.name, "lockstep-ssh-known-hosts", &[("ssh_known_hosts", &wrong)]).await?;
    wait_app(&client, &ns.name, "ssh", "changed host key refused", |app| {
        ready(app).is_some_and(|c| c.reason == "HostKeyNotTrusted" && c.message.contains("differs"))
    })
    .await?;
    // The right key (with the host name hashed, as Debian's ssh writes known_hosts): synced.
    let hashed = server.hashed_known_hosts()?;
    assert!(hashed.starts_with("|1|"), "{hashed}");
    put_config_map(&client, &ns.name, "lockstep-ssh-known-hosts", &[("ssh_known_hosts", &hashed)]).await?;
    let app = wait_app(&client, &ns.name, "ssh", "Ready over SSH", is_ready)
        .await
        .map_err(|e| anyhow::anyhow!("{e}\nsshd: {}", server.log()))?;
    assert_eq!(revision(&app), Some(first.as_str()));

    // A key the server does not accept.
    server.publish("other", &repo)?;
    put_secret(
        &client,
        &ns.name,
        "wrong-key",
        "repository",
        &[("url", &server.url("other")), ("sshPrivateKey", &other.client_key)],
    )
    .await?;
    apply_app(&client, &ns.name, "wrong-key", spec(&ns.name, &server.url("other"), "main")).await?;
    wait_reason_clean(&client, &ns.name, "wrong-key", "AuthenticationFailed", &[&other.client_key, &server.client_key])
        .await?;
    Ok(())
}

#[tokio::test]
async fn an_authenticating_proxy() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-src-proxy").await?;
    let server = HttpGitServer::start()?;
    server.publish("app", &repo_with("via-proxy", "1"))?;
    let proxy = ProxyServer::start("proxyuser", "proxy-pass-123")?;
    let mut args = vec!["--controller-namespace", ns.name.as_str()];
    args.extend_from_slice(FAST);
    let _controller = ControllerProcess::start(&ns.name, &args)?;
    // libgit2 tunnels https through a proxy (CONNECT); plain http:// URLs bypass it (see docs/sources.md).
    let prefix = format!("https://127.0.0.1:{}/", server.tls_port);
    let with_proxy_password = |proxy_password: &str| {
        let proxy_url = proxy.url_with("proxyuser", proxy_password);
        let (client, ns, prefix, ca) = (client.clone(), ns.name.clone(), prefix.clone(), server.ca.ca_pem.clone());
        async move {
            let data = [
                ("url", prefix.as_str()),
                ("username", HTTP_USER),
                ("password", HTTP_PASSWORD),
                ("caData", ca.as_str()),
                ("proxy", proxy_url.as_str()),
            ];
            put_secret(&client, &ns, "creds", "repo-creds", &data).await
        }
    };
    with_proxy_password("wrong-proxy-pass").await?;
    apply_app(&client, &ns.name, "proxied", spec(&ns.name, &server.https_url("app"), "main")).await?;
    wait_reason_clean(&client, &ns.name, "proxied", "ProxyAuthenticationFailed", &["wrong-proxy-pass", HTTP_PASSWORD])
        .await?;
    // Correcting the Secret takes effect without a restart.
    with_proxy_password("proxy-pass-123").await?;
    wait_app(&client, &ns.name, "proxied", "Ready through the proxy", is_ready).await?;
    assert!(proxy.requests() > 0, "squid saw no request");
    Ok(())
}

#[tokio::test]
async fn the_controller_wide_default_proxy() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-src-defproxy").await?;
    let server = HttpGitServer::start()?;
    server.publish("app", &repo_with("via-default-proxy", "1"))?;
    let proxy = ProxyServer::start("proxyuser", "default-proxy-pass")?;
    let proxy_url = proxy.url_with("proxyuser", "default-proxy-pass");
    let mut args = vec![
        "--controller-namespace",
        ns.name.as_str(),
        "--https-proxy",
        proxy_url.as_str(),
        "--no-proxy",
        "example.invalid",
    ];
    args.extend_from_slice(FAST);
    let controller = ControllerProcess::start(&ns.name, &args)?;
    put_secret(
        &client,
        &ns.name,
        "creds",
        "repository",
        &[
            ("url", &server.https_url("app")),
            ("username", HTTP_USER),
            ("password", HTTP_PASSWORD),
            ("caData", &server.ca.ca_pem),
        ],
    )
    .await?;
    apply_app(&client, &ns.name, "app", spec(&ns.name, &server.https_url("app"), "main")).await?;
    wait_app(&client, &ns.name, "app", "Ready through the default proxy", is_ready).await?;
    assert!(proxy.requests() > 0, "squid saw no request");
    assert!(!controller.log().contains("default-proxy-pass"), "the proxy password leaked into the log");
    Ok(())
}

#[tokio::test]
async fn mirrors_take_over_in_both_directions() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-src-mirror").await?;
    let mut canonical = HttpGitServer::start()?;
    let mut mirror = HttpGitServer::start()?;
    let repo = repo_with("mirrored", "1");
    canonical.publish("app", &repo)?;
    mirror.publish("app", &repo)?;
    let mut args = vec!["--controller-namespace", ns.name.as_str()];
    args.extend_from_slice(FAST);
    let _controller = ControllerProcess::start(&ns.name, &args)?;
    let map = format!(
        "- source: http://127.0.0.1:{}/git/\n  mirrors: [http://127.0.0.1:{}/git/]\n",
        canonical.port, mirror.port
    );
    put_config_map(&client, &ns.name, "lockstep-source-mirrors", &[("mirrors.yaml", &map)]).await?;

    canonical.stop();
    apply_app(&client, &ns.name, "app", spec(&ns.name, &canonical.url("app"), "main")).await?;
    let app = wait_app(&client, &ns.name, "app", "Ready from the mirror", is_ready).await?;
    assert_eq!(fetched_from(&app).as_deref(), Some(mirror.url("app").as_str()));

    canonical.resume()?;
    mirror.stop();
    refresh(&client, &ns.name, "app").await?;
    wait_app(&client, &ns.name, "app", "served by the canonical URL", |app| {
        fetched_from(app).as_deref() == Some(canonical.url("app").as_str())
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn an_outage_keeps_the_last_good_revision_across_restarts() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-src-outage").await?;
    let mut server = HttpGitServer::start()?;
    let repo = repo_with("kept", "1");
    let first = repo.git(&["rev-parse", "HEAD"]);
    server.publish("app", &repo)?;
    let mut args = vec!["--controller-namespace", ns.name.as_str()];
    args.extend_from_slice(FAST);
    let controller = ControllerProcess::start(&ns.name, &args)?;
    let mut healing = spec(&ns.name, &server.url("app"), "main");
    healing["syncPolicy"]["automated"] = json!({"selfHeal": true, "prune": true});
    apply_app(&client, &ns.name, "app", healing).await?;
    wait_app(&client, &ns.name, "app", "Ready", is_ready).await?;

    server.stop();
    refresh(&client, &ns.name, "app").await?;
    let app = wait_app(&client, &ns.name, "app", "SourceUnavailable", |app| {
        source_condition(app).is_some_and(|c| c.reason == "SourceUnavailable")
    })
    .await?;
    assert_eq!(revision(&app), Some(first.as_str()));
    let condition = source_condition(&app).expect("condition");
    assert!(condition.message.contains("since") && condition.message.contains(&first[..12]), "{}", condition.message);
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    assert!(configmaps.get_opt("kept").await?.is_some(), "nothing is pruned during an outage");
    // Drift is still healed against the last good revision.
    let drift = json!({"data": {"value": "drifted"}});
    configmaps.patch("kept", &PatchParams::default(), &Patch::Merge(&drift)).await?;
    wait_for("drift healed during the outage", Duration::from_secs(60), || async {
        let value = configmaps.get("kept").await?.data.and_then(|d| d.get("value").cloned());
        if value.as_deref() == Some("1") { Ok(Some(())) } else { anyhow::bail!("value is {value:?}") }
    })
    .await?;

    // Restart the controller over the same cache, still during the outage.
    let cache = controller.stop();
    let _controller = ControllerProcess::start_with_cache(&ns.name, cache, &args)?;
    refresh(&client, &ns.name, "app").await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let app = wait_app(&client, &ns.name, "app", "still serving after restart", |app| {
        source_condition(app).is_some() && revision(app) == Some(first.as_str()) && is_ready(app)
    })
    .await?;
    assert!(configmaps.get_opt("kept").await?.is_some());
    drop(app);

    // The server returns with a new commit: the condition clears and the commit flows.
    repo.write("app/cm.yaml", &config_map("kept", "2"));
    let second = repo.commit("second");
    server.resume()?;
    server.publish("app", &repo)?;
    refresh(&client, &ns.name, "app").await?;
    wait_app(&client, &ns.name, "app", "new commit, condition cleared", |app| {
        source_condition(app).is_none() && revision(app) == Some(second.as_str()) && is_ready(app)
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn two_hundred_applications_share_one_listing_per_interval() -> anyhow::Result<()> {
    const APPS: usize = 200;
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-src-fanout").await?;
    let server = HttpGitServer::start()?;
    let repo = GitRepo::new();
    for i in 0..APPS {
        repo.write(&format!("apps/{i}/cm.yaml"), &config_map(&format!("fanout-{i}"), "1"));
    }
    repo.commit("many");
    server.publish("app", &repo)?;
    let resync = 15;
    let resync_arg = format!("{resync}s");
    let _controller =
        ControllerProcess::start(&ns.name, &["--controller-namespace", &ns.name, "--resync-period", &resync_arg])?;
    for i in 0..APPS {
        let mut spec = spec(&ns.name, &server.url("app"), "main");
        spec["source"]["path"] = json!(format!("apps/{i}"));
        apply_app(&client, &ns.name, &format!("app-{i}"), spec).await?;
    }
    let apps: Api<Application> = Api::namespaced(client.clone(), &ns.name);
    wait_for("every Application Ready", Duration::from_secs(240), || async {
        let list = apps.list(&Default::default()).await?;
        let ready_count = list.items.iter().filter(|a| is_ready(a)).count();
        if ready_count == APPS { Ok(Some(())) } else { anyhow::bail!("{ready_count} of {APPS} Ready") }
    })
    .await?;
    let before = server.ref_listings("app");
    tokio::time::sleep(Duration::from_secs(3 * resync)).await;
    let during = server.ref_listings("app") - before;
    assert!(
        (2..=4).contains(&during),
        "{during} ref listings in three resync intervals for {APPS} Applications (want about 3)\n{}",
        server.access_log().lines().rev().take(20).collect::<Vec<_>>().join("\n")
    );
    eprintln!("{during} ref listings in three resync intervals for {APPS} Applications");
    Ok(())
}
