//! A Helm repository's `index.yaml`, read under a size cap and kept only as what lockstep needs
//! (chart name → versions → archive URLs and digest), and the choice of a version for a
//! `targetRevision` (exact, semver range, or the latest stable). Pure.

use std::collections::HashMap;

use serde::Deserialize;

use crate::semver_range::{Range, parse_loose_version, precedence};

/// One version of one chart, as the index lists it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub(crate) struct ChartVersion {
    /// The version as written (`1.2.3`, `v1.2.3`).
    pub version: String,
    /// Where the archive is: absolute, or relative to the repository URL.
    #[serde(default)]
    pub urls: Vec<String>,
    /// Hex SHA-256 of the archive, when the index records it.
    #[serde(default)]
    pub digest: Option<String>,
}

/// The parts of an index lockstep reads; every other field is skipped while parsing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub(crate) struct ChartIndex {
    #[serde(default)]
    entries: HashMap<String, Option<Vec<ChartVersion>>>,
}

/// Why no version could be chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Unmatched {
    /// The index has no chart of that name.
    UnknownChart,
    /// An exact version that the index does not list (the versions it lists, newest first).
    UnknownVersion(Vec<String>),
    /// A range no listed version satisfies (the versions it lists, newest first).
    OutOfRange(Vec<String>),
}

impl ChartIndex {
    /// Parses an index already read within the size cap.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, String> {
        serde_yaml_ng::from_slice(bytes).map_err(|e| format!("index.yaml does not parse: {e}"))
    }

    /// How many chart versions the index lists (for logs).
    pub(crate) fn len(&self) -> usize {
        self.entries.values().flatten().map(Vec::len).sum()
    }

    /// The version of `chart` that `target` asks for: empty, `*` or `latest` for the highest
    /// stable version; a version for exactly that one; a semver range (Masterminds' syntax, as for
    /// git tags) for the highest version satisfying it.
    pub(crate) fn select(&self, chart: &str, target: Option<&str>) -> Result<&ChartVersion, Unmatched> {
        let versions = self.entries.get(chart).and_then(Option::as_ref).ok_or(Unmatched::UnknownChart)?;
        let target = target.map(str::trim).unwrap_or_default();
        let listed = || newest_first(versions);
        if let Some(exact) = versions.iter().find(|v| v.version == target) {
            return Ok(exact);
        }
        let range = match target {
            "" | "*" | "latest" | "HEAD" => Range::parse(">=0.0.0"),
            _ => match parse_loose_version(target) {
                Some(wanted) => {
                    let same = versions.iter().find(|v| {
                        parse_loose_version(&v.version)
                            .is_some_and(|have| precedence(&have, &wanted).is_eq() && have.build == wanted.build)
                    });
                    return same.ok_or_else(|| Unmatched::UnknownVersion(listed()));
                }
                None => Range::parse(target),
            },
        };
        let Some(range) = range else { return Err(Unmatched::UnknownVersion(listed())) };
        versions
            .iter()
            .filter_map(|v| Some((parse_loose_version(&v.version)?, v)))
            .filter(|(parsed, _)| range.matches(parsed))
            .max_by(|(a, _), (b, _)| precedence(a, b))
            .map(|(_, v)| v)
            .ok_or_else(|| Unmatched::OutOfRange(listed()))
    }
}

/// The versions of a chart, newest first, at most 20 (for messages).
fn newest_first(versions: &[ChartVersion]) -> Vec<String> {
    let mut parsed: Vec<_> = versions.iter().filter_map(|v| Some((parse_loose_version(&v.version)?, v))).collect();
    parsed.sort_by(|(a, _), (b, _)| precedence(b, a));
    parsed.into_iter().take(20).map(|(_, v)| v.version.clone()).collect()
}

/// The archive URL of `version`, resolved against the URL that served the index (Helm's rule:
/// relative URLs are relative to the repository URL).
pub(crate) fn archive_url(repository: &str, version: &ChartVersion) -> Option<String> {
    let url = version.urls.first()?.trim();
    if url.contains("://") {
        return Some(url.to_string());
    }
    let base = repository.trim_end_matches('/');
    if let Some(absolute_path) = url.strip_prefix('/') {
        let (scheme, rest) = base.split_once("://")?;
        let authority = rest.split('/').next()?;
        return Some(format!("{scheme}://{authority}/{absolute_path}"));
    }
    Some(format!("{base}/{url}"))
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
