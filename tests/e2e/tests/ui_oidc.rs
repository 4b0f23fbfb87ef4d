//! `lockstep ui` with OIDC sign-in, end to end: a real OpenID Connect provider (tests/oidc) serves
//! the issuer the test control plane's API server trusts; a user signs in through its login form
//! (authorization code with PKCE), and the UI then calls the API server with the ID token, so the
//! user sees what the RBAC bound to `oidc:<id>` allows. With the issuer down, the sign-in page says
//! SSO is unavailable and token sign-in still works.

use std::time::Duration;

use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{Api, PostParams};
use lockstep_e2e::apps::apply_app;
use lockstep_e2e::browser::Browser;
use lockstep_e2e::http::free_addr;
use lockstep_e2e::oidc::{OidcProvider, OidcUser};
use lockstep_e2e::ui::{UiProcess, http_client, user};
use lockstep_e2e::{TestNamespace, client, wait_for};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::json;

/// The `name=value` of the cookie `name` among a response's `Set-Cookie` headers.
fn cookie_from(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_string())
        .find(|pair| pair.starts_with(&format!("{name}=")) && pair.len() > name.len() + 1)
}

fn location(response: &reqwest::Response) -> anyhow::Result<String> {
    response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
        .ok_or_else(|| anyhow::anyhow!("no Location in a {} answer", response.status()))
}

/// The value of the hidden input `name` in a form.
fn hidden_field(page: &str, name: &str) -> Option<String> {
    let marker = format!(r#"name="{name}" value=""#);
    let start = page.find(&marker)? + marker.len();
    page[start..].split('"').next().map(String::from)
}

/// One whole OIDC sign-in as a browser makes it, redirect by redirect: the UI's start, the issuer's
/// authorization endpoint and login form, back to the UI's callback. Returns the callback's status
/// and body, and the session cookie it set (if any).
async fn oidc_sign_in(
    ui: &UiProcess,
    provider: &OidcProvider,
    username: &str,
    password: &str,
) -> anyhow::Result<(StatusCode, String, Option<String>)> {
    let http = http_client();
    let issuer = provider.http_client()?;
    let start = http.get(ui.url("/oidc/start")).send().await?;
    anyhow::ensure!(start.status() == StatusCode::SEE_OTHER, "/oidc/start answered {}", start.status());
    let state_cookie = cookie_from(&start, "lockstep_oidc_state").ok_or_else(|| anyhow::anyhow!("no state cookie"))?;
    let authorize = location(&start)?;
    anyhow::ensure!(authorize.starts_with(&provider.info.issuer), "sent to {authorize}");
    anyhow::ensure!(authorize.contains("code_challenge_method=S256") && authorize.contains("nonce="), "{authorize}");
    // The issuer's authorization endpoint sends the browser to its login form.
    let mut url = authorize;
    let mut form_page = None;
    for _ in 0..5 {
        let response = issuer.get(&url).send().await?;
        if response.status().is_redirection() {
            let next = location(&response)?;
            url = if next.starts_with('/') { format!("{}{next}", provider.info.issuer) } else { next };
            continue;
        }
        anyhow::ensure!(response.status() == StatusCode::OK, "{url} answered {}", response.status());
        form_page = Some(response.text().await?);
        break;
    }
    let form_page = form_page.ok_or_else(|| anyhow::anyhow!("no login form after the redirects"))?;
    let request_id = hidden_field(&form_page, "id").ok_or_else(|| anyhow::anyhow!("no id in {form_page}"))?;
    let login = issuer
        .post(format!("{}/login/username", provider.info.issuer))
        .form(&[("id", request_id.as_str()), ("username", username), ("password", password)])
        .send()
        .await?;
    anyhow::ensure!(login.status().is_redirection(), "the login form answered {}", login.status());
    // The issuer's own callback, then the UI's.
    let mut url = location(&login)?;
    for _ in 0..5 {
        if !url.starts_with(&provider.info.issuer) && !url.starts_with('/') {
            break;
        }
        let absolute = if url.starts_with('/') { format!("{}{url}", provider.info.issuer) } else { url.clone() };
        let response = issuer.get(&absolute).send().await?;
        anyhow::ensure!(response.status().is_redirection(), "{absolute} answered {}", response.status());
        url = location(&response)?;
    }
    anyhow::ensure!(url.starts_with(&ui.url("/oidc/callback")), "the issuer sent the browser to {url}");
    let callback = http.get(&url).header(COOKIE, &state_cookie).send().await?;
    let status = callback.status();
    let session = cookie_from(&callback, "lockstep_session");
    Ok((status, callback.text().await?, session))
}

async fn get(ui: &UiProcess, cookie: &str, path: &str) -> anyhow::Result<(StatusCode, String)> {
    let response = http_client().get(ui.url(path)).header(COOKIE, cookie).send().await?;
    Ok((response.status(), response.text().await?))
}

/// Lets `user` (an API server user name) read Applications in `namespace`.
async fn grant_read(client: &kube::Client, namespace: &str, user: &str) -> anyhow::Result<()> {
    let role: Role = serde_json::from_value(json!({"metadata": {"name": "oidc-reader"}, "rules": [
        {"apiGroups": ["lockstep.dev"], "resources": ["applications"], "verbs": ["get", "list", "watch"]}]}))?;
    Api::<Role>::namespaced(client.clone(), namespace).create(&PostParams::default(), &role).await?;
    let binding: RoleBinding = serde_json::from_value(json!({"metadata": {"name": "oidc-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "oidc-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}]}))?;
    Api::<RoleBinding>::namespaced(client.clone(), namespace).create(&PostParams::default(), &binding).await?;
    Ok(())
}

fn app_spec() -> serde_json::Value {
    json!({"source": {"repoURL": "https://git.example/none.git", "targetRevision": "main", "path": "."}})
}

#[tokio::test]
async fn an_oidc_user_signs_in_through_the_issuer_and_sees_what_their_rbac_allows() -> anyhow::Result<()> {
    let client = client().await?;
    let allowed = TestNamespace::create(&client, "e2e-oidc-a").await?;
    let other = TestNamespace::create(&client, "e2e-oidc-b").await?;
    apply_app(&client, &allowed.name, "visible", app_spec()).await?;
    apply_app(&client, &other.name, "hidden", app_spec()).await?;
    let id = format!("alice-{}", &allowed.name[allowed.name.len() - 8..]);
    let addr = free_addr();
    let redirect = format!("http://{addr}/oidc/callback");
    let users = [OidcUser { id: id.clone(), username: id.clone(), password: "correct horse".into() }];
    let provider = OidcProvider::start(&format!("{}-oidc", allowed.name), &users, &redirect).await?;
    let api_user = format!("{}{id}", provider.info.user_prefix);
    grant_read(&client, &allowed.name, &api_user).await?;
    let secret_dir = tempfile::tempdir()?;
    let secret_file = secret_dir.path().join("client-secret");
    std::fs::write(&secret_file, &provider.client_secret)?;
    let (issuer, ca) = (provider.info.issuer.clone(), provider.info.ca.display().to_string());
    let args = [
        "--oidc-issuer",
        issuer.as_str(),
        "--oidc-client-id",
        provider.info.client_id.as_str(),
        "--oidc-client-secret-file",
        secret_file.to_str().unwrap_or_default(),
        "--oidc-ca-file",
        ca.as_str(),
    ];
    let ui = UiProcess::start_on(&format!("{}-ui", allowed.name), addr, &args).await?;

    // The sign-in page offers SSO beside the token form.
    let page = wait_for("the sign-in page offers SSO", Duration::from_secs(30), || async {
        let page = http_client().get(ui.url("/login")).send().await?.text().await?;
        Ok(page.contains("Sign in with SSO").then_some(page))
    })
    .await?;
    assert!(page.contains(r#"name="token""#), "the token form stays: {page}");

    // A wrong password is refused by the issuer's form: no code comes back.
    assert!(oidc_sign_in(&ui, &provider, &id, "wrong").await.is_err());

    // The API server's JWT authenticator fetches the issuer's keys in the background (it was down
    // until now), so the first sign-ins may be refused by the API server; the UI says so.
    let cookie = wait_for("an OIDC sign-in the API server accepts", Duration::from_secs(90), || async {
        let (status, body, session) = oidc_sign_in(&ui, &provider, &id, "correct horse").await?;
        match (status, session) {
            (StatusCode::OK, Some(session)) => Ok(Some(session)),
            (StatusCode::UNAUTHORIZED, _) if body.contains("does not accept ID tokens") => Ok(None),
            (status, _) => anyhow::bail!("the callback answered {status}: {body}"),
        }
    })
    .await?;

    // The session is the OIDC user's, as the API server names them, and RBAC decides what they see.
    let query = format!("/?namespace={},{}", allowed.name, other.name);
    let (status, list) = get(&ui, &cookie, &query).await?;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains(&api_user), "the page names the signed-in user {api_user}");
    assert!(list.contains(&format!("/apps/{}/visible", allowed.name)), "the allowed Application is listed");
    assert!(!list.contains(&format!("/apps/{}/hidden", other.name)), "the other namespace's is not");
    let (status, _) = get(&ui, &cookie, &format!("/apps/{}/visible", allowed.name)).await?;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = get(&ui, &cookie, &format!("/apps/{}/hidden", other.name)).await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "the API server refuses the other namespace's Application");

    // The same in headless Chromium, clicking: the SSO button, the issuer's form, and back on the
    // list, signed in (the callback's page moves on by itself, so the SameSite=Strict session
    // cookie set on the issuer's cross-site redirect is sent). Chromium trusts the issuer's key only.
    let spki = format!("--ignore-certificate-errors-spki-list={}", provider.info.spki_sha256);
    let browser = Browser::start_with_args(&format!("{}-chromium", allowed.name), &[spki]).await?;
    browser.goto(&ui.url("/login")).await?;
    browser.find("a#sso").await?.click().await?;
    browser.find("input#username").await?.send_keys(&id).await?;
    browser.find("input#password").await?.send_keys("correct horse").await?;
    browser.find("button[type=submit]").await?.click().await?;
    let signed_in_as = browser
        .wait_script(
            "the list, signed in through SSO",
            "const u = document.querySelector('header .user'); return location.pathname === '/' && u ? u.textContent : ''",
            |v| v.as_str().is_some_and(|t| !t.is_empty()),
        )
        .await?;
    assert_eq!(signed_in_as.as_str(), Some(api_user.as_str()));
    browser.goto(&ui.url(&format!("/?namespace={},{}", allowed.name, other.name))).await?;
    let rows = browser
        .script(
            "return Array.from(document.querySelectorAll('#apps tr[data-app]')).map(r => r.getAttribute('data-app'))",
        )
        .await?;
    assert_eq!(rows, json!([format!("{}/visible", allowed.name)]), "only what RBAC allows");
    let requested = browser.requested_urls().await?;
    assert!(requested.iter().any(|url| url.starts_with(&provider.info.issuer)), "the browser went to the issuer");
    for url in requested.iter().filter(|url| url.starts_with("http")) {
        assert!(url.starts_with("http://127.0.0.1:") || url.starts_with("https://127.0.0.1:"), "left loopback: {url}");
    }
    browser.close().await?;

    // A callback replayed (its state already used) starts no session.
    let http = http_client();
    let replay = http.get(ui.url("/oidc/callback?code=forged&state=forged")).send().await?;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    assert!(cookie_from(&replay, "lockstep_session").is_none());

    // The issuer goes down: the sign-in page soon says SSO is unavailable, token sign-in works,
    // and the signed-in OIDC user goes on (the API server checks ID tokens with the keys it has).
    provider.stop();
    wait_for("the sign-in page to say SSO is unavailable", Duration::from_secs(45), || async {
        let page = http_client().get(ui.url("/login")).send().await?.text().await?;
        Ok((page.contains("SSO unavailable") && !page.contains("Sign in with SSO")).then_some(()))
    })
    .await?;
    let token = user(&client, &allowed.name, "viewer", false).await?;
    let signed_in = http.post(ui.url("/login")).form(&[("token", token.as_str())]).send().await?;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let token_cookie = cookie_from(&signed_in, "lockstep_session").ok_or_else(|| anyhow::anyhow!("no session"))?;
    let (status, list) = get(&ui, &token_cookie, &format!("/?namespace={}", allowed.name)).await?;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains(&format!("/apps/{}/visible", allowed.name)));
    let (status, _) = get(&ui, &cookie, &format!("/apps/{}/visible", allowed.name)).await?;
    assert_eq!(status, StatusCode::OK, "the OIDC session outlives the issuer's outage");
    Ok(())
}

#[tokio::test]
async fn with_the_issuer_down_the_page_says_sso_is_unavailable_and_token_sign_in_works() -> anyhow::Result<()> {
    let client = client().await?;
    let ns = TestNamespace::create(&client, "e2e-oidc-down").await?;
    apply_app(&client, &ns.name, "web", app_spec()).await?;
    let token = user(&client, &ns.name, "viewer", false).await?;
    // An issuer nobody serves: a loopback port bound and released.
    let dead = format!("https://{}", free_addr());
    let secret_dir = tempfile::tempdir()?;
    let secret_file = secret_dir.path().join("client-secret");
    std::fs::write(&secret_file, "unused")?;
    let args = ["--oidc-issuer", dead.as_str(), "--oidc-client-secret-file", secret_file.to_str().unwrap_or_default()];
    // The UI starts although discovery fails.
    let ui = UiProcess::start(&format!("{}-ui", ns.name), &args).await?;
    let http = http_client();
    // The sign-in page never waits for the issuer: it says what the background discovery found.
    let page = wait_for("the sign-in page to say SSO is unavailable", Duration::from_secs(15), || async {
        let page = http_client().get(ui.url("/login")).send().await?;
        anyhow::ensure!(page.status() == StatusCode::OK, "/login answered {}", page.status());
        let page = page.text().await?;
        Ok(page.contains("SSO unavailable").then_some(page))
    })
    .await?;
    assert!(page.contains(&dead), "the notice names the issuer: {page}");
    assert!(!page.contains("Sign in with SSO"), "no SSO button while the issuer is down");
    assert!(page.contains(r#"name="token""#));
    // Starting an SSO sign-in anyway says the same and sends nobody to the dead issuer.
    let start = http.get(ui.url("/oidc/start")).send().await?;
    assert_eq!(start.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(start.text().await?.contains("SSO unavailable"));

    let signed_in = http.post(ui.url("/login")).form(&[("token", token.as_str())]).send().await?;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let cookie = cookie_from(&signed_in, "lockstep_session").ok_or_else(|| anyhow::anyhow!("no session cookie"))?;
    let (status, list) = get(&ui, &cookie, &format!("/?namespace={}", ns.name)).await?;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains(&format!("/apps/{}/web", ns.name)), "{list}");
    Ok(())
}
