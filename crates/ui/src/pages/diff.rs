//! `/apps/{namespace}/{name}/diff`: what a sync would change, live against git, per object, made
//! with the user's token (a server-side dry run, so it needs the rights a sync of those objects
//! needs). Its own page, since it fetches and renders the source.

use axum::extract::{Path, State};
use kube::api::Api;
use lockstep_api::Application;
use maud::{Markup, html};

use crate::diff::classify;
use crate::pages::{PageError, layout};
use crate::server::{AppState, Caller};

/// GET /apps/{namespace}/{name}/diff.
pub(crate) async fn page(
    State(state): State<AppState>,
    Caller(session): Caller,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Markup, PageError> {
    let app = Api::<Application>::namespaced(session.client.clone(), &namespace)
        .get(&name)
        .await
        .map_err(|err| PageError::kube(&format!("reading Application {namespace}/{name}"), &err))?;
    let diff = match &state.diff {
        Some(source) => source.diff(session.client.clone(), app).await,
        None => Err("this UI was started without the diff (it needs the git cache and renderers)".into()),
    };
    let title = format!("Diff of {name}");
    let body = html! {
        p { a href=(format!("/apps/{namespace}/{name}")) { "← " (name) } }
        h1 { (title) }
        p.hint { "What a sync would change: the live objects against git at the synced revision, by a server-side dry run with your token. Secret values are masked." }
        @match &diff {
            Ok(text) => pre.diff #diff { @for (kind, line) in classify(text) { span class=(kind.class()) { (line) } "\n" } },
            Err(err) => p.error role="alert" { "The diff could not be made: " (err) },
        }
    };
    Ok(layout::page(&title, Some(&session), body))
}
