//! SOPS data keys wrapped for PGP recipients (`sops.pgp[].enc`, an armored OpenPGP message that
//! gpg made), opened in memory with armored private keys through rpgp, never through gpg.

use pgp::composed::{Deserializable, Message, SignedSecretKey};
use pgp::types::Password;

/// The armored private keys (no passphrase, as Flux reads them) in `text`; at least one.
pub fn parse_private_keys(text: &str) -> Result<Vec<SignedSecretKey>, String> {
    let (keys, _) = SignedSecretKey::from_string_many(text)
        .map_err(|_| "not an armored OpenPGP private key (-----BEGIN PGP PRIVATE KEY BLOCK-----)".to_string())?;
    let keys: Vec<SignedSecretKey> =
        keys.collect::<Result<_, _>>().map_err(|_| "the armored OpenPGP private key does not parse".to_string())?;
    if keys.is_empty() {
        return Err("no OpenPGP private key in the armored block".into());
    }
    if keys.iter().any(|k| {
        k.primary_key.secret_params().is_encrypted()
            || k.secret_subkeys.iter().any(|s| s.secret_params().is_encrypted())
    }) {
        return Err("the OpenPGP private key is protected by a passphrase; export it without one".into());
    }
    Ok(keys)
}

/// Unwraps the data key from an armored PGP message with any of `keys`; `None` when none of them
/// is a recipient.
pub fn unwrap_pgp(armored: &str, keys: &[SignedSecretKey]) -> Result<Option<Vec<u8>>, String> {
    if keys.is_empty() {
        return Ok(None);
    }
    let (message, _) = Message::from_string(armored).map_err(|e| format!("the PGP stanza does not parse: {e}"))?;
    let password = Password::empty();
    let message = match message.decrypt_with_keys(vec![&password], keys.iter().collect()) {
        Ok(message) => message,
        Err(pgp::errors::Error::MissingKey) => return Ok(None),
        Err(e) => return Err(format!("the PGP stanza does not open: {e}")),
    };
    let mut message = if message.is_compressed() {
        message.decompress().map_err(|e| format!("the PGP stanza does not decompress: {e}"))?
    } else {
        message
    };
    let key = message.as_data_vec().map_err(|e| format!("the PGP stanza does not open: {e}"))?;
    Ok(Some(key))
}
