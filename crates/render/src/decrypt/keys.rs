//! The private keys SOPS files are opened with: age identities and armored OpenPGP private keys,
//! from a Kubernetes Secret (entries ending in `.agekey` and `.asc`, as Flux reads them) or a local
//! key file (`age-keygen`'s output, as `SOPS_AGE_KEY_FILE` names it, or an armored PGP key).

use std::collections::BTreeMap;
use std::str::FromStr;

use super::pgp::parse_private_keys;

/// The suffix of a decryption Secret's entries that hold age identities.
pub const AGE_KEY_SUFFIX: &str = ".agekey";

/// The suffix of a decryption Secret's entries that hold armored OpenPGP private keys.
pub const PGP_KEY_SUFFIX: &str = ".asc";

/// What starts an armored OpenPGP private key block.
const PGP_PRIVATE_KEY_ARMOR: &str = "-----BEGIN PGP PRIVATE KEY BLOCK-----";

/// Age identities and OpenPGP private keys held in memory only; `Debug` shows how many, never the
/// keys.
#[derive(Clone, Default)]
pub struct DecryptionKeys {
    identities: Vec<age::x25519::Identity>,
    pgp: Vec<pgp::composed::SignedSecretKey>,
}

impl std::fmt::Debug for DecryptionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DecryptionKeys({} age identities, {} PGP keys)", self.identities.len(), self.pgp.len())
    }
}

impl DecryptionKeys {
    /// The keys of a decryption Secret's `.agekey` and `.asc` entries (other entries are ignored). A
    /// key that does not parse fails, naming the entry, never echoing the key.
    pub fn from_secret_data<'a>(data: impl IntoIterator<Item = (&'a String, &'a [u8])>) -> Result<Self, String> {
        let mut keys = Self::default();
        for (entry, bytes) in data {
            if entry.ends_with(AGE_KEY_SUFFIX) {
                let text = std::str::from_utf8(bytes).map_err(|_| format!("entry {entry:?} is not UTF-8"))?;
                keys.add_identities(text).map_err(|e| format!("entry {entry:?}: {e}"))?;
            } else if entry.ends_with(PGP_KEY_SUFFIX) {
                let text = std::str::from_utf8(bytes).map_err(|_| format!("entry {entry:?} is not UTF-8"))?;
                keys.pgp.extend(parse_private_keys(text).map_err(|e| format!("entry {entry:?}: {e}"))?);
            }
        }
        Ok(keys)
    }

    /// The identities of a decryption Secret's data as the Kubernetes API gives it.
    pub fn from_secret_map(data: &BTreeMap<String, Vec<u8>>) -> Result<Self, String> {
        Self::from_secret_data(data.iter().map(|(k, v)| (k, v.as_slice())))
    }

    /// The keys of a key file's text: an armored OpenPGP private key, else age identities (one
    /// `AGE-SECRET-KEY-1…` per line, `#` comments and blank lines ignored).
    pub fn from_key_file(text: &str) -> Result<Self, String> {
        let mut keys = Self::default();
        if text.contains(PGP_PRIVATE_KEY_ARMOR) {
            keys.pgp = parse_private_keys(text)?;
        } else {
            keys.add_identities(text)?;
        }
        Ok(keys)
    }

    /// Adds `other`'s identities to these.
    pub fn extend(&mut self, other: DecryptionKeys) {
        self.identities.extend(other.identities);
        self.pgp.extend(other.pgp);
    }

    /// Whether there is no key at all.
    pub fn is_empty(&self) -> bool {
        self.identities.is_empty() && self.pgp.is_empty()
    }

    /// Whether there is an age identity.
    pub(crate) fn has_age(&self) -> bool {
        !self.identities.is_empty()
    }

    /// The OpenPGP private keys.
    pub(crate) fn pgp(&self) -> &[pgp::composed::SignedSecretKey] {
        &self.pgp
    }

    /// The identities, as age's decryptor takes them.
    pub(crate) fn identities(&self) -> impl Iterator<Item = &dyn age::Identity> {
        self.identities.iter().map(|i| i as &dyn age::Identity)
    }

    fn add_identities(&mut self, text: &str) -> Result<(), String> {
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let identity = age::x25519::Identity::from_str(line)
                .map_err(|_| format!("line {} is not an age identity (AGE-SECRET-KEY-1…)", number + 1))?;
            self.identities.push(identity);
        }
        Ok(())
    }
}
