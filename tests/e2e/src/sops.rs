//! SOPS in end-to-end tests: an age key pair made with the real `age-keygen`, files encrypted with
//! the real `sops` (both pinned in tests/sops, built by `cargo xtask tools`), and the Secret that
//! hands the private key to an Application.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};

use crate::controller::tool_path;
use crate::workspace_root;

/// A pinned SOPS test tool: `env`'s path, else the one `cargo xtask tools` built.
pub(crate) fn tool(env: &str, name: &str) -> PathBuf {
    let path = tool_path(env, name);
    if path.exists() { path } else { workspace_root().join("target/sops-tools/bin").join(name) }
}

/// Runs `cmd` and returns its standard output; a failure carries its standard error.
pub(crate) fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| {
        format!("running {cmd:?} (sops and age-keygen come from `cargo xtask tools`, gpg from Debian's gnupg)")
    })?;
    if !out.status.success() {
        bail!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// An age key pair in a temporary directory.
pub struct AgeKey {
    dir: tempfile::TempDir,
    /// The public key (`age1…`).
    pub recipient: String,
}

impl AgeKey {
    /// A new key pair from `age-keygen`.
    pub fn generate() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("key.txt");
        run(Command::new(tool("LOCKSTEP_AGE_KEYGEN", "age-keygen")).arg("-o").arg(&file))?;
        let recipient = run(Command::new(tool("LOCKSTEP_AGE_KEYGEN", "age-keygen")).arg("-y").arg(&file))?;
        Ok(Self { dir, recipient: recipient.trim().to_string() })
    }

    /// The key file (`SOPS_AGE_KEY_FILE`'s format).
    pub fn file(&self) -> PathBuf {
        self.dir.path().join("key.txt")
    }

    /// The private key file's text.
    pub fn private(&self) -> anyhow::Result<String> {
        Ok(std::fs::read_to_string(self.file())?)
    }

    /// `plaintext` (a file named `name`, whose extension tells sops its format) encrypted for this
    /// key by `sops encrypt`, with extra flags (`--encrypted-regex …`).
    pub fn encrypt(&self, name: &str, plaintext: &str, flags: &[&str]) -> anyhow::Result<String> {
        let input = self.dir.path().join(name);
        std::fs::write(&input, plaintext)?;
        let mut cmd = Command::new(tool("LOCKSTEP_SOPS", "sops"));
        cmd.args(["encrypt", "--age", &self.recipient]).args(flags).arg(&input);
        let out = run(&mut cmd);
        std::fs::remove_file(&input)?;
        out
    }

    /// Creates (or replaces) the Secret `name` holding this key as `identity.agekey`.
    pub async fn put_secret(&self, client: &kube::Client, namespace: &str, name: &str) -> anyhow::Result<()> {
        put_key_secret(client, namespace, name, "identity.agekey", &self.private()?).await
    }
}

/// Creates (or replaces) the decryption Secret `name` holding `private` as its entry `entry`.
pub(crate) async fn put_key_secret(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    entry: &str,
    private: &str,
) -> anyhow::Result<()> {
    let body = json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name},
        "stringData": {entry: private},
    });
    Api::<Secret>::namespaced(client.clone(), namespace)
        .patch(name, &PatchParams::apply("e2e-test").force(), &Patch::Apply(&body))
        .await?;
    Ok(())
}

/// Every regular file under `dir` whose bytes contain `needle`, for "never on disk" checks.
pub fn files_containing(dir: &std::path::Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => found.extend(files_containing(&path, needle)),
            Ok(t) if t.is_file() => {
                let bytes = std::fs::read(&path).unwrap_or_default();
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    found.push(path);
                }
            }
            _ => {}
        }
    }
    found
}

/// An automated Application spec reading `path` of `url` at `main`, decrypting with the SOPS keys
/// of the Secret `key_secret`.
pub fn decrypting_spec(url: &str, namespace: &str, path: &str, key_secret: &str) -> Value {
    json!({
        "source": {"repoURL": url, "targetRevision": "main", "path": path},
        "destination": {"namespace": namespace},
        "syncPolicy": {"automated": {"prune": true}},
        "decryption": {"provider": "sops", "secretRef": {"name": key_secret}},
    })
}

/// A live Secret's `data[key]` as text.
pub fn decoded(secret: &Secret, key: &str) -> Option<String> {
    secret.data.as_ref()?.get(key).map(|v| String::from_utf8_lossy(&v.0).into_owned())
}

/// Fails the test if any of `plaintexts` is in a file under `cache_dir` or in the controller `log`.
pub fn assert_never_stored(cache_dir: &std::path::Path, log: &str, plaintexts: &[&str]) {
    for plaintext in plaintexts {
        assert_eq!(files_containing(cache_dir, plaintext), Vec::<PathBuf>::new(), "a plaintext is on disk");
        assert!(!log.contains(plaintext), "a plaintext is in the controller log");
    }
}
