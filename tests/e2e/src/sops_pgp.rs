//! PGP recipients for the SOPS tests: a throwaway key pair made by the system gpg (Debian's gnupg)
//! in a private GNUPGHOME, files encrypted for it by the real pinned `sops` (which encrypts through
//! gpg), and the Secret that hands the armored private key to an Application (`.asc`, as Flux reads
//! it). The controller itself never runs gpg.

use std::process::Command;

use anyhow::Context;

use crate::sops::{put_key_secret, run, tool};

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
        let out = run(Command::new(tool("LOCKSTEP_SOPS", "sops"))
            .env("GNUPGHOME", self.home.path())
            .args(["encrypt", "--pgp", &self.fingerprint])
            .args(flags)
            .arg(&input));
        std::fs::remove_file(&input)?;
        out
    }

    /// Creates (or replaces) the Secret `name` holding this key as `sops.asc`.
    pub async fn put_secret(&self, client: &kube::Client, namespace: &str, name: &str) -> anyhow::Result<()> {
        put_key_secret(client, namespace, name, "sops.asc", &self.private()?).await
    }
}

impl Drop for PgpKey {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf").env("GNUPGHOME", self.home.path()).args(["--kill", "gpg-agent"]).output();
    }
}
