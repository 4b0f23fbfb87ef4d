//! The buttons: Refresh, Sync and Rollback write the same annotations as `lockstep refresh`,
//! `lockstep sync` and `lockstep rollback`, with the user's own token. The API server's refusal
//! is passed on as it is: the UI never writes with more rights than the user has.
//!
//! A plain form post is answered with a redirect to the detail page; the page script posts with
//! `Accept: application/json` instead and gets the outcome as JSON, so the page is not reloaded and
//! its live badges show the sync happening.

use axum::extract::Path;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use kube::api::{Api, Patch, PatchParams};
use lockstep_api::{Application, REFRESH_ANNOTATION, ROLLBACK_ANNOTATION, SYNC_REQUEST_ANNOTATION};
use serde::Deserialize;

use crate::pages::PageError;
use crate::server::Caller;
use crate::session::random_hex;

/// The Sync form.
#[derive(Deserialize)]
pub(crate) struct SyncForm {
    #[serde(default)]
    prune: Option<String>,
    #[serde(default)]
    dry_run: Option<String>,
}

/// The Rollback form.
#[derive(Deserialize)]
pub(crate) struct RollbackForm {
    id: Option<i64>,
}

/// POST /apps/{namespace}/{name}/refresh.
pub(crate) async fn refresh(
    Caller(session): Caller,
    Path((namespace, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let value = request_token();
    let write = Write { key: REFRESH_ANNOTATION, value: &value, dry_run: false, done: "refresh" };
    annotate(&session.client, &namespace, &name, write, wants_json(&headers)).await
}

/// POST /apps/{namespace}/{name}/sync: with prune and dry-run (a server-side dry run of the request
/// itself: RBAC and admission answer, nothing is written).
pub(crate) async fn sync(
    Caller(session): Caller,
    Path((namespace, name)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<SyncForm>,
) -> Response {
    let value = sync_request(&request_token(), form.prune.is_some());
    let dry_run = form.dry_run.is_some();
    let done = if dry_run { "sync-dry-run" } else { "sync" };
    let write = Write { key: SYNC_REQUEST_ANNOTATION, value: &value, dry_run, done };
    annotate(&session.client, &namespace, &name, write, wants_json(&headers)).await
}

/// POST /apps/{namespace}/{name}/rollback: to the history entry chosen, else the one before the
/// deployed one.
pub(crate) async fn rollback(
    Caller(session): Caller,
    Path((namespace, name)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<RollbackForm>,
) -> Response {
    let value = rollback_request(form.id, &request_token());
    let write = Write { key: ROLLBACK_ANNOTATION, value: &value, dry_run: false, done: "rollback" };
    annotate(&session.client, &namespace, &name, write, wants_json(&headers)).await
}

/// What the detail page says after a request named `done` was written (`?done=` or the JSON
/// answer): a fixed set, so a link cannot put words on the page.
pub(crate) fn notice(done: &str) -> Option<&'static str> {
    match done {
        "refresh" => Some("Refresh requested."),
        "sync" => Some("Sync requested."),
        "sync-dry-run" => Some("Dry run: the API server would accept this sync request; nothing was written."),
        "rollback" => Some("Rollback requested."),
        _ => None,
    }
}

/// Whether the caller is the page script (it asks for JSON), rather than a plain form post.
fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.split(',').any(|t| t.trim().starts_with("application/json")))
}

/// The answer to a written request: a redirect to the detail page for a form, the notice for the script.
fn written(namespace: &str, name: &str, done: &str, json: bool) -> Response {
    if json {
        Json(serde_json::json!({"done": done, "notice": notice(done)})).into_response()
    } else {
        Redirect::to(&format!("/apps/{namespace}/{name}?done={done}")).into_response()
    }
}

/// The answer to a refused or failed request: the error page for a form, `{"error"}` for the script.
fn failed(error: PageError, json: bool) -> Response {
    if json {
        (error.status, Json(serde_json::json!({"error": error.message}))).into_response()
    } else {
        error.into_response()
    }
}

/// One annotation write: which annotation, its value, whether only as a dry run, and its `done` name.
struct Write<'a> {
    key: &'a str,
    value: &'a str,
    dry_run: bool,
    done: &'a str,
}

/// A token unique to one request, so the same request can be made twice.
fn request_token() -> String {
    random_hex(8)
}

/// The sync-request annotation's value, as `lockstep sync [--prune]` writes it.
fn sync_request(token: &str, prune: bool) -> String {
    if prune { format!("{token},prune") } else { token.to_string() }
}

/// The rollback annotation's value, as `lockstep rollback NAME [ID]` writes it.
fn rollback_request(id: Option<i64>, token: &str) -> String {
    let entry = id.map_or_else(|| "previous".to_string(), |id| id.to_string());
    format!("{entry},token={token}")
}

async fn annotate(client: &kube::Client, namespace: &str, name: &str, write: Write<'_>, json: bool) -> Response {
    let Write { key, value, dry_run, done } = write;
    let patch = serde_json::json!({"metadata": {"annotations": {key: value}}});
    let params = PatchParams { dry_run, ..PatchParams::default() };
    let result =
        Api::<Application>::namespaced(client.clone(), namespace).patch(name, &params, &Patch::Merge(&patch)).await;
    match result {
        Ok(_) => {
            tracing::info!(%namespace, %name, annotation = key, %value, dry_run, "request written");
            written(namespace, name, done, json)
        }
        Err(err) => failed(PageError::kube(&format!("annotating Application {namespace}/{name}"), &err), json),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn requests_are_written_as_the_cli_writes_them() {
        assert_eq!(sync_request("t", false), "t");
        assert_eq!(sync_request("t", true), "t,prune");
        assert_eq!(rollback_request(None, "t"), "previous,token=t");
        assert_eq!(rollback_request(Some(3), "t"), "3,token=t");
    }

    #[test]
    fn the_page_script_asks_for_json_and_a_form_does_not() {
        let mut headers = HeaderMap::new();
        assert!(!wants_json(&headers));
        headers.insert(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8".parse().unwrap());
        assert!(!wants_json(&headers));
        headers.insert(header::ACCEPT, "application/json".parse().unwrap());
        assert!(wants_json(&headers));
    }

    #[tokio::test]
    async fn a_written_request_is_a_redirect_for_a_form_and_a_notice_for_the_script() {
        let form = written("team", "web", "sync", false);
        assert_eq!(form.status(), StatusCode::SEE_OTHER);
        assert_eq!(form.headers()[header::LOCATION], "/apps/team/web?done=sync");
        let script = written("team", "web", "sync", true);
        assert_eq!(script.status(), StatusCode::OK);
        let body = axum::body::to_bytes(script.into_body(), 4096).await.unwrap();
        let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(answer, serde_json::json!({"done": "sync", "notice": "Sync requested."}));
    }

    #[tokio::test]
    async fn a_refusal_keeps_its_status_for_the_script() {
        let refused = PageError { status: StatusCode::FORBIDDEN, message: "cannot patch".into() };
        let answer = failed(refused, true);
        assert_eq!(answer.status(), StatusCode::FORBIDDEN);
        let body = axum::body::to_bytes(answer.into_body(), 4096).await.unwrap();
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["error"], "cannot patch");
    }
}
