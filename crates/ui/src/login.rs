//! Signing in with a Kubernetes bearer token (and the sign-in page, which also offers OIDC when an
//! issuer is configured), signing out, and the session check the page script makes when its event
//! stream closes.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use crate::auth::{client_for_token, who_is};
use crate::oidc::Availability;
use crate::pages::layout;
use crate::server::{AppState, session_of};
use crate::session::{COOKIE_NAME, cleared_cookie, cookie_value, session_cookie};

/// The sign-in form's fields.
#[derive(Deserialize)]
pub(crate) struct LoginForm {
    token: String,
}

/// GET /login: the form (local mode has no sign-in and goes to the list).
pub(crate) async fn form(State(state): State<AppState>) -> Response {
    if state.local.is_some() {
        return Redirect::to("/").into_response();
    }
    login_page(&state, None).await.into_response()
}

/// The sign-in page: the SSO button when an issuer is configured and answers (else a notice that
/// SSO is unavailable), and always the token form, with `error` above it.
pub(crate) async fn login_page(state: &AppState, error: Option<&str>) -> Markup {
    let sso = state.oidc.as_ref().map(|oidc| (oidc.issuer().to_owned(), oidc.availability()));
    let body = html! {
        section.login {
            h1 { "Sign in to lockstep" }
            @if let Some((issuer, availability)) = &sso {
                @match availability {
                    Availability::Available | Availability::Checking => {
                        p { a.button.sso #sso href="/oidc/start" { "Sign in with SSO" } }
                        p { "Or with a Kubernetes token:" }
                    }
                    Availability::Unavailable(reason) => {
                        p.notice.sso-unavailable #sso-unavailable role="status" {
                            "SSO unavailable: the identity provider " code { (issuer) } " cannot be reached ("
                            (reason) "). Sign in with a Kubernetes token below."
                        }
                    }
                }
            }
            p { "Paste a Kubernetes bearer token: a ServiceAccount's, or one from "
                code { "kubectl create token NAME" } ". Every request is then made with it, so the cluster's RBAC decides what you see and may do." }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            form method="post" action="/login" {
                label for="token" { "Token" }
                textarea #token name="token" rows="6" required autocomplete="off" spellcheck="false" autofocus {}
                button type="submit" { "Sign in" }
            }
        }
    };
    layout::page("Sign in", None, body)
}

/// The sign-in page with `error`, answered with `status`.
pub(crate) async fn refused(state: &AppState, status: StatusCode, error: &str) -> Response {
    (status, login_page(state, Some(error)).await).into_response()
}

/// POST /login: checks the token with the API server and starts a session.
pub(crate) async fn submit(State(state): State<AppState>, Form(form): Form<LoginForm>) -> Response {
    let token = form.token.trim();
    if token.is_empty() {
        return refused(&state, StatusCode::UNAUTHORIZED, "Paste a token.").await;
    }
    let client = match client_for_token(&state.base, token) {
        Ok(client) => client,
        Err(err) => {
            let message = format!("That token cannot be used: {}", lockstep_api::kube_error::one_line(&err));
            return refused(&state, StatusCode::UNAUTHORIZED, &message).await;
        }
    };
    let user = match who_is(&client).await {
        Ok(user) => user,
        Err(kube::Error::Api(status)) if status.code == 401 => {
            return refused(&state, StatusCode::UNAUTHORIZED, "The API server does not accept that token.").await;
        }
        Err(err) => {
            tracing::warn!(error = %lockstep_api::kube_error::one_line(&err), "checking a token failed");
            let message = format!("The token could not be checked: {}", lockstep_api::kube_error::one_line(&err));
            return refused(&state, StatusCode::BAD_GATEWAY, &message).await;
        }
    };
    tracing::info!(%user, "signed in");
    let id = state.sessions.start(user, client);
    let cookie = session_cookie(&id, state.sessions.ttl());
    ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
}

/// POST /logout: ends the session.
pub(crate) async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let cookies = headers.get_all(header::COOKIE);
    if let Some(id) = cookies.iter().filter_map(|v| v.to_str().ok()).find_map(|h| cookie_value(h, COOKIE_NAME)) {
        state.sessions.end(id);
    }
    ([(header::SET_COOKIE, cleared_cookie())], Redirect::to("/login")).into_response()
}

/// GET /session: 204 while the session lives, else 401 (the page script then goes to the sign-in).
pub(crate) async fn check(State(state): State<AppState>, headers: HeaderMap) -> StatusCode {
    if session_of(&state, &headers).is_some() { StatusCode::NO_CONTENT } else { StatusCode::UNAUTHORIZED }
}
