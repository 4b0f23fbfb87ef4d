//! Signature verification of git sources: what an Application asks for (`spec.source.verify`), what
//! a project demands and trusts (`spec.sourceIntegrity`), and what verified (`status.sourceVerification`).
//! The shapes follow Flux's `GitRepository.spec.verify` (`mode`, `secretRef`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Which signatures must verify before a revision is rendered.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceVerify {
    /// What must be signed: `HEAD` (the resolved commit, the default), `Tag` (the annotated tag the
    /// revision names), `TagAndHEAD` (both), or `AllCommits` (every commit since the last verified
    /// revision, so a signed merge cannot bring in unsigned commits).
    #[serde(default)]
    pub mode: VerifyMode,
    /// A Secret in the Application's namespace whose values are trusted keys (armored OpenPGP
    /// public keys, SSH `allowed_signers` lines or SSH public keys). Not used when the project
    /// requires verification: then only the project's keys are trusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectName>,
    /// A ConfigMap in the Application's namespace with trusted keys, as `secretRef`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<LocalObjectName>,
}

/// What `spec.source.verify.mode` checks.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum VerifyMode {
    /// The resolved commit's signature.
    #[default]
    #[serde(rename = "HEAD")]
    Head,
    /// The annotated tag's signature (tag and semver targets).
    Tag,
    /// The annotated tag's and the commit's signatures.
    #[serde(rename = "TagAndHEAD")]
    TagAndHead,
    /// Every commit between the last verified revision and the resolved one.
    AllCommits,
}

impl VerifyMode {
    /// The name written in the spec and the status.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Head => "HEAD",
            Self::Tag => "Tag",
            Self::TagAndHead => "TagAndHEAD",
            Self::AllCommits => "AllCommits",
        }
    }
}

/// An object of the same namespace, by name.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct LocalObjectName {
    /// Its name.
    #[schemars(length(min = 1))]
    pub name: String,
}

/// A project's signature requirement and the keys it trusts.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceIntegrity {
    /// Every Application of the project must set `spec.source.verify`; one without it is refused
    /// (`ProjectViolation`), and only the keys below are trusted for them.
    #[serde(default)]
    pub required: bool,
    /// Secrets and ConfigMaps (in the controller's namespace) with trusted keys, for every
    /// Application of the project that verifies.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<TrustedKeysRef>,
}

/// A Secret or a ConfigMap holding trusted keys (set exactly one).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrustedKeysRef {
    /// A Secret of the controller's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<LocalObjectName>,
    /// A ConfigMap of the controller's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<LocalObjectName>,
}

/// The signature that vouched for the revision deployed from git.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceVerificationStatus {
    /// The mode that was checked.
    pub mode: String,
    /// The verified commit (the starting point of the next `AllCommits` check).
    pub revision: String,
    /// Who signed: the OpenPGP user id or the SSH principals.
    pub signer: String,
    /// The signing key's fingerprint (OpenPGP primary key in hex, or `SHA256:…` for SSH).
    pub fingerprint: String,
    /// `OpenPGP` or `SSH`.
    pub format: String,
    /// The Secret or ConfigMap the key came from.
    pub key_source: String,
    /// The annotated tag that was verified, in the tag modes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// How many commits had their signatures checked in the pass that verified this revision.
    #[serde(default)]
    pub commits: i64,
}
