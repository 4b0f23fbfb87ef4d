//! Pure reading of an OCI source: `oci://registry[:port]/repository[:tag|@sha256:…]` and a
//! `targetRevision` (tag, semver range over tags, or digest) into what to ask the registry for.

use crate::revision::{RemoteRef, RevisionSpec};

/// The URL scheme of OCI sources.
pub const OCI_SCHEME: &str = "oci://";

/// True when `repo_url` names an OCI source (`oci://…`).
pub fn is_oci_url(repo_url: &str) -> bool {
    repo_url.trim().get(..OCI_SCHEME.len()).is_some_and(|s| s.eq_ignore_ascii_case(OCI_SCHEME))
}

/// Which artifact version an Application asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OciPin {
    /// One tag, resolved to a digest at each look.
    Tag(String),
    /// The highest tag satisfying a semver range (as for git tags).
    Range(String),
    /// A manifest digest (`sha256:<64 hex>`), with the tag it was written next to, if any.
    Digest { digest: String, tag: Option<String> },
}

/// An OCI source as the registry sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OciTarget {
    /// `host[:port]`, lower-cased.
    pub registry: String,
    /// The repository path inside the registry (`charts/guestbook`).
    pub repository: String,
    /// What to resolve.
    pub pin: OciPin,
}

impl OciTarget {
    /// Reads `repo_url` and `target_revision`. A tag or digest may sit in the URL or in
    /// `targetRevision` (not in both, unless they agree); empty or `HEAD` means the tag `latest`.
    pub fn parse(repo_url: &str, target_revision: Option<&str>) -> Result<Self, String> {
        let url = repo_url.trim();
        if !is_oci_url(url) {
            return Err(format!("{url:?} is not an oci:// URL"));
        }
        let rest = url[OCI_SCHEME.len()..].trim_end_matches('/');
        let (host, path) = rest.split_once('/').ok_or_else(|| format!("{url:?} names no repository"))?;
        if host.is_empty() || host.contains('@') {
            return Err(format!("{url:?}: the registry host must be plain host[:port] (credentials go in a Secret)"));
        }
        let (path, url_digest) = match path.split_once('@') {
            Some((path, digest)) => (path, Some(digest.to_string())),
            None => (path, None),
        };
        let last = path.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (repository, url_tag) = match path[last..].split_once(':') {
            Some((name, tag)) => (format!("{}{name}", &path[..last]), Some(tag.to_string())),
            None => (path.to_string(), None),
        };
        if repository.is_empty() || !repository.split('/').all(valid_path_component) {
            return Err(format!("{url:?}: {repository:?} is not a valid repository name"));
        }
        let revision = target_revision.map(str::trim).filter(|r| !r.is_empty() && *r != "HEAD");
        let pin = pin_of(url_tag, url_digest, revision).map_err(|e| format!("{url:?}: {e}"))?;
        Ok(Self { registry: host.to_ascii_lowercase(), repository, pin })
    }

    /// `registry/repository`, how messages and cache keys name the artifact.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

fn pin_of(url_tag: Option<String>, url_digest: Option<String>, revision: Option<&str>) -> Result<OciPin, String> {
    let from_url = match (url_tag, url_digest) {
        (tag, Some(digest)) => Some(OciPin::Digest { digest: checked_digest(&digest)?, tag }),
        (Some(tag), None) => Some(OciPin::Tag(checked_tag(&tag)?)),
        (None, None) => None,
    };
    let from_revision = revision.map(revision_pin).transpose()?;
    match (from_url, from_revision) {
        (Some(a), Some(b)) if a != b => Err("the URL and targetRevision name different versions".into()),
        (Some(pin), _) | (None, Some(pin)) => Ok(pin),
        (None, None) => Ok(OciPin::Tag("latest".into())),
    }
}

/// A `targetRevision`: `sha256:…`, `tag@sha256:…`, a semver range, or a tag.
fn revision_pin(revision: &str) -> Result<OciPin, String> {
    if let Some((tag, digest)) = revision.split_once('@') {
        let tag = (!tag.is_empty()).then(|| tag.to_string());
        return Ok(OciPin::Digest { digest: checked_digest(digest)?, tag });
    }
    if revision.contains(':') {
        return Ok(OciPin::Digest { digest: checked_digest(revision)?, tag: None });
    }
    match RevisionSpec::parse(Some(revision)) {
        RevisionSpec::Range(range) => Ok(OciPin::Range(range)),
        _ => checked_tag(revision).map(OciPin::Tag),
    }
}

/// `sha256:` and 64 lower-case hex digits; other algorithms are refused (nothing here can verify them).
pub(crate) fn checked_digest(digest: &str) -> Result<String, String> {
    let hex = digest.strip_prefix("sha256:").ok_or_else(|| format!("digest {digest:?} is not sha256:<hex>"))?;
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(format!("sha256:{}", hex.to_ascii_lowercase()))
    } else {
        Err(format!("digest {digest:?} is not sha256 followed by 64 hex digits"))
    }
}

/// A tag as the distribution spec allows it: a word character, then up to 127 of `[\w.-]`.
fn checked_tag(tag: &str) -> Result<String, String> {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let valid = tag.len() <= 128
        && tag.bytes().next().is_some_and(word)
        && tag.bytes().all(|b| word(b) || b == b'.' || b == b'-');
    if valid { Ok(tag.to_string()) } else { Err(format!("{tag:?} is neither a tag, a semver range nor a digest")) }
}

fn valid_path_component(component: &str) -> bool {
    !component.is_empty()
        && component != "."
        && component != ".."
        && component.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

/// The highest tag of `tags` inside `range`, read as git tags are (Masterminds semver). A `_` in
/// a tag reads as `+` (build metadata), as Helm writes chart versions into tags.
pub(crate) fn highest_tag(range: &str, tags: &[String]) -> Option<String> {
    RevisionSpec::Range(range.to_string()).resolve_in(&tag_refs(tags))
}

/// The version-like tags of `tags`, highest last, for messages.
pub(crate) fn version_tags(tags: &[String]) -> String {
    let refs = tag_refs(tags);
    let tag_of = |name: String| {
        let wanted = format!("refs/tags/{name}");
        refs.iter().find(|r| r.name == wanted).map_or(name, |r| r.oid.clone())
    };
    crate::revision::version_tags(&refs).into_iter().map(tag_of).collect::<Vec<_>>().join(", ")
}

/// Tags as refs named by their version (`_` read as `+`), each pointing at the tag itself.
fn tag_refs(tags: &[String]) -> Vec<RemoteRef> {
    tags.iter()
        .map(|t| RemoteRef { name: format!("refs/tags/{}", t.replace('_', "+")), oid: t.clone(), peeled: None })
        .collect()
}

/// The registry tag of a chart version: Helm writes `+` (build metadata, not allowed in tags) as `_`.
pub fn chart_version_tag(version: &str) -> String {
    version.replace('+', "_")
}

/// The revision reported for an artifact: `tag@sha256:…` when a tag named it, else the digest.
pub fn revision_of(tag: Option<&str>, digest: &str) -> String {
    match tag {
        Some(tag) => format!("{tag}@{digest}"),
        None => digest.to_string(),
    }
}

#[cfg(test)]
#[path = "reference_tests.rs"]
mod tests;
