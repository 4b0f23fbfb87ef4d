//! `lockstep ui` end to end, against the real control plane: token sign-in (cookie attributes), the
//! list's badges, the detail page's tree, CSRF and origin refusals, RBAC deciding the buttons and
//! refusing a forged write, an operator's sync request written, live changes over Server-Sent
//! Events (a new Application's row for the pages whose filters pass it), and session expiry.

use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use lockstep_api::{REFRESH_ANNOTATION, ROLLBACK_ANNOTATION, SYNC_REQUEST_ANNOTATION};
use lockstep_e2e::apps::{apply_app, get_app, refresh, wait_reason};
use lockstep_e2e::cluster::kubectl_ok;
use lockstep_e2e::configmaps::{config_map, wait_value};
use lockstep_e2e::ui::{UiProcess, http_client, user};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client, workspace_root};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use serde_json::json;

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ndata:\n  password: aHVudGVyMg==\n";

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: main\n        image: registry.example/web:1\n";

/// Signs in with `token`; returns the `Cookie` header value and the raw `Set-Cookie`.
async fn sign_in(ui: &UiProcess, token: &str) -> anyhow::Result<(String, String)> {
    let response = http_client().post(ui.url("/login")).form(&[("token", token)]).send().await?;
    anyhow::ensure!(response.status() == StatusCode::SEE_OTHER, "sign-in answered {}", response.status());
    let set_cookie = response.headers().get(SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let pair = set_cookie.split(';').next().unwrap_or_default().to_string();
    Ok((pair, set_cookie))
}

async fn get(ui: &UiProcess, cookie: &str, path: &str) -> anyhow::Result<(StatusCode, String)> {
    let response = http_client().get(ui.url(path)).header(COOKIE, cookie).send().await?;
    Ok((response.status(), response.text().await?))
}

async fn post(ui: &UiProcess, cookie: &str, path: &str, form: &[(&str, &str)]) -> anyhow::Result<(StatusCode, String)> {
    let response = http_client().post(ui.url(path)).header(COOKIE, cookie).form(form).send().await?;
    Ok((response.status(), response.text().await?))
}

/// The CSRF token a page's forms carry.
fn csrf_of(page: &str) -> String {
    let start = page.find(r#"name="csrf" value=""#).map(|i| i + r#"name="csrf" value=""#.len()).expect("a CSRF field");
    page[start..].split('"').next().unwrap_or_default().to_string()
}

#[tokio::test]
async fn token_users_see_what_rbac_allows_and_write_only_what_it_allows() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-ui").await?;
    let repo = GitRepo::new();
    repo.write("deploy.yaml", DEPLOYMENT);
    repo.write("cm.yaml", &config_map("settings", "1"));
    repo.write("secret.yaml", SECRET);
    repo.commit("web");
    let _controller = ControllerProcess::start(&ns.name, &["--resync-period", "1h"])?;
    let spec = json!({
        "source": {"repoURL": repo.url(), "targetRevision": "main"},
        "syncPolicy": {"automated": {"prune": true, "selfHeal": true}},
    });
    apply_app(&client, &ns.name, "web", spec).await?;
    wait_reason(&client, &ns.name, "web", "Succeeded").await?;
    let viewer = user(&client, &ns.name, "viewer", false).await?;
    let operator = user(&client, &ns.name, "operator", true).await?;
    let ui = UiProcess::start(&format!("{}-ui", ns.name), &[]).await?;
    let http = http_client();

    // Signed out: pages go to the sign-in form, which carries the security headers.
    let response = http.get(ui.url("/")).send().await?;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers().get(LOCATION).and_then(|v| v.to_str().ok()), Some("/login"));
    let response = http.get(ui.url("/login")).send().await?;
    let csp = response.headers().get(CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(response.headers().get("x-frame-options").and_then(|v| v.to_str().ok()), Some("DENY"));
    let refused = http.post(ui.url("/login")).form(&[("token", "not-a-token")]).send().await?;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    // The read-only user: the cookie's attributes, the list with its badges, the tree.
    let (cookie, set_cookie) = sign_in(&ui, &viewer).await?;
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(set_cookie.contains(attribute), "{attribute} missing from {set_cookie}");
    }
    let (status, list) = get(&ui, &cookie, &format!("/?namespace={}", ns.name)).await?;
    assert_eq!(status, StatusCode::OK, "{list}");
    let row_at = list.find(&format!(r#"data-app="{}/web""#, ns.name)).expect("a row for the Application");
    let row = &list[row_at..list[row_at..].find("</tr>").map_or(list.len(), |end| row_at + end)];
    assert!(row.contains("health-badge health-Healthy"), "{row}");
    assert!(row.contains("sync-badge sync-Synced"), "{row}");
    assert!(list.contains("may not list Applications in all namespaces"), "the fallback is said");
    let (status, detail) = get(&ui, &cookie, &format!("/apps/{}/web", ns.name)).await?;
    assert_eq!(status, StatusCode::OK, "{detail}");
    for kind in ["Deployment", "ReplicaSet", "ConfigMap"] {
        assert!(detail.contains(&format!(r#"data-kind="{kind}""#)), "{kind} in the tree");
    }
    assert!(detail.contains(r#"id="sync" type="submit" disabled"#), "the viewer's Sync is disabled");
    let csrf = csrf_of(&detail);

    // Refused by the UI: no CSRF token, or another site's origin. Refused by the API server: the
    // viewer's forged POST with a valid token.
    let sync_path = format!("/apps/{}/web/sync", ns.name);
    let (status, _) = post(&ui, &cookie, &sync_path, &[("prune", "on")]).await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "a POST without a CSRF token");
    let cross_site = http
        .post(ui.url(&sync_path))
        .header(COOKIE, &cookie)
        .header(ORIGIN, "https://evil.example")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await?;
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN, "a POST from another origin");
    let (status, body) = post(&ui, &cookie, &sync_path, &[("csrf", &csrf)]).await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.contains("cannot patch resource"), "the API server's answer is shown: {body}");
    let annotations = get_app(&client, &ns.name, "web").await?.metadata.annotations.unwrap_or_default();
    assert!(!annotations.contains_key(SYNC_REQUEST_ANNOTATION), "nothing was written");

    // The operator: live changes over the event stream, then a sync request written.
    let (cookie, _) = sign_in(&ui, &operator).await?;
    let (_, detail) = get(&ui, &cookie, &format!("/apps/{}/web", ns.name)).await?;
    assert!(detail.contains(r#"id="sync" type="submit">"#), "the operator's Sync is enabled");
    let csrf = csrf_of(&detail);
    let secret_path = format!("/apps/{0}/web/object?group=&version=v1&kind=Secret&namespace={0}&name=db", ns.name);
    let (status, secret) = get(&ui, &cookie, &secret_path).await?;
    assert_eq!(status, StatusCode::OK, "{secret}");
    assert!(secret.contains("password: '***'"), "{secret}");
    assert!(!secret.contains("aHVudGVyMg"), "the Secret's value is masked: {secret}");
    let mut events = http.get(ui.url(&format!("/events?namespace={}", ns.name))).header(COOKIE, &cookie).send().await?;
    assert_eq!(events.status(), StatusCode::OK);
    let mut seen = String::new();
    let first = read_until(&mut events, &mut seen, r#""name":"web""#).await;
    assert!(first, "the stream starts with the current state: {seen}");
    repo.write("cm.yaml", &config_map("settings", "2"));
    let head = repo.commit("settings 2");
    refresh(&client, &ns.name, "web").await?;
    let changed = read_until(&mut events, &mut seen, &format!(r#""revision":"{head}""#)).await;
    assert!(changed, "the new revision arrives over the stream: {seen}");

    // An Application created after the page loaded: a page whose filters pass it gets its row to
    // insert; a page filtering it out (`q=web`) is told it is not shown, without a row; its
    // deletion reaches both.
    let filtered_path = format!("/events?namespace={}&q=web", ns.name);
    let mut filtered = http.get(ui.url(&filtered_path)).header(COOKIE, &cookie).send().await?;
    let mut filtered_seen = String::new();
    let web_first = next_message(&mut filtered, &mut filtered_seen, |m| m["name"] == "web").await;
    assert_eq!(web_first.map(|m| m["shown"].clone()), Some(json!(true)), "{filtered_seen}");
    apply_app(&client, &ns.name, "late", json!({"source": {"repoURL": repo.url(), "targetRevision": "main"}})).await?;
    let late = next_message(&mut events, &mut seen, |m| m["name"] == "late").await;
    let late = late.unwrap_or_else(|| panic!("the new Application reaches the page: {seen}"));
    assert_eq!(late["shown"], true, "{late}");
    let row = late["row"].as_str().unwrap_or_default();
    assert!(row.starts_with(&format!(r#"<tr data-app="{}/late">"#, ns.name)), "{row}");
    assert!(row.contains(&format!(r#"<a href="/apps/{}/late">late</a>"#, ns.name)), "{row}");
    assert!(row.contains("health-badge") && row.contains("sync-badge"), "{row}");
    let late = next_message(&mut filtered, &mut filtered_seen, |m| m["name"] == "late").await;
    let late = late.unwrap_or_else(|| panic!("the filtered page hears of it too: {filtered_seen}"));
    assert_eq!((late["shown"].clone(), late.get("row")), (json!(false), None), "{late}");
    Api::<lockstep_api::Application>::namespaced(client.clone(), &ns.name).delete("late", &Default::default()).await?;
    for (stream, stream_seen) in [(&mut events, &mut seen), (&mut filtered, &mut filtered_seen)] {
        let gone = next_message(stream, stream_seen, |m| m["name"] == "late" && m["deleted"] == true).await;
        assert!(gone.is_some_and(|m| m["shown"] == false), "the deletion arrives: {stream_seen}");
    }
    drop(filtered);

    let (status, body) = post(&ui, &cookie, &sync_path, &[("csrf", &csrf), ("prune", "on")]).await?;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let annotations = get_app(&client, &ns.name, "web").await?.metadata.annotations.unwrap_or_default();
    let request = annotations.get(SYNC_REQUEST_ANNOTATION).cloned().unwrap_or_default();
    assert!(request.ends_with(",prune"), "the sync request is written with prune: {request:?}");

    // A second page of the session joins the same watch and starts from the current state.
    let mut second = http.get(ui.url(&format!("/events?namespace={}", ns.name))).header(COOKIE, &cookie).send().await?;
    let mut second_seen = String::new();
    let current = read_until(&mut second, &mut second_seen, &format!(r#""revision":"{head}""#)).await;
    assert!(current, "a joining page gets the current state: {second_seen}");

    // A dry run writes nothing; Refresh and Rollback write what the CLI writes.
    let (status, _) = post(&ui, &cookie, &sync_path, &[("csrf", &csrf), ("dry_run", "on")]).await?;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let annotations = get_app(&client, &ns.name, "web").await?.metadata.annotations.unwrap_or_default();
    assert_eq!(annotations.get(SYNC_REQUEST_ANNOTATION), Some(&request), "the dry run changed nothing");
    let before = annotations.get(REFRESH_ANNOTATION).cloned();
    let (status, _) = post(&ui, &cookie, &format!("/apps/{}/web/refresh", ns.name), &[("csrf", &csrf)]).await?;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let annotations = get_app(&client, &ns.name, "web").await?.metadata.annotations.unwrap_or_default();
    let after = annotations.get(REFRESH_ANNOTATION).cloned();
    assert!(after.is_some() && after != before, "a new refresh is asked for: {before:?} then {after:?}");
    let first_id = get_app(&client, &ns.name, "web").await?.status.and_then(|s| s.history.first().map(|h| h.id));
    let first_id = first_id.expect("a history entry").to_string();
    let rollback_path = format!("/apps/{}/web/rollback", ns.name);
    let (status, _) = post(&ui, &cookie, &rollback_path, &[("csrf", &csrf), ("id", &first_id)]).await?;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let annotations = get_app(&client, &ns.name, "web").await?.metadata.annotations.unwrap_or_default();
    let rollback = annotations.get(ROLLBACK_ANNOTATION).cloned().unwrap_or_default();
    assert!(rollback.starts_with(&format!("{first_id},token=")), "the rollback names the entry: {rollback:?}");

    // Signing out ends the session.
    let (status, _) = post(&ui, &cookie, "/logout", &[("csrf", &csrf)]).await?;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = get(&ui, &cookie, "/").await?;
    assert_eq!(status, StatusCode::SEE_OTHER, "signed out");
    Ok(())
}

/// Reads the event stream until an `app` message that `wanted` accepts arrives (parsed), or 60 s
/// pass (`None`). Messages before it, already in `seen`, are skipped.
async fn next_message(
    response: &mut reqwest::Response,
    seen: &mut String,
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> Option<serde_json::Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut read = 0;
    loop {
        while let Some(end) = seen[read..].find('\n') {
            let line = &seen[read..read + end];
            read += end + 1;
            let message = line.strip_prefix("data:").and_then(|d| serde_json::from_str(d.trim()).ok());
            if let Some(message) = message.filter(&wanted) {
                *seen = seen[read..].to_string();
                return Some(message);
            }
        }
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            _ => return None,
        }
    }
}

/// Reads the event stream until `needle` shows up (true) or 60 s pass (false).
async fn read_until(response: &mut reqwest::Response, seen: &mut String, needle: &str) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !seen.contains(needle) {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(chunk))) => seen.push_str(&String::from_utf8_lossy(&chunk)),
            _ => return false,
        }
    }
    true
}

#[tokio::test]
async fn an_expired_session_goes_back_to_the_sign_in() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-ui-ttl").await?;
    let token = user(&client, &ns.name, "viewer", false).await?;
    let ui = UiProcess::start(&format!("{}-ui", ns.name), &["--session-ttl", "2s"]).await?;
    let (cookie, set_cookie) = sign_in(&ui, &token).await?;
    assert!(set_cookie.contains("Max-Age=2"), "{set_cookie}");
    let (status, _) = get(&ui, &cookie, &format!("/?namespace={}", ns.name)).await?;
    assert_eq!(status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let response = http_client().get(ui.url("/")).header(COOKIE, &cookie).send().await?;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers().get(LOCATION).and_then(|v| v.to_str().ok()), Some("/login"));
    let (status, _) = get(&ui, &cookie, &format!("/events?namespace={}", ns.name)).await?;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the event stream refuses an expired session");
    Ok(())
}

#[tokio::test]
async fn deploy_ui_is_a_deployment_of_its_own_without_rbac() -> anyhow::Result<()> {
    let rendered = kubectl_ok(&["kustomize", &workspace_root().join("deploy/ui").display().to_string()], None)?;
    let objects: Vec<serde_json::Value> =
        rendered.split("\n---\n").map(serde_yaml_ng::from_str).collect::<Result<_, _>>()?;
    let kinds: Vec<&str> = objects.iter().filter_map(|o| o["kind"].as_str()).collect();
    for kind in ["ServiceAccount", "Deployment", "Service", "NetworkPolicy"] {
        assert!(kinds.contains(&kind), "{kind} in deploy/ui: {kinds:?}");
    }
    assert!(
        !kinds.iter().any(|k| k.contains("Role")),
        "the UI acts only with its users' tokens, so it has no RBAC of its own: {kinds:?}"
    );
    let deployment = objects.iter().find(|o| o["kind"] == "Deployment").expect("a Deployment");
    assert_eq!(deployment["metadata"]["namespace"], "lockstep-system");
    assert_eq!(deployment["spec"]["template"]["spec"]["serviceAccountName"], "lockstep-ui");
    assert_eq!(deployment["spec"]["template"]["spec"]["containers"][0]["args"][0], "ui");
    Ok(())
}

#[tokio::test]
async fn the_diff_page_shows_a_kubectl_edit_against_git() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-ui-diff").await?;
    let repo = GitRepo::new();
    repo.write("cm.yaml", &config_map("settings", "from-git"));
    repo.commit("settings");
    let _controller = ControllerProcess::start(&ns.name, &["--resync-period", "1h"])?;
    let spec = json!({"source": {"repoURL": repo.url(), "targetRevision": "main"}});
    apply_app(&client, &ns.name, "manual", spec).await?;
    let operator = user(&client, &ns.name, "operator", true).await?;
    let cache = tempfile::tempdir()?;
    let cache_dir = cache.path().display().to_string();
    let ui = UiProcess::start(&format!("{}-ui", ns.name), &["--cache-dir", &cache_dir]).await?;
    let (cookie, _) = sign_in(&ui, &operator).await?;

    // Not synced yet: the diff says the ConfigMap would be created.
    let diff_path = format!("/apps/{}/manual/diff", ns.name);
    let (status, page) = get(&ui, &cookie, &diff_path).await?;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(&format!("created  ConfigMap {}/settings", ns.name)), "{page}");

    // Synced from the UI, then edited by hand: the diff shows the edit against git.
    let (_, detail) = get(&ui, &cookie, &format!("/apps/{}/manual", ns.name)).await?;
    let csrf = csrf_of(&detail);
    let (status, _) = post(&ui, &cookie, &format!("/apps/{}/manual/sync", ns.name), &[("csrf", &csrf)]).await?;
    assert_eq!(status, StatusCode::SEE_OTHER);
    wait_value(&client, &ns.name, "settings", Some("from-git")).await?;
    let edit = json!({"data": {"value": "edited-by-hand"}});
    Api::<ConfigMap>::namespaced(client.clone(), &ns.name)
        .patch("settings", &PatchParams::default(), &Patch::Merge(&edit))
        .await?;
    let (status, page) = get(&ui, &cookie, &diff_path).await?;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(&format!("changed  ConfigMap {}/settings", ns.name)), "{page}");
    assert!(page.contains(r#"<span class="d-del">-  value: edited-by-hand</span>"#), "{page}");
    assert!(page.contains(r#"<span class="d-add">+  value: from-git</span>"#), "{page}");
    Ok(())
}

#[tokio::test]
async fn the_clusters_page_lists_destinations_and_their_connection_without_credentials() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-ui-clusters").await?;
    let repo = GitRepo::new();
    repo.write("cm.yaml", &config_map("settings", "1"));
    repo.commit("settings");
    // A cluster nobody serves: its Applications turn ClusterUnreachable.
    let dead = format!("https://{}", lockstep_e2e::http::free_addr());
    let token_secret = "s3cr3t-cluster-token-never-shown";
    let config = json!({"bearerToken": token_secret, "tlsClientConfig": {"insecure": true}}).to_string();
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": "east-secret", "namespace": ns.name, "labels": {"lockstep.dev/secret-type": "cluster"}},
        "stringData": {"name": "east", "server": dead, "namespaces": "shop,web", "project": "default", "config": config}});
    kubectl_ok(&["apply", "-f", "-"], Some(&secret.to_string()))?;
    let _controller =
        ControllerProcess::start(&ns.name, &["--controller-namespace", &ns.name, "--resync-period", "1h"])?;
    let source = json!({"repoURL": repo.url(), "targetRevision": "main"});
    let east = json!({"source": source, "destination": {"name": "east", "namespace": "shop"},
        "syncPolicy": {"automated": {}}});
    let local = json!({"source": source, "destination": {"namespace": ns.name}, "syncPolicy": {"automated": {}}});
    apply_app(&client, &ns.name, "east-app", east).await?;
    apply_app(&client, &ns.name, "local-app", local).await?;
    wait_reason(&client, &ns.name, "east-app", "ClusterUnreachable").await?;
    wait_reason(&client, &ns.name, "local-app", "Succeeded").await?;
    // `edit` in the namespace reads its Secrets; `view` does not.
    let operator = user(&client, &ns.name, "operator", true).await?;
    let viewer = user(&client, &ns.name, "viewer", false).await?;
    let ui = UiProcess::start(&format!("{}-ui", ns.name), &[]).await?;

    let (cookie, _) = sign_in(&ui, &operator).await?;
    let (status, page) = get(&ui, &cookie, "/").await?;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"href="/clusters""#), "the navigation links the clusters page");
    let (status, page) = get(&ui, &cookie, &format!("/clusters?namespace={}", ns.name)).await?;
    assert_eq!(status, StatusCode::OK, "{page}");
    let row = |name: &str| {
        let start = page.find(&format!(r#"data-cluster="{name}""#)).unwrap_or_else(|| panic!("no row {name}: {page}"));
        page[start..].split("</tr>").next().unwrap_or_default().to_string()
    };
    let east_row = row("east");
    assert!(east_row.contains(&dead), "{east_row}");
    assert!(east_row.contains("shop, web") && east_row.contains("default"), "{east_row}");
    assert!(east_row.contains("Unreachable") && east_row.contains(&format!("{}/east-app", ns.name)), "{east_row}");
    assert!(east_row.contains(&format!("{}/east-secret", ns.name)), "{east_row}");
    let local_row = row("in-cluster");
    assert!(local_row.contains("https://kubernetes.default.svc") && local_row.contains("Reachable"), "{local_row}");
    assert!(!page.contains(token_secret) && !page.contains("bearerToken"), "no credentials on the page");
    assert!(page.contains("You may not list Secrets in all namespaces"), "the page says whose Secrets it read");

    // A user who may not read the Secrets sees the own cluster and the refusal, nothing more.
    let (cookie, _) = sign_in(&ui, &viewer).await?;
    let (status, page) = get(&ui, &cookie, &format!("/clusters?namespace={}", ns.name)).await?;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&format!("Refused: {}", ns.name)), "{page}");
    assert!(page.contains(r#"data-cluster="in-cluster""#) && !page.contains(r#"data-cluster="east""#), "{page}");
    Ok(())
}
