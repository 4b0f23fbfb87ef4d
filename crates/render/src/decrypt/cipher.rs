//! SOPS's cryptography: the data key unwrapped from an age stanza, and the values sealed with it,
//! `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` (AES-256-GCM with SOPS's 32-byte IVs, the value's
//! key path as additional data).

use std::io::Read;

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::aes::Aes256;
use aes_gcm::{AesGcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::DecryptionKeys;

/// AES-256-GCM with a 32-byte nonce, as SOPS seals values.
type SopsGcm = AesGcm<Aes256, U32>;

/// The prefix of every value SOPS encrypted.
pub const ENC_PREFIX: &str = "ENC[AES256_GCM,";

/// A value opened with the data key, typed as SOPS recorded it.
#[derive(Clone, Debug, PartialEq)]
pub enum Plain {
    /// `type:str` (and `bytes`, `time`: kept as the text they were).
    Str(String),
    /// `type:int`.
    Int(i64),
    /// `type:float`.
    Float(f64),
    /// `type:bool`.
    Bool(bool),
}

impl Plain {
    /// The bytes SOPS hashes into the MAC for this value (Go's `sops.ToBytes`): integers in decimal,
    /// floats in their shortest decimal form without exponent, booleans as `True`/`False`.
    pub fn mac_bytes(&self) -> Vec<u8> {
        match self {
            Plain::Str(s) => s.as_bytes().to_vec(),
            Plain::Int(i) => i.to_string().into_bytes(),
            Plain::Float(f) => go_float(*f).into_bytes(),
            Plain::Bool(true) => b"True".to_vec(),
            Plain::Bool(false) => b"False".to_vec(),
        }
    }

    /// The value as JSON, for the object that is applied.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Plain::Str(s) => serde_json::Value::String(s.clone()),
            Plain::Int(i) => serde_json::Value::from(*i),
            Plain::Float(f) => serde_json::Value::from(*f),
            Plain::Bool(b) => serde_json::Value::Bool(*b),
        }
    }
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)`: Rust's `Display` of `f64` is the same shortest
/// round-trip form without exponent.
fn go_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f.is_infinite() {
        if f > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{f}")
    }
}

/// Opens one `ENC[…]` value with `key`, authenticated with `additional_data` (the key path joined
/// with `:` plus a final `:`; the file's `lastmodified` for the MAC). The empty string is SOPS's
/// encryption of the empty string.
pub fn open_value(value: &str, key: &[u8], additional_data: &str) -> Result<Plain, String> {
    if value.is_empty() {
        return Ok(Plain::Str(String::new()));
    }
    let fields = parse_enc(value).ok_or("not a SOPS-encrypted value (ENC[AES256_GCM,…])")?;
    let decode = |name: &str, text: &str| STANDARD.decode(text).map_err(|_| format!("{name} is not base64"));
    let mut sealed = decode("data", fields.data)?;
    let iv = decode("iv", fields.iv)?;
    sealed.extend(decode("tag", fields.tag)?);
    if iv.len() != 32 {
        return Err(format!("an IV of {} bytes (SOPS writes 32)", iv.len()));
    }
    let cipher = SopsGcm::new_from_slice(key).map_err(|_| "the data key is not 32 bytes".to_string())?;
    let nonce = Nonce::<U32>::try_from(iv.as_slice()).map_err(|_| "bad IV".to_string())?;
    let plain = cipher
        .decrypt(&nonce, Payload { msg: &sealed, aad: additional_data.as_bytes() })
        .map_err(|_| "the value does not open with the data key (altered, or moved to another key)".to_string())?;
    let text = || String::from_utf8(plain.clone()).map_err(|_| "the value is not UTF-8".to_string());
    match fields.kind {
        "str" | "time" | "comment" => text().map(Plain::Str),
        "bytes" => Ok(Plain::Str(String::from_utf8_lossy(&plain).into_owned())),
        "int" => text()?.parse().map(Plain::Int).map_err(|_| "an int value that is not an integer".into()),
        "float" => text()?.parse().map(Plain::Float).map_err(|_| "a float value that is not a number".into()),
        "bool" => match text()?.as_str() {
            "True" | "true" | "1" | "t" | "T" | "TRUE" => Ok(Plain::Bool(true)),
            "False" | "false" | "0" | "f" | "F" | "FALSE" => Ok(Plain::Bool(false)),
            _ => Err("a bool value that is not a boolean".into()),
        },
        other => Err(format!("unknown value type {other:?}")),
    }
}

struct EncFields<'a> {
    data: &'a str,
    iv: &'a str,
    tag: &'a str,
    kind: &'a str,
}

/// The fields of `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`.
fn parse_enc(value: &str) -> Option<EncFields<'_>> {
    let inner = value.strip_prefix(ENC_PREFIX)?.strip_suffix(']')?;
    let mut parts = inner.split(',');
    let mut field = |name: &str| parts.next()?.strip_prefix(name)?.strip_prefix(':');
    let fields = EncFields { data: field("data")?, iv: field("iv")?, tag: field("tag")?, kind: field("type")? };
    parts.next().is_none().then_some(fields)
}

/// Unwraps the data key from an armored age file (`sops.age[].enc`) with any of `keys`; `None`
/// when none of them is a recipient.
pub fn unwrap_age(armored: &str, keys: &DecryptionKeys) -> Result<Option<Vec<u8>>, String> {
    let reader = age::armor::ArmoredReader::new(armored.as_bytes());
    let decryptor = age::Decryptor::new(reader).map_err(|e| format!("the age stanza does not parse: {e}"))?;
    let mut out = match decryptor.decrypt(keys.identities()) {
        Ok(out) => out,
        Err(age::DecryptError::NoMatchingKeys) => return Ok(None),
        Err(e) => return Err(format!("the age stanza does not open: {e}")),
    };
    let mut key = Vec::new();
    out.read_to_end(&mut key).map_err(|e| format!("the age stanza does not open: {e}"))?;
    Ok(Some(key))
}
