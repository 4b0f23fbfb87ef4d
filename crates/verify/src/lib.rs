//! Signature checks of git commits and tags, all pure: the signature and signed payload of a raw
//! git object ([`object`]), the trusted keys read from Secrets and ConfigMaps ([`keys`]), OpenPGP
//! ([`openpgp`]) and SSH ([`ssh`]) verification against them, and which objects a verification mode
//! checks ([`mode`]). Reading objects from a repository is the source crate's job.

pub mod keys;
pub mod mode;
pub mod object;
mod openpgp;
mod ssh;

pub use keys::{KeySource, Keyring};
pub use mode::{Mode, Plan, ResolvedThrough, plan};
pub use object::{ObjectKind, SignatureFormat, SignedObject, split_signature};

/// The signer of a signature that verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signer {
    /// Who the key belongs to: an OpenPGP user id, or the principals of an allowed-signers line.
    pub identity: String,
    /// The key's fingerprint: 40 (or 64) upper-case hex digits of the OpenPGP primary key, or
    /// `SHA256:…` of an SSH key, as `ssh-keygen -l` prints it.
    pub fingerprint: String,
    /// Which kind of signature it was.
    pub format: SignatureFormat,
    /// Where the key was configured (`Secret ns/name` or `ConfigMap ns/name`).
    pub key_source: String,
}

/// Why an object did not verify; the message names the signer when one is known.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The object carries no signature at all.
    #[error("it is not signed")]
    Unsigned,
    /// A signature in a format lockstep does not check (X.509/gpgsm).
    #[error("its signature format is not supported ({0})")]
    UnsupportedFormat(String),
    /// The signature cannot be parsed.
    #[error("its signature cannot be read: {0}")]
    Malformed(String),
    /// No trusted key made the signature.
    #[error("it was signed by key {key}, which is not among the trusted keys")]
    UnknownKey {
        /// The issuer's key id or fingerprint.
        key: String,
    },
    /// A trusted key's signature does not match the object's content.
    #[error("the signature by {signer} ({fingerprint}) does not match its content")]
    BadSignature {
        /// The key's owner.
        signer: String,
        /// The key's fingerprint.
        fingerprint: String,
    },
    /// The signing key expired, was revoked or is not valid yet.
    #[error("the signing key of {signer} ({fingerprint}) {why}")]
    KeyNotValid {
        /// The key's owner.
        signer: String,
        /// The key's fingerprint.
        fingerprint: String,
        /// `expired on …`, `was revoked`, `is not valid before …`.
        why: String,
    },
}

/// Verifies a raw git object (as stored, without the `<type> <size>\0` header) against the
/// keyring at `now` (seconds since the epoch).
pub fn verify_object(kind: ObjectKind, raw: &[u8], keyring: &Keyring, now: u64) -> Result<Signer, Failure> {
    let signed = split_signature(kind, raw).ok_or(Failure::Unsigned)?;
    match signed.format {
        SignatureFormat::OpenPgp => openpgp::verify(&signed.signature, &signed.payload, keyring, now),
        SignatureFormat::Ssh => ssh::verify(&signed.signature, &signed.payload, keyring, now),
        SignatureFormat::X509 => Err(Failure::UnsupportedFormat("X.509".into())),
    }
}

#[cfg(test)]
#[path = "lib_tests.rs"]
mod tests;
