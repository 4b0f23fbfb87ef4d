//! Message text: `{{placeholder}}` templates with defaults. Pure.

use crate::trigger::{NoticeState, Trigger};

/// What a message may say about the Application.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Message {
    /// `namespace/name`.
    pub app: String,
    /// The Application's namespace.
    pub namespace: String,
    /// The Application's name.
    pub name: String,
    /// Health status.
    pub health: String,
    /// Sync status.
    pub sync: String,
    /// Full revision.
    pub revision: String,
    /// The repository URL.
    pub repo: String,
    /// What the status says (operation, health or Ready message).
    pub message: String,
}

/// The default firing template; the resolved one starts with `RESOLVED` instead of `FIRING`.
pub const DEFAULT_TEMPLATE: &str = "{{state}}: {{title}}\nApp: {{app}}\nHealth: {{health}}\nSync: {{sync}}\nRevision: {{shortRevision}}\nMessage: {{message}}";

/// Renders the message for `trigger` in `state` with the template `custom` (else the default).
/// Placeholders: `app`, `namespace`, `name`, `health`, `sync`, `revision`, `shortRevision`, `repo`,
/// `message`, `trigger`, `title`, `state` (`FIRING` or `RESOLVED`).
pub fn render(custom: Option<&str>, trigger: Trigger, state: NoticeState, m: &Message) -> String {
    let template = custom.unwrap_or(DEFAULT_TEMPLATE);
    let short: String = m.revision.chars().take(7).collect();
    let state = match state {
        NoticeState::Firing => "FIRING",
        NoticeState::Resolved => "RESOLVED",
    };
    let message = if m.message.is_empty() { "-" } else { m.message.as_str() };
    let values = [
        ("app", m.app.as_str()),
        ("namespace", &m.namespace),
        ("name", &m.name),
        ("health", &m.health),
        ("sync", &m.sync),
        ("revision", &m.revision),
        ("shortRevision", &short),
        ("repo", &m.repo),
        ("message", message),
        ("trigger", trigger.name()),
        ("title", trigger.title()),
        ("state", state),
    ];
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let key = after[..end].trim().trim_start_matches('.');
                match values.iter().find(|(k, _)| *k == key) {
                    Some((_, v)) => out.push_str(v),
                    None => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_custom_templates() {
        let m = Message {
            app: "team/guestbook".into(),
            health: "Progressing".into(),
            sync: "Synced".into(),
            revision: "0123456789".into(),
            ..Default::default()
        };
        let text = render(None, Trigger::HealthProgressing, NoticeState::Firing, &m);
        assert!(
            text.starts_with("FIRING: App Progressing Too Long\nApp: team/guestbook\nHealth: Progressing"),
            "{text}"
        );
        assert!(text.contains("Revision: 0123456\nMessage: -"));
        let resolved =
            render(Some("{{ state }} {{app}} {{unknown}} {{"), Trigger::HealthDegraded, NoticeState::Resolved, &m);
        assert_eq!(resolved, "RESOLVED team/guestbook {{unknown}} {{");
    }
}
