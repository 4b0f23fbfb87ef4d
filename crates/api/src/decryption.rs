//! Decryption of SOPS-encrypted files at render time, in Flux's field shape
//! (`spec.decryption: {provider: sops, secretRef: {name}}`), on an Application or, as the default of
//! its Applications, on an AppProject.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How SOPS-encrypted files in the source are decrypted before they are applied.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Decryption {
    /// The decryption provider; only `sops` is known.
    #[serde(default = "sops_provider")]
    pub provider: String,
    /// The Secret holding the private keys: every entry ending in `.agekey` is read as age identities
    /// (`AGE-SECRET-KEY-1…` lines), every entry ending in `.asc` as armored OpenPGP private keys
    /// (without passphrase). On an Application it is read from the Application's namespace; on an
    /// AppProject from the project's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<DecryptionSecretRef>,
}

/// The name of a Secret holding decryption keys.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
pub struct DecryptionSecretRef {
    /// The Secret's name.
    pub name: String,
}

/// The only decryption provider: SOPS.
pub const SOPS_PROVIDER: &str = "sops";

fn sops_provider() -> String {
    SOPS_PROVIDER.to_string()
}
