//! Which messages one Application's status calls for, to whom, and the state to record before they
//! are sent: pure. The controller records the state, then queues the deliveries.

use std::time::Duration;

use lockstep_api::Application;
use lockstep_api::conditions::READY;

use crate::config::{NotifyConfig, STATE_ANNOTATION};
use crate::deliver::Delivery;
use crate::service::{About, request};
use crate::template::Message;
use crate::trigger::{NoticeState, Record, Trigger, plan};

/// What one look at an Application decided.
#[derive(Debug)]
pub struct Composed {
    /// The notification state to record on the Application (its `STATE_ANNOTATION`) before sending.
    pub record: Record,
    /// The messages to queue once the record is written.
    pub deliveries: Vec<Delivery>,
    /// Services that subscriptions name but the configuration does not define.
    pub unknown_services: Vec<String>,
}

/// What `app`'s status calls for, given how long it has been Progressing; `None` when it has no
/// status, subscribes to nothing, or nothing is due.
pub fn compose(config: &NotifyConfig, app: &Application, progressing_for: Duration) -> Option<Composed> {
    let status = app.status.as_ref()?;
    let labels = app.metadata.labels.clone().unwrap_or_default();
    let annotations = app.metadata.annotations.clone().unwrap_or_default();
    let subscriptions = config.subscriptions_of(&labels, &annotations);
    if subscriptions.is_empty() {
        return None;
    }
    let mut triggers: Vec<(Trigger, bool)> = Vec::new();
    for (trigger, _, _) in &subscriptions {
        if !triggers.iter().any(|(t, _)| t == trigger) {
            triggers.push((*trigger, config.sends_resolved(*trigger)));
        }
    }
    let previous: Record =
        annotations.get(STATE_ANNOTATION).and_then(|s| serde_json::from_str(s).ok()).unwrap_or_default();
    let mut record = previous;
    let notices = plan(&triggers, status, progressing_for, config.progressing_delay, &mut record);
    if notices.is_empty() {
        return None;
    }
    let message = message_of(app, config.ui_url.as_deref());
    let mut composed = Composed { record, deliveries: Vec::new(), unknown_services: Vec::new() };
    for notice in notices.iter().filter(|n| n.send) {
        let template_key = match notice.state {
            NoticeState::Firing => notice.trigger.name().to_string(),
            NoticeState::Resolved => format!("{}.resolved", notice.trigger.name()),
        };
        let mut about = message.clone();
        about.revision = notice.revision.clone();
        let text = crate::template::render(
            config.templates.get(&template_key).map(String::as_str),
            notice.trigger,
            notice.state,
            &about,
        );
        for (trigger, service_name, recipient) in subscriptions.iter().filter(|(t, _, _)| *t == notice.trigger) {
            let Some(service) = config.services.get(service_name) else {
                if !composed.unknown_services.contains(service_name) {
                    composed.unknown_services.push(service_name.clone());
                }
                continue;
            };
            let about_notice = About { trigger: *trigger, state: notice.state, message: &about };
            composed.deliveries.push(Delivery {
                service: service_name.clone(),
                kind: service.kind(),
                request: request(service, recipient, &text, about_notice),
            });
        }
    }
    Some(composed)
}

/// What messages may say about `app`, with links to its page when the UI is at `ui_url`.
pub fn message_of(app: &Application, ui_url: Option<&str>) -> Message {
    let status = app.status.clone().unwrap_or_default();
    let ready = status.conditions.iter().find(|c| c.type_ == READY).map(|c| c.message.clone());
    let op = status.operation_state.as_ref().and_then(|o| o.message.clone());
    let message =
        [status.health.message.clone(), op, ready].into_iter().flatten().find(|m| !m.is_empty()).unwrap_or_default();
    let namespace = app.metadata.namespace.clone().unwrap_or_default();
    let name = app.metadata.name.clone().unwrap_or_default();
    let url = ui_url.map(|base| crate::template::app_url(base, &namespace, &name)).unwrap_or_default();
    Message {
        app: format!("{namespace}/{name}"),
        name,
        namespace,
        health: format!("{:?}", status.health.status),
        sync: format!("{:?}", status.sync.status),
        revision: status.sync.revision.clone().unwrap_or_default(),
        repo: app.spec.primary_source().map(|s| s.repo_url.clone()).unwrap_or_default(),
        repos: app.spec.all_sources().iter().map(|s| s.repo_url.as_str()).collect::<Vec<_>>().join(" "),
        message,
        ui_url: ui_url.map(crate::template::ui_base).unwrap_or_default().to_string(),
        url,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lockstep_api::{ApplicationSpec, ApplicationStatus, HealthStatusCode};
    use std::collections::BTreeMap;

    fn config() -> NotifyConfig {
        let data: BTreeMap<String, String> =
            [("service.webhook.audit".to_string(), "url: http://audit.example/hook\n".to_string())].into();
        NotifyConfig::parse(&data, &BTreeMap::new()).unwrap()
    }

    fn app(subscriptions: &[(&str, &str)], health: HealthStatusCode) -> Application {
        let mut app = Application::new("web", ApplicationSpec::default());
        app.metadata.namespace = Some("team".into());
        app.metadata.annotations = Some(subscriptions.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        let mut status = ApplicationStatus::default();
        status.health.status = health;
        status.health.message = Some("replica set failed".into());
        app.status = Some(status);
        app
    }

    const DEGRADED: &str = "notifications.lockstep.dev/subscribe.on-health-degraded.webhook.audit";

    #[test]
    fn a_subscribed_degraded_application_gets_one_delivery_and_a_record() {
        let composed = compose(&config(), &app(&[(DEGRADED, "")], HealthStatusCode::Degraded), Duration::ZERO)
            .expect("a notice is due");
        assert_eq!(composed.deliveries.len(), 1);
        let delivery = &composed.deliveries[0];
        assert_eq!((delivery.service.as_str(), delivery.kind), ("webhook.audit", "webhook"));
        assert_eq!(delivery.request.url, "http://audit.example/hook");
        assert!(String::from_utf8_lossy(&delivery.request.body).contains("team/web"));
        assert!(composed.unknown_services.is_empty());
        let mut recorded = app(&[(DEGRADED, "")], HealthStatusCode::Degraded);
        let state = serde_json::to_string(&composed.record).unwrap();
        recorded.metadata.annotations.as_mut().unwrap().insert(STATE_ANNOTATION.into(), state);
        assert!(compose(&config(), &recorded, Duration::ZERO).is_none(), "once recorded, not sent again");
    }

    #[test]
    fn nothing_without_a_subscription_or_a_due_notice() {
        assert!(compose(&config(), &app(&[], HealthStatusCode::Degraded), Duration::ZERO).is_none());
        assert!(compose(&config(), &app(&[(DEGRADED, "")], HealthStatusCode::Healthy), Duration::ZERO).is_none());
        let mut no_status = app(&[(DEGRADED, "")], HealthStatusCode::Degraded);
        no_status.status = None;
        assert!(compose(&config(), &no_status, Duration::ZERO).is_none());
    }

    #[test]
    fn with_the_uis_url_every_message_links_the_applications_page() {
        let subscribed = app(&[(DEGRADED, "")], HealthStatusCode::Degraded);
        let body = |config: &NotifyConfig| {
            let composed = compose(config, &subscribed, Duration::ZERO).expect("due");
            serde_json::from_slice::<serde_json::Value>(&composed.deliveries[0].request.body).unwrap()
        };
        let without = body(&config());
        assert!(!without["text"].as_str().unwrap().contains("Link:"), "{without}");
        assert_eq!(without.get("url"), None);
        let mut linked = config();
        linked.ui_url = Some("http://ui.example/".into());
        let with = body(&linked);
        assert!(with["text"].as_str().unwrap().ends_with("\nLink: http://ui.example/apps/team/web"), "{with}");
        assert_eq!(with["url"], "http://ui.example/apps/team/web");
    }

    #[test]
    fn an_undefined_service_is_named_not_sent() {
        let subscriptions = [("notifications.lockstep.dev/subscribe.on-health-degraded.slack", "ops")];
        let composed =
            compose(&config(), &app(&subscriptions, HealthStatusCode::Degraded), Duration::ZERO).expect("due");
        assert!(composed.deliveries.is_empty());
        assert_eq!(composed.unknown_services, ["slack"]);
    }
}
