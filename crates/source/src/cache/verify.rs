//! Signature checks of a resolved revision against the request's keys, run before the revision is
//! exported or recorded: the annotated tag, the commit, or every commit since the last verified
//! one, as the mode asks ([`lockstep_verify::plan`]).

use git2::{Oid, Repository, Sort};
use lockstep_verify::{Failure, Keyring, ObjectKind, ResolvedThrough, Signer, verify_object};

use crate::error::SourceError;
use crate::verification::{Verification, Verified};

/// At most this many commits are checked in one pass; a longer range fails with a clear message.
const MAX_WALK: usize = 10_000;

/// Checks `commit` (resolved through `through`) as `verification` asks.
pub(super) fn verify_revision(
    repo: &Repository,
    repo_url: &str,
    commit: Oid,
    through: &ResolvedThrough,
    verification: &Verification,
) -> Result<Verified, SourceError> {
    let revision = commit.to_string();
    let fail = |object: String, reason: String| SourceError::SignatureVerification {
        repo: repo_url.to_string(),
        object,
        reason,
    };
    let commit_name = |oid: &Oid| format!("commit {}", short(&oid.to_string()));
    let keyring = Keyring::from_sources(&verification.keys);
    if keyring.is_empty() {
        let mut reason = "no trusted key is configured".to_string();
        if !keyring.problems.is_empty() {
            reason.push_str(&format!(" ({})", keyring.problems.join("; ")));
        }
        return Err(fail(commit_name(&commit), reason));
    }
    let plan = lockstep_verify::plan(verification.mode, through, &revision, verification.last_verified.as_deref())
        .map_err(|reason| fail(commit_name(&commit), reason))?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let check = |kind: ObjectKind, oid: Oid, name: String| -> Result<Signer, SourceError> {
        let raw = read_raw(repo, oid).map_err(|reason| fail(name.clone(), reason))?;
        verify_object(kind, &raw, &keyring, now).map_err(|failure| fail(name, explain(&failure)))
    };
    let mut vouching: Option<Signer> = None;
    let mut tag_name = None;
    if let (Some(tag_oid), ResolvedThrough::AnnotatedTag { name, .. }) = (&plan.tag, through) {
        let oid = Oid::from_str(tag_oid).map_err(|e| fail(format!("tag {name}"), e.to_string()))?;
        vouching = Some(check(ObjectKind::Tag, oid, format!("tag {name}"))?);
        tag_name = Some(name.clone());
    }
    let mut commits = 0;
    if plan.head {
        let head = check(ObjectKind::Commit, commit, commit_name(&commit))?;
        commits += 1;
        vouching.get_or_insert(head);
    }
    if let Some(since) =
        plan.since.as_deref().and_then(|s| Oid::from_str(s).ok()).filter(|s| repo.find_commit(*s).is_ok())
    {
        for oid in commits_between(repo, since, commit).map_err(|reason| fail(commit_name(&commit), reason))? {
            if oid != commit {
                check(ObjectKind::Commit, oid, commit_name(&oid))?;
                commits += 1;
            }
        }
    }
    let signer = vouching.ok_or_else(|| fail(commit_name(&commit), "nothing was checked".into()))?;
    Ok(Verified {
        mode: verification.mode,
        revision,
        signer: signer.identity,
        fingerprint: signer.fingerprint,
        format: signer.format.to_string(),
        key_source: signer.key_source,
        tag: tag_name,
        commits,
    })
}

/// Every commit reachable from `to` and not from `from` (merges and what they bring in), oldest
/// first.
fn commits_between(repo: &Repository, from: Oid, to: Oid) -> Result<Vec<Oid>, String> {
    let mut walk = repo.revwalk().map_err(|e| e.message().to_string())?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::REVERSE).map_err(|e| e.message().to_string())?;
    walk.push(to).map_err(|e| e.message().to_string())?;
    walk.hide(from).map_err(|e| e.message().to_string())?;
    let mut found = Vec::new();
    for oid in walk {
        found.push(oid.map_err(|e| e.message().to_string())?);
        if found.len() > MAX_WALK {
            return Err(format!("more than {MAX_WALK} commits since the last verified revision"));
        }
    }
    Ok(found)
}

fn read_raw(repo: &Repository, oid: Oid) -> Result<Vec<u8>, String> {
    let odb = repo.odb().map_err(|e| e.message().to_string())?;
    let object = odb.read(oid).map_err(|e| format!("not in the cache: {}", e.message()))?;
    Ok(object.data().to_vec())
}

/// The failure as the condition says it, naming the signer where known.
fn explain(failure: &Failure) -> String {
    failure.to_string()
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
