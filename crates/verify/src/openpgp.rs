//! OpenPGP signatures (git's default `gpg.format`), verified with rpgp against the keyring's keys:
//! the primary key or a signing subkey, not revoked and not expired at the time of the check.

use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey};
use pgp::packet::{Signature, SignatureType};
use pgp::types::{KeyDetails, Timestamp};

use crate::keys::pgp_fingerprint;
use crate::object::SignatureFormat;
use crate::{Failure, Keyring, Signer};

/// Verifies an armored detached signature over `payload`.
pub(crate) fn verify(armored: &str, payload: &[u8], keyring: &Keyring, now: u64) -> Result<Signer, Failure> {
    let (signature, _) = DetachedSignature::from_armor_single(std::io::Cursor::new(armored.as_bytes()))
        .map_err(|e| Failure::Malformed(e.to_string()))?;
    let issuer = issuer_of(&signature.signature);
    let (key, origin, subkey) =
        find_signing_key(keyring, &signature.signature).ok_or_else(|| Failure::UnknownKey { key: issuer.clone() })?;
    let identity = identity_of(key);
    let fingerprint = pgp_fingerprint(key);
    let checked = match subkey {
        Some(index) => signature.verify(&key.public_subkeys[index], payload),
        None => signature.verify(key, payload),
    };
    if checked.is_err() {
        return Err(Failure::BadSignature { signer: identity, fingerprint });
    }
    if let Some(why) = invalid_now(key, subkey, now) {
        return Err(Failure::KeyNotValid { signer: identity, fingerprint, why });
    }
    Ok(Signer { identity, fingerprint, format: SignatureFormat::OpenPgp, key_source: origin.to_string() })
}

/// The issuer as the signature names it: its fingerprint, else its key id.
fn issuer_of(signature: &Signature) -> String {
    if let Some(fingerprint) = signature.issuer_fingerprint().first() {
        return format!("{fingerprint:X}");
    }
    signature
        .issuer_key_id()
        .first()
        .map(|id| hex::encode_upper(id.as_ref()))
        .unwrap_or_else(|| "(no issuer named)".into())
}

/// The trusted key (and which of its subkeys, `None` for the primary) the signature names.
fn find_signing_key<'k>(
    keyring: &'k Keyring,
    signature: &Signature,
) -> Option<(&'k SignedPublicKey, &'k str, Option<usize>)> {
    let fingerprints = signature.issuer_fingerprint();
    let key_ids = signature.issuer_key_id();
    let names = |fingerprint: pgp::types::Fingerprint, key_id: pgp::types::KeyId| {
        fingerprints.iter().any(|f| **f == fingerprint) || key_ids.iter().any(|k| **k == key_id)
    };
    for (key, origin) in &keyring.openpgp {
        if names(key.fingerprint(), key.legacy_key_id()) {
            return Some((key, origin, None));
        }
        for (index, subkey) in key.public_subkeys.iter().enumerate() {
            let may_sign = subkey.signatures.iter().any(|s| s.key_flags().sign());
            if may_sign && names(subkey.key.fingerprint(), subkey.key.legacy_key_id()) {
                return Some((key, origin, Some(index)));
            }
        }
    }
    None
}

/// The primary user id, else the first one.
fn identity_of(key: &SignedPublicKey) -> String {
    let users = &key.details.users;
    let primary = users.iter().find(|u| u.signatures.iter().any(|s| s.is_primary())).or_else(|| users.first());
    primary.and_then(|u| u.id.as_str().map(str::to_string)).unwrap_or_else(|| format!("key {}", pgp_fingerprint(key)))
}

/// Why the key (or its signing subkey) may not sign at `now`: revoked, expired or not yet valid.
fn invalid_now(key: &SignedPublicKey, subkey: Option<usize>, now: u64) -> Option<String> {
    if !key.details.revocation_signatures.is_empty() {
        return Some("was revoked".into());
    }
    let now_ts = Timestamp::from_secs(u32::try_from(now).unwrap_or(u32::MAX));
    let self_signatures: Vec<&Signature> = key
        .details
        .users
        .iter()
        .flat_map(|u| u.signatures.iter())
        .chain(key.details.direct_signatures.iter())
        .collect();
    if let Some(why) = expiry(key.created_at(), &self_signatures, now_ts) {
        return Some(why);
    }
    let index = subkey?;
    let sub = &key.public_subkeys[index];
    if sub.signatures.iter().any(|s| s.typ() == Some(SignatureType::SubkeyRevocation)) {
        return Some(format!("(subkey {:X}) was revoked", sub.key.fingerprint()));
    }
    let bindings: Vec<&Signature> = sub.signatures.iter().collect();
    expiry(sub.key.created_at(), &bindings, now_ts).map(|why| format!("(subkey {:X}) {why}", sub.key.fingerprint()))
}

/// The latest self-signature decides the expiry: creation plus its key expiration time.
fn expiry(created: Timestamp, signatures: &[&Signature], now: Timestamp) -> Option<String> {
    if created.as_secs() > now.as_secs() {
        return Some("is not valid yet (created in the future)".into());
    }
    let latest =
        signatures.iter().filter(|s| s.created().is_some()).max_by_key(|s| s.created().map(|c| c.as_secs()))?;
    let lifetime = latest.key_expiration_time().filter(|d| d.as_secs() > 0)?;
    let expires = u64::from(created.as_secs()) + u64::from(lifetime.as_secs());
    (expires <= u64::from(now.as_secs())).then(|| format!("expired at {}", crate::keys::utc(expires)))
}
