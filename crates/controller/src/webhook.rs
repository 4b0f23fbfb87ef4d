//! What a push webhook does (the endpoint itself is [`lockstep_webhook::router`]): its secrets come
//! from the `lockstep-webhook` Secret; a verified push finds the Applications it concerns, fetches
//! each repository once with a fresh ref listing, then triggers their reconciles. A webhook only ever causes a
//! fetch, so even an unverified one cannot deploy anything that is not in git.
//!
//! ApplicationSets whose git generators read the pushed repository are refreshed the same way:
//! one fetch, then a pass of each set.
//!
//! Any replica accepts webhooks. One that does not lead sets `lockstep.dev/refresh` on each
//! concerned Application and ApplicationSet instead, so the leader reconciles them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::channel::mpsc::UnboundedSender;
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::reflector::{ObjectRef, Store};
use lockstep_api::kube_error::one_line;
use lockstep_api::{Application, ApplicationSet};
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
    pub pushed: Pushed,
    pub leadership: lockstep_lease::Leadership,
}

/// Where a push goes: the Applications' trigger, and the ApplicationSets' cache and trigger.
#[derive(Clone)]
pub(crate) struct Pushed {
    pub apps: UnboundedSender<ObjectRef<Application>>,
    pub sets: Store<ApplicationSet>,
    pub set_refresh: UnboundedSender<ObjectRef<ApplicationSet>>,
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
        let set_groups = concerned_sets(&self.pushed.sets.state(), &push);
        let set_names: Vec<String> = set_groups
            .values()
            .flatten()
            .map(|s| format!("{}/{}", s.namespace().unwrap_or_default(), s.name_any()))
            .collect();
        info!(provider = provider.as_str(), refs = ?push.refs, applications = ?names, applicationsets = ?set_names, "push received");
        tokio::spawn(refresh(self.clone(), groups));
        tokio::spawn(refresh_sets(self.clone(), set_groups));
        names.into_iter().chain(set_names).collect()
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

/// The Applications a push concerns (through any of their sources), grouped by repository identity.
fn concerned(apps: &[Arc<Application>], push: &Push) -> BTreeMap<String, Vec<Arc<Application>>> {
    let sources = apps.iter().flat_map(|app| {
        let sources = app.spec.all_sources();
        sources.into_iter().map(|source| (source.repo_url.as_str(), source.target_revision.as_deref(), app.clone()))
    });
    let mut groups = lockstep_webhook::concerned(sources, push);
    for apps in groups.values_mut() {
        apps.dedup_by(|a, b| a.metadata.uid == b.metadata.uid && a.metadata.name == b.metadata.name);
    }
    groups
}

/// The ApplicationSets a push concerns (through any of their git generators), grouped by repository.
fn concerned_sets(sets: &[Arc<ApplicationSet>], push: &Push) -> BTreeMap<String, Vec<Arc<ApplicationSet>>> {
    let sources: Vec<(String, Option<String>, Arc<ApplicationSet>)> = lockstep_appset::concerned_sets(sets).collect();
    let mut groups =
        lockstep_webhook::concerned(sources.iter().map(|(r, v, s)| (r.as_str(), v.as_deref(), s.clone())), push);
    for sets in groups.values_mut() {
        sets.dedup_by(|a, b| a.metadata.uid == b.metadata.uid);
    }
    groups
}

/// One fetch per repository with a fresh ref listing (read from the first set's namespace), then
/// a pass of each set.
async fn refresh_sets(state: WebhookState, groups: BTreeMap<String, Vec<Arc<ApplicationSet>>>) {
    if !state.leadership.is_leading() {
        return ask_leader(&state.ctx, groups.into_values().flatten()).await;
    }
    for (repo, sets) in groups {
        let first = sets.first().and_then(|set| {
            let namespace = set.namespace().unwrap_or_default();
            lockstep_appset::concerned_sets(std::slice::from_ref(set))
                .find(|(url, _, _)| lockstep_webhook::repo_identity(url) == repo)
                .map(|(url, revision, _)| (namespace, url, revision))
        });
        if let Some((namespace, url, revision)) = first {
            let ctx = &state.ctx;
            let controller_namespace = &ctx.config.controller_namespace;
            match crate::sources::request_for(
                &ctx.client,
                &ctx.lookups,
                controller_namespace,
                &namespace,
                &url,
                revision,
            )
            .await
            {
                Ok(mut request) => {
                    request.max_listing_age = Some(Duration::ZERO);
                    if let Err(err) = ctx.source.snapshot(&request).await {
                        warn!(%repo, %err, "fetch after push failed; generating anyway");
                    }
                }
                Err(err) => warn!(%repo, %err, "cannot build the fetch request after push"),
            }
        }
        for set in sets {
            let _ = state.pushed.set_refresh.unbounded_send(ObjectRef::from_obj(set.as_ref()));
        }
    }
}

/// One fetch per repository with a fresh ref listing, then a reconcile of each Application (which
/// reuses that listing).
async fn refresh(state: WebhookState, groups: BTreeMap<String, Vec<Arc<Application>>>) {
    if !state.leadership.is_leading() {
        return ask_leader(&state.ctx, groups.into_values().flatten()).await;
    }
    for (repo, apps) in groups {
        let first = apps.first().and_then(|app| {
            let source =
                app.spec.all_sources().into_iter().find(|s| lockstep_webhook::repo_identity(&s.repo_url) == repo);
            source.map(|source| (app, source.clone()))
        });
        if let Some((first, source)) = first {
            let ctx = &state.ctx;
            let namespace = &ctx.config.controller_namespace;
            match ctx.sources.request(&ctx.client, &ctx.lookups, namespace, first, &source, true).await {
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
            let _ = state.pushed.apps.unbounded_send(ObjectRef::from_obj(app.as_ref()));
        }
    }
}

/// On a follower: asks the leader to refresh by setting `lockstep.dev/refresh`.
async fn ask_leader<K>(ctx: &Context, apps: impl Iterator<Item = Arc<K>>)
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let value = format!("webhook-{}", k8s_openapi::jiff::Timestamp::now().as_nanosecond());
    for app in apps {
        let api: Api<K> = Api::namespaced(ctx.client.clone(), &app.namespace().unwrap_or_default());
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
        app.spec.source = Some(lockstep_api::ApplicationSource {
            repo_url: repo.into(),
            target_revision: revision.map(str::to_string),
            ..Default::default()
        });
        Arc::new(app)
    }

    #[test]
    fn a_push_to_any_source_of_a_multi_source_application_concerns_it_once() {
        let source = |repo: &str| lockstep_api::ApplicationSource { repo_url: repo.into(), ..Default::default() };
        let mut multi = Application::new("multi", ApplicationSpec::default());
        multi.metadata.namespace = Some("ns".into());
        multi.spec.sources = vec![
            source("https://git.example.com/team/chart"),
            source("https://git.example.com/team/values"),
            source("https://git.example.com/team/values.git"),
        ];
        let apps = vec![Arc::new(multi), app("other", "https://git.example.com/team/chart", None)];
        let push = |repo: &str| Push {
            repo_urls: vec![repo.into()],
            refs: vec!["refs/heads/main".into()],
            default_branch: Some("main".into()),
        };
        let names =
            |push: &Push| -> Vec<String> { concerned(&apps, push).values().flatten().map(|a| a.name_any()).collect() };
        assert_eq!(names(&push("https://git.example.com/team/values")), ["multi"]);
        let mut both = names(&push("https://git.example.com/team/chart"));
        both.sort();
        assert_eq!(both, ["multi", "other"]);
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
