//! What was pushed, from each provider's documented payload.

use serde_json::Value;
use thiserror::Error;

use crate::detect::Provider;

/// One push: which repository (all the URLs the payload spells it with) and which refs changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Push {
    /// Clone and web URLs of the repository (https and ssh spellings).
    pub repo_urls: Vec<String>,
    /// Full ref names that changed (`refs/heads/main`, `refs/tags/v1.2.0`).
    pub refs: Vec<String>,
    /// The repository's default branch, when the payload names it.
    pub default_branch: Option<String>,
}

/// Why a payload could not be read.
#[derive(Debug, Error)]
pub enum ParseError {
    /// The body is not JSON.
    #[error("{provider} payload is not JSON: {source}")]
    NotJson {
        /// Provider label.
        provider: &'static str,
        /// The parser's complaint.
        source: serde_json::Error,
    },
    /// A field the provider documents is absent.
    #[error("{provider} push payload has no {field}")]
    Missing {
        /// Provider label.
        provider: &'static str,
        /// The JSON path that is missing.
        field: &'static str,
    },
}

/// Reads a push event's body.
pub fn parse_push(provider: Provider, body: &[u8]) -> Result<Push, ParseError> {
    let label = provider.as_str();
    let json: Value = serde_json::from_slice(body).map_err(|source| ParseError::NotJson { provider: label, source })?;
    let push = match provider {
        Provider::Gitlab => gitlab(&json),
        Provider::Github | Provider::Gitea => github(&json),
        Provider::BitbucketCloud => bitbucket_cloud(&json),
        Provider::BitbucketServer => bitbucket_server(&json),
    };
    if push.repo_urls.is_empty() {
        return Err(ParseError::Missing { provider: label, field: "repository URL" });
    }
    if push.refs.is_empty() {
        return Err(ParseError::Missing { provider: label, field: "ref" });
    }
    Ok(push)
}

fn strings(value: &Value, pointers: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for pointer in pointers {
        let found = value.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty());
        if let Some(s) = found.filter(|s| !out.iter().any(|o| o == s)) {
            out.push(s.to_string());
        }
    }
    out
}

fn text(value: &Value, pointer: &str) -> Option<String> {
    value.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

/// GitLab "Push Hook" / "Tag Push Hook": `ref`, `project.git_http_url`, `project.git_ssh_url`.
fn gitlab(json: &Value) -> Push {
    Push {
        repo_urls: strings(
            json,
            &[
                "/project/git_http_url",
                "/project/git_ssh_url",
                "/project/web_url",
                "/repository/git_http_url",
                "/repository/git_ssh_url",
                "/repository/homepage",
            ],
        ),
        refs: strings(json, &["/ref"]),
        default_branch: text(json, "/project/default_branch"),
    }
}

/// GitHub and Gitea `push`: `ref`, `repository.clone_url`, `repository.ssh_url`, `repository.html_url`.
fn github(json: &Value) -> Push {
    Push {
        repo_urls: strings(
            json,
            &["/repository/clone_url", "/repository/ssh_url", "/repository/html_url", "/repository/git_url"],
        ),
        refs: strings(json, &["/ref"]),
        default_branch: text(json, "/repository/default_branch"),
    }
}

/// Bitbucket Cloud `repo:push`: `push.changes[].new.{type,name}` and `repository.links.html.href`.
fn bitbucket_cloud(json: &Value) -> Push {
    let mut repo_urls = strings(json, &["/repository/links/html/href"]);
    if let Some(full_name) = text(json, "/repository/full_name") {
        repo_urls.push(format!("git@bitbucket.org:{full_name}.git"));
    }
    let changes = json.pointer("/push/changes").and_then(Value::as_array).cloned().unwrap_or_default();
    let refs = changes
        .iter()
        .filter_map(|change| {
            // A deleted branch has `new: null`; its name is in `old`.
            let side = change.get("new").filter(|v| !v.is_null()).or_else(|| change.get("old"))?;
            let name = side.get("name")?.as_str()?;
            let prefix =
                if side.get("type").and_then(Value::as_str) == Some("tag") { "refs/tags/" } else { "refs/heads/" };
            Some(format!("{prefix}{name}"))
        })
        .collect();
    Push { repo_urls, refs, default_branch: text(json, "/repository/mainbranch/name") }
}

/// Bitbucket Server `repo:refs_changed`: `changes[].ref.id` and `repository.links.clone[].href`.
fn bitbucket_server(json: &Value) -> Push {
    let clones = json.pointer("/repository/links/clone").and_then(Value::as_array).cloned().unwrap_or_default();
    let repo_urls = clones.iter().filter_map(|c| c.get("href")?.as_str().map(str::to_string)).collect();
    let changes = json.get("changes").and_then(Value::as_array).cloned().unwrap_or_default();
    let refs = changes.iter().filter_map(|c| c.pointer("/ref/id")?.as_str().map(str::to_string)).collect();
    Push { repo_urls, refs, default_branch: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bytes(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn gitlab_push_hook() {
        let body = json!({
            "object_kind": "push", "ref": "refs/heads/main", "before": "95790bf8", "after": "da1560886d",
            "project": {"git_http_url": "https://gitlab.example.com/mike/diaspora.git",
                        "git_ssh_url": "git@gitlab.example.com:mike/diaspora.git", "default_branch": "main"},
            "repository": {"homepage": "https://gitlab.example.com/mike/diaspora"}
        });
        let push = parse_push(Provider::Gitlab, &bytes(body)).unwrap();
        assert_eq!(push.refs, ["refs/heads/main"]);
        assert_eq!(push.repo_urls.len(), 3);
        assert_eq!(push.default_branch.as_deref(), Some("main"));
    }

    #[test]
    fn github_and_bitbucket_pushes() {
        let gh = json!({"ref": "refs/tags/v1.0.0", "repository": {"clone_url": "https://github.com/o/r.git",
            "ssh_url": "git@github.com:o/r.git", "html_url": "https://github.com/o/r", "default_branch": "trunk"}});
        let push = parse_push(Provider::Github, &bytes(gh)).unwrap();
        assert_eq!(push.refs, ["refs/tags/v1.0.0"]);
        assert_eq!(push.default_branch.as_deref(), Some("trunk"));
        let cloud = json!({"push": {"changes": [{"new": {"type": "branch", "name": "dev", "target": {"hash": "abc"}}},
                                                 {"new": null, "old": {"type": "tag", "name": "v0"}}]},
                           "repository": {"full_name": "team/app", "links": {"html": {"href": "https://bitbucket.org/team/app"}}}});
        let push = parse_push(Provider::BitbucketCloud, &bytes(cloud)).unwrap();
        assert_eq!(push.refs, ["refs/heads/dev", "refs/tags/v0"]);
        assert_eq!(push.repo_urls, ["https://bitbucket.org/team/app", "git@bitbucket.org:team/app.git"]);
        let server = json!({"eventKey": "repo:refs_changed",
            "repository": {"slug": "app", "links": {"clone": [{"href": "ssh://git@bb.example.com:7999/prj/app.git", "name": "ssh"},
                                                             {"href": "https://bb.example.com/scm/prj/app.git", "name": "http"}]}},
            "changes": [{"ref": {"id": "refs/heads/main", "displayId": "main", "type": "BRANCH"}, "type": "UPDATE"}]});
        let push = parse_push(Provider::BitbucketServer, &bytes(server)).unwrap();
        assert_eq!(push.refs, ["refs/heads/main"]);
        assert_eq!(push.repo_urls.len(), 2);
    }

    #[test]
    fn broken_payloads_are_errors() {
        assert!(matches!(parse_push(Provider::Github, b"nope"), Err(ParseError::NotJson { .. })));
        let no_ref = json!({"repository": {"clone_url": "https://h/o/r"}});
        assert!(matches!(parse_push(Provider::Github, &bytes(no_ref)), Err(ParseError::Missing { field: "ref", .. })));
    }
}
