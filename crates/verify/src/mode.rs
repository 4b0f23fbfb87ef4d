//! Which objects a verification mode checks for one resolved revision.

/// What `spec.source.verify.mode` asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Mode {
    /// The resolved commit's own signature (Flux's `HEAD`).
    #[default]
    Head,
    /// The annotated tag the revision resolved through (Flux's `Tag`).
    Tag,
    /// Both the tag and the commit it points at (Flux's `TagAndHEAD`).
    TagAndHead,
    /// Every commit between the last verified revision and the resolved one, merges and the
    /// commits they bring in included (Argo CD Source Integrity's `strict`).
    AllCommits,
}

/// How the revision was resolved, as far as tags go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResolvedThrough {
    /// An annotated tag: its name and object id.
    AnnotatedTag {
        /// The tag's short name.
        name: String,
        /// The tag object's id.
        oid: String,
    },
    /// A lightweight tag (a ref straight to a commit): nothing to sign.
    LightweightTag(String),
    /// A branch, the default branch or a commit SHA.
    NotATag,
}

/// What to check for one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The annotated tag object to verify.
    pub tag: Option<String>,
    /// Whether the resolved commit itself must be signed.
    pub head: bool,
    /// Verify every commit reachable from the resolved one but not from this one.
    pub since: Option<String>,
}

/// The checks `mode` asks for on `target`. `last_verified` is the revision the status records as
/// verified last; without it (a first verification, or the commit is unknown to the cache) the
/// walk starts at the resolved commit. A tag mode on a revision that is no annotated tag is an
/// error: nothing could vouch for it.
pub fn plan(mode: Mode, resolved: &ResolvedThrough, target: &str, last_verified: Option<&str>) -> Result<Plan, String> {
    let tag = match (mode, resolved) {
        (Mode::Tag | Mode::TagAndHead, ResolvedThrough::AnnotatedTag { oid, .. }) => Some(oid.clone()),
        (Mode::Tag | Mode::TagAndHead, ResolvedThrough::LightweightTag(name)) => {
            return Err(format!("tag {name:?} is a lightweight tag and carries no signature"));
        }
        (Mode::Tag | Mode::TagAndHead, ResolvedThrough::NotATag) => {
            return Err("the revision is not a tag, so no tag signature can vouch for it".into());
        }
        _ => None,
    };
    let head = matches!(mode, Mode::Head | Mode::TagAndHead | Mode::AllCommits);
    let since = match (mode, last_verified) {
        (Mode::AllCommits, Some(last)) if !last.eq_ignore_ascii_case(target) => Some(last.to_string()),
        _ => None,
    };
    Ok(Plan { tag, head, since })
}
