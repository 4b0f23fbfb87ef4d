//! Pure resolution of a `targetRevision` against the refs a remote advertises.

/// A ref the remote advertised: its full name and the object id it points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteRef {
    /// Full ref name, such as `refs/heads/main`; `HEAD` for the default branch.
    pub name: String,
    /// Hex object id; for annotated tags the tag object, see `peeled`.
    pub oid: String,
    /// For annotated tags, the commit the tag points at.
    pub peeled: Option<String>,
}

/// What a `targetRevision` asks for, before looking at any repository.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevisionSpec {
    /// The remote's default branch (`HEAD` or empty).
    DefaultBranch,
    /// A branch or tag name (or a full ref name).
    Named(String),
    /// A full or abbreviated commit SHA.
    Commit(String),
    /// A semver range over the tags (`>=1.2.0 <2.0.0`, `1.x`, `~1.4`): the highest matching tag.
    Range(String),
}

impl RevisionSpec {
    /// Classifies a `targetRevision` as written in the Application.
    pub fn parse(target: Option<&str>) -> Self {
        let target = target.map(str::trim).unwrap_or_default();
        if target.is_empty() || target == "HEAD" {
            Self::DefaultBranch
        } else if (7..=40).contains(&target.len()) && target.bytes().all(|b| b.is_ascii_hexdigit()) {
            Self::Commit(target.to_ascii_lowercase())
        } else if looks_like_range(target) && parse_range(target).is_some() {
            Self::Range(target.to_string())
        } else {
            Self::Named(target.to_string())
        }
    }

    /// Finds the commit a named revision points at in the advertised refs; `None` when absent.
    /// Branches win over tags of the same name, as in git itself.
    pub fn resolve_in(&self, refs: &[RemoteRef]) -> Option<String> {
        let find = |name: &str| refs.iter().find(|r| r.name == name);
        let found = match self {
            Self::DefaultBranch => find("HEAD"),
            Self::Named(name) if name.starts_with("refs/") => find(name),
            Self::Named(name) => find(&format!("refs/heads/{name}")).or_else(|| find(&format!("refs/tags/{name}"))),
            // A branch or tag may be named like a SHA; prefer it, else the caller looks the commit up.
            Self::Commit(sha) => find(&format!("refs/heads/{sha}")).or_else(|| find(&format!("refs/tags/{sha}"))),
            // A ref literally named like the range wins, as for a branch named like a SHA.
            Self::Range(range) => find(&format!("refs/heads/{range}"))
                .or_else(|| find(&format!("refs/tags/{range}")))
                .or_else(|| highest_matching_tag(range, refs)),
        }?;
        Some(found.peeled.clone().unwrap_or_else(|| found.oid.clone()))
    }
}

impl RevisionSpec {
    /// The spec as a stable text, used as the key of the last good revision on disk.
    pub fn key(&self) -> String {
        match self {
            Self::DefaultBranch => "HEAD".into(),
            Self::Named(s) | Self::Commit(s) | Self::Range(s) => s.clone(),
        }
    }
}

/// Version-like tags advertised by the remote, for messages: `v1.0.0, v1.1.0, …`.
pub(crate) fn version_tags(refs: &[RemoteRef]) -> Vec<String> {
    let mut tags: Vec<(semver::Version, String)> = refs
        .iter()
        .filter_map(|r| r.name.strip_prefix("refs/tags/"))
        .filter_map(|tag| Some((parse_tag_version(tag)?, tag.to_string())))
        .collect();
    tags.sort();
    tags.into_iter().map(|(_, t)| t).collect()
}

/// True when a target uses range syntax (operators, wildcards, alternatives, several comparators).
fn looks_like_range(target: &str) -> bool {
    target.contains(|c: char| "<>=~^*|,".contains(c) || c.is_whitespace())
        || target.split('.').skip(1).any(|part| part.eq_ignore_ascii_case("x"))
}

/// Parses a Masterminds/Argo-style range: comparators separated by spaces or commas (all must
/// hold), alternatives separated by `||`.
fn parse_range(range: &str) -> Option<Vec<semver::VersionReq>> {
    range
        .split("||")
        .map(|alternative| {
            let mut comparators: Vec<String> = Vec::new();
            let mut pending_operator = String::new();
            for token in alternative.split(|c: char| c == ',' || c.is_whitespace()).filter(|t| !t.is_empty()) {
                if token.chars().all(|c| "<>=~^".contains(c)) {
                    pending_operator.push_str(token);
                    continue;
                }
                let token = token.trim_start_matches(['v', 'V']);
                let token = token.replace(".X", ".x");
                comparators.push(format!("{}{token}", std::mem::take(&mut pending_operator)));
            }
            if comparators.is_empty() || !pending_operator.is_empty() {
                return None;
            }
            semver::VersionReq::parse(&comparators.join(", ")).ok()
        })
        .collect()
}

fn parse_tag_version(tag: &str) -> Option<semver::Version> {
    semver::Version::parse(tag.strip_prefix(['v', 'V']).unwrap_or(tag)).ok()
}

/// The commit of the highest tag whose version satisfies the range.
fn highest_matching_tag<'a>(range: &str, refs: &'a [RemoteRef]) -> Option<&'a RemoteRef> {
    let alternatives = parse_range(range)?;
    refs.iter()
        .filter_map(|r| Some((parse_tag_version(r.name.strip_prefix("refs/tags/")?)?, r)))
        .filter(|(version, _)| alternatives.iter().any(|req| req.matches(version)))
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, r)| r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(name: &str, oid: &str) -> RemoteRef {
        RemoteRef { name: name.into(), oid: oid.into(), peeled: None }
    }

    #[test]
    fn classifies_targets() {
        assert_eq!(RevisionSpec::parse(None), RevisionSpec::DefaultBranch);
        assert_eq!(RevisionSpec::parse(Some("HEAD")), RevisionSpec::DefaultBranch);
        assert_eq!(RevisionSpec::parse(Some("main")), RevisionSpec::Named("main".into()));
        assert_eq!(RevisionSpec::parse(Some("v1.2.0")), RevisionSpec::Named("v1.2.0".into()));
        assert_eq!(RevisionSpec::parse(Some("ABCDEF1")), RevisionSpec::Commit("abcdef1".into()));
        assert_eq!(RevisionSpec::parse(Some("abc")), RevisionSpec::Named("abc".into()));
        assert_eq!(RevisionSpec::parse(Some("1.2.3")), RevisionSpec::Named("1.2.3".into()));
        for range in [">=1.2.0 <2.0.0", "1.x", "~1.4", "^1.2", ">= 1.0, < 3", "1.2.x || 2.x", "*"] {
            assert_eq!(RevisionSpec::parse(Some(range)), RevisionSpec::Range(range.into()), "{range}");
        }
        assert_eq!(RevisionSpec::parse(Some("feature/x")), RevisionSpec::Named("feature/x".into()));
        assert_eq!(RevisionSpec::parse(Some(">=")), RevisionSpec::Named(">=".into()));
    }

    #[test]
    fn ranges_pick_the_highest_matching_tag() {
        let refs = vec![
            r("refs/heads/main", "m"),
            r("refs/tags/v1.2.0", "120"),
            RemoteRef { name: "refs/tags/v1.4.2".into(), oid: "tagobj".into(), peeled: Some("142".into()) },
            r("refs/tags/1.9.0", "190"),
            r("refs/tags/v2.0.0", "200"),
            r("refs/tags/v2.1.0-rc.1", "21rc"),
            r("refs/tags/not-a-version", "x"),
        ];
        let resolve = |range: &str| RevisionSpec::parse(Some(range)).resolve_in(&refs);
        assert_eq!(resolve(">=1.2.0 <2.0.0").as_deref(), Some("190"));
        assert_eq!(resolve("1.x").as_deref(), Some("190"));
        assert_eq!(resolve("~1.4").as_deref(), Some("142"));
        assert_eq!(resolve(">=2").as_deref(), Some("200"));
        assert_eq!(resolve("1.2.x || 2.x").as_deref(), Some("200"));
        assert_eq!(resolve(">=3.0.0"), None);
        assert_eq!(version_tags(&refs), vec!["v1.2.0", "v1.4.2", "1.9.0", "v2.0.0", "v2.1.0-rc.1"]);
    }

    #[test]
    fn resolves_branches_before_tags_and_peels_tags() {
        let refs = vec![
            r("HEAD", "1111"),
            r("refs/heads/main", "1111"),
            r("refs/heads/release", "2222"),
            r("refs/tags/release", "3333"),
            RemoteRef { name: "refs/tags/v1".into(), oid: "4444".into(), peeled: Some("5555".into()) },
        ];
        assert_eq!(RevisionSpec::DefaultBranch.resolve_in(&refs).as_deref(), Some("1111"));
        assert_eq!(RevisionSpec::parse(Some("release")).resolve_in(&refs).as_deref(), Some("2222"));
        assert_eq!(RevisionSpec::parse(Some("refs/tags/release")).resolve_in(&refs).as_deref(), Some("3333"));
        assert_eq!(RevisionSpec::parse(Some("v1")).resolve_in(&refs).as_deref(), Some("5555"));
        assert_eq!(RevisionSpec::parse(Some("nope")).resolve_in(&refs), None);
    }
}
