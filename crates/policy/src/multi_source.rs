//! Multi-source Applications (`spec.sources`), pure: which source list a spec has and what is wrong
//! with it, and how one revision per source travels through a pipeline that compares one revision.
//!
//! A pass of a multi-source Application resolves each source to its own revision; the pipeline
//! (sync decisions, operations, history) works on their *composite*, the revisions joined by `,` in
//! source order (commit SHAs, chart versions and digests never hold a comma), so a new revision of
//! any one source is a new revision of the Application. The status lists them apart in `revisions`.

use lockstep_api::{ApplicationSource, ApplicationSpec, ApplicationStatus};

/// The one revision the pipeline compares for these per-source revisions.
pub fn composite_revision(revisions: &[String]) -> String {
    revisions.join(",")
}

/// The per-source revisions a composite holds, in source order.
pub fn revisions_of(composite: &str) -> Vec<String> {
    composite.split(',').map(str::to_string).collect()
}

/// The per-source revisions to record for `revision` of `spec`: empty for a single-source Application.
pub fn recorded_revisions(spec: &ApplicationSpec, revision: &str) -> Vec<String> {
    if spec.is_multi_source() && !revision.is_empty() { revisions_of(revision) } else { Vec::new() }
}

/// Fills `status.sync.revisions` of a multi-source Application from its compared revision (and
/// clears it for a single-source one), so the status lists one revision per source.
pub fn fill_revisions(spec: &ApplicationSpec, status: &mut ApplicationStatus) {
    status.sync.revisions = recorded_revisions(spec, status.sync.revision.as_deref().unwrap_or_default());
}

/// `spec` with its sources as deployed at `revision` (a composite for a multi-source Application),
/// each pinned to its own revision: the sources `recorded` with that revision (by an operation or a
/// history entry) when there are, else the spec's own.
pub fn pinned(spec: &ApplicationSpec, recorded: &[&ApplicationSource], revision: &str) -> ApplicationSpec {
    let recorded: Vec<ApplicationSource> = recorded.iter().filter(|s| !s.is_unset()).map(|s| (*s).clone()).collect();
    let mut pinned = spec.clone();
    if spec.is_multi_source() {
        let sources = if recorded.is_empty() { spec.sources.clone() } else { recorded };
        let revisions = revisions_of(revision);
        pinned.sources = sources
            .into_iter()
            .zip(revisions)
            .map(|(source, revision)| ApplicationSource { target_revision: Some(revision), ..source })
            .collect();
    } else {
        let source = recorded.into_iter().next().or_else(|| spec.source.clone()).unwrap_or_default();
        pinned.source = Some(ApplicationSource { target_revision: Some(revision.to_string()), ..source });
    }
    pinned
}

/// What is wrong with the spec's source list, or `None`: exactly one of `source` and `sources`
/// (the CRD says so too, where the API server checks CEL rules), each source's repository and path,
/// and `ref` names that are unique and usable as `$<ref>`.
pub fn sources_problem(spec: &ApplicationSpec) -> Option<String> {
    match (&spec.source, spec.sources.is_empty()) {
        (Some(_), false) => return Some("exactly one of spec.source and spec.sources must be set, not both".into()),
        (None, true) => return Some("exactly one of spec.source and spec.sources must be set".into()),
        _ => {}
    }
    let mut refs = std::collections::BTreeSet::new();
    for (index, source) in spec.all_sources().into_iter().enumerate() {
        let field = if spec.is_multi_source() { format!("spec.sources[{index}]") } else { "spec.source".into() };
        if let Some(problem) = source_problem(source, &field) {
            return Some(problem);
        }
        if let Some(name) = &source.ref_name {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                return Some(format!("{field}.ref {name:?} must be letters, digits, '-' or '_'"));
            }
            if !refs.insert(name.as_str()) {
                return Some(format!("{field}.ref {name:?} is used by another source"));
            }
        }
    }
    None
}

fn source_problem(source: &ApplicationSource, field: &str) -> Option<String> {
    let repo = source.repo_url.trim();
    if repo.is_empty() {
        return Some(format!("{field}.repoURL is empty"));
    }
    if repo.chars().any(char::is_whitespace) {
        return Some(format!("{field}.repoURL {repo:?} contains whitespace"));
    }
    let path = source.path.as_deref().unwrap_or_default();
    if path.starts_with('/') || path.split('/').any(|part| part == "..") {
        return Some(format!("{field}.path {path:?} must be relative and stay inside the repository"));
    }
    None
}

#[cfg(test)]
#[path = "multi_source_tests.rs"]
mod tests;
