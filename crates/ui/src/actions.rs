//! The buttons: Refresh, Sync and Rollback write the same annotations as `lockstep refresh`,
//! `lockstep sync` and `lockstep rollback`, with the user's own token. The API server's refusal
//! is passed on as it is: the UI never writes with more rights than the user has.

use axum::Form;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
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
pub(crate) async fn refresh(Caller(session): Caller, Path((namespace, name)): Path<(String, String)>) -> Response {
    let value = request_token();
    annotate(&session.client, &namespace, &name, REFRESH_ANNOTATION, &value, false, "refresh").await
}

/// POST /apps/{namespace}/{name}/sync: with prune and dry-run (a server-side dry run of the request
/// itself: RBAC and admission answer, nothing is written).
pub(crate) async fn sync(
    Caller(session): Caller,
    Path((namespace, name)): Path<(String, String)>,
    Form(form): Form<SyncForm>,
) -> Response {
    let value = sync_request(&request_token(), form.prune.is_some());
    let dry_run = form.dry_run.is_some();
    let done = if dry_run { "sync-dry-run" } else { "sync" };
    annotate(&session.client, &namespace, &name, SYNC_REQUEST_ANNOTATION, &value, dry_run, done).await
}

/// POST /apps/{namespace}/{name}/rollback: to the history entry chosen, else the one before the
/// deployed one.
pub(crate) async fn rollback(
    Caller(session): Caller,
    Path((namespace, name)): Path<(String, String)>,
    Form(form): Form<RollbackForm>,
) -> Response {
    let value = rollback_request(form.id, &request_token());
    annotate(&session.client, &namespace, &name, ROLLBACK_ANNOTATION, &value, false, "rollback").await
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

async fn annotate(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    key: &str,
    value: &str,
    dry_run: bool,
    done: &str,
) -> Response {
    let patch = serde_json::json!({"metadata": {"annotations": {key: value}}});
    let params = PatchParams { dry_run, ..PatchParams::default() };
    let written =
        Api::<Application>::namespaced(client.clone(), namespace).patch(name, &params, &Patch::Merge(&patch)).await;
    match written {
        Ok(_) => {
            tracing::info!(%namespace, %name, annotation = key, %value, dry_run, "request written");
            Redirect::to(&format!("/apps/{namespace}/{name}?done={done}")).into_response()
        }
        Err(err) => PageError::kube(&format!("annotating Application {namespace}/{name}"), &err).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_written_as_the_cli_writes_them() {
        assert_eq!(sync_request("t", false), "t");
        assert_eq!(sync_request("t", true), "t,prune");
        assert_eq!(rollback_request(None, "t"), "previous,token=t");
        assert_eq!(rollback_request(Some(3), "t"), "3,token=t");
    }
}
