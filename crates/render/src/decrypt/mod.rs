//! SOPS decryption at render time, in memory: the render (and its cache) sees only encrypted
//! objects; what carries SOPS metadata (a YAML or JSON object, or a Secret Kustomize generated from
//! an encrypted dotenv file) is decrypted afterwards with age or OpenPGP keys from a Secret or a
//! local key file, and the file's MAC is checked before any value is used.

mod cipher;
mod dotenv;
mod embedded;
mod generated;
mod keys;
mod manifests;
mod pgp;
mod sops_file;

pub use keys::{AGE_KEY_SUFFIX, DecryptionKeys, PGP_KEY_SUFFIX};
pub use manifests::{MASK, decrypt_manifests, is_encrypted, masked, needs_decryption, sops_mac};

#[cfg(test)]
#[path = "decrypt_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "dotenv_pgp_tests.rs"]
mod dotenv_pgp_tests;

#[cfg(test)]
#[path = "embedded_tests.rs"]
mod embedded_tests;
