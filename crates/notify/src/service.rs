//! The HTTP request each service documents for posting one message. Pure.

use serde_json::{Value, json};

use crate::config::Service;
use crate::template::Message;
use crate::trigger::{NoticeState, Trigger};

/// Header carrying the generic webhook's signature: `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Lockstep-Signature-256";

/// A request ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    /// Absolute URL.
    pub url: String,
    /// Headers besides `Content-Type: application/json`.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: Vec<u8>,
}

/// What one notice is about, for the generic webhook's structured body.
#[derive(Clone, Copy, Debug)]
pub struct About<'a> {
    /// The trigger.
    pub trigger: Trigger,
    /// Firing or resolved.
    pub state: NoticeState,
    /// The Application and its status.
    pub message: &'a Message,
}

/// The request posting `text` to `recipient` (empty: the service's default) on `service`.
pub fn request(service: &Service, recipient: &str, text: &str, about: About<'_>) -> HttpRequest {
    let with_recipient = |mut body: Value, key: &str| {
        if !recipient.is_empty() {
            body[key] = json!(recipient);
        }
        body
    };
    let (url, mut headers, body) = match service {
        // https://developers.mattermost.com/integrate/webhooks/incoming/
        Service::MattermostWebhook { url } => (url.clone(), vec![], with_recipient(json!({"text": text}), "channel")),
        // https://api.mattermost.com/#tag/posts/operation/CreatePost
        Service::MattermostApi { api_url, token, channel } => {
            let channel =
                if recipient.is_empty() { channel.clone().unwrap_or_default() } else { recipient.to_string() };
            (
                format!("{}/api/v4/posts", api_url.trim_end_matches('/')),
                vec![("Authorization".to_string(), format!("Bearer {token}"))],
                json!({"channel_id": channel, "message": text}),
            )
        }
        // https://core.telegram.org/bots/api#sendmessage
        Service::Telegram { api_url, token } => (
            format!("{}/bot{token}/sendMessage", api_url.trim_end_matches('/')),
            vec![],
            json!({"chat_id": recipient, "text": text}),
        ),
        // https://api.slack.com/messaging/webhooks
        Service::Slack { url } => (url.clone(), vec![], with_recipient(json!({"text": text}), "channel")),
        Service::Webhook { url, headers, .. } => {
            let m = about.message;
            let mut body = json!({
                "trigger": about.trigger.name(),
                "state": match about.state { NoticeState::Firing => "firing", NoticeState::Resolved => "resolved" },
                "application": {"namespace": m.namespace, "name": m.name},
                "health": m.health,
                "sync": m.sync,
                "revision": m.revision,
                "repo": m.repo,
                "message": m.message,
                "text": text,
            });
            if !m.url.is_empty() {
                body["url"] = json!(m.url);
            }
            (url.clone(), headers.clone(), with_recipient(body, "recipient"))
        }
    };
    let body = serde_json::to_vec(&body).unwrap_or_default();
    if let Service::Webhook { signing_secret: Some(secret), .. } = service {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
        let signature = hex::encode(ring::hmac::sign(&key, &body).as_ref());
        headers.push((SIGNATURE_HEADER.to_string(), format!("sha256={signature}")));
    }
    HttpRequest { url, headers, body }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn about(m: &Message) -> About<'_> {
        About { trigger: Trigger::HealthDegraded, state: NoticeState::Firing, message: m }
    }

    fn body(r: &HttpRequest) -> Value {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn each_service_gets_its_documented_request() {
        let m = Message { name: "gb".into(), namespace: "team".into(), ..Default::default() };
        let mm = request(&Service::MattermostWebhook { url: "http://mm/hooks/x".into() }, "ops", "hi", about(&m));
        assert_eq!(body(&mm), json!({"text": "hi", "channel": "ops"}));
        let api =
            Service::MattermostApi { api_url: "http://mm/".into(), token: "t".into(), channel: Some("c1".into()) };
        let post = request(&api, "", "hi", about(&m));
        assert_eq!(post.url, "http://mm/api/v4/posts");
        assert_eq!(post.headers, [("Authorization".to_string(), "Bearer t".to_string())]);
        assert_eq!(body(&post), json!({"channel_id": "c1", "message": "hi"}));
        let tg =
            request(&Service::Telegram { api_url: "http://tg".into(), token: "1:A".into() }, "-100", "hi", about(&m));
        assert_eq!(tg.url, "http://tg/bot1:A/sendMessage");
        assert_eq!(body(&tg), json!({"chat_id": "-100", "text": "hi"}));
        let hook = Service::Webhook {
            url: "http://h".into(),
            headers: vec![("X-A".into(), "b".into())],
            signing_secret: Some("k".into()),
        };
        let signed = request(&hook, "", "hi", about(&m));
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"k");
        let expected = format!("sha256={}", hex::encode(ring::hmac::sign(&key, &signed.body).as_ref()));
        assert_eq!(signed.headers[1], (SIGNATURE_HEADER.to_string(), expected));
        assert_eq!(body(&signed)["application"]["name"], "gb");
        assert_eq!(body(&signed)["state"], "firing");
    }
}
