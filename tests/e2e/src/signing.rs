//! Signed commits for the signature tests: SSH signatures made by git itself (`gpg.format=ssh`,
//! which runs `ssh-keygen -Y sign`), and OpenPGP signatures made with rpgp (a pinned crate, not
//! the system gpg) and written into the commit's `gpgsig` header as git does.

use std::path::PathBuf;
use std::process::Command;

use pgp::composed::{
    ArmorOptions, DetachedSignature, KeyType, SecretKeyParamsBuilder, SignedPublicKey, SignedSecretKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::types::{KeyDetails, Password};

use crate::GitRepo;

/// An ed25519 SSH key pair made with `ssh-keygen`.
pub struct SshSigner {
    _dir: tempfile::TempDir,
    /// The private key file (git's `user.signingkey`).
    pub key: PathBuf,
    /// The public key line (`ssh-ed25519 AAAA… comment`).
    pub public: String,
    /// `SHA256:…`, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
}

impl SshSigner {
    /// A new key pair whose comment is `email`.
    pub fn generate(email: &str) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let key = dir.path().join("id_ed25519");
        let made =
            Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", email, "-f"]).arg(&key).output()?;
        anyhow::ensure!(made.status.success(), "ssh-keygen: {}", String::from_utf8_lossy(&made.stderr));
        let public = std::fs::read_to_string(key.with_extension("pub"))?.trim().to_string();
        let listed = Command::new("ssh-keygen").arg("-lf").arg(key.with_extension("pub")).output()?;
        let text = String::from_utf8_lossy(&listed.stdout).to_string();
        let fingerprint = text.split_whitespace().nth(1).unwrap_or_default().to_string();
        Ok(Self { _dir: dir, key, public, fingerprint })
    }

    /// An `allowed_signers` line for `principal`.
    pub fn allowed_signer(&self, principal: &str) -> String {
        format!("{principal} {}", self.public)
    }

    /// Commits everything, signed by git with this key; returns the commit's SHA.
    pub fn commit(&self, repo: &GitRepo, message: &str) -> String {
        repo.git(&["add", "-A"]);
        let key = self.key.display().to_string();
        let signing_key = format!("user.signingkey={key}");
        repo.git(&["-c", "gpg.format=ssh", "-c", &signing_key, "commit", "-q", "-S", "--allow-empty", "-m", message]);
        repo.git(&["rev-parse", "HEAD"])
    }
}

/// An OpenPGP (ed25519) key made with rpgp.
pub struct PgpSigner {
    secret: SignedSecretKey,
    /// The armored public key block.
    pub public: String,
    /// The primary key's fingerprint in upper-case hex.
    pub fingerprint: String,
}

impl PgpSigner {
    /// A new key for the user id `uid`.
    pub fn generate(uid: &str) -> anyhow::Result<Self> {
        let mut params = SecretKeyParamsBuilder::default();
        params.key_type(KeyType::Ed25519Legacy).can_certify(true).can_sign(true).primary_user_id(uid.to_string());
        let secret = params.build()?.generate(rand08::thread_rng())?;
        let public = SignedPublicKey::from(secret.clone()).to_armored_string(ArmorOptions::default())?;
        let fingerprint = format!("{:X}", secret.fingerprint());
        Ok(Self { secret, public, fingerprint })
    }

    /// Commits everything, then replaces the commit by the same one with an OpenPGP signature in its
    /// `gpgsig` header (what `git commit -S` writes); returns the signed commit's SHA.
    pub fn commit(&self, repo: &GitRepo, message: &str) -> anyhow::Result<String> {
        let unsigned = repo.commit(message);
        let payload = repo.git(&["cat-file", "commit", &unsigned]) + "\n";
        let signature = DetachedSignature::sign_binary_data(
            rand08::thread_rng(),
            &self.secret.primary_key,
            &Password::empty(),
            HashAlgorithm::Sha256,
            payload.as_bytes(),
        )?
        .to_armored_string(ArmorOptions::default())?;
        let (headers, body) = payload.split_once("\n\n").ok_or_else(|| anyhow::anyhow!("commit without a body"))?;
        let signed = format!("{headers}\ngpgsig {}\n\n{body}", signature.trim_end().replace('\n', "\n "));
        let file = repo.path().join(".git").join("signed-commit");
        std::fs::write(&file, signed)?;
        let sha = repo.git(&["hash-object", "-t", "commit", "-w", &file.display().to_string()]);
        repo.git(&["update-ref", "HEAD", &sha]);
        let verified = repo.git(&["cat-file", "-p", &sha]);
        anyhow::ensure!(verified.contains("gpgsig -----BEGIN PGP SIGNATURE-----"), "signed commit: {verified}");
        Ok(sha)
    }
}
