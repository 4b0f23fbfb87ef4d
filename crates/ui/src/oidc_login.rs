//! The OIDC sign-in's two routes: `/oidc/start` sends the browser to the issuer, `/oidc/callback`
//! takes it back, checks the ID token and starts a session whose bearer token is that ID token.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use maud::{DOCTYPE, html};
use serde::Deserialize;
use subtle::ConstantTimeEq as _;

use crate::assets;
use crate::auth::{client_for_token, who_is};
use crate::login::refused;
use crate::oidc::{STATE_COOKIE, cleared_state_cookie, session_lifetime, state_cookie};
use crate::server::AppState;
use crate::session::{cookie_value, session_cookie};

/// GET /oidc/start: a new sign-in, bound to this browser by the state cookie.
pub(crate) async fn start(State(state): State<AppState>) -> Response {
    let Some(oidc) = &state.oidc else {
        return Redirect::to("/login").into_response();
    };
    match oidc.start().await {
        Ok((url, login_state)) => {
            ([(header::SET_COOKIE, state_cookie(&login_state))], Redirect::to(&url)).into_response()
        }
        Err(err) => refused(&state, StatusCode::SERVICE_UNAVAILABLE, &err.to_string()).await,
    }
}

/// What the issuer sends back.
#[derive(Deserialize)]
pub(crate) struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// GET /oidc/callback: the code exchanged, the ID token checked, the API server asked who it
/// names; then a session. The answer is a page that moves on to `/` itself: the browser arrived
/// here from the issuer's site, and a `SameSite=Strict` cookie set now is sent only on a request
/// this site starts.
pub(crate) async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(callback): Query<Callback>,
) -> Response {
    let Some(oidc) = &state.oidc else {
        return Redirect::to("/login").into_response();
    };
    if let Some(error) = callback.error {
        let detail = callback.error_description.map(|d| format!(": {d}")).unwrap_or_default();
        return refused(&state, StatusCode::UNAUTHORIZED, &format!("The identity provider refused: {error}{detail}"))
            .await;
    }
    let (Some(code), Some(login_state)) = (callback.code, callback.state) else {
        return refused(&state, StatusCode::BAD_REQUEST, "The identity provider sent no code.").await;
    };
    let cookies = headers.get_all(header::COOKIE);
    let bound = cookies.iter().filter_map(|v| v.to_str().ok()).find_map(|h| cookie_value(h, STATE_COOKIE));
    if !bound.is_some_and(|b| bool::from(b.as_bytes().ct_eq(login_state.as_bytes()))) {
        return refused(&state, StatusCode::BAD_REQUEST, "This sign-in was not started in this browser; start again.")
            .await;
    }
    let signed_in = match oidc.finish(&login_state, &code).await {
        Ok(signed_in) => signed_in,
        Err(err) => {
            tracing::warn!(%err, "OIDC sign-in failed");
            return refused(&state, StatusCode::UNAUTHORIZED, &err.to_string()).await;
        }
    };
    let client = match client_for_token(&state.base, &signed_in.id_token) {
        Ok(client) => client,
        Err(err) => {
            let message = format!("The ID token cannot be used: {}", lockstep_api::kube_error::one_line(&err));
            return refused(&state, StatusCode::UNAUTHORIZED, &message).await;
        }
    };
    let user = match who_is(&client).await {
        Ok(user) => user,
        Err(kube::Error::Api(status)) if status.code == 401 => {
            let message = format!(
                "The API server does not accept ID tokens of {}: its authentication configuration must trust this issuer \
                 with the audience {:?}.",
                oidc.issuer(),
                oidc.client_id()
            );
            return refused(&state, StatusCode::UNAUTHORIZED, &message).await;
        }
        Err(err) => {
            let message = format!("The ID token could not be checked: {}", lockstep_api::kube_error::one_line(&err));
            return refused(&state, StatusCode::BAD_GATEWAY, &message).await;
        }
    };
    tracing::info!(%user, "signed in through OIDC");
    let lifetime = session_lifetime(state.sessions.ttl(), signed_in.valid_for);
    let id = state.sessions.start_lasting(user, client, lifetime);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content="0;url=/";
                title { "Signed in · lockstep" }
                link rel="stylesheet" href=(assets::css_path());
            }
            body { main #main { p { "Signed in. " a href="/" { "Continue to the Applications" } } } }
        }
    };
    (
        AppendHeaders([
            (header::SET_COOKIE, session_cookie(&id, lifetime)),
            (header::SET_COOKIE, cleared_state_cookie()),
        ]),
        page,
    )
        .into_response()
}
