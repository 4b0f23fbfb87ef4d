//! Rollback to a `status.history` entry, asked for by the `lockstep.dev/rollback` annotation: pure.
//!
//! Argo CD's rule with its trap removed: a rollback deploys the entry's revision and source without
//! touching git, and automated sync of newer commits stays paused until the annotation is removed
//! (`lockstep rollback NAME --resume`) or, when the request says `until=commit`, until git's target
//! moves past the commit it resolved to when the rollback began. Nothing undoes it behind the
//! user's back.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use lockstep_api::{ApplicationSource, RevisionHistory, RollbackStatus};

/// The sync-request value a rollback's operation records, so that its sync runs once.
pub fn sync_request(rollback: &RollbackStatus) -> String {
    format!("rollback {}", rollback.request)
}

/// The rollback in force after this pass, from the annotation, the previous status and the
/// revision git's target resolves to now. `Err` names what is wrong with the request.
pub fn rollback(
    annotation: Option<&str>,
    previous: Option<&RollbackStatus>,
    history: &[RevisionHistory],
    spec_source: &ApplicationSource,
    head: &str,
    now: &Time,
) -> Result<Option<RollbackStatus>, String> {
    let Some(request) = annotation.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    if let Some(previous) = previous.filter(|p| p.request == request) {
        let moved = previous.head_at_start.as_deref().is_some_and(|start| start != head);
        let mut next = previous.clone();
        if next.active && next.until_new_commit && moved {
            next.active = false;
        }
        return Ok(Some(next));
    }
    let (id, until_new_commit) = parse(request)?;
    let entry = match id {
        Some(id) => history.iter().find(|h| h.id == id),
        None => history.len().checked_sub(2).and_then(|i| history.get(i)),
    };
    let Some(entry) = entry else {
        let known = match (history.first(), history.last()) {
            (Some(first), Some(last)) => format!("entries {} to {}", first.id, last.id),
            _ => "no entries".to_string(),
        };
        let wanted = id.map_or_else(|| "the entry before the deployed one".to_string(), |id| format!("entry {id}"));
        return Err(format!("rollback {request:?}: the history has no {wanted} ({known})"));
    };
    Ok(Some(RollbackStatus {
        request: request.to_string(),
        id: entry.id,
        revision: entry.revision.clone(),
        source: entry.source.clone().unwrap_or_else(|| spec_source.clone()),
        head_at_start: Some(head.to_string()),
        until_new_commit,
        active: true,
        started_at: now.clone(),
    }))
}

/// `<id>` (or `previous`, or empty), then options: `until=commit` (or `until=resume`, the default)
/// and `token=<anything>`, which makes a repeated request for the same entry a new one.
fn parse(request: &str) -> Result<(Option<i64>, bool), String> {
    let mut parts = request.split(',').map(str::trim);
    let id = match parts.next().unwrap_or_default() {
        "" | "previous" => None,
        id => Some(id.parse::<i64>().map_err(|_| format!("rollback {request:?}: {id:?} is not a history id"))?),
    };
    let mut until_new_commit = false;
    for option in parts {
        match option {
            "until=commit" => until_new_commit = true,
            "until=resume" => until_new_commit = false,
            token if token.starts_with("token=") => {}
            other => {
                return Err(format!("rollback {request:?}: unknown option {other:?} (until=commit or until=resume)"));
            }
        }
    }
    Ok((id, until_new_commit))
}

/// The source to fetch for an active rollback: the entry's source pinned to its commit.
pub fn pinned_source(rollback: &RollbackStatus) -> ApplicationSource {
    ApplicationSource { target_revision: Some(rollback.revision.clone()), ..rollback.source.clone() }
}

/// The `RolledBack` condition's message.
pub fn message(rollback: &RollbackStatus) -> String {
    let ends = if rollback.until_new_commit {
        "until a new commit or `lockstep rollback --resume`"
    } else {
        "until `lockstep rollback --resume`"
    };
    format!(
        "rolled back to history entry {} ({}); automated sync of newer commits is paused {ends}",
        rollback.id,
        crate::status::short(&rollback.revision)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn source(path: &str) -> ApplicationSource {
        ApplicationSource { repo_url: "https://git/r".into(), path: Some(path.into()), ..Default::default() }
    }

    fn history() -> Vec<RevisionHistory> {
        (3..6)
            .map(|id| RevisionHistory {
                id,
                revision: format!("{id}{}", "0".repeat(39)),
                deployed_at: Time(Timestamp::UNIX_EPOCH),
                source: Some(source(&format!("p{id}"))),
                sources: vec![],
                revisions: vec![],
                initiated_by: Some("automated".into()),
            })
            .collect()
    }

    fn now() -> Time {
        Time(Timestamp::from_second(100).unwrap())
    }

    #[test]
    fn no_annotation_means_no_rollback() {
        assert_eq!(rollback(None, None, &history(), &source("x"), "h", &now()), Ok(None));
        assert_eq!(rollback(Some(" "), None, &history(), &source("x"), "h", &now()), Ok(None));
    }

    #[test]
    fn an_empty_id_rolls_back_to_the_entry_before_the_deployed_one() {
        let r = rollback(Some("previous"), None, &history(), &source("x"), "head", &now()).unwrap().unwrap();
        assert_eq!((r.id, r.source.path.as_deref(), r.active, r.until_new_commit), (4, Some("p4"), true, false));
        assert_eq!(r.head_at_start.as_deref(), Some("head"));
        assert_eq!(pinned_source(&r).target_revision.as_deref(), Some(r.revision.as_str()));
        assert_eq!(sync_request(&r), "rollback previous");
    }

    #[test]
    fn a_named_entry_and_until_commit() {
        let r =
            rollback(Some("3,token=1f,until=commit"), None, &history(), &source("x"), "head", &now()).unwrap().unwrap();
        assert_eq!((r.id, r.until_new_commit), (3, true));
        assert!(message(&r).contains("until a new commit"));
    }

    #[test]
    fn an_entry_without_a_source_falls_back_to_the_spec_source() {
        let mut h = history();
        h[0].source = None;
        let r = rollback(Some("3"), None, &h, &source("spec"), "head", &now()).unwrap().unwrap();
        assert_eq!(r.source.path.as_deref(), Some("spec"));
    }

    #[test]
    fn bad_requests_are_named() {
        let err = rollback(Some("9"), None, &history(), &source("x"), "h", &now()).unwrap_err();
        assert!(err.contains("no entry 9 (entries 3 to 5)"), "{err}");
        let err = rollback(Some("x"), None, &history(), &source("x"), "h", &now()).unwrap_err();
        assert!(err.contains("not a history id"), "{err}");
        let err = rollback(Some("3,until=never"), None, &history(), &source("x"), "h", &now()).unwrap_err();
        assert!(err.contains("unknown option"), "{err}");
        let err = rollback(Some(""), None, &history(), &source("x"), "h", &now());
        assert_eq!(err, Ok(None));
        let err = rollback(Some("previous"), None, &history()[..1], &source("x"), "h", &now()).unwrap_err();
        assert!(err.contains("the entry before the deployed one"), "{err}");
    }

    #[test]
    fn the_same_request_goes_on_until_a_new_commit_when_asked() {
        let start = rollback(Some("4"), None, &history(), &source("x"), "head", &now()).unwrap().unwrap();
        let later = rollback(Some("4"), Some(&start), &history(), &source("x"), "newer", &now()).unwrap().unwrap();
        assert!(later.active, "until=resume ignores new commits");
        let start = rollback(Some("4,until=commit"), None, &history(), &source("x"), "head", &now()).unwrap().unwrap();
        let same = rollback(Some("4,until=commit"), Some(&start), &history(), &source("x"), "head", &now());
        assert!(same.unwrap().unwrap().active);
        let ended = rollback(Some("4,until=commit"), Some(&start), &history(), &source("x"), "newer", &now());
        let ended = ended.unwrap().unwrap();
        assert!(!ended.active, "a new commit ends it");
        let again = rollback(Some("4,until=commit"), Some(&ended), &history(), &source("x"), "head", &now());
        assert!(!again.unwrap().unwrap().active, "the request is spent");
    }

    #[test]
    fn a_new_request_starts_a_new_rollback() {
        let start = rollback(Some("4"), None, &history(), &source("x"), "head", &now()).unwrap().unwrap();
        let next = rollback(Some("3"), Some(&start), &history(), &source("x"), "head", &now()).unwrap().unwrap();
        assert_eq!((next.id, next.active), (3, true));
    }
}
