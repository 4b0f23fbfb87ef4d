//! Who a token belongs to, and what it may do, as the API server answers: a client that sends only
//! the user's token (none of the base configuration's certificates or exec plugins), a
//! SelfSubjectReview for the name, SelfSubjectAccessReviews for the buttons.

use http::{HeaderValue, header};
use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec};
use kube::api::{Api, PostParams};
use kube::config::AuthInfo;

/// A client of the base cluster that authenticates with `token` alone.
pub fn client_for_token(base: &kube::Config, token: &str) -> Result<kube::Client, kube::Error> {
    let mut config = base.clone();
    config.auth_info = AuthInfo::default();
    config.headers.retain(|(name, _)| name != header::AUTHORIZATION);
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.trim()))
        .map_err(|err| kube::Error::Service(Box::new(err)))?;
    value.set_sensitive(true);
    config.headers.push((header::AUTHORIZATION, value));
    kube::Client::try_from(config)
}

/// The user the client's token authenticates as. A SelfSubjectReview answers; where the API server
/// has none (before Kubernetes 1.28), a SelfSubjectAccessReview proves the token valid and the name
/// stays unknown.
pub async fn who_is(client: &kube::Client) -> Result<String, kube::Error> {
    let review = Api::<SelfSubjectReview>::all(client.clone())
        .create(&PostParams::default(), &SelfSubjectReview::default())
        .await;
    match review {
        Ok(review) => {
            Ok(review.status.and_then(|s| s.user_info).and_then(|u| u.username).unwrap_or_else(|| "(unnamed)".into()))
        }
        Err(kube::Error::Api(status)) if status.code == 404 => {
            access_review(client, "list", "", "namespaces", None, None).await?;
            Ok("(token user)".into())
        }
        Err(err) => Err(err),
    }
}

/// Whether the client's user may `verb` Applications in `namespace` (the one named, if any).
pub async fn may(client: &kube::Client, verb: &str, namespace: &str, name: Option<&str>) -> bool {
    access_review(client, verb, lockstep_api::GROUP, "applications", Some(namespace), name).await.unwrap_or(false)
}

async fn access_review(
    client: &kube::Client,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: Option<&str>,
    name: Option<&str>,
) -> Result<bool, kube::Error> {
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                group: Some(group.into()),
                resource: Some(resource.into()),
                verb: Some(verb.into()),
                namespace: namespace.map(String::from),
                name: name.map(String::from),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let answer = Api::<SelfSubjectAccessReview>::all(client.clone()).create(&PostParams::default(), &review).await?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}
