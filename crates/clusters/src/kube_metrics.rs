//! A tower layer on the Kubernetes client that counts every API request by verb and status code
//! (`lockstep_kube_requests_total`).

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use http::{HeaderValue, Method, Request, Response};
use tower::{Layer, Service};

/// Where each completed request is reported (verb, status code), set once by the controller.
static OBSERVER: OnceLock<fn(&'static str, &str)> = OnceLock::new();

/// Reports every request of every client built here to `observe` (the controller's
/// `lockstep_kube_requests_total`); the first call wins.
pub fn observe_requests(observe: fn(&'static str, &str)) {
    let _ = OBSERVER.set(observe);
}

/// The User-Agent of this process's clients, set once by [`instrumented_client`].
static AGENT: OnceLock<HeaderValue> = OnceLock::new();

/// The User-Agent the controller sends: `lockstep/<version> (<identity>)`, the identity being the
/// one it holds the Lease with, so the API server's audit log tells replicas apart.
pub fn user_agent(identity: &str) -> String {
    format!("lockstep/{} ({identity})", env!("CARGO_PKG_VERSION"))
}

/// Builds a client from the kubeconfig (or in-cluster config) with request counting installed.
/// It and every client built after it (impersonating, remote clusters) send [`user_agent`]`(identity)`.
pub async fn instrumented_client(identity: &str) -> Result<kube::Client, kube::Error> {
    if let Ok(agent) = HeaderValue::from_str(&user_agent(identity)) {
        let _ = AGENT.set(agent);
    }
    let config = kube::Config::infer().await.map_err(kube::Error::InferConfig)?;
    counted_client(config)
}

/// A client for `config` with request counting installed: every client the controller builds
/// (its own, remote clusters', impersonating ones) goes through here, so the metric sees all traffic.
pub fn counted_client(mut config: kube::Config) -> Result<kube::Client, kube::Error> {
    let agent = AGENT
        .get()
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static(concat!("lockstep/", env!("CARGO_PKG_VERSION"))));
    config.headers.retain(|(name, _)| name != http::header::USER_AGENT);
    config.headers.push((http::header::USER_AGENT, agent));
    let builder = kube::client::ClientBuilder::try_from(config)?;
    Ok(builder.with_layer(&CountRequests).build())
}

/// The layer: wraps the client's service in [`Counted`].
#[derive(Clone, Copy, Debug, Default)]
pub struct CountRequests;

impl<S> Layer<S> for CountRequests {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Counted { inner }
    }
}

/// A service that counts requests as they complete.
#[derive(Clone, Debug)]
pub struct Counted<S> {
    inner: S,
}

impl<S, B, R> Service<Request<B>> for Counted<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let verb = verb(request.method(), request.uri().path(), request.uri().query().unwrap_or(""));
        let future = self.inner.call(request);
        Box::pin(async move {
            let result = future.await;
            let code = match &result {
                Ok(response) => response.status().as_u16().to_string(),
                Err(_) => "error".to_string(),
            };
            if let Some(observe) = OBSERVER.get() {
                observe(verb, &code);
            }
            result
        })
    }
}

/// Kubernetes' verb for a request: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
/// `deletecollection`, from the method and the path's shape.
pub fn verb(method: &Method, path: &str, query: &str) -> &'static str {
    let watching = query.split('&').any(|pair| pair == "watch=true" || pair == "watch=1");
    let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    // Strip `/api/v1` or `/apis/<group>/<version>`, then `namespaces/<ns>` when a resource follows.
    let rest: &[&str] = match segments.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => &[],
    };
    let rest = match rest {
        ["namespaces", _ns, resource @ ..] if !resource.is_empty() => resource,
        other => other,
    };
    let collection = rest.len() == 1;
    match *method {
        Method::GET if watching => "watch",
        Method::GET if collection => "list",
        Method::GET => "get",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if collection => "deletecollection",
        Method::DELETE => "delete",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_agent_names_version_and_identity() {
        let agent = user_agent("node-a_4242");
        assert_eq!(agent, format!("lockstep/{} (node-a_4242)", env!("CARGO_PKG_VERSION")));
        assert!(HeaderValue::from_str(&agent).is_ok());
    }

    #[test]
    fn verbs_follow_the_path_shape() {
        let p = "/apis/lockstep.dev/v1alpha1/namespaces/team/applications";
        assert_eq!(verb(&Method::GET, p, ""), "list");
        assert_eq!(verb(&Method::GET, p, "watch=true&resourceVersion=1"), "watch");
        assert_eq!(verb(&Method::GET, &format!("{p}/guestbook"), ""), "get");
        assert_eq!(verb(&Method::PATCH, &format!("{p}/guestbook/status"), "fieldManager=lockstep"), "patch");
        assert_eq!(verb(&Method::GET, "/api/v1/namespaces", ""), "list");
        assert_eq!(verb(&Method::GET, "/api/v1/namespaces/team", ""), "get");
        assert_eq!(verb(&Method::POST, "/api/v1/namespaces/team/events", ""), "create");
        assert_eq!(verb(&Method::DELETE, "/api/v1/namespaces/team/pods", ""), "deletecollection");
        assert_eq!(verb(&Method::DELETE, "/api/v1/namespaces/team/pods/p", ""), "delete");
        assert_eq!(verb(&Method::GET, "/version", ""), "get");
    }
}
