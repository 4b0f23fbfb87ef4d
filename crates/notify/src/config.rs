//! The `lockstep-notifications` ConfigMap (services, subscriptions, templates, settings) with
//! `$key` references resolved from the Secret of the same name. Pure.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;

use crate::trigger::Trigger;

/// The ConfigMap and Secret both carry this name, in the controller's namespace.
pub const CONFIG_NAME: &str = "lockstep-notifications";
/// Annotation prefix of subscriptions: `notifications.lockstep.dev/subscribe.<trigger>.<service>`.
pub const SUBSCRIBE_PREFIX: &str = "notifications.lockstep.dev/subscribe.";
/// Annotation holding what was sent (the [`crate::Record`]), written by the controller.
pub const STATE_ANNOTATION: &str = "notifications.lockstep.dev/state";

/// Why the configuration could not be read.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// A value is not the YAML its key expects.
    #[error("{CONFIG_NAME} key {key}: {message}")]
    Invalid {
        /// The ConfigMap key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A `$name` reference names no key of the Secret.
    #[error("{CONFIG_NAME} key {key} refers to ${secret_key}, which the Secret {CONFIG_NAME} lacks")]
    MissingSecret {
        /// The ConfigMap key.
        key: String,
        /// The missing Secret key.
        secret_key: String,
    },
}

/// A chat service or webhook messages go to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Service {
    /// Mattermost incoming webhook; a recipient overrides the webhook's channel.
    MattermostWebhook {
        /// The incoming webhook URL.
        url: String,
    },
    /// Mattermost REST API (`POST /api/v4/posts`) with a bot or personal access token.
    MattermostApi {
        /// The server's base URL.
        api_url: String,
        /// The token, sent as `Authorization: Bearer`.
        token: String,
        /// Channel id used when a subscription names none.
        channel: Option<String>,
    },
    /// Telegram Bot API `sendMessage`; recipients are chat ids.
    Telegram {
        /// `https://api.telegram.org` unless configured.
        api_url: String,
        /// The bot token.
        token: String,
    },
    /// Slack incoming webhook.
    Slack {
        /// The incoming webhook URL.
        url: String,
    },
    /// Any HTTP endpoint: a JSON body, extra headers, optionally signed.
    Webhook {
        /// Where to POST.
        url: String,
        /// Extra headers.
        headers: Vec<(String, String)>,
        /// Key of the `X-Lockstep-Signature-256: sha256=<hex>` HMAC of the body.
        signing_secret: Option<String>,
    },
}

impl Service {
    /// The service's kind, for metrics (`mattermost`, `telegram`, `slack`, `webhook`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MattermostWebhook { .. } | Self::MattermostApi { .. } => "mattermost",
            Self::Telegram { .. } => "telegram",
            Self::Slack { .. } => "slack",
            Self::Webhook { .. } => "webhook",
        }
    }
}

/// Applications matching `selector` get `triggers` sent to `recipients` (`service:recipient`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Subscription {
    /// `service:recipient` or just `service`.
    #[serde(default)]
    pub recipients: Vec<String>,
    /// Trigger names.
    #[serde(default)]
    pub triggers: Vec<String>,
    /// Label selector (`key=value,key2,key3!=value`); empty selects every Application.
    #[serde(default)]
    pub selector: String,
}

/// The whole notification configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifyConfig {
    /// Service name (`mattermost`, `telegram`, `slack`, `webhook.<name>`) → service.
    pub services: BTreeMap<String, Service>,
    /// Subscriptions by label selector.
    pub subscriptions: Vec<Subscription>,
    /// `template.<trigger>` and `template.<trigger>.resolved` overrides.
    pub templates: BTreeMap<String, String>,
    /// How long an Application must be Progressing before `on-health-progressing` fires.
    pub progressing_delay: Duration,
    /// Per-trigger override of whether its end is announced.
    pub send_resolved: BTreeMap<Trigger, bool>,
    /// The web UI's base URL (`lockstep controller --ui-url`), for links to each Application's
    /// page; set by the controller, not read from the ConfigMap.
    pub ui_url: Option<String>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        Self {
            services: BTreeMap::new(),
            subscriptions: Vec::new(),
            templates: BTreeMap::new(),
            progressing_delay: Duration::from_secs(300),
            send_resolved: BTreeMap::new(),
            ui_url: None,
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawService {
    #[serde(default)]
    webhook_url: Option<String>,
    #[serde(default)]
    api_url: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    headers: Vec<RawHeader>,
    #[serde(default)]
    signing_secret: Option<String>,
}

#[derive(Deserialize)]
struct RawHeader {
    name: String,
    value: String,
}

impl NotifyConfig {
    /// Reads the ConfigMap's `data`, resolving `$key` values from the Secret's (decoded) data.
    pub fn parse(data: &BTreeMap<String, String>, secrets: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let mut config = NotifyConfig::default();
        for (key, value) in data {
            if let Some(name) = key.strip_prefix("service.") {
                let raw: RawService = serde_yaml_ng::from_str(value).map_err(|e| invalid(key, e))?;
                let lookup = |v: Option<String>| v.map(|v| resolve(key, &v, secrets)).transpose();
                let service = match name.split('.').next().unwrap_or(name) {
                    "mattermost" => match (lookup(raw.webhook_url)?, lookup(raw.api_url)?) {
                        (Some(url), _) => Service::MattermostWebhook { url },
                        (None, Some(api_url)) => Service::MattermostApi {
                            api_url,
                            token: lookup(raw.token)?.ok_or_else(|| invalid(key, "apiUrl needs token"))?,
                            channel: lookup(raw.channel)?,
                        },
                        (None, None) => return Err(invalid(key, "needs webhookUrl, or apiUrl with token")),
                    },
                    "telegram" => Service::Telegram {
                        api_url: lookup(raw.api_url)?.unwrap_or_else(|| "https://api.telegram.org".into()),
                        token: lookup(raw.token)?.ok_or_else(|| invalid(key, "needs token"))?,
                    },
                    "slack" => Service::Slack {
                        url: lookup(raw.webhook_url)?.ok_or_else(|| invalid(key, "needs webhookUrl"))?,
                    },
                    "webhook" => Service::Webhook {
                        url: lookup(raw.url)?.ok_or_else(|| invalid(key, "needs url"))?,
                        headers: raw
                            .headers
                            .into_iter()
                            .map(|h| Ok((h.name, resolve(key, &h.value, secrets)?)))
                            .collect::<Result<_, ConfigError>>()?,
                        signing_secret: lookup(raw.signing_secret)?,
                    },
                    other => return Err(invalid(key, format!("unknown service type {other:?}"))),
                };
                config.services.insert(name.to_string(), service);
            } else if key == "subscriptions" {
                config.subscriptions = serde_yaml_ng::from_str(value).map_err(|e| invalid(key, e))?;
            } else if let Some(name) = key.strip_prefix("template.") {
                config.templates.insert(name.to_string(), value.clone());
            } else if key == "progressingDelay" {
                config.progressing_delay =
                    parse_duration(value).ok_or_else(|| invalid(key, "expected e.g. 90s, 5m, 1h"))?;
            } else if let Some(rest) = key.strip_prefix("trigger.") {
                let Some((name, "sendResolved")) = rest.rsplit_once('.') else { continue };
                let trigger = Trigger::from_name(name).ok_or_else(|| invalid(key, "unknown trigger"))?;
                config.send_resolved.insert(trigger, value.trim() == "true");
            }
        }
        Ok(config)
    }

    /// Whether the end of `trigger` is announced.
    pub fn sends_resolved(&self, trigger: Trigger) -> bool {
        self.send_resolved.get(&trigger).copied().unwrap_or_else(|| trigger.resolves_by_default())
    }

    /// Every (trigger, service, recipient) an Application with these labels and annotations
    /// subscribes to; recipient `""` means the service's default.
    pub fn subscriptions_of(
        &self,
        labels: &BTreeMap<String, String>,
        annotations: &BTreeMap<String, String>,
    ) -> Vec<(Trigger, String, String)> {
        let mut out: Vec<(Trigger, String, String)> = Vec::new();
        let mut add = |trigger: Trigger, service: &str, recipient: &str| {
            let entry = (trigger, service.to_string(), recipient.trim().to_string());
            if !out.contains(&entry) {
                out.push(entry);
            }
        };
        for (key, value) in annotations {
            let Some(rest) = key.strip_prefix(SUBSCRIBE_PREFIX) else { continue };
            let Some((trigger, service)) = rest.split_once('.') else { continue };
            let Some(trigger) = Trigger::from_name(trigger) else { continue };
            let recipients: Vec<&str> = value.split([';', ',']).map(str::trim).filter(|r| !r.is_empty()).collect();
            if recipients.is_empty() {
                add(trigger, service, "");
            }
            for recipient in recipients {
                add(trigger, service, recipient);
            }
        }
        for subscription in &self.subscriptions {
            if !selects(&subscription.selector, labels) {
                continue;
            }
            for trigger in subscription.triggers.iter().filter_map(|t| Trigger::from_name(t)) {
                for recipient in &subscription.recipients {
                    let (service, to) = recipient.split_once(':').unwrap_or((recipient.as_str(), ""));
                    add(trigger, service, to);
                }
            }
        }
        out
    }
}

fn invalid(key: &str, message: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid { key: key.to_string(), message: message.to_string() }
}

/// `$name` → the Secret's `name`; anything else as written.
fn resolve(key: &str, value: &str, secrets: &BTreeMap<String, String>) -> Result<String, ConfigError> {
    match value.trim().strip_prefix('$') {
        Some(name) => secrets
            .get(name)
            .cloned()
            .ok_or_else(|| ConfigError::MissingSecret { key: key.to_string(), secret_key: name.to_string() }),
        None => Ok(value.trim().to_string()),
    }
}

/// Equality-based label selector: `a=b`, `a==b`, `a!=b`, `a` (exists), `!a` (absent), comma-joined.
pub fn selects(selector: &str, labels: &BTreeMap<String, String>) -> bool {
    selector.split(',').map(str::trim).filter(|t| !t.is_empty()).all(|term| {
        if let Some((k, v)) = term.split_once("!=") {
            labels.get(k.trim()).is_none_or(|l| l != v.trim())
        } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
            labels.get(k.trim()).is_some_and(|l| l == v.trim())
        } else if let Some(k) = term.strip_prefix('!') {
            !labels.contains_key(k.trim())
        } else {
            labels.contains_key(term)
        }
    })
}

/// `90s`, `5m`, `1h`, `250ms`, or plain seconds.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    Some(match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn services_resolve_secrets() {
        let data = map(&[
            ("service.mattermost", "webhookUrl: $mm-url\n"),
            ("service.telegram", "token: $tg-token\napiUrl: http://127.0.0.1:1\n"),
            ("service.webhook.audit", "url: http://h/x\nheaders:\n- name: X-Team\n  value: ops\nsigningSecret: $sig\n"),
            ("progressingDelay", "2s"),
            ("trigger.on-deployed.sendResolved", "true"),
        ]);
        let secrets = map(&[("mm-url", "http://mm/hooks/abc"), ("tg-token", "123:ABC"), ("sig", "k")]);
        let config = NotifyConfig::parse(&data, &secrets).unwrap();
        assert_eq!(config.services["mattermost"], Service::MattermostWebhook { url: "http://mm/hooks/abc".into() });
        assert_eq!(
            config.services["telegram"],
            Service::Telegram { api_url: "http://127.0.0.1:1".into(), token: "123:ABC".into() }
        );
        assert!(
            matches!(&config.services["webhook.audit"], Service::Webhook { signing_secret: Some(s), .. } if s == "k")
        );
        assert_eq!(config.progressing_delay, Duration::from_secs(2));
        assert!(config.sends_resolved(Trigger::Deployed));
        assert!(!config.sends_resolved(Trigger::SyncSucceeded));
        let missing = NotifyConfig::parse(&map(&[("service.slack", "webhookUrl: $nope")]), &BTreeMap::new());
        assert!(matches!(missing, Err(ConfigError::MissingSecret { .. })));
    }

    #[test]
    fn subscriptions_from_annotations_and_selectors() {
        let data = map(&[(
            "subscriptions",
            "- recipients: [telegram:-100123, slack]\n  triggers: [on-sync-failed]\n  selector: team=pay\n",
        )]);
        let config = NotifyConfig::parse(&data, &BTreeMap::new()).unwrap();
        let annotations = map(&[
            ("notifications.lockstep.dev/subscribe.on-health-degraded.mattermost", "town-square; ops"),
            ("notifications.lockstep.dev/subscribe.on-deployed.webhook.audit", ""),
            ("notifications.lockstep.dev/subscribe.on-nothing.slack", "x"),
        ]);
        let subs = config.subscriptions_of(&map(&[("team", "pay")]), &annotations);
        assert!(subs.contains(&(Trigger::HealthDegraded, "mattermost".into(), "town-square".into())));
        assert!(subs.contains(&(Trigger::HealthDegraded, "mattermost".into(), "ops".into())));
        assert!(subs.contains(&(Trigger::Deployed, "webhook.audit".into(), String::new())));
        assert!(subs.contains(&(Trigger::SyncFailed, "telegram".into(), "-100123".into())));
        assert!(subs.contains(&(Trigger::SyncFailed, "slack".into(), String::new())));
        assert_eq!(subs.len(), 5);
        assert_eq!(config.subscriptions_of(&map(&[("team", "web")]), &BTreeMap::new()), vec![]);
        assert!(selects("a,b!=c,!d", &map(&[("a", "1"), ("b", "x")])));
        assert!(!selects("a==2", &map(&[("a", "1")])));
    }
}
