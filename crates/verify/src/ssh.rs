//! SSH signatures (`gpg.format=ssh`, SSHSIG in namespace `git`), verified against the keyring's
//! allowed signers as `git verify-commit` does through `ssh-keygen -Y verify`.

use ssh_key::SshSig;

use crate::keys::ssh_fingerprint;
use crate::object::SignatureFormat;
use crate::{Failure, Keyring, Signer};

/// The namespace git signs commits and tags in.
const GIT_NAMESPACE: &str = "git";

/// Verifies an armored SSHSIG over `payload`.
pub(crate) fn verify(armored: &str, payload: &[u8], keyring: &Keyring, now: u64) -> Result<Signer, Failure> {
    let signature = SshSig::from_pem(armored.trim()).map_err(|e| Failure::Malformed(e.to_string()))?;
    let fingerprint = ssh_fingerprint(signature.public_key());
    let allowed = keyring
        .ssh
        .iter()
        .find(|s| s.key.key_data() == signature.public_key())
        .ok_or_else(|| Failure::UnknownKey { key: fingerprint.clone() })?;
    let signer = allowed.principals.clone();
    if signature.namespace() != GIT_NAMESPACE {
        return Err(Failure::Malformed(format!("signed for namespace {:?}, not \"git\"", signature.namespace())));
    }
    if allowed.key.verify(GIT_NAMESPACE, payload, &signature).is_err() {
        return Err(Failure::BadSignature { signer, fingerprint });
    }
    let not_valid =
        |why: String| Failure::KeyNotValid { signer: signer.clone(), fingerprint: fingerprint.clone(), why };
    if let Some(namespaces) = &allowed.namespaces
        && !namespaces.iter().any(|n| n == GIT_NAMESPACE)
    {
        return Err(not_valid(format!("may only sign for namespaces {}", namespaces.join(","))));
    }
    if let Some(before) = allowed.valid_before
        && now >= before
    {
        return Err(not_valid(format!("expired at {} (valid-before)", crate::keys::utc(before))));
    }
    if let Some(after) = allowed.valid_after
        && now < after
    {
        return Err(not_valid(format!("is not valid before {} (valid-after)", crate::keys::utc(after))));
    }
    Ok(Signer { identity: signer, fingerprint, format: SignatureFormat::Ssh, key_source: allowed.origin.clone() })
}
