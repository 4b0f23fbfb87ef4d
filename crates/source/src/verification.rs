//! What a request asks to have verified, and what verified: the public side of signature checks.
//! The checks run in the cache (`cache/verify.rs`) before a revision is exported or recorded as
//! the last good one, so an unverified commit is never served, not even during an outage.

pub use lockstep_verify::{KeySource, Mode as VerificationMode};

/// Signature verification asked for by a request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verification {
    /// Which objects must be signed.
    pub mode: VerificationMode,
    /// The trusted keys, as read from Secrets and ConfigMaps.
    pub keys: Vec<KeySource>,
    /// The revision verified last (from the status): [`VerificationMode::AllCommits`] checks every
    /// commit after it.
    pub last_verified: Option<String>,
}

impl Verification {
    /// A stable hash of the mode and the key material: last good revisions are recorded per
    /// verification, so a revision recorded without it (or under other keys) is never served to it.
    pub(crate) fn identity(&self) -> u64 {
        let mut text = format!("{:?}\n", self.mode);
        for source in &self.keys {
            text.push_str(&source.origin);
            for (name, value) in &source.entries {
                text.push_str(&format!("\0{name}\0{value}"));
            }
            text.push('\n');
        }
        lockstep_api::stable_hash::fnv1a64(text.as_bytes())
    }
}

/// The signature that vouched for a revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The mode that was checked.
    pub mode: VerificationMode,
    /// The verified commit.
    pub revision: String,
    /// The signer of the resolved commit (or of the tag, in `Tag` mode).
    pub signer: String,
    /// The signing key's fingerprint.
    pub fingerprint: String,
    /// `OpenPGP` or `SSH`.
    pub format: String,
    /// The Secret or ConfigMap the key came from.
    pub key_source: String,
    /// The annotated tag that was verified, if any.
    pub tag: Option<String>,
    /// How many commits had their signature checked (more than one in `AllCommits` mode).
    pub commits: usize,
}
