//! `lockstep ui` in headless Chromium, against the real control plane and a real controller: token
//! sign-in through the form, the list's badges, the resource tree, the diff after a hand edit, Sync
//! pressed and watched turning Synced without a reload, a read-only user's disabled Sync and the
//! API server's 403 to a forged POST, and no request leaving loopback. Screenshots of the list and
//! the detail page are saved under `target/e2e-artifacts/`.
//!
//! The session cookie is `Secure`; Chromium keeps it over plain HTTP on `127.0.0.1`, a potentially
//! trustworthy origin, so the UI is browsed there (the test checks the cookie it holds).

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use lockstep_api::{Application, SYNC_REQUEST_ANNOTATION, SyncStatusCode};
use lockstep_e2e::apps::{apply_app, wait_app};
use lockstep_e2e::browser::Browser;
use lockstep_e2e::configmaps::{config_map, wait_value};
use lockstep_e2e::ui::{UiProcess, user};
use lockstep_e2e::{ControllerProcess, GitRepo, TestNamespace, client};
use serde_json::{Value, json};

const DEPLOYMENT: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: main\n        image: registry.example/web:1\n";

/// The badge's status word (`data-status`) and class list, in the element matching `scope`.
const BADGES: &str = r#"
    const scope = document.querySelector(arguments[0]);
    if (!scope) { return null; }
    const badge = (family) => {
        const b = scope.querySelector('.' + family + ' > .' + family + '-badge');
        return b ? {status: b.getAttribute('data-status'), text: b.textContent.trim(), classes: b.className} : null;
    };
    return {health: badge('health'), sync: badge('sync')};
"#;

async fn badges(browser: &Browser, scope: &str) -> anyhow::Result<Value> {
    let value = browser.client.execute(BADGES, vec![json!(scope)]).await?;
    Ok(value)
}

fn assert_badge(badges: &Value, family: &str, code: &str) {
    let badge = &badges[family];
    assert_eq!(badge["status"], code, "{family} badge: {badges}");
    assert_eq!(badge["text"], code, "{family} badge's word: {badges}");
    let classes = badge["classes"].as_str().unwrap_or_default();
    assert!(classes.contains(&format!("{family}-badge {family}-{code}")), "{family} badge's classes: {badges}");
}

/// Signs in through the form: types the token, submits, and waits for the Applications list.
async fn sign_in(browser: &Browser, ui: &UiProcess, token: &str) -> anyhow::Result<()> {
    browser.goto(&ui.url("/login")).await?;
    browser.find("textarea#token").await?.send_keys(token).await?;
    browser.find("section.login button[type=submit]").await?.click().await?;
    browser.find("header.top span.user").await?;
    let path = browser.script("return location.pathname").await?;
    assert_eq!(path, "/", "signed in, the browser is on the list");
    Ok(())
}

/// Asks for a sync as `lockstep sync` does: the sync-request annotation with a fresh token.
async fn request_sync(client: &kube::Client, namespace: &str, name: &str, token: &str) -> anyhow::Result<()> {
    let patch = json!({"metadata": {"annotations": {SYNC_REQUEST_ANNOTATION: token}}});
    Api::<Application>::namespaced(client.clone(), namespace)
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(())
}

fn sync_of(app: &Application) -> Option<SyncStatusCode> {
    app.status.as_ref().map(|s| s.sync.status)
}

#[tokio::test]
async fn the_ui_in_chromium_signs_in_shows_the_tree_and_the_diff_and_syncs_live() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-browser").await?;
    let repo = GitRepo::new();
    repo.write("deploy.yaml", DEPLOYMENT);
    repo.write("cm.yaml", &config_map("settings", "from-git"));
    repo.commit("web");
    let _controller = ControllerProcess::start(&ns.name, &["--resync-period", "1h"])?;
    // Manual sync: a hand edit leaves the Application OutOfSync until someone presses Sync.
    apply_app(&client, &ns.name, "web", json!({"source": {"repoURL": repo.url(), "targetRevision": "main"}})).await?;
    request_sync(&client, &ns.name, "web", "first").await?;
    wait_value(&client, &ns.name, "settings", Some("from-git")).await?;
    wait_app(&client, &ns.name, "web", "Synced and Healthy", |app| {
        app.status.as_ref().is_some_and(|s| {
            s.sync.status == SyncStatusCode::Synced && s.health.status == lockstep_api::HealthStatusCode::Healthy
        })
    })
    .await?;
    // `kubectl edit`: another field manager changes the live ConfigMap.
    let edit = json!({"data": {"value": "edited-by-hand"}});
    let by_hand = PatchParams { field_manager: Some("kubectl-edit".into()), ..PatchParams::default() };
    Api::<ConfigMap>::namespaced(client.clone(), &ns.name).patch("settings", &by_hand, &Patch::Merge(&edit)).await?;
    let drifted = wait_app(&client, &ns.name, "web", "OutOfSync after the edit", |app| {
        sync_of(app) == Some(SyncStatusCode::OutOfSync)
    })
    .await?;
    let expected_health = drifted.status.as_ref().map(|s| s.health.status.to_string()).unwrap_or_default();

    let operator = user(&client, &ns.name, "operator", true).await?;
    let viewer = user(&client, &ns.name, "viewer", false).await?;
    let cache = tempfile::tempdir()?;
    let cache_dir = cache.path().display().to_string();
    let ui = UiProcess::start(&format!("{}-ui", ns.name), &["--cache-dir", &cache_dir]).await?;
    let browser = Browser::start(&ns.name).await?;
    let mut requested = Vec::new();

    // Sign in with the operator's token; Chromium keeps the Secure session cookie on 127.0.0.1.
    sign_in(&browser, &ui, &operator).await?;
    let cookies = browser.client.get_all_cookies().await?;
    let session = cookies.iter().find(|c| c.name() == "lockstep_session").expect("the session cookie is kept");
    assert_eq!(session.secure(), Some(true), "the cookie stays Secure");
    assert_eq!(session.http_only(), Some(true), "the cookie stays HttpOnly");

    // The list, filtered to the test's namespace: the row's badges say what the status says.
    let list = ui.url(&format!("/?namespace={}", ns.name));
    browser.goto(&list).await?;
    let row = format!(r#"tr[data-app="{}/web"]"#, ns.name);
    browser.find(&row).await?;
    let seen = badges(&browser, &row).await?;
    assert_badge(&seen, "health", &expected_health);
    assert_badge(&seen, "sync", "OutOfSync");

    // An Application created while the list is open appears in it, and leaves it when deleted,
    // without a reload.
    browser.script("window.__marker = 1; return true").await?;
    apply_app(&client, &ns.name, "late", json!({"source": {"repoURL": repo.url(), "targetRevision": "main"}})).await?;
    let late = format!(r#"tr[data-app="{}/late"]"#, ns.name);
    let rows = format!("return document.querySelectorAll('{late}').length");
    browser.wait_script("the new Application's row", &rows, |v| *v == json!(1)).await?;
    Api::<Application>::namespaced(client.clone(), &ns.name)
        .delete("late", &kube::api::DeleteParams::default())
        .await?;
    browser.wait_script("the deleted Application's row gone", &rows, |v| *v == json!(0)).await?;
    assert_eq!(browser.script("return window.__marker").await?, json!(1), "the list was not reloaded");

    // Open the Application by its link: the tree shows the managed objects and what they own.
    browser.find(&format!("{row} td.name a")).await?.click().await?;
    browser.find("ul.tree#tree").await?;
    let detail_path = format!("/apps/{}/web", ns.name);
    assert_eq!(browser.script("return location.pathname").await?, json!(detail_path));
    let kinds = browser
        .script("return Array.from(document.querySelectorAll('#tree li.node')).map(n => n.dataset.kind + '/' + n.dataset.name)")
        .await?;
    for node in ["Deployment/web", "ConfigMap/settings"] {
        assert!(kinds.as_array().is_some_and(|k| k.contains(&json!(node))), "{node} in the tree: {kinds}");
    }
    assert!(kinds.to_string().contains("ReplicaSet/web-"), "the Deployment's ReplicaSet, by ownerReferences: {kinds}");
    requested.extend(browser.requested_urls().await?);

    // The diff page, from the detail page's link: the edit against git.
    browser.find("a#diff-link").await?.click().await?;
    let diff = browser.find("pre#diff").await?.text().await?;
    assert!(diff.contains(&format!("changed  ConfigMap {}/settings", ns.name)), "{diff}");
    assert!(diff.contains("-  value: edited-by-hand"), "the live value, removed by a sync: {diff}");
    assert!(diff.contains("+  value: from-git"), "git's value, put back by a sync: {diff}");
    requested.extend(browser.requested_urls().await?);

    // Press Sync and watch the badge turn Synced, on the same page: the marker survives.
    browser.goto(&ui.url(&detail_path)).await?;
    browser.find(".app-head .sync > .sync-badge").await?;
    browser
        .wait_script("the page's live stream", "return document.getElementById('live-status').textContent", |v| {
            v == "live"
        })
        .await?;
    assert_badge(&badges(&browser, ".app-head").await?, "sync", "OutOfSync");
    browser.script("window.__marker = 1; return true").await?;
    let operation_script = "const o = document.getElementById('last-operation'); return o ? o.textContent : ''";
    let operation_before = browser.script(operation_script).await?;
    let sync = browser.find("button#sync").await?;
    assert!(sync.is_enabled().await?, "the operator's Sync is enabled");
    sync.click().await?;
    let status = ".app-head .sync > .sync-badge";
    let turned = browser
        .wait_script(
            "the Sync badge to turn Synced",
            &format!("const b = document.querySelector('{status}'); return b && b.getAttribute('data-status')"),
            |v| v == "Synced",
        )
        .await?;
    assert_eq!(turned, "Synced");
    assert_eq!(browser.script("return window.__marker").await?, json!(1), "the page was not reloaded");
    assert_badge(&badges(&browser, ".app-head").await?, "sync", "Synced");
    // The last operation section follows too: the new operation replaces the first, no reload.
    let operation = browser
        .wait_script("the last operation to show the new sync", operation_script, |v| {
            *v != operation_before && v.as_str().is_some_and(|t| t.contains("Succeeded"))
        })
        .await?;
    assert_ne!(operation, operation_before);
    assert_eq!(browser.script("return window.__marker").await?, json!(1), "the page was not reloaded");
    let notice = browser.find("#action-result").await?.text().await?;
    assert_eq!(notice, "Sync requested.");
    wait_value(&client, &ns.name, "settings", Some("from-git")).await?;
    requested.extend(browser.requested_urls().await?);
    let detail_png = browser.screenshot("ui-detail.png").await?;

    // The list again, now all green: its screenshot.
    browser.goto(&list).await?;
    browser.find(&row).await?;
    assert_badge(&badges(&browser, &row).await?, "sync", "Synced");
    let list_png = browser.screenshot("ui-list.png").await?;
    requested.extend(browser.requested_urls().await?);

    // A read-only user: Sync is disabled, and a POST forged from the page is refused by the API server.
    browser.find("form.logout button").await?.click().await?;
    browser.find("textarea#token").await?;
    sign_in(&browser, &ui, &viewer).await?;
    browser.goto(&ui.url(&detail_path)).await?;
    let sync = browser.find("button#sync").await?;
    assert!(!sync.is_enabled().await?, "the viewer's Sync is disabled");
    assert!(browser.find("#no-patch").await?.is_displayed().await?, "the page says why");
    let forged = browser
        .script_async(
            "const done = arguments[arguments.length - 1];
             const form = document.querySelector('button#sync').form;
             fetch(form.action, {method: 'POST', headers: {'Accept': 'application/json'},
                                 body: new URLSearchParams(new FormData(form))})
               .then(r => r.json().then(b => done({status: r.status, body: b})))
               .catch(e => done({error: String(e)}));",
        )
        .await?;
    assert_eq!(forged["status"], 403, "the API server refuses the viewer's write: {forged}");
    assert!(forged["body"]["error"].as_str().is_some_and(|e| e.contains("cannot patch")), "{forged}");
    requested.extend(browser.requested_urls().await?);

    // No request left loopback: every URL the pages asked for is the UI's own.
    let location = browser.script("return location.href").await?;
    assert!(location.as_str().is_some_and(|l| l.starts_with(&ui.url("/"))), "{location}");
    let resources = browser.script("return performance.getEntriesByType('resource').map(e => e.name)").await?;
    requested.extend(resources.as_array().into_iter().flatten().filter_map(|v| v.as_str().map(String::from)));
    assert!(requested.iter().any(|u| u.contains("/events?")), "the log saw the event stream: {requested:?}");
    assert!(requested.iter().any(|u| u.contains("/assets/")), "the log saw the assets: {requested:?}");
    let outside: Vec<&String> = requested.iter().filter(|u| !on_loopback(u)).collect();
    assert!(outside.is_empty(), "requests left loopback: {outside:?}");
    let to_the_ui = requested.iter().filter(|u| u.starts_with(&ui.url("/"))).count();
    assert!(to_the_ui >= 10, "the pages' requests went to the UI: {requested:?}");

    browser.close().await?;
    for png in [&list_png, &detail_png] {
        let bytes = std::fs::read(png)?;
        assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000, "{} is a real screenshot", png.display());
    }
    Ok(())
}

/// Whether `url` names the loopback host (127.0.0.1 or localhost). Chromium's own `chrome://`
/// pages (its first tab), `data:` and `about:` are served from inside the browser, so local too.
fn on_loopback(url: &str) -> bool {
    if ["chrome://", "data:", "about:"].iter().any(|scheme| url.starts_with(scheme)) {
        return true;
    }
    let Some(rest) = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://")) else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(host, _port)| host);
    host == "127.0.0.1" || host == "localhost"
}
