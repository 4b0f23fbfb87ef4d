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
}

impl RevisionSpec {
    /// Classifies a `targetRevision` as written in the Application.
    pub fn parse(target: Option<&str>) -> Self {
        let target = target.map(str::trim).unwrap_or_default();
        if target.is_empty() || target == "HEAD" {
            Self::DefaultBranch
        } else if (7..=40).contains(&target.len()) && target.bytes().all(|b| b.is_ascii_hexdigit()) {
            Self::Commit(target.to_ascii_lowercase())
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
        }?;
        Some(found.peeled.clone().unwrap_or_else(|| found.oid.clone()))
    }
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
