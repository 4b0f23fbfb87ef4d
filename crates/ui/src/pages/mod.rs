//! The pages, rendered on the server with maud, and the error page every handler answers with.

pub mod badges;
pub mod clusters;
pub mod detail;
pub mod diff;
pub mod layout;
pub mod list;
pub mod live_status;
pub mod sets;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

/// A request that failed: the status to answer and what to tell the user.
#[derive(Debug)]
pub(crate) struct PageError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, in a sentence.
    pub message: String,
}

impl PageError {
    /// An API server error while doing `what`: its 401, 403 and 404 passed on, anything else a 502.
    pub fn kube(what: &str, err: &kube::Error) -> Self {
        let status = match err {
            kube::Error::Api(status) => StatusCode::from_u16(status.code)
                .ok()
                .filter(|s| matches!(s.as_u16(), 401 | 403 | 404 | 409 | 422))
                .unwrap_or(StatusCode::BAD_GATEWAY),
            _ => StatusCode::BAD_GATEWAY,
        };
        Self { status, message: format!("{what}: {}", lockstep_api::kube_error::one_line(err)) }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let body = html! {
            section.error-page {
                h1 { (self.status.as_u16()) " " (title) }
                p.error role="alert" { (self.message) }
                @if self.status == StatusCode::UNAUTHORIZED { p { a href="/login" { "Sign in again" } } }
                p { a href="/" { "Back to the Applications" } }
            }
        };
        (self.status, layout::page(title, None, body)).into_response()
    }
}

/// A revision as people quote it: a commit id's first 7 characters, anything else whole.
pub(crate) fn short(revision: &str) -> &str {
    let is_sha = revision.len() >= 40 && revision.chars().all(|c| c.is_ascii_hexdigit());
    if is_sha { &revision[..7] } else { revision }
}

#[cfg(test)]
mod tests {
    #[test]
    fn commit_ids_are_shortened_and_names_kept() {
        assert_eq!(super::short("3f2a9c1d0b8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"), "3f2a9c1");
        assert_eq!(super::short("main"), "main");
        assert_eq!(super::short(""), "");
    }
}
