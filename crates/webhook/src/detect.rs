//! Which provider sent a request, and which kind of event it is, from the headers alone.

use http::HeaderMap;

/// A git hosting service that sends push webhooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Provider {
    /// GitLab (`X-Gitlab-Event`).
    Gitlab,
    /// GitHub (`X-GitHub-Event`).
    Github,
    /// Gitea or Forgejo (`X-Gitea-Event`); checked before GitHub since Gitea sends both headers.
    Gitea,
    /// Bitbucket Cloud (`X-Event-Key: repo:push`).
    BitbucketCloud,
    /// Bitbucket Server / Data Center (`X-Event-Key: repo:refs_changed`).
    BitbucketServer,
}

impl Provider {
    /// The label used in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gitlab => "gitlab",
            Self::Github => "github",
            Self::Gitea => "gitea",
            Self::BitbucketCloud => "bitbucket-cloud",
            Self::BitbucketServer => "bitbucket-server",
        }
    }

    /// The key of this provider's secret in the `lockstep-webhook` Secret.
    pub fn secret_key(self) -> &'static str {
        match self {
            Self::Gitlab => "gitlab",
            Self::Github => "github",
            Self::Gitea => "gitea",
            Self::BitbucketCloud | Self::BitbucketServer => "bitbucket",
        }
    }
}

/// What a request announces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Branches or tags were pushed.
    Push,
    /// A connectivity test sent when the webhook is created.
    Ping,
    /// Any other event (merge requests, issues, …), acknowledged and ignored.
    Other(String),
}

/// The provider and event of a request, or `None` when no known provider's headers are present.
pub fn detect(headers: &HeaderMap) -> Option<(Provider, Event)> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(event) = header("x-gitlab-event") {
        let kind = match event {
            "Push Hook" | "Tag Push Hook" | "System Hook" => Event::Push,
            other => Event::Other(other.to_string()),
        };
        return Some((Provider::Gitlab, kind));
    }
    if let Some(event) = header("x-gitea-event") {
        return Some((Provider::Gitea, github_like(event)));
    }
    if let Some(event) = header("x-github-event") {
        return Some((Provider::Github, github_like(event)));
    }
    if let Some(key) = header("x-event-key") {
        return Some(match key {
            "repo:push" => (Provider::BitbucketCloud, Event::Push),
            "repo:refs_changed" => (Provider::BitbucketServer, Event::Push),
            "diagnostics:ping" => (Provider::BitbucketServer, Event::Ping),
            other if header("x-request-id").is_some() && header("x-hook-uuid").is_none() => {
                (Provider::BitbucketServer, Event::Other(other.to_string()))
            }
            other => (Provider::BitbucketCloud, Event::Other(other.to_string())),
        });
    }
    None
}

fn github_like(event: &str) -> Event {
    match event {
        "push" => Event::Push,
        "ping" => Event::Ping,
        other => Event::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, v.parse().unwrap());
        }
        map
    }

    #[test]
    fn providers_are_told_apart_by_headers() {
        assert_eq!(detect(&headers(&[("X-Gitlab-Event", "Push Hook")])), Some((Provider::Gitlab, Event::Push)));
        assert_eq!(detect(&headers(&[("X-Gitlab-Event", "Tag Push Hook")])), Some((Provider::Gitlab, Event::Push)));
        assert_eq!(detect(&headers(&[("X-GitHub-Event", "ping")])), Some((Provider::Github, Event::Ping)));
        let gitea = headers(&[("X-GitHub-Event", "push"), ("X-Gitea-Event", "push")]);
        assert_eq!(detect(&gitea), Some((Provider::Gitea, Event::Push)));
        let cloud = headers(&[("X-Event-Key", "repo:push"), ("X-Hook-UUID", "x")]);
        assert_eq!(detect(&cloud), Some((Provider::BitbucketCloud, Event::Push)));
        let server = headers(&[("X-Event-Key", "repo:refs_changed"), ("X-Request-Id", "x")]);
        assert_eq!(detect(&server), Some((Provider::BitbucketServer, Event::Push)));
        assert_eq!(
            detect(&headers(&[("X-Event-Key", "diagnostics:ping")])),
            Some((Provider::BitbucketServer, Event::Ping))
        );
        assert_eq!(
            detect(&headers(&[("X-Gitlab-Event", "Merge Request Hook")])),
            Some((Provider::Gitlab, Event::Other("Merge Request Hook".into())))
        );
        assert_eq!(detect(&headers(&[("User-Agent", "curl")])), None);
    }
}
