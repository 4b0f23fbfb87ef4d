//! Signature checks through the cache, on repositories signed by git itself (`gpg.format=ssh`,
//! which runs `ssh-keygen -Y sign`).

use std::path::Path;

use super::super::test_support::{git, request};
use crate::{GitCache, KeySource, SourceError, Verification, VerificationMode};

struct Signed {
    dir: tempfile::TempDir,
    _keys: tempfile::TempDir,
    key: String,
    allowed_signers: String,
}

impl Signed {
    fn new() -> Self {
        let keys = tempfile::tempdir().unwrap();
        let key = keys.path().join("id");
        let made = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "dev@example.com", "-f"])
            .arg(&key)
            .status()
            .unwrap();
        assert!(made.success());
        let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q"]);
        Self {
            dir,
            _keys: keys,
            key: key.display().to_string(),
            allowed_signers: format!("dev@example.com {}", public.trim()),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn signing(&self, args: &[&str]) -> String {
        let key = format!("user.signingkey={}", self.key);
        let mut all = vec!["-c", "gpg.format=ssh", "-c", &key];
        all.extend_from_slice(args);
        git(self.path(), &all)
    }

    fn commit(&self, file: &str, signed: bool) -> String {
        std::fs::write(self.path().join(file), file).unwrap();
        git(self.path(), &["add", "."]);
        if signed {
            self.signing(&["commit", "-q", "-S", "-m", file]);
        } else {
            git(self.path(), &["commit", "-q", "-m", file]);
        }
        git(self.path(), &["rev-parse", "HEAD"])
    }

    fn url(&self) -> String {
        format!("file://{}", self.path().display())
    }
}

fn verifying(
    repo: &Signed,
    rev: &str,
    mode: VerificationMode,
    last_verified: Option<&str>,
    keys: &str,
) -> crate::SourceRequest {
    let mut request = request(&repo.url(), Some(rev));
    let source = KeySource { origin: "Secret ns/keys".into(), entries: vec![("allowed_signers".into(), keys.into())] };
    request.verification =
        Some(Verification { mode, keys: vec![source], last_verified: last_verified.map(String::from) });
    request
}

fn reason_of(err: SourceError) -> String {
    match err {
        SourceError::SignatureVerification { object, reason, .. } => format!("{object}: {reason}"),
        other => panic!("not a verification failure: {other}"),
    }
}

#[tokio::test]
async fn modes_check_the_commit_the_tag_or_every_commit_since_the_last_verified_one() {
    let repo = Signed::new();
    let first = repo.commit("one", true);
    repo.signing(&["tag", "-s", "v1.0.0", "-m", "release"]);
    git(repo.path(), &["tag", "light"]);
    let unsigned = repo.commit("two", false);
    let third = repo.commit("three", true);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = GitCache::new(cache_dir.path()).unwrap();
    let keys = repo.allowed_signers.clone();
    let at = |rev: &str, mode, last: Option<&str>| verifying(&repo, rev, mode, last, &keys);

    let head = cache.snapshot(&at("main", VerificationMode::Head, None)).await.unwrap();
    let verified = head.verified.expect("verified");
    assert_eq!(
        (verified.revision.as_str(), verified.signer.as_str(), verified.commits),
        (third.as_str(), "dev@example.com", 1)
    );
    assert!(verified.fingerprint.starts_with("SHA256:"));

    let walked = cache.snapshot(&at("main", VerificationMode::AllCommits, Some(&first))).await.unwrap_err();
    let why = reason_of(walked);
    assert!(why.starts_with(&format!("commit {}", &unsigned[..12])) && why.contains("not signed"), "{why}");
    let first_time = cache.snapshot(&at("main", VerificationMode::AllCommits, None)).await.unwrap();
    assert_eq!(first_time.revision, third);
    let since_third = cache.snapshot(&at("main", VerificationMode::AllCommits, Some(&third))).await.unwrap();
    assert_eq!(since_third.verified.map(|v| v.commits), Some(1));

    let tag = cache.snapshot(&at("v1.0.0", VerificationMode::Tag, None)).await.unwrap();
    assert_eq!((tag.revision.as_str(), tag.verified.and_then(|v| v.tag).as_deref()), (first.as_str(), Some("v1.0.0")));
    let range = cache.snapshot(&at(">=1.0.0", VerificationMode::TagAndHead, None)).await.unwrap();
    assert_eq!(range.verified.map(|v| v.commits), Some(1));
    let light = reason_of(cache.snapshot(&at("light", VerificationMode::Tag, None)).await.unwrap_err());
    assert!(light.contains("lightweight"), "{light}");
    let branch = reason_of(cache.snapshot(&at("main", VerificationMode::Tag, None)).await.unwrap_err());
    assert!(branch.contains("not a tag"), "{branch}");

    let pinned = reason_of(cache.snapshot(&at(&unsigned, VerificationMode::Head, None)).await.unwrap_err());
    assert!(pinned.contains("not signed"), "{pinned}");
    let none = verifying(&repo, "main", VerificationMode::Head, None, "# no keys\n");
    assert!(reason_of(cache.snapshot(&none).await.unwrap_err()).contains("no trusted key"));
}

#[tokio::test]
async fn a_signed_merge_does_not_vouch_for_the_unsigned_commits_it_brings_in() {
    let repo = Signed::new();
    let base = repo.commit("base", true);
    git(repo.path(), &["checkout", "-q", "-b", "side"]);
    let sneaked = repo.commit("sneaked", false);
    git(repo.path(), &["checkout", "-q", "main"]);
    repo.commit("mainline", true);
    repo.signing(&["merge", "-q", "--no-ff", "-S", "-m", "merge side", "side"]);
    let merge = git(repo.path(), &["rev-parse", "HEAD"]);
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = GitCache::new(cache_dir.path()).unwrap();
    let keys = repo.allowed_signers.clone();

    let head = cache.snapshot(&verifying(&repo, "main", VerificationMode::Head, Some(&base), &keys)).await.unwrap();
    assert_eq!(head.revision, merge, "HEAD mode checks the merge commit only");
    let all = cache.snapshot(&verifying(&repo, "main", VerificationMode::AllCommits, Some(&base), &keys)).await;
    let why = reason_of(all.unwrap_err());
    assert!(why.starts_with(&format!("commit {}", &sneaked[..12])), "{why}");
}
