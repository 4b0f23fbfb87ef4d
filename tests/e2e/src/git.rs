//! Real git repositories on disk, written with the git CLI.

use std::path::Path;
use std::process::Command;

/// A non-bare repository in a temporary directory, reachable at a `file://` URL.
pub struct GitRepo {
    dir: tempfile::TempDir,
}

impl GitRepo {
    /// An empty repository whose default branch is `main`.
    pub fn new() -> Self {
        let repo = Self { dir: tempfile::tempdir().expect("temporary directory") };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    /// The repository's `file://` URL.
    pub fn url(&self) -> String {
        format!("file://{}", self.dir.path().display())
    }

    /// The working tree.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file (creating directories).
    pub fn write(&self, path: &str, text: &str) -> &Self {
        let path = self.dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("file has a parent")).expect("create directories");
        std::fs::write(path, text).expect("write file");
        self
    }

    /// Removes a file.
    pub fn remove(&self, path: &str) -> &Self {
        std::fs::remove_file(self.dir.path().join(path)).expect("remove file");
        self
    }

    /// Commits everything and returns the new commit's full SHA.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// Runs git in the repository and returns its trimmed stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(["-c", "user.name=lockstep-e2e", "-c", "user.email=e2e@lockstep.dev", "-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Default for GitRepo {
    fn default() -> Self {
        Self::new()
    }
}
