//! Which Applications a push concerns: same repository (whatever the spelling) and a target
//! revision that tracks one of the pushed refs.

use std::collections::BTreeMap;

use crate::parse::Push;

/// The sources a push concerns, grouped by repository identity: each of `sources` is an
/// Application's `(repoURL, targetRevision)`, given with the item it belongs to.
pub fn concerned<'a, T: Clone>(
    sources: impl IntoIterator<Item = (&'a str, Option<&'a str>, T)>,
    push: &Push,
) -> BTreeMap<String, Vec<T>> {
    let pushed: Vec<String> = push.repo_urls.iter().map(|u| repo_identity(u)).collect();
    let mut groups: BTreeMap<String, Vec<T>> = BTreeMap::new();
    for (repo_url, target_revision, item) in sources {
        let identity = repo_identity(repo_url);
        if pushed.contains(&identity) && tracks(target_revision, push) {
            groups.entry(identity).or_default().push(item);
        }
    }
    groups
}

/// A spelling-independent identity of a repository: lower-case host (no user, no port) and path
/// (no leading `/`, no `.git`, no trailing `/`). `https://h/team/app.git`, `git@h:team/app` and
/// `ssh://git@h:22/team/app` are all `h/team/app`; `file://` URLs keep their path.
pub fn repo_identity(url: &str) -> String {
    let normalized = url.trim().trim_end_matches('/');
    let normalized = normalized.strip_suffix(".git").unwrap_or(normalized);
    let (authority, path) = match normalized.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("file") => return format!("file:{rest}"),
        Some((_, rest)) => rest.split_once('/').unwrap_or((rest, "")),
        None => match normalized.split_once(':') {
            Some((authority, path)) if !authority.contains('/') => (authority, path),
            _ => return normalized.to_string(),
        },
    };
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = host.split_once(':').map_or(host, |(h, _)| h).to_ascii_lowercase();
    format!("{host}/{}", path.trim_matches('/'))
}

/// Whether an Application with `target_revision` should be refreshed by `push`: a branch or tag
/// name (short or `refs/…`) equal to a pushed ref; `HEAD` or empty when the default branch was
/// pushed (or the payload does not say which branch is the default); a version range when a tag was
/// pushed. A commit SHA never moves, so no push concerns it.
pub fn tracks(target_revision: Option<&str>, push: &Push) -> bool {
    let target = target_revision.map(str::trim).unwrap_or("");
    if target.len() == 40 && target.chars().all(|c| c.is_ascii_hexdigit()) {
        return false;
    }
    push.refs.iter().any(|pushed| {
        let (is_tag, short) = match (pushed.strip_prefix("refs/heads/"), pushed.strip_prefix("refs/tags/")) {
            (Some(branch), _) => (false, branch),
            (None, Some(tag)) => (true, tag),
            (None, None) => (false, pushed.as_str()),
        };
        if target.is_empty() || target == "HEAD" {
            return !is_tag && push.default_branch.as_deref().is_none_or(|d| d == short);
        }
        if target == short || target == pushed {
            return true;
        }
        is_tag && is_version_range(target)
    })
}

/// A semver constraint rather than a ref name: `^1.2`, `~1.2.0`, `>=1.0 <2.0`, `1.x`, `*`.
fn is_version_range(target: &str) -> bool {
    target.contains(['^', '~', '*', '>', '<', '=', ' ', ','])
        || target.split('.').any(|part| part.eq_ignore_ascii_case("x"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_push_concerns_the_sources_of_its_repository_that_track_its_refs() {
        let push = Push {
            repo_urls: vec!["https://git.example/team/app.git".into()],
            refs: vec!["refs/heads/main".into()],
            ..push(&[], None)
        };
        let sources = [
            ("git@git.example:team/app", Some("main"), "a"),
            ("https://git.example/team/app", Some("release"), "b"),
            ("https://git.example/team/other", Some("main"), "c"),
            ("https://GIT.example/team/app/", None, "d"),
        ];
        let groups = concerned(sources, &push);
        assert_eq!(groups.into_iter().collect::<Vec<_>>(), vec![("git.example/team/app".to_string(), vec!["a", "d"])]);
    }

    fn push(refs: &[&str], default_branch: Option<&str>) -> Push {
        Push {
            repo_urls: vec![],
            refs: refs.iter().map(|r| r.to_string()).collect(),
            default_branch: default_branch.map(str::to_string),
        }
    }

    #[test]
    fn spellings_of_one_repository_share_an_identity() {
        let want = "gitlab.example.com/team/app";
        for url in [
            "https://gitlab.example.com/team/app.git",
            "https://GitLab.example.com/team/app/",
            "http://user@gitlab.example.com:8080/team/app",
            "git@gitlab.example.com:team/app.git",
            "ssh://git@gitlab.example.com:22/team/app.git",
        ] {
            assert_eq!(repo_identity(url), want, "{url}");
        }
        assert_ne!(repo_identity("https://h/team/app"), repo_identity("https://h/team/other"));
        assert_eq!(repo_identity("file:///srv/app.git"), "file:/srv/app");
    }

    #[test]
    fn branches_tags_and_default_branch() {
        let main = push(&["refs/heads/main"], Some("main"));
        assert!(tracks(Some("main"), &main));
        assert!(tracks(Some("refs/heads/main"), &main));
        assert!(tracks(Some("HEAD"), &main));
        assert!(tracks(None, &main));
        assert!(!tracks(Some("dev"), &main));
        let dev = push(&["refs/heads/dev"], Some("main"));
        assert!(!tracks(Some("HEAD"), &dev));
        assert!(tracks(Some(""), &push(&["refs/heads/dev"], None)));
        let tag = push(&["refs/tags/v1.2.0"], None);
        assert!(tracks(Some("v1.2.0"), &tag));
        assert!(tracks(Some("^1.2"), &tag));
        assert!(tracks(Some("1.x"), &tag));
        assert!(!tracks(Some("v1.1.0"), &tag));
        assert!(!tracks(Some("HEAD"), &tag));
        assert!(!tracks(Some("^1.2"), &main));
        assert!(!tracks(Some("0123456789abcdef0123456789abcdef01234567"), &main));
    }
}
