//! The controller's mirror map: canonical URL (or prefix) → ordered mirror URLs.

use serde::Deserialize;

use crate::url::normalize_repo_url;

/// Which mirrors serve which repositories. Parsed from the `mirrors.yaml` key of the mirror
/// ConfigMap:
///
/// ```yaml
/// - source: https://github.com/platform/       # a prefix (ends with /) or one repository
///   mirrors: [https://git.internal/github/platform/]
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct MirrorMap {
    entries: Vec<MirrorEntry>,
}

/// One line of the mirror map.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct MirrorEntry {
    /// A repository URL, or a prefix ending in `/`.
    pub source: String,
    /// Tried in this order before `source` itself.
    pub mirrors: Vec<String>,
}

impl MirrorMap {
    /// Parses the YAML list; an empty text is an empty map.
    pub fn parse(yaml: &str) -> Result<Self, String> {
        if yaml.trim().is_empty() {
            return Ok(Self::default());
        }
        serde_yaml_ng::from_str(yaml).map_err(|e| format!("mirror map: {e}"))
    }

    /// The URLs to try for `repo_url`, in order: the mirrors of the most specific matching entry
    /// (an exact repository entry, else the longest prefix), then the canonical URL itself.
    pub fn candidates(&self, repo_url: &str) -> Vec<String> {
        let canonical = repo_url.trim().to_string();
        let repo = normalize_repo_url(repo_url);
        let exact =
            self.entries.iter().find(|e| !e.source.trim().ends_with('/') && normalize_repo_url(&e.source) == repo);
        let mut urls: Vec<String> = match exact {
            Some(entry) => entry.mirrors.clone(),
            None => self
                .entries
                .iter()
                .filter_map(|e| {
                    let prefix = e.source.trim();
                    let prefix_norm = format!("{}/", normalize_repo_url(prefix));
                    let rest = repo.strip_prefix(prefix_norm.as_str()).filter(|_| prefix.ends_with('/'))?;
                    // Keep the repository's own spelling of a `.git` suffix: some servers need it.
                    let suffix = if canonical.trim_end_matches('/').ends_with(".git") { ".git" } else { "" };
                    Some((prefix_norm.len(), e, format!("{rest}{suffix}")))
                })
                .max_by_key(|(len, _, _)| *len)
                .map(|(_, e, rest)| {
                    e.mirrors.iter().map(|m| format!("{}/{rest}", m.trim().trim_end_matches('/'))).collect()
                })
                .unwrap_or_default(),
        };
        urls.retain(|u| normalize_repo_url(u) != repo);
        urls.push(canonical);
        urls
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAP: &str = "
- source: https://github.com/platform/
  mirrors: [https://mirror-a.local/gh/platform/, https://mirror-b.local/platform]
- source: https://GitHub.com/platform/special.git
  mirrors: [https://special.local/special.git]
- source: https://github.com/
  mirrors: [https://mirror-a.local/gh/]
";

    #[test]
    fn mirrors_first_then_canonical() {
        let map = MirrorMap::parse(MAP).unwrap();
        assert_eq!(
            map.candidates("https://github.com/platform/app.git"),
            vec![
                "https://mirror-a.local/gh/platform/app.git",
                "https://mirror-b.local/platform/app.git",
                "https://github.com/platform/app.git"
            ]
        );
        assert_eq!(
            map.candidates("https://github.com/platform/special"),
            vec!["https://special.local/special.git", "https://github.com/platform/special"]
        );
        assert_eq!(
            map.candidates("https://github.com/other/x"),
            vec!["https://mirror-a.local/gh/other/x", "https://github.com/other/x"]
        );
        assert_eq!(map.candidates("https://gitlab.com/x"), vec!["https://gitlab.com/x"]);
        assert_eq!(MirrorMap::parse("").unwrap().candidates("file:///r"), vec!["file:///r"]);
        assert!(MirrorMap::parse("not: [a list").is_err());
    }
}
