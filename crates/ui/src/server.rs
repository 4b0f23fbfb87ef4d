//! The HTTP server: configuration, the routes, the security headers on every response, the CSRF
//! guard in front of every POST, and who the caller is (their session, or the kubeconfig's identity
//! in local mode).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use futures::FutureExt as _;

use crate::session::{COOKIE_NAME, Session, Sessions, cookie_value, csrf_matches, origin_allowed};
use crate::{actions, assets, events, login, oidc_login, pages};

/// The Content-Security-Policy of every page: only this origin's own script, style and requests.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The largest form body the CSRF guard reads.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// How users sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoginMode {
    /// With a Kubernetes bearer token, checked by the API server; every call is made with it.
    Token,
    /// No sign-in: every call is made with the base configuration's own credentials (`--local`).
    Local,
}

/// What `lockstep ui` serves, and with which cluster.
pub struct UiConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// How users sign in.
    pub mode: LoginMode,
    /// How long a session lasts.
    pub session_ttl: Duration,
    /// The cluster: its URL and CA (and, in local mode only, its credentials).
    pub base: kube::Config,
    /// The live-vs-git diff, when the binary supplies one.
    pub diff: Option<Arc<dyn crate::DiffSource>>,
    /// OIDC sign-in beside the token form, when an issuer is configured.
    pub oidc: Option<crate::oidc::OidcSettings>,
}

/// Why the server could not run.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// The listen address could not be bound.
    #[error("listening on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// The local mode's client could not be built from the kubeconfig.
    #[error("building the Kubernetes client from the kubeconfig: {0}")]
    Client(#[source] kube::Error),
    /// The OIDC settings are unusable (the issuer itself is not contacted before a sign-in).
    #[error("{0}")]
    Oidc(#[source] crate::oidc::OidcError),
    /// The server stopped with an error.
    #[error("serving HTTP: {0}")]
    Serve(#[source] std::io::Error),
}

/// What every handler shares.
pub(crate) struct Shared {
    /// The cluster without credentials: each session's client adds only its user's token.
    pub base: kube::Config,
    /// The signed-in users.
    pub sessions: Sessions,
    /// In local mode, the one identity every request acts as.
    pub local: Option<Arc<Session>>,
    /// The live-vs-git diff, if supplied.
    pub diff: Option<Arc<dyn crate::DiffSource>>,
    /// OIDC sign-in, if configured.
    pub oidc: Option<Arc<crate::oidc::Oidc>>,
}

/// The handlers' state.
pub(crate) type AppState = Arc<Shared>;

/// Serves the UI until SIGTERM or Ctrl-C.
pub async fn serve(config: UiConfig) -> Result<(), UiError> {
    let local = match config.mode {
        LoginMode::Token => None,
        LoginMode::Local => {
            let client = kube::Client::try_from(config.base.clone()).map_err(UiError::Client)?;
            Some(Arc::new(Session::local(client)))
        }
    };
    let sessions = Sessions::new(config.session_ttl);
    let oidc = match (config.mode, config.oidc) {
        (LoginMode::Token, Some(settings)) => {
            let oidc = Arc::new(crate::oidc::Oidc::new(settings).map_err(UiError::Oidc)?);
            // Discovery in the background: an issuer that is down neither delays nor stops the
            // start, nor any sign-in page.
            oidc.spawn_refresher();
            Some(oidc)
        }
        _ => None,
    };
    let state = Arc::new(Shared { base: config.base, sessions, local, diff: config.diff, oidc });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| UiError::Listen { addr: config.listen, source })?;
    tracing::info!(addr = %config.listen, mode = ?config.mode, "serving the UI");
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown_signal()).await.map_err(UiError::Serve)
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(pages::list::page))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/session", get(login::check))
        .route("/oidc/start", get(oidc_login::start))
        .route("/oidc/callback", get(oidc_login::callback))
        .route("/clusters", get(pages::clusters::page))
        .route("/apps/{namespace}/{name}", get(pages::detail::page))
        .route("/apps/{namespace}/{name}/object", get(pages::detail::object))
        .route("/apps/{namespace}/{name}/diff", get(pages::diff::page))
        .route("/apps/{namespace}/{name}/status", get(pages::live_status::fragment))
        .route("/apps/{namespace}/{name}/refresh", post(actions::refresh))
        .route("/apps/{namespace}/{name}/sync", post(actions::sync))
        .route("/apps/{namespace}/{name}/rollback", post(actions::rollback))
        .route("/applications/{namespace}/{name}", get(argo_app_link))
        .route("/applications/{name}", get(argo_name_link))
        .route("/applicationsets", get(pages::sets::application_sets))
        .route("/projects", get(pages::sets::projects))
        .route("/events", get(events::stream))
        .route("/assets/{file}", get(assets::serve))
        .route("/healthz", get(|| async { "ok" }))
        .layer(middleware::from_fn_with_state(state.clone(), csrf_guard))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

/// Argo CD's page of an Application in a namespace (a link from a notification template written
/// for Argo CD: `{{.context.argocdUrl}}/applications/{{.app.metadata.namespace}}/...`): its page here.
async fn argo_app_link(Path((namespace, name)): Path<(String, String)>) -> Redirect {
    Redirect::to(&format!("/apps/{}/{}", pages::list::url_encode(&namespace), pages::list::url_encode(&name)))
}

/// Argo CD's page of an Application by name alone: the list, searched for that name.
async fn argo_name_link(Path(name): Path<String>) -> Redirect {
    Redirect::to(&format!("/?q={}", pages::list::url_encode(&name)))
}

/// Adds the security headers to every response.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Refuses with 403 any POST whose Origin (or Referer) is another site's, and any POST but the
/// sign-in without the session's CSRF token in the `x-csrf-token` header or the `csrf` form field.
async fn csrf_guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let headers = request.headers();
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if !origin_allowed(text(header::ORIGIN), text(header::REFERER), text(header::HOST)) {
        return forbidden("the request comes from another site");
    }
    if request.uri().path() == "/login" {
        return next.run(request).await;
    }
    let Some(session) = session_of(&state, request.headers()) else {
        return (StatusCode::UNAUTHORIZED, "not signed in").into_response();
    };
    let from_header = request.headers().get("x-csrf-token").and_then(|v| v.to_str().ok()).map(String::from);
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "the form is too large").into_response();
    };
    let from_form = || {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&bytes)
            .ok()
            .and_then(|fields| fields.into_iter().find(|(k, _)| k == "csrf").map(|(_, v)| v))
    };
    let given = from_header.or_else(from_form);
    if !csrf_matches(&session.csrf, given.as_deref()) {
        return forbidden("missing or wrong CSRF token: reload the page and try again");
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

fn forbidden(why: &str) -> Response {
    (StatusCode::FORBIDDEN, format!("403 Forbidden: {why}\n")).into_response()
}

/// The caller's live session: the local identity, or the one the cookie names.
pub(crate) fn session_of(state: &Shared, headers: &HeaderMap) -> Option<Arc<Session>> {
    if let Some(local) = &state.local {
        return Some(local.clone());
    }
    let cookies = headers.get_all(header::COOKIE);
    let id = cookies.iter().filter_map(|v| v.to_str().ok()).find_map(|h| cookie_value(h, COOKIE_NAME))?;
    state.sessions.get(id)
}

/// The signed-in caller of a request. Without a live session, a page redirects to the sign-in form
/// and anything else (the event stream, a POST) answers 401.
pub(crate) struct Caller(pub Arc<Session>);

impl FromRequestParts<AppState> for Caller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(session) = session_of(state, &parts.headers) {
            return Ok(Self(session));
        }
        let page = parts.method == Method::GET && parts.uri.path() != "/events" && parts.uri.path() != "/session";
        if page {
            Err(Redirect::to("/login").into_response())
        } else {
            Err((StatusCode::UNAUTHORIZED, "not signed in, or the session expired").into_response())
        }
    }
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c().map(drop);
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(err) => {
            tracing::warn!(%err, "cannot listen for SIGTERM; only Ctrl-C stops the UI gracefully");
            ctrl_c.await;
        }
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
