//! SOPS decryption at render time, in memory: the render (and its cache) sees only encrypted
//! objects; what carries SOPS metadata is decrypted afterwards with age identities from a Secret or
//! a local key file, and the file's MAC is checked before any value is used.

mod cipher;
mod keys;
mod manifests;
mod sops_file;

pub use keys::{AGE_KEY_SUFFIX, DecryptionKeys};
pub use manifests::{MASK, decrypt_manifests, masked, needs_decryption, sops_mac};

#[cfg(test)]
#[path = "decrypt_tests.rs"]
mod tests;
