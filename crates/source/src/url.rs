/// Normalises a repository URL so that spellings of one repository share one cache entry:
/// lower-case scheme and host, no trailing slash, no trailing `.git`.
pub fn normalize_repo_url(url: &str) -> String {
    let trimmed = url.trim().trim_end_matches('/');
    let trimmed = trimmed.strip_suffix(".git").unwrap_or(trimmed);
    match trimmed.split_once("://") {
        Some((scheme, rest)) => {
            let scheme = scheme.to_ascii_lowercase();
            if scheme == "file" {
                return format!("file://{rest}");
            }
            let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
            let authority = match authority.rsplit_once('@') {
                Some((user, host)) => format!("{user}@{}", host.to_ascii_lowercase()),
                None => authority.to_ascii_lowercase(),
            };
            if path.is_empty() { format!("{scheme}://{authority}") } else { format!("{scheme}://{authority}/{path}") }
        }
        None => match trimmed.split_once(':') {
            // scp-like `git@host:path`
            Some((authority, path)) if !authority.contains('/') => {
                let authority = match authority.rsplit_once('@') {
                    Some((user, host)) => format!("{user}@{}", host.to_ascii_lowercase()),
                    None => authority.to_ascii_lowercase(),
                };
                format!("{authority}:{path}")
            }
            _ => trimmed.to_string(),
        },
    }
}

/// A directory name for a normalised URL: readable prefix plus a hash so distinct URLs never collide.
pub(crate) fn cache_key(normalized: &str) -> String {
    let readable: String = normalized
        .rsplit('/')
        .next()
        .unwrap_or("repo")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .take(40)
        .collect();
    format!("{readable}-{:016x}", lockstep_api::stable_hash::fnv1a64(normalized.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_repo_normalise_alike() {
        let want = "https://git.example.com/team/app";
        for url in [
            "https://git.example.com/team/app",
            "https://GIT.example.com/team/app.git",
            "HTTPS://git.example.com/team/app/",
            "https://git.example.com/team/app.git/",
        ] {
            assert_eq!(normalize_repo_url(url), want, "{url}");
        }
    }

    #[test]
    fn scp_like_and_file_urls() {
        assert_eq!(normalize_repo_url("git@GitLab.local:team/app.git"), "git@gitlab.local:team/app");
        assert_eq!(normalize_repo_url("file:///srv/Repos/App.git"), "file:///srv/Repos/App");
    }

    #[test]
    fn path_case_is_kept_and_keys_differ() {
        let a = normalize_repo_url("https://h/Team/App");
        let b = normalize_repo_url("https://h/team/app");
        assert_ne!(a, b);
        assert_ne!(cache_key(&a), cache_key(&b));
        assert!(cache_key(&a).starts_with("App-"));
    }
}
