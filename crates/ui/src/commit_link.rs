//! Links from a revision to its commit page on the forge hosting the repository, when the URL's host
//! says which forge it is: GitHub and Gitea/Forgejo (`/commit/SHA`), GitLab (`/-/commit/SHA`).
//! scp-style (`git@host:owner/repo.git`) and `ssh://` URLs map to the same https page. Pure.

/// The commit page of `revision` in the repository at `repo_url`, or `None` when the forge is not
/// known or the revision is not a commit id.
pub fn commit_url(repo_url: &str, revision: &str) -> Option<String> {
    let is_sha = (7..=64).contains(&revision.len()) && revision.chars().all(|c| c.is_ascii_hexdigit());
    if !is_sha {
        return None;
    }
    let (host, path) = host_and_path(repo_url)?;
    let path = path.trim_matches('/').trim_end_matches(".git").trim_end_matches('/');
    if path.split('/').filter(|s| !s.is_empty()).count() < 2 {
        return None;
    }
    let name = host.split(':').next().unwrap_or_default().to_ascii_lowercase();
    let first = name.split('.').next().unwrap_or_default();
    let separator = if name == "github.com" || first == "gitea" || first == "forgejo" || name == "codeberg.org" {
        "/commit/"
    } else if name == "gitlab.com" || first == "gitlab" {
        "/-/commit/"
    } else {
        return None;
    };
    let web_host = if repo_url.contains("://") && !repo_url.starts_with("ssh://") { host.to_string() } else { name };
    Some(format!("https://{web_host}/{path}{separator}{revision}"))
}

/// The host (with its port, for http URLs) and path of a git URL of any common form.
fn host_and_path(url: &str) -> Option<(&str, &str)> {
    if let Some((scheme, rest)) = url.split_once("://") {
        if !matches!(scheme, "https" | "http" | "ssh" | "git") {
            return None;
        }
        let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
        let (host, path) = rest.split_once('/')?;
        let host = if scheme == "ssh" { host.split(':').next().unwrap_or(host) } else { host };
        return Some((host, path));
    }
    let rest = url.rsplit_once('@').map_or(url, |(_, r)| r);
    let (host, path) = rest.split_once(':')?;
    (!host.contains('/')).then_some((host, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "3f2a9c1d0b8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a";

    #[test]
    fn known_forges_link_to_their_commit_pages() {
        let cases = [
            ("https://github.com/acme/web.git", "https://github.com/acme/web/commit/"),
            ("https://github.com/acme/web", "https://github.com/acme/web/commit/"),
            ("git@github.com:acme/web.git", "https://github.com/acme/web/commit/"),
            ("ssh://git@github.com:22/acme/web.git", "https://github.com/acme/web/commit/"),
            ("https://gitlab.com/group/sub/web.git", "https://gitlab.com/group/sub/web/-/commit/"),
            ("git@gitlab.example.org:group/web.git", "https://gitlab.example.org/group/web/-/commit/"),
            ("https://gitea.example.org:3000/acme/web.git", "https://gitea.example.org:3000/acme/web/commit/"),
            ("https://forgejo.internal/acme/web", "https://forgejo.internal/acme/web/commit/"),
            ("https://user:pw@codeberg.org/acme/web.git", "https://codeberg.org/acme/web/commit/"),
        ];
        for (url, page) in cases {
            assert_eq!(commit_url(url, SHA), Some(format!("{page}{SHA}")), "{url}");
        }
    }

    #[test]
    fn unknown_forges_and_non_commits_have_no_link() {
        assert_eq!(commit_url("https://git.example/acme/web.git", SHA), None);
        assert_eq!(commit_url("file:///srv/git/web", SHA), None);
        assert_eq!(commit_url("/srv/git/web", SHA), None);
        assert_eq!(commit_url("https://github.com/acme/web.git", "main"), None);
        assert_eq!(commit_url("https://github.com/acme/web.git", "abc"), None);
        assert_eq!(commit_url("https://github.com/acme", SHA), None);
    }
}
