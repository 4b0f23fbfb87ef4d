//! What a push webhook does (the endpoint itself is [`lockstep_webhook::router`]): its secrets come
//! from the `lockstep-webhook` Secret; a verified push finds the Applications it concerns, fetches
//! each repository once with a fresh ref listing, then triggers their reconciles. A webhook only ever causes a
//! fetch, so even an unverified one cannot deploy anything that is not in git.
//!
//! Any replica accepts webhooks. One that does not lead sets `lockstep.dev/refresh` on each
//! concerned Application instead, so the leader reconciles them with a fresh ref listing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use lockstep_api::Application;
use lockstep_api::kube_error::one_line;
use lockstep_webhook::{Outcome, Pending, Provider, Push, PushHandler};
use serde_json::json;
use tracing::{info, warn};

use crate::context::Context;
use crate::metrics::metrics;

/// The Secret holding one key per provider (`gitlab`, `github`, `gitea`, `bitbucket`).
pub const WEBHOOK_SECRET: &str = "lockstep-webhook";

/// What the webhook handler needs.
#[derive(Clone)]
pub(crate) struct WebhookState {
    pub ctx: Arc<Context>,
    pub apps: Store<Application>,
    pub trigger: UnboundedSender<ObjectRef<Application>>,
    pub leadership: lockstep_lease::Leadership,
}

impl PushHandler for WebhookState {
    fn secret(&self, provider: Provider) -> Pending<'_, Result<Option<Vec<u8>>, String>> {
        Box::pin(async move { secret_for(&self.ctx, provider).await.map_err(|err| one_line(&err)) })
    }

    fn pushed(&self, provider: Provider, push: Push) -> Vec<String> {
        let groups = concerned(&self.apps.state(), &push);
        let names: Vec<String> = groups
            .values()
            .flatten()
            .map(|a| format!("{}/{}", a.namespace().unwrap_or_default(), a.name_any()))
            .collect();
        info!(provider = provider.as_str(), refs = ?push.refs, applications = ?names, "push received");
        tokio::spawn(refresh(self.clone(), groups));
        names
    }

    fn record(&self, provider: &str, outcome: Outcome) {
        metrics().webhook_request(provider, outcome.as_str());
    }
}

/// The provider's secret from the `lockstep-webhook` Secret; `None` when the Secret or key is
/// absent. It comes from the Secret's watch; only when that has not listed or holds no such Secret
/// is it read directly, so a Secret created a moment before a push is never missed.
async fn secret_for(ctx: &Context, provider: Provider) -> Result<Option<Vec<u8>>, kube::Error> {
    let namespace = &ctx.config.controller_namespace;
    let secret = match ctx.lookups.named_secret(namespace, WEBHOOK_SECRET) {
        Some(Some(cached)) => Some(cached.as_ref().clone()),
        _ => Api::<Secret>::namespaced(ctx.client.clone(), namespace).get_opt(WEBHOOK_SECRET).await?,
    };
    Ok(secret
        .and_then(|s| s.data)
        .and_then(|mut data| data.remove(provider.secret_key()))
        .map(|bytes| bytes.0)
        .filter(|bytes| !bytes.is_empty()))
}

/// The Applications a push concerns, grouped by repository identity.
fn concerned(apps: &[Arc<Application>], push: &Push) -> BTreeMap<String, Vec<Arc<Application>>> {
    let sources = apps.iter().map(|app| {
        let source = &app.spec.source;
        (source.repo_url.as_str(), source.target_revision.as_deref(), app.clone())
    });
    lockstep_webhook::concerned(sources, push)
}

/// One fetch per repository with a fresh ref listing, then a reconcile of each Application (which
/// reuses that listing).
async fn refresh(state: WebhookState, groups: BTreeMap<String, Vec<Arc<Application>>>) {
    if !state.leadership.is_leading() {
        return ask_leader(&state.ctx, groups.into_values().flatten()).await;
    }
    for (repo, apps) in groups {
        if let Some(first) = apps.first() {
            match state
                .ctx
                .sources
                .request(&state.ctx.client, &state.ctx.lookups, &state.ctx.config.controller_namespace, first)
                .await
            {
                Ok(mut request) => {
                    request.max_listing_age = Some(Duration::ZERO);
                    if let Err(err) = state.ctx.source.snapshot(&request).await {
                        warn!(%repo, %err, "fetch after push failed; reconciling anyway");
                    }
                }
                Err(err) => warn!(%repo, %err, "cannot build the fetch request after push"),
            }
        }
        for app in apps {
            let _ = state.trigger.unbounded_send(ObjectRef::from_obj(app.as_ref()));
        }
    }
}

/// On a follower: asks the leader to refresh by setting `lockstep.dev/refresh`.
async fn ask_leader(ctx: &Context, apps: impl Iterator<Item = Arc<Application>>) {
    let value = format!("webhook-{}", k8s_openapi::jiff::Timestamp::now().as_nanosecond());
    for app in apps {
        let api: Api<Application> = Api::namespaced(ctx.client.clone(), &app.namespace().unwrap_or_default());
        let patch = json!({"metadata": {"annotations": {lockstep_api::REFRESH_ANNOTATION: value}}});
        if let Err(err) = api.patch(&app.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await {
            warn!(app = %app.name_any(), err = %one_line(&err), "asking the leader to refresh failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_api::ApplicationSpec;

    fn app(name: &str, repo: &str, revision: Option<&str>) -> Arc<Application> {
        let mut app = Application::new(name, ApplicationSpec::default());
        app.metadata.namespace = Some("ns".into());
        app.spec.source.repo_url = repo.into();
        app.spec.source.target_revision = revision.map(str::to_string);
        Arc::new(app)
    }

    #[test]
    fn pushes_concern_matching_repo_and_ref_only() {
        let apps = vec![
            app("a", "https://git.example.com/team/app.git", Some("main")),
            app("b", "git@git.example.com:team/app", None),
            app("c", "https://git.example.com/team/app", Some("dev")),
            app("d", "https://git.example.com/team/other", Some("main")),
        ];
        let push = Push {
            repo_urls: vec!["https://git.example.com/team/app.git".into(), "git@git.example.com:team/app.git".into()],
            refs: vec!["refs/heads/main".into()],
            default_branch: Some("main".into()),
        };
        let groups = concerned(&apps, &push);
        let names: Vec<String> = groups.values().flatten().map(|a| a.name_any()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(groups.len(), 1);
    }
}
