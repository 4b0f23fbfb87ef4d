//! Test repositories and requests shared by the cache's tests.

use std::path::Path;
use std::process::Command;

use super::request::SourceRequest;

pub(super) fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub(super) fn repo_with_commits() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    std::fs::write(dir.path().join("a.yaml"), "one").unwrap();
    git(dir.path(), &["add", "."]);
    git(dir.path(), &["commit", "-qm", "one"]);
    let first = git(dir.path(), &["rev-parse", "HEAD"]);
    git(dir.path(), &["tag", "-a", "v1", "-m", "v1"]);
    git(dir.path(), &["tag", "-a", "v1.2.0", "-m", "v1.2.0"]);
    std::fs::write(dir.path().join("a.yaml"), "two").unwrap();
    git(dir.path(), &["commit", "-qam", "two"]);
    git(dir.path(), &["tag", "v1.3.0"]);
    git(dir.path(), &["tag", "v2.0.0"]);
    let second = git(dir.path(), &["rev-parse", "HEAD"]);
    (dir, first, second)
}

pub(super) fn request(url: &str, rev: Option<&str>) -> SourceRequest {
    SourceRequest { repo_url: url.into(), target_revision: rev.map(String::from), ..Default::default() }
}
