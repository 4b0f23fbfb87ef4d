//! The router in-process, for what it answers before any Kubernetes call: security headers,
//! redirects and 401s without a session, CSRF and origin refusals, the assets.

use axum::http::{Request, header};
use tower::ServiceExt as _;

use super::*;

/// A UI whose cluster is unreachable: these requests never get as far as calling it.
fn ui(mode: LoginMode) -> Router {
    let base = kube::Config::new("http://127.0.0.1:9".parse().expect("a URL"));
    let local = match mode {
        LoginMode::Token => None,
        LoginMode::Local => Some(Arc::new(Session::local(kube::Client::try_from(base.clone()).expect("a client")))),
    };
    router(Arc::new(Shared { base, sessions: Sessions::new(Duration::from_secs(60)), local, diff: None, oidc: None }))
}

async fn send(router: Router, request: Request<Body>) -> Response {
    router.oneshot(request).await.expect("the router answers")
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("a request")
}

fn post(path: &str, headers: &[(&str, &str)], body: &str) -> Request<Body> {
    let mut request = Request::post(path)
        .header(header::HOST, "ui.example")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Body::from(body.to_string())).expect("a request")
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    for response in [send(ui(LoginMode::Token), get("/login")).await, send(ui(LoginMode::Token), get("/nowhere")).await]
    {
        let headers = response.headers();
        assert_eq!(headers[header::CONTENT_SECURITY_POLICY], CONTENT_SECURITY_POLICY);
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::REFERRER_POLICY], "same-origin");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
    }
}

#[tokio::test]
async fn without_a_session_pages_go_to_the_sign_in_and_the_rest_is_401() {
    let response = send(ui(LoginMode::Token), get("/")).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[header::LOCATION], "/login");
    let response = send(ui(LoginMode::Token), get("/apps/team/web")).await;
    assert_eq!(response.headers()[header::LOCATION], "/login");
    for path in ["/events", "/session"] {
        assert_eq!(send(ui(LoginMode::Token), get(path)).await.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let response = send(ui(LoginMode::Token), post("/apps/team/web/sync", &[], "csrf=x")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let cookie = [("cookie", "lockstep_session=unknown")];
    let response = send(ui(LoginMode::Token), post("/apps/team/web/sync", &cookie, "csrf=x")).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "an unknown session is no session");
}

#[tokio::test]
async fn a_post_needs_the_sessions_csrf_token_and_this_origin() {
    let router = ui(LoginMode::Local);
    for (headers, body) in [
        (vec![], "prune=on"),
        (vec![], "csrf=wrong"),
        (vec![("x-csrf-token", "wrong")], ""),
        (vec![("origin", "https://evil.example")], "csrf=wrong"),
    ] {
        let response = send(router.clone(), post("/apps/team/web/sync", &headers, body)).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{headers:?} {body}");
    }
    let response = send(router, post("/login", &[("origin", "https://evil.example")], "token=t")).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "the sign-in form is checked for its origin too");
}

#[tokio::test]
async fn another_sites_origin_is_refused_even_with_the_right_token() {
    let base = kube::Config::new("http://127.0.0.1:9".parse().expect("a URL"));
    let session = Arc::new(Session::local(kube::Client::try_from(base.clone()).expect("a client")));
    let csrf = session.csrf.clone();
    let router = router(Arc::new(Shared {
        base,
        sessions: Sessions::new(Duration::from_secs(60)),
        local: Some(session),
        diff: None,
        oidc: None,
    }));
    let form = format!("csrf={csrf}");
    let response = send(router.clone(), post("/logout", &[("origin", "https://evil.example")], &form)).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = send(router, post("/logout", &[("origin", "http://ui.example")], &form)).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "the right token from this origin passes");
}

#[tokio::test]
async fn local_mode_has_no_sign_in() {
    let response = send(ui(LoginMode::Local), get("/login")).await;
    assert_eq!(response.headers()[header::LOCATION], "/");
    assert_eq!(send(ui(LoginMode::Local), get("/session")).await.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn assets_are_served_with_a_long_cache() {
    let response = send(ui(LoginMode::Token), get("/assets/app.js")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert_eq!(response.headers()[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    assert_eq!(send(ui(LoginMode::Token), get("/assets/other.js")).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn argo_cd_style_links_from_notification_templates_land_on_the_application() {
    for (path, to) in [
        ("/applications/team-a/web", "/apps/team-a/web"),
        ("/applications/web", "/?q=web"),
        ("/applications/a%20b", "/?q=a+b"),
    ] {
        let response = send(ui(LoginMode::Token), get(path)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()), Some(to), "{path}");
    }
}
