//! The detail page's live sections: the last operation and the conditions, rendered for the page
//! and again as a fragment (`/apps/{namespace}/{name}/status`) that the page script fetches and
//! swaps in whenever the event stream reports a change of that Application.

use axum::extract::Path;
use kube::api::Api;
use lockstep_api::{Application, ApplicationStatus};
use maud::{Markup, html};

use crate::pages::{PageError, short};
use crate::server::Caller;

/// The last operation and the conditions.
pub(crate) fn sections(status: &ApplicationStatus) -> Markup {
    html! {
        section aria-labelledby="operation-h" {
            h2 #operation-h { "Last operation" }
            @match &status.operation_state {
                None => p #last-operation { "None yet." },
                Some(op) => dl.summary #last-operation {
                    dt { "Phase" } dd.phase { (format!("{:?}", op.phase)) }
                    @if let Some(message) = &op.message { dt { "Message" } dd { (message) } }
                    dt { "Started" } dd { (op.started_at.0.to_string()) }
                    @if let Some(finished) = &op.finished_at { dt { "Finished" } dd { (finished.0.to_string()) } }
                    @if let Some(result) = &op.sync_result { dt { "Revision" } dd { (short(&result.revision)) } }
                    @if op.retry_count > 0 { dt { "Retries" } dd { (op.retry_count) } }
                }
            }
        }
        section aria-labelledby="conditions-h" {
            h2 #conditions-h { "Conditions" }
            @if status.conditions.is_empty() { p { "None." } } @else {
                table #conditions { thead { tr { th { "Type" } th { "Status" } th { "Reason" } th { "Message" } th { "Since" } } }
                    tbody { @for c in &status.conditions {
                        tr { td { (c.type_) } td { (c.status) } td { (c.reason) } td { (c.message) } td { (c.last_transition_time.0.to_string()) } }
                    } }
                }
            }
        }
    }
}

/// GET /apps/{namespace}/{name}/status: [`sections`] alone, read with the user's token.
pub(crate) async fn fragment(
    Caller(session): Caller,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Markup, PageError> {
    let app = Api::<Application>::namespaced(session.client.clone(), &namespace)
        .get(&name)
        .await
        .map_err(|err| PageError::kube(&format!("reading Application {namespace}/{name}"), &err))?;
    Ok(sections(&app.status.unwrap_or_default()))
}
