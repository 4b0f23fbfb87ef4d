//! Pure resolution of a `targetRevision` against the refs a remote advertises.

use crate::semver_range::{Range, parse_loose_version, precedence};

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
    /// As in Argo CD, a plain version such as `1.2.3` or `v1` is a name, not a range.
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
        } else if parse_loose_version(target).is_none() && Range::parse(target).is_some() {
            Self::Range(target.to_string())
        } else {
            Self::Named(target.to_string())
        }
    }

    /// Finds the commit a named revision points at in the advertised refs; `None` when absent.
    /// Branches win over tags of the same name, as in git itself.
    pub fn resolve_in(&self, refs: &[RemoteRef]) -> Option<String> {
        let found = self.resolve_ref_in(refs)?;
        Some(found.peeled.clone().unwrap_or_else(|| found.oid.clone()))
    }

    /// The advertised ref a named revision resolves through (for a tag, its tag object); `None`
    /// when absent.
    pub fn resolve_ref_in<'r>(&self, refs: &'r [RemoteRef]) -> Option<&'r RemoteRef> {
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
        Some(found)
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
    tags.sort_by(|a, b| precedence(&a.0, &b.0).then_with(|| a.1.cmp(&b.1)));
    tags.into_iter().map(|(_, t)| t).collect()
}

/// The tag's version as Argo CD reads it (an optional `v`, missing minor or patch parts as 0).
fn parse_tag_version(tag: &str) -> Option<semver::Version> {
    parse_loose_version(tag)
}

/// The commit of the highest tag whose version satisfies the range (the first of equal ones).
fn highest_matching_tag<'a>(range: &str, refs: &'a [RemoteRef]) -> Option<&'a RemoteRef> {
    let range = Range::parse(range)?;
    let mut best: Option<(semver::Version, &RemoteRef)> = None;
    for r in refs {
        let Some(version) = r.name.strip_prefix("refs/tags/").and_then(parse_tag_version) else { continue };
        if range.matches(&version) && best.as_ref().is_none_or(|(b, _)| precedence(&version, b).is_gt()) {
            best = Some((version, r));
        }
    }
    best.map(|(_, r)| r)
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
        for version in ["1.2.3", "v1", "1.2"] {
            assert_eq!(RevisionSpec::parse(Some(version)), RevisionSpec::Named(version.into()), "{version}");
        }
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
        // A bare version in a range is exact (as in Argo CD), not `^`.
        assert_eq!(resolve("1.2.0 || 1.4.2").as_deref(), Some("142"));
        assert_eq!(resolve("1.2.0 || 1.4.0").as_deref(), Some("120"));
        assert_eq!(resolve("v1.2.0 || 3.0.0").as_deref(), Some("120"));
        assert_eq!(resolve("1.2 - 1.5").as_deref(), Some("142"));
        assert_eq!(resolve(">=2.1.0-0").as_deref(), Some("21rc"));
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
