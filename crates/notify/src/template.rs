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
    /// The repository URL (a multi-source Application's first source's).
    pub repo: String,
    /// Every source's repository URL, separated by spaces.
    pub repos: String,
    /// What the status says (operation, health or Ready message).
    pub message: String,
    /// The web UI's base URL, without a trailing slash; empty when the UI's URL is not configured.
    pub ui_url: String,
    /// The Application's page in the web UI (`<ui_url>/apps/<namespace>/<name>`); empty when the
    /// UI's URL is not configured.
    pub url: String,
}

/// `ui_url` as templates join it, without trailing slashes.
pub fn ui_base(ui_url: &str) -> &str {
    ui_url.trim_end_matches('/')
}

/// The web UI's page of Application `namespace/name` when the UI is at `ui_url`.
pub fn app_url(ui_url: &str, namespace: &str, name: &str) -> String {
    format!("{}/apps/{namespace}/{name}", ui_base(ui_url))
}

/// The default firing template; the resolved one starts with `RESOLVED` instead of `FIRING`.
pub const DEFAULT_TEMPLATE: &str = "{{state}}: {{title}}\nApp: {{app}}\nHealth: {{health}}\nSync: {{sync}}\nRevision: {{shortRevision}}\nMessage: {{message}}";

/// The default template when the UI's URL is known: [`DEFAULT_TEMPLATE`] and a link to the
/// Application's page.
pub const DEFAULT_TEMPLATE_WITH_LINK: &str = "{{state}}: {{title}}\nApp: {{app}}\nHealth: {{health}}\nSync: {{sync}}\nRevision: {{shortRevision}}\nMessage: {{message}}\nLink: {{url}}";

/// Renders the message for `trigger` in `state` with the template `custom` (else the default).
/// Placeholders: `app`, `namespace`, `name`, `health`, `sync`, `revision`, `shortRevision` (each
/// source's, comma-separated, for a multi-source Application), `repo`, `repos` (every source's),
/// `message`, `trigger`, `title`, `state` (`FIRING` or `RESOLVED`), `url` (also `app.url`: the
/// Application's UI page), `context.uiUrl` (the UI's base URL), and Argo CD's
/// `context.argocdUrl` (the same), `app.metadata.name` and `app.metadata.namespace`.
pub fn render(custom: Option<&str>, trigger: Trigger, state: NoticeState, m: &Message) -> String {
    let default = if m.url.is_empty() { DEFAULT_TEMPLATE } else { DEFAULT_TEMPLATE_WITH_LINK };
    let template = custom.unwrap_or(default);
    let short = m.revision.split(',').map(|r| r.chars().take(7).collect::<String>()).collect::<Vec<_>>().join(",");
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
        ("repos", &m.repos),
        ("message", message),
        ("trigger", trigger.name()),
        ("title", trigger.title()),
        ("state", state),
        ("url", &m.url),
        ("app.url", &m.url),
        ("context.uiUrl", &m.ui_url),
        ("context.argocdUrl", &m.ui_url),
        ("app.metadata.name", &m.name),
        ("app.metadata.namespace", &m.namespace),
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
        assert!(!text.contains("Link:"), "no link without the UI's URL: {text}");
    }

    #[test]
    fn a_multi_source_application_shows_each_sources_revision_and_repository() {
        let m = Message {
            revision: "0123456789ab,fedcba987654".into(),
            repo: "https://git/chart".into(),
            repos: "https://git/chart https://git/values".into(),
            ..Default::default()
        };
        let text = render(Some("{{shortRevision}} {{repo}} | {{repos}}"), Trigger::Deployed, NoticeState::Firing, &m);
        assert_eq!(text, "0123456,fedcba9 https://git/chart | https://git/chart https://git/values");
    }

    #[test]
    fn with_the_uis_url_the_default_links_the_application_and_templates_may_too() {
        let m = Message {
            app: "team/guestbook".into(),
            namespace: "team".into(),
            name: "guestbook".into(),
            ui_url: ui_base("https://ui.example/lockstep/").into(),
            url: app_url("https://ui.example/lockstep/", "team", "guestbook"),
            ..Default::default()
        };
        assert_eq!(m.url, "https://ui.example/lockstep/apps/team/guestbook");
        let text = render(None, Trigger::HealthDegraded, NoticeState::Firing, &m);
        assert!(text.ends_with("\nLink: https://ui.example/lockstep/apps/team/guestbook"), "{text}");
        let ours =
            render(Some("{{.app.url}} {{url}} {{.context.uiUrl}}"), Trigger::HealthDegraded, NoticeState::Firing, &m);
        assert_eq!(
            ours,
            "https://ui.example/lockstep/apps/team/guestbook https://ui.example/lockstep/apps/team/guestbook https://ui.example/lockstep"
        );
        let argo = "{{.context.argocdUrl}}/applications/{{.app.metadata.namespace}}/{{.app.metadata.name}}";
        assert_eq!(
            render(Some(argo), Trigger::HealthDegraded, NoticeState::Firing, &m),
            "https://ui.example/lockstep/applications/team/guestbook"
        );
    }
}
