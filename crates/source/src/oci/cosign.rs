//! Cosign signature verification with a public key, without a transparency log: the signature
//! manifest `sha256-<hex>.sig` next to the artifact holds simple-signing payloads (layers of type
//! `application/vnd.dev.cosign.simplesigning.v1+json`) whose annotation
//! `dev.cosignproject.cosign/signature` is an ECDSA P-256/SHA-256 signature of the payload. One
//! payload naming the artifact's manifest digest and verifying with the key is enough.

use base64::Engine as _;

/// Media type of a cosign simple-signing payload layer.
pub(crate) const SIMPLE_SIGNING: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the base64 signature.
pub(crate) const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// DER prefix of a P-256 SubjectPublicKeyInfo, before the 65-byte uncompressed point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The tag cosign stores an artifact's signatures under.
pub(crate) fn signature_tag(digest: &str) -> String {
    format!("{}.sig", digest.replacen(':', "-", 1))
}

/// The uncompressed P-256 point of a PEM public key (`cosign generate-key-pair`'s `cosign.pub`).
pub(crate) fn public_key(pem: &str) -> Result<Vec<u8>, String> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| format!("the cosign public key is not PEM: {e}"))?;
    match der.strip_prefix(&P256_SPKI_PREFIX[..]) {
        Some(point) if point.len() == 65 => Ok(point.to_vec()),
        _ => Err("the cosign public key is not an ECDSA P-256 public key".into()),
    }
}

/// Whether `payload`, signed by `signature_b64` under `key` (an uncompressed P-256 point), is a
/// simple-signing claim for the manifest `digest`. `Err` says why not.
pub(crate) fn verify(key: &[u8], digest: &str, payload: &[u8], signature_b64: &str) -> Result<(), String> {
    let signature = base64::engine::general_purpose::STANDARD
        .decode(signature_b64.trim())
        .map_err(|e| format!("the signature is not base64: {e}"))?;
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, key)
        .verify(payload, &signature)
        .map_err(|_| "the signature does not verify with the public key".to_string())?;
    let claim: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| format!("the signed payload is not JSON: {e}"))?;
    let signed = claim.pointer("/critical/image/docker-manifest-digest").and_then(|v| v.as_str());
    if signed == Some(digest) {
        Ok(())
    } else {
        Err(format!("the signed payload names {}, not {digest}", signed.unwrap_or("no digest")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn key_pair() -> (EcdsaKeyPair, String) {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        let spki = [&P256_SPKI_PREFIX[..], pair.public_key().as_ref()].concat();
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(spki)
        );
        (pair, pem)
    }

    fn sign(pair: &EcdsaKeyPair, payload: &[u8]) -> String {
        let signature = pair.sign(&ring::rand::SystemRandom::new(), payload).unwrap();
        base64::engine::general_purpose::STANDARD.encode(signature.as_ref())
    }

    #[test]
    fn a_payload_for_the_digest_signed_by_the_key_verifies() {
        let (pair, pem) = key_pair();
        let key = public_key(&pem).unwrap();
        let payload = format!(
            r#"{{"critical":{{"identity":{{}},"image":{{"docker-manifest-digest":"{DIGEST}"}},"type":"cosign container image signature"}}}}"#
        );
        assert_eq!(verify(&key, DIGEST, payload.as_bytes(), &sign(&pair, payload.as_bytes())), Ok(()));

        let other = DIGEST.replace("0123", "ffff");
        assert!(verify(&key, &other, payload.as_bytes(), &sign(&pair, payload.as_bytes())).is_err(), "another digest");
        let (stranger, _) = key_pair();
        assert!(verify(&key, DIGEST, payload.as_bytes(), &sign(&stranger, payload.as_bytes())).is_err(), "another key");
        let tampered = payload.replace("cosign", "COSIGN");
        assert!(verify(&key, DIGEST, tampered.as_bytes(), &sign(&pair, payload.as_bytes())).is_err(), "edited payload");
        assert!(public_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").is_err());
        assert_eq!(signature_tag(DIGEST), format!("sha256-{}.sig", &DIGEST[7..]));
    }
}
