//! PGP recipients for the SOPS tests: a throwaway key pair made by the system gpg (Debian's gnupg)
//! in a private GNUPGHOME, files encrypted for it by the real pinned `sops` (which encrypts through
//! gpg), and the Secret that hands the armored private key to an Application (`.asc`, as Flux reads
//! it). The controller itself never runs gpg.

use std::process::Command;

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

use crate::controller::tool_path;
use crate::workspace_root;

fn sops() -> std::path::PathBuf {
    let path = tool_path("LOCKSTEP_SOPS", "sops");
    if path.exists() { path } else { workspace_root().join("target/sops-tools/bin/sops") }
}

fn run(cmd: &mut Command) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| format!("running {cmd:?} (gpg comes from Debian's gnupg)"))?;
    if !out.status.success() {
        bail!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// A PGP key pair (no passphrase) in its own GNUPGHOME; its gpg-agent is stopped on drop.
pub struct PgpKey {
    home: tempfile::TempDir,
    /// The primary key's fingerprint.
    pub fingerprint: String,
}

impl PgpKey {
    /// A new key pair (gpg's default algorithms) from `gpg --quick-gen-key`.
    pub fn generate() -> anyhow::Result<Self> {
        let home = tempfile::tempdir()?;
        let mut key = Self { home, fingerprint: String::new() };
        key.gpg(&[
            "--passphrase",
            "",
            "--quick-gen-key",
            "lockstep e2e <e2e@lockstep.invalid>",
            "default",
            "default",
            "never",
        ])?;
        let listing = key.gpg(&["--list-secret-keys", "--with-colons"])?;
        key.fingerprint = listing
            .lines()
            .find_map(|l| l.strip_prefix("fpr:").map(|rest| rest.trim_matches(':').to_string()))
            .context("gpg listed no fingerprint")?;
        Ok(key)
    }

    fn gpg(&self, args: &[&str]) -> anyhow::Result<String> {
        run(Command::new("gpg").env("GNUPGHOME", self.home.path()).args(["--batch", "--quiet"]).args(args))
    }

    /// The armored private key.
    pub fn private(&self) -> anyhow::Result<String> {
        self.gpg(&["--armor", "--export-secret-keys", &self.fingerprint])
    }

    /// `plaintext` (a file named `name`, whose extension tells sops its format) encrypted for this
    /// key by `sops encrypt --pgp`, with extra flags.
    pub fn encrypt(&self, name: &str, plaintext: &str, flags: &[&str]) -> anyhow::Result<String> {
        let input = self.home.path().join(name);
        std::fs::write(&input, plaintext)?;
        let out = run(Command::new(sops())
            .env("GNUPGHOME", self.home.path())
            .args(["encrypt", "--pgp", &self.fingerprint])
            .args(flags)
            .arg(&input));
        std::fs::remove_file(&input)?;
        out
    }

    /// Creates (or replaces) the Secret `name` holding this key as `sops.asc`.
    pub async fn put_secret(&self, client: &kube::Client, namespace: &str, name: &str) -> anyhow::Result<()> {
        let body = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name},
            "stringData": {"sops.asc": self.private()?},
        });
        Api::<Secret>::namespaced(client.clone(), namespace)
            .patch(name, &PatchParams::apply("e2e-test").force(), &Patch::Apply(&body))
            .await?;
        Ok(())
    }
}

impl Drop for PgpKey {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf").env("GNUPGHOME", self.home.path()).args(["--kill", "gpg-agent"]).output();
    }
}
