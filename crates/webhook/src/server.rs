//! The push endpoint as an axum [`Router`] (`POST /api/webhook`): detects the provider, verifies
//! the request with the provider's secret, parses the push and hands it to the [`PushHandler`].
//! What a push does (which Applications it concerns, the fetch, the reconciles) is the handler's.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;

use crate::{Event, Provider, Push, detect, parse_push, verify};

/// The path the endpoint serves.
pub const PATH: &str = "/api/webhook";

/// A boxed future, so that [`PushHandler`] is object-safe.
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How a request ended, for metrics: `accepted`, `ignored` (not a push), `bad-request`,
/// `unauthorized`, or `error` (the secret could not be read).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A verified push, handed over.
    Accepted,
    /// A verified event that is not a push.
    Ignored,
    /// No known provider, or a payload that does not parse.
    BadRequest,
    /// The signature or token does not match the secret.
    Unauthorized,
    /// The provider's secret could not be read.
    Error,
}

impl Outcome {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Ignored => "ignored",
            Self::BadRequest => "bad-request",
            Self::Unauthorized => "unauthorized",
            Self::Error => "error",
        }
    }
}

/// What the endpoint needs from the controller.
pub trait PushHandler: Send + Sync + 'static {
    /// The provider's shared secret; `Ok(None)` when none is configured, and the push is then
    /// accepted unverified (it can only cause a fetch). The error says why it could not be read.
    fn secret(&self, provider: Provider) -> Pending<'_, Result<Option<Vec<u8>>, String>>;
    /// Acts on a verified push; returns the Applications it concerns, as `namespace/name`.
    fn pushed(&self, provider: Provider, push: Push) -> Vec<String>;
    /// Records how a request ended.
    fn record(&self, provider: &str, outcome: Outcome);
}

/// The router serving [`PATH`].
pub fn router(handler: Arc<dyn PushHandler>) -> Router {
    Router::new().route(PATH, post(handle)).with_state(handler)
}

async fn handle(State(handler): State<Arc<dyn PushHandler>>, headers: HeaderMap, body: Bytes) -> Response {
    let Some((provider, event)) = detect(&headers) else {
        handler.record("unknown", Outcome::BadRequest);
        return (StatusCode::BAD_REQUEST, "unknown webhook: no GitLab, GitHub, Gitea or Bitbucket event header\n")
            .into_response();
    };
    let label = provider.as_str();
    match handler.secret(provider).await {
        Ok(Some(secret)) => {
            if let Err(err) = verify(provider, &headers, &body, &secret) {
                tracing::warn!(provider = label, %err, "webhook rejected");
                handler.record(label, Outcome::Unauthorized);
                return (StatusCode::UNAUTHORIZED, format!("{err}\n")).into_response();
            }
        }
        Ok(None) => tracing::debug!(provider = label, "no webhook secret configured; accepting unverified push"),
        Err(err) => {
            tracing::warn!(provider = label, %err, "reading the webhook secret failed");
            handler.record(label, Outcome::Error);
            return (StatusCode::SERVICE_UNAVAILABLE, "cannot read the webhook Secret\n").into_response();
        }
    }
    if event != Event::Push {
        handler.record(label, Outcome::Ignored);
        return (StatusCode::OK, axum::Json(json!({"provider": label, "ignored": format!("{event:?}")})))
            .into_response();
    }
    let push = match parse_push(provider, &body) {
        Ok(push) => push,
        Err(err) => {
            handler.record(label, Outcome::BadRequest);
            return (StatusCode::BAD_REQUEST, format!("{err}\n")).into_response();
        }
    };
    let refs = push.refs.clone();
    let applications = handler.pushed(provider, push);
    handler.record(label, Outcome::Accepted);
    (StatusCode::OK, axum::Json(json!({"provider": label, "refs": refs, "applications": applications}))).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use tower::ServiceExt;

    /// A handler with a GitLab token (or none) that records what reached it.
    #[derive(Default)]
    struct Recording {
        token: Option<&'static str>,
        unreadable: bool,
        pushes: Mutex<Vec<Push>>,
        outcomes: Mutex<Vec<(String, Outcome)>>,
    }

    impl PushHandler for Recording {
        fn secret(&self, _: Provider) -> Pending<'_, Result<Option<Vec<u8>>, String>> {
            let answer =
                if self.unreadable { Err("forbidden".into()) } else { Ok(self.token.map(|t| t.as_bytes().to_vec())) };
            Box::pin(std::future::ready(answer))
        }
        fn pushed(&self, _: Provider, push: Push) -> Vec<String> {
            self.pushes.lock().unwrap().push(push);
            vec!["ns/app".into()]
        }
        fn record(&self, provider: &str, outcome: Outcome) {
            self.outcomes.lock().unwrap().push((provider.into(), outcome));
        }
    }

    const PUSH: &str = r#"{"object_kind": "push", "ref": "refs/heads/main",
        "project": {"git_http_url": "https://gitlab.example.com/team/app.git"}}"#;

    async fn send(handler: Arc<Recording>, headers: &[(&str, &str)], body: &str) -> (StatusCode, String) {
        let mut request = http::Request::post(PATH);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request.body(axum::body::Body::from(body.to_string())).unwrap();
        let response = router(handler).oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn a_verified_push_reaches_the_handler() {
        let handler = Arc::new(Recording { token: Some("s3cret"), ..Default::default() });
        let headers = [("x-gitlab-event", "Push Hook"), ("x-gitlab-token", "s3cret")];
        let (status, body) = send(handler.clone(), &headers, PUSH).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains("ns/app") && body.contains("refs/heads/main"), "{body}");
        assert_eq!(handler.pushes.lock().unwrap()[0].refs, ["refs/heads/main"]);
        assert_eq!(*handler.outcomes.lock().unwrap(), [("gitlab".to_string(), Outcome::Accepted)]);
    }

    #[tokio::test]
    async fn a_wrong_token_an_unknown_sender_and_bad_json_never_reach_it() {
        let handler = Arc::new(Recording { token: Some("s3cret"), ..Default::default() });
        let wrong = [("x-gitlab-event", "Push Hook"), ("x-gitlab-token", "guess")];
        assert_eq!(send(handler.clone(), &wrong, PUSH).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(send(handler.clone(), &[], PUSH).await.0, StatusCode::BAD_REQUEST);
        let right = [("x-gitlab-event", "Push Hook"), ("x-gitlab-token", "s3cret")];
        assert_eq!(send(handler.clone(), &right, "not json").await.0, StatusCode::BAD_REQUEST);
        assert!(handler.pushes.lock().unwrap().is_empty());
        let outcomes: Vec<Outcome> = handler.outcomes.lock().unwrap().iter().map(|(_, o)| *o).collect();
        assert_eq!(outcomes, [Outcome::Unauthorized, Outcome::BadRequest, Outcome::BadRequest]);
    }

    #[tokio::test]
    async fn other_events_are_ignored_and_an_unreadable_secret_is_unavailable() {
        let handler = Arc::new(Recording::default());
        let issue = [("x-gitlab-event", "Issue Hook")];
        let (status, body) = send(handler.clone(), &issue, "{}").await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains("ignored"), "{body}");
        let unreadable = Arc::new(Recording { unreadable: true, ..Default::default() });
        let push = [("x-gitlab-event", "Push Hook")];
        assert_eq!(send(unreadable.clone(), &push, PUSH).await.0, StatusCode::SERVICE_UNAVAILABLE);
        assert!(unreadable.pushes.lock().unwrap().is_empty());
    }
}
